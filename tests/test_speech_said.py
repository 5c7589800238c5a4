"""Only speech that was said reaches the memory: no text on music, no loops, no garbage from an
English-only model on other languages; --language reaches multilingual models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faster_whisper
import pytest
from click.testing import CliRunner
from faster_whisper.transcribe import Segment, Word

import memory.asr
from mcr_agent.front.cli import main
from memory import IndexSettings, build_memory
from memory.asr import WhisperTranscriber
from memory.asr_filter import Drop, SpeechStats
from memory.store import read_json, write_json
from tests.text_media import make_melody_wav, make_speech_track, make_video_with_audio

GERMAN = (
    "Guten Morgen. Heute sprechen wir über die Geschichte der Stadt Berlin. "
    "Die Mauer fiel im Jahr neunzehnhundertneunundachtzig."
)
CHINESE = "大家好。今天我们来谈谈中国的历史。长城是世界上最长的城墙。"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, " ".join(result.stdout.split()), result.stderr


def asr_hits(video: Path, query: str) -> list[dict[str, Any]]:
    code, out, _ = run("memory", "search", str(video), query, "--level", "asr", "--json")
    assert code == 0
    hits: list[dict[str, Any]] = json.loads(out)
    return hits


@pytest.fixture(scope="module")
def music_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of a sung-like melody and no words: Whisper writes 'Thank you.' on it."""
    folder = tmp_path_factory.mktemp("music")
    return make_video_with_audio(
        folder / "music.mp4", make_melody_wav(folder / "m.wav"), seconds=20
    )


def test_music_stores_no_speech(music_video: Path) -> None:
    code, out, err = run("index", str(music_video))
    assert code == 0, err
    assert "speech: 0 transcript lines kept," in out
    dropped = out.split("speech: 0 transcript lines kept, ")[1]
    assert not dropped.startswith("0 dropped") and "no speech" in dropped
    assert asr_hits(music_video, "thank you") == []


def test_a_stale_transcript_is_redone_and_old_memories_load(
    music_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory built before the filter (its transcript holds what Whisper wrote on the music)
    still opens, and indexing again replaces its transcript instead of reusing it."""
    with monkeypatch.context() as patch:
        patch.setattr(memory.asr, "drop_reason", lambda **_: None)
        old, _ = build_memory(music_video)
    # The files as the code before the filter wrote them: no filter in either cache key.
    manifest = read_json(old.folder / "manifest.json")
    for key in ("asr_filter", "subtitle_reader", "embedded_subtitles", "subtitle_track"):
        manifest["settings"].pop(key)
    manifest.pop("notes")
    write_json(old.folder / "manifest.json", manifest)
    transcript = read_json(old.folder / "asr.json")
    transcript["settings"].pop("filter")
    transcript.pop("stats")
    write_json(old.folder / "asr.json", transcript)
    invented = [e["text"] for e in transcript["entries"]]
    assert invented, "Whisper wrote nothing on the melody: the case is not reproduced"

    assert [h["text"] for h in asr_hits(music_video, invented[0])] == invented[:1]
    code, out, _ = run("index", str(music_video))
    assert code == 0 and "reused from cache" not in out
    assert asr_hits(music_video, invented[0]) == []


def test_non_english_speech_is_detected_and_not_stored(tmp_path: Path) -> None:
    wav = make_speech_track(tmp_path / "de.wav", [(1.0, "de", GERMAN)], seconds=16)
    video = make_video_with_audio(tmp_path / "de.mp4", wav, seconds=16)
    code, out, err = run("index", str(video))
    assert code == 0, err
    assert "speech: 0 transcript lines kept, 1 dropped (1 low confidence)" in out
    assert "look non-English" in out and "--asr-model small" in out and "--language" in out
    assert asr_hits(video, "history Berlin") == []


def test_chinese_speech_loops_and_is_not_stored(tmp_path: Path) -> None:
    """tiny.en writes "1, 2, 3, 1, 1, 1, ..." on Chinese: a loop, dropped the same way."""
    wav = make_speech_track(tmp_path / "zh.wav", [(1.0, "cmn", CHINESE)], seconds=16)
    transcript = WhisperTranscriber().run(str(wav))
    assert transcript.entries == []
    assert set(transcript.stats.dropped) == {"repetition loop"}
    assert transcript.stats.looks_non_english()
    warning = transcript.stats.warning() or ""
    assert "--asr-model small" in warning and "--language" in warning


def test_english_speech_is_kept_where_it_was_said(tmp_path: Path) -> None:
    said = "The kettle is boiling, bring two cups please."
    wav = make_speech_track(tmp_path / "en.wav", [(2.0, "en-us", said)], seconds=8)
    transcript = WhisperTranscriber().run(str(wav))
    assert transcript.stats.dropped == {} and not transcript.stats.looks_non_english()
    [line] = transcript.entries
    assert "boiling" in line.text and "cups" in line.text
    assert abs(line.end - 4.97) <= 0.3  # the last sample of speech is at 4.97 s
    # Silero VAD pads speech by 0.4 s and Whisper puts the first word at the padded start.
    assert 2.0 - 0.4 - 0.3 <= line.start <= 2.0 + 0.3


# --- Scripted faster-whisper: what the pipeline is asked for, and segments it returns ---


def segment(start: float, words: list[tuple[float, float, str]], **signals: float) -> Segment:
    text = "".join(w for _, _, w in words)
    values = {"avg_logprob": -0.3, "no_speech_prob": 0.05} | signals
    return Segment(
        id=0,
        seek=0,
        start=start,
        end=words[-1][1],
        text=text,
        tokens=list(range(len(words))),
        avg_logprob=values["avg_logprob"],
        compression_ratio=faster_whisper.transcribe.get_compression_ratio(text),
        no_speech_prob=values["no_speech_prob"],
        words=[Word(a, b, w, 0.9) for a, b, w in words],
        temperature=0.0,
    )


def spaced(start: float, text: str, step: float = 0.3) -> list[tuple[float, float, str]]:
    return [
        (start + i * step, start + i * step + 0.25, f" {w}") for i, w in enumerate(text.split())
    ]


class FakeWhisper:
    """Stands in for faster_whisper's WhisperModel and BatchedInferencePipeline."""

    def __init__(self, segments: list[Segment], *, multilingual: bool) -> None:
        self.segments = segments
        self.multilingual = multilingual
        self.calls: list[dict[str, Any]] = []

    def model(self, path: str, **_: Any) -> Any:
        return SimpleNamespace(
            model=SimpleNamespace(is_multilingual=self.multilingual),
            max_length=448,
            supported_languages=["en", "de", "fr", "zh"] if self.multilingual else ["en"],
        )

    def pipeline(self, model: Any) -> Any:
        def transcribe(media: str, **options: Any) -> tuple[Iterator[Segment], Any]:
            self.calls.append(options)
            language = options["language"]
            info = SimpleNamespace(
                language=language or "de", language_probability=0.97, duration_after_vad=12.0
            )
            return iter(self.segments), info

        return SimpleNamespace(transcribe=transcribe)


@pytest.fixture
def fake_whisper(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def install(segments: list[Segment], *, multilingual: bool) -> FakeWhisper:
        fake = FakeWhisper(segments, multilingual=multilingual)
        monkeypatch.setattr(faster_whisper, "WhisperModel", fake.model)
        monkeypatch.setattr(faster_whisper, "BatchedInferencePipeline", fake.pipeline)
        monkeypatch.setattr(memory.asr, "_MODELS", {})
        return fake

    yield install


@pytest.fixture(scope="module")
def quiet_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quiet")
    wav = make_speech_track(folder / "q.wav", [], seconds=12)
    return make_video_with_audio(folder / "q.mp4", wav, seconds=12)


def test_language_reaches_a_multilingual_model(fake_whisper: Any, quiet_video: Path) -> None:
    fake = fake_whisper([segment(1.0, spaced(1.0, "Guten Morgen, Berlin."))], multilingual=True)
    code, out, err = run("index", str(quiet_video), "--asr-model", "small", "--language", "de")
    assert code == 0, err
    assert fake.calls[-1]["language"] == "de"
    assert "speech: 1 transcript lines kept, 0 dropped" in out and "look non-English" not in out
    [hit] = asr_hits(quiet_video, "Guten Morgen")
    assert (hit["start"], hit["text"], hit["source"]) == (1.0, "Guten Morgen, Berlin.", "asr:small")

    code, out, err = run("index", str(quiet_video), "--asr-model", "small")
    assert code == 0, err
    assert fake.calls[-1]["language"] is None
    assert "language de (detected, p=0.97)" in out

    code, _, err = run("index", str(quiet_video), "--asr-model", "small", "--language", "xx")
    assert code == 1 and "unknown ASR language 'xx'" in err and err.count("\n") == 1
    assert asr_hits(quiet_video, "Guten Morgen")  # a failed run keeps the complete memory


def test_language_with_an_english_only_model_is_one_line(quiet_video: Path) -> None:
    code, _, err = run("index", str(quiet_video), "--language", "de")
    assert code == 1 and err.count("\n") == 1
    assert "tiny.en is English-only" in err and "--asr-model small" in err
    with pytest.raises(Exception, match="English-only"):
        IndexSettings(asr_language="fr")


def test_repetition_loops_are_dropped(fake_whisper: Any, quiet_video: Path) -> None:
    """A segment that loops (its compression ratio is above Whisper's 2.4) is dropped; so is a
    looping line inside a segment whose ratio, diluted by real sentences, stays below it."""
    real = "The committee will announce the results of the election on Thursday morning."
    loop = spaced(7.5, " ".join(["no"] * 14), step=0.2)
    segments = [
        segment(0.0, spaced(0.0, "thank " * 30)),  # one word, dozens of times
        segment(3.0, spaced(3.0, real) + loop + spaced(11.5, "After that, we all went home.")),
    ]
    fake_whisper(segments, multilingual=False)
    transcript = WhisperTranscriber().run(str(quiet_video))
    assert [e.text for e in transcript.entries] == [real, "After that, we all went home."]
    assert transcript.stats.dropped == {"repetition loop": 2}
    assert segments[1].compression_ratio < 2.4


@pytest.mark.parametrize(
    ("failed", "kept", "verdict"),
    [(0.2, 0.0, False), (1.5, 0.0, True), (1.5, 3.0, False), (0.0, 0.0, False)],
)
def test_non_english_needs_enough_rejected_speech(
    failed: float, kept: float, verdict: bool
) -> None:
    """A fraction of a second of rejected speech (a one-frame clip's audio) names no language."""
    stats = SpeechStats("tiny.en", english_only=True)
    if failed:
        stats.count(0.0, failed, Drop.LOW_CONFIDENCE)
    if kept:
        stats.count(2.0, 2.0 + kept, None)
    assert stats.looks_non_english() is verdict
