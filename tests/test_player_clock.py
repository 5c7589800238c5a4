"""Every time in the memory is on the player's clock, whatever the streams' own start times."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import IndexSettings, Level, build_memory, frames_at, probe, sample_window
from memory.clock import decode_audio
from tests import real_media
from tools.asr import transcribe_window

TOLERANCE = 0.3
CUT = real_media.PICTURE_CUT


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clock")
    late = real_media.offset_streams_video(d / "audio_late.mp4", audio_offset=6.0)
    return {
        "audio_late": late,
        "audio_first": real_media.offset_streams_video(d / "audio_first.mp4", audio_offset=-6.0),
        "mpegts": real_media.to_mpegts(late, d / "capture.ts"),
        "mpegts_hour": real_media.to_mpegts(late, d / "capture_hour.ts", ts_offset=3600),
    }


# (kind, where the picture starts, where the speech starts), on the player's clock
CASES = [
    ("audio_late", 0.0, 6.0),
    ("audio_first", 6.0, 0.0),
    ("mpegts", 0.0, 6.0),
    ("mpegts_hour", 0.0, 6.0),
]


@pytest.mark.parametrize(("kind", "picture", "speech"), CASES)
def test_memory_times_on_the_player_clock(
    made: dict[str, Path], tmp_path: Path, kind: str, picture: float, speech: float
) -> None:
    video = made[kind]
    info = probe(video)
    assert info.duration == pytest.approx(picture + real_media.PICTURE_SECONDS, abs=TOLERANCE)
    memory, _ = build_memory(video, settings=IndexSettings(ocr=True), cache=tmp_path)
    assert [s.start for s in memory.scenes][1:] == pytest.approx([picture + CUT], abs=TOLERANCE)
    said = memory.level(Level.ASR)
    assert said and "red car" in " ".join(e.text.lower() for e in said)
    assert said[0].start == pytest.approx(speech, abs=TOLERANCE)
    shown = {e.text: e for e in memory.level(Level.OCR)}
    assert shown["BRAVO"].start == pytest.approx(picture + CUT, abs=TOLERANCE)
    assert shown["ALPHA"].end == pytest.approx(picture + CUT, abs=TOLERANCE)
    assert all(k.time >= picture - 1e-3 for s in memory.scenes for k in s.keyframes)


@pytest.mark.parametrize(("kind", "picture", "speech"), CASES)
def test_frames_and_audio_decoded_on_demand_share_the_clock(
    made: dict[str, Path], kind: str, picture: float, speech: float
) -> None:
    video = made[kind]
    around_cut = frames_at(video, [picture + CUT - 0.5, picture + CUT + 0.5], max_pixels=64 * 64)
    assert [f.time for f in around_cut] == pytest.approx(
        [picture + CUT - 0.5, picture + CUT + 0.5], abs=0.05
    )
    window = sample_window(video, picture + 1, picture + 3, fps=1, max_frames=2, max_pixels=4096)
    assert [f.time for f in window] == pytest.approx([picture + 1.5, picture + 2.5], abs=0.05)
    samples, first = decode_audio(video, start=speech + 1.0, end=speech + 2.0)
    assert first == pytest.approx(speech + 1.0, abs=0.05)
    assert len(samples) == pytest.approx(16_000, abs=800)
    loud = abs(samples).max()
    assert loud > 0.05  # inside the sentence, not the silence before it


def test_window_transcribed_on_demand_is_on_the_player_clock(
    made: dict[str, Path], tmp_path: Path
) -> None:
    memory, _ = build_memory(made["audio_first"], settings=IndexSettings(asr=False), cache=tmp_path)
    heard = transcribe_window(memory, 0.0, 5.0)
    assert heard and "red car" in " ".join(e.text.lower() for e in heard)
    assert heard[0].start == pytest.approx(0.0, abs=TOLERANCE)
    memory_late, _ = build_memory(
        made["audio_late"], settings=IndexSettings(asr=False), cache=tmp_path
    )
    late = transcribe_window(memory_late, 4.0, 12.0)
    assert late and late[0].start == pytest.approx(6.0, abs=TOLERANCE)
