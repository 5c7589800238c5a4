"""Speech a memory lacks, transcribed ahead of the model's request: which windows, how the
asr tool takes them, and the whole loop doing it while the model reads its first prompt."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from mcr_agent import Agent, AgentConfig
from mcr_agent.loop.prefetch import speech_ahead
from memory import IndexSettings, Level, VideoMemory, build_memory
from tests.agent_model import HonestAgentModel
from tests.fake_openai import FakeOpenAIServer
from tools import ToolContext, Transcript, run_tool
from tools.asr import MAX_ON_DEMAND_SECONDS, SpeechWindows


@pytest.fixture(scope="module")
def no_speech(speech_video: Path, tmp_path_factory: pytest.TempPathFactory) -> VideoMemory:
    """The speech video's memory, built without speech recognition."""
    cache = tmp_path_factory.mktemp("speech-ahead")
    return build_memory(speech_video, settings=IndexSettings(asr=False), cache=cache)[0]


def _said(entries: list) -> str:  # type: ignore[type-arg]
    return " ".join(e.text.lower() for e in entries)


def test_which_windows_are_transcribed_ahead(
    no_speech: VideoMemory, cache_with_speech_memory: Path
) -> None:
    assert speech_ahead(no_speech, [(9.0, 15.0)]) == [(0.0, no_speech.duration)]
    with_speech = VideoMemory.load(next(cache_with_speech_memory.glob("*/manifest.json")).parent)
    assert speech_ahead(with_speech, [(9.0, 15.0)]) == []  # its transcript is in memory
    muted = copy.copy(no_speech)
    muted.info = dataclasses.replace(no_speech.info, has_audio=False)
    assert speech_ahead(muted, [(9.0, 15.0)]) == []
    long = copy.copy(no_speech)
    long.info = dataclasses.replace(no_speech.info, duration=3600.0)
    windows = speech_ahead(long, [(600.0, 610.0), (615.0, 620.0), (2000.0, 2001.0)])
    assert windows == [(590.0, 630.0)]  # the two best candidates, with context, merged
    wide = speech_ahead(long, [(100.0, 3000.0)])
    assert wide == [(90.0, 90.0 + MAX_ON_DEMAND_SECONDS)]  # what one asr call would take


def test_the_asr_tool_takes_a_window_started_ahead(no_speech: VideoMemory) -> None:
    assert no_speech.level(Level.ASR) == []
    speech = SpeechWindows(no_speech)
    assert speech.start(0.0, no_speech.duration)
    assert not speech.start(5.0, 10.0)  # inside the window already started
    result = run_tool(Transcript(), {"start": 7, "end": 30}, ToolContext(no_speech, speech=speech))
    assert result.error is None and '<data source="speech">' in result.text
    assert any("transcribed now" in n for n in result.notes)
    car = [e for e in result.evidence if "car" in e.text.lower()]
    assert car and all(9.0 - 0.5 <= e.start < e.end <= 15.0 + 0.5 for e in car)
    assert "first scene" not in _said(list(result.evidence))  # before the window asked for
    # Another run in this process finds the finished window: nothing to transcribe again.
    again = SpeechWindows(no_speech)
    assert not again.start(0.0, no_speech.duration)
    assert _said(again.entries(7.0, 20.0)) == _said(speech.entries(7.0, 20.0))
    closed = SpeechWindows(no_speech)
    closed.close()
    assert not closed.start(0.0, 1.0)  # a finished run starts nothing


def test_the_loop_transcribes_while_the_model_reads(speech_video: Path, tmp_path: Path) -> None:
    settings = dataclasses.replace(AgentConfig().index, asr=False)
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        config = AgentConfig(base_url=srv.base_url, model="fake-vlm", cache_dir=tmp_path,
                             max_retries=0, index=settings)  # fmt: skip
        result = Agent(config).run(
            speech_video,
            "What does the speaker say is parked?",
            ["A. a blue truck", "B. the red car", "C. a bicycle"],
        )
    route = next(s for s in result.steps if s.node == "route")
    assert route.summary.startswith("speech question") and "transcribing 20 s ahead" in (
        route.summary
    )
    asr = next(s for s in result.steps if s.node == "act" and s.tool == "asr")
    assert "red car" in asr.feedback
    assert result.choice == "B"
