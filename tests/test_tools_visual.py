"""Tools that decode frames again: inspect, ocr, video_segmentation, temporal_grounding.

The video model is a scripted fake whose replies are computed from the frames it is sent
(their on-screen text, read with the real OCR engine), and every scripted reply must be used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from mcr_agent.errors import ModelReplyError
from memory import Entry, Frame, Hit, Level, VideoMemory
from tests.conftest import CUTS, ocr_memory
from tests.frame_reader import FrameReader
from tools import (
    Evidence,
    FrameLimits,
    Inspect,
    ReadText,
    TemporalGrounding,
    ToolContext,
    VideoSegmentation,
    run_tool,
)
from tools.grounding import candidate_windows, parse_grounding

Reply = Callable[[str, Sequence[Frame], Mapping[str, str]], str]
TOLERANCE = 1 / 25 + 1e-6  # one frame of the shared video


@pytest.fixture(scope="module")
def mem(
    speech_video: Path, ocr_memory_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> VideoMemory:
    return ocr_memory(ocr_memory_cache, speech_video, tmp_path_factory.mktemp("tools_visual"))


def _read(frames: Sequence[Frame]) -> list[tuple[float, str]]:
    reader = FrameReader()
    return [(f.time, reader.read(f.jpeg).replace("\n", " ")) for f in frames]


def describe_text(task: str, frames: Sequence[Frame], fields: Mapping[str, str]) -> str:
    """An inspect reply: the text on each frame, by time."""
    return "; ".join(f"at {t:.1f}s: {text or 'no text'}" for t, text in _read(frames))


def ground_by_text(task: str, frames: Sequence[Frame], fields: Mapping[str, str]) -> str:
    """A grounding reply: present where the described words are on screen."""
    words = fields["description"].upper()
    seen = [t for t, text in _read(frames) if words in text.upper()]
    if not seen:
        rejected = json.dumps({"present": False, "reason": f"no {words}"})
        return f"The frames show other text.\n```json\n{rejected}\n```"
    found = {"present": True, "start": min(seen), "end": max(seen), "reason": f"{words} shown"}
    return "Here is my answer: " + json.dumps(found)


def test_inspect_looks_again_and_cites_the_window(mem, make_perceiver) -> None:  # type: ignore[no-untyped-def]
    perceiver = make_perceiver(describe_text)
    raw = {"start": 16, "end": 25, "question": "What is written?", "fps": 10, "max_frames": 3}
    result = run_tool(Inspect(), raw, ToolContext(mem, perceiver))
    assert result.error is None
    assert any("clamped to [16.0, 20.0]" in n for n in result.notes)
    assert any("fps 10 lowered to the limit 4" in n for n in result.notes)
    (call,) = perceiver.calls
    assert call.task == "inspect" and len(call.times) == 3
    assert all(16.0 <= t <= 20.0 for t in call.times)
    assert call.fields["question"] == "What is written?"
    assert (call.fields["start"], call.fields["end"]) == ("16.0", "20.0")
    context = call.fields["context"]
    assert context.startswith('<data source="memory">') and context.endswith("</data>")
    assert "(ocr) HELLO WORLD" in context and "SCORE 42" not in context
    assert result.text.startswith("[16.0-20.0 s]") and "HELLO WORLD" in result.text
    (evidence,) = result.evidence
    assert (evidence.start, evidence.end, evidence.source) == (16.0, 20.0, "inspect")
    assert 1 <= len(result.frames) <= 3


def test_inspect_needs_a_model(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(Inspect(), {"start": 0, "end": 2, "question": "what?"}, ToolContext(mem))
    assert result.error is not None and "no model server" in result.error
    assert result.evidence == ()


def test_inspect_bad_reply_is_feedback(mem, make_perceiver) -> None:  # type: ignore[no-untyped-def]
    perceiver = make_perceiver(ModelReplyError("empty reply"))
    ctx = ToolContext(mem, perceiver, limits=FrameLimits(frames_per_call=2))
    result = run_tool(Inspect(), {"start": 0, "end": 2, "question": "what?"}, ctx)
    assert result.error is not None and "no usable model reply" in result.error
    assert len(perceiver.calls[0].times) == 2  # the run's frame limit is the default


def test_ocr_finds_text_with_its_span(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(ReadText(), {"start": 13, "end": 20, "fps": 1}, ToolContext(mem))
    assert result.error is None and not result.notes
    (span,) = result.evidence
    assert span.text == "HELLO WORLD" and span.source == "ocr"
    assert span.start == pytest.approx(15.0, abs=0.6) and span.end == 20.0
    block = result.text[result.text.index("<data") :]
    assert block.startswith('<data source="ocr">\n[') and block.endswith("</data>")
    assert "HELLO WORLD" in block


def test_ocr_caps_frames_and_rate(mem) -> None:  # type: ignore[no-untyped-def]
    ctx = ToolContext(mem, limits=FrameLimits(frames_per_call=1, max_fps=2.0))
    result = run_tool(ReadText(), {"start": 0, "end": 4, "fps": 3}, ctx)
    assert result.error is None
    assert any("fps 3 lowered" in n for n in result.notes)
    assert any("read 2 frames" in n for n in result.notes)
    assert [e.text for e in result.evidence] == ["SCORE 42"]
    assert (result.evidence[0].start, result.evidence[0].end) == (0.0, 4.0)


def test_segmentation_splits_the_window_into_shots(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(VideoSegmentation(), {"start": 3, "end": 12}, ToolContext(mem))
    assert result.error is None and not result.notes
    shots = [(e.start, e.end) for e in result.evidence]
    assert [s for s, _ in shots] == pytest.approx([3.0, *CUTS[:2]], abs=TOLERANCE)
    assert [e for _, e in shots] == pytest.approx([*CUTS[:2], 12.0], abs=TOLERANCE)
    assert {e.source for e in result.evidence} == {"segmentation"}
    parts = result.text.split("\nshot ")
    assert parts[0] == "[3.0-12.0 s]: 3 shot(s)"
    assert '<data source="memory">' in parts[1] and "(ocr) SCORE 42" in parts[1]
    assert "(no memory entry)" in parts[2]
    assert "(asr) The red car" in parts[3] and "SCORE" not in parts[3]


def test_segmentation_clamps_its_window(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(VideoSegmentation(), {"start": 12, "end": 40}, ToolContext(mem))
    assert result.error is None and "clamped" in result.notes[0]
    bounds = [b for e in result.evidence for b in (e.start, e.end)]
    assert bounds == pytest.approx([12.0, CUTS[2], CUTS[2], 20.0], abs=TOLERANCE)


def test_grounding_confirms_one_window_and_rejects_another(mem, make_perceiver) -> None:  # type: ignore[no-untyped-def]
    perceiver = make_perceiver(ground_by_text, ground_by_text)
    ctx = ToolContext(mem, perceiver, limits=FrameLimits(frames_per_call=3))
    result = run_tool(TemporalGrounding(), {"description": "HELLO WORLD", "k": 2}, ctx)
    assert result.error is None
    assert [c.task for c in perceiver.calls] == ["ground", "ground"]
    assert all(1 <= len(c.times) <= 3 for c in perceiver.calls)
    first = perceiver.calls[0].fields
    assert (first["start"], first["end"]) == ("14.0", "20.0")
    assert first["description"] == "HELLO WORLD"
    assert first["context"].startswith('<data source="memory">')
    (seen,) = result.evidence
    assert seen.source == "grounding" and 14.0 <= seen.start <= seen.end <= 20.0
    assert seen.start >= 15.0 - 1e-6  # narrowed to where the text is shown
    lines = result.text.splitlines()
    assert "seen in 1 of 2" in lines[0]
    assert lines[1].startswith(f"[{seen.start:.1f}-{seen.end:.1f} s] seen")
    assert lines[2].startswith("[0.0-") and "not seen" in lines[2]
    assert result.frames and all(seen.start - 1 <= f.time <= seen.end + 1 for f in result.frames)


def test_grounding_survives_one_bad_reply(mem, make_perceiver) -> None:  # type: ignore[no-untyped-def]
    perceiver = make_perceiver(ModelReplyError("garbled"), "No, it is not there.")
    ctx = ToolContext(mem, perceiver, limits=FrameLimits(frames_per_call=1))
    result = run_tool(TemporalGrounding(), {"description": "HELLO WORLD", "k": 2}, ctx)
    assert result.error is None and result.evidence == ()
    assert "bad model reply" in result.text and "seen in 0 of 2" in result.text
    every = make_perceiver(ModelReplyError("garbled"))
    ctx = ToolContext(mem, every, limits=FrameLimits(frames_per_call=1))
    result = run_tool(TemporalGrounding(), {"description": "HELLO WORLD", "k": 1}, ctx)
    assert result.error is not None and "garbled" in result.error


def test_grounding_without_a_model_lists_candidates(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(TemporalGrounding(), {"description": "HELLO WORLD"}, ToolContext(mem))
    assert result.error is None and result.notes
    assert "[14.0-20.0 s] unconfirmed (no model)" in result.text
    assert '<data source="memory">\n[15.0-20.0 s] (ocr) HELLO WORLD' in result.text
    assert Evidence(14.0, 20.0, "memory", "candidate for HELLO WORLD") in result.evidence


@pytest.mark.parametrize(
    ("reply", "present", "span"),
    [
        ('{"present": true, "start": 3.5, "end": 6}', True, (3.5, 6.0)),
        ('Sure.\n```json\n{"present": false, "reason": "x"}\n```', False, (None, None)),
        ('{"Present": "yes", "start": "2.0s", "end": null}', True, (2.0, None)),
        ("Yes, around 3 s.", True, (None, None)),
        ("No. The frames show a street.", False, (None, None)),
        ("I cannot tell.", None, (None, None)),
    ],
)
def test_parse_grounding_is_lenient(
    reply: str, present: bool | None, span: tuple[float | None, float | None]
) -> None:
    found = parse_grounding(reply)
    assert found.present is present and (found.start, found.end) == span


def test_candidate_windows_merge_and_stop_at_k() -> None:
    def hit(start: float, end: float) -> Hit:
        return Hit(Entry(start, end, Level.ASR, "asr", "x"), 1.0)

    hits = [hit(10, 12), hit(0.5, 2), hit(12.5, 14), hit(30, 31), hit(40, 41)]
    assert candidate_windows(hits, 35.0, 3) == [(9.0, 15.0), (0.0, 3.0), (29.0, 32.0)]
    assert candidate_windows(hits, 35.0, 1) == [(9.0, 13.0)]
