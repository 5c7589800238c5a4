"""On-screen text that changes without a cut: every word shown for 2 s or more is read, with
its own time span, at a bounded number of OCR reads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from memory import IndexSettings, Level, build_memory, probe
from memory.ocr import KeyframeReader, _same_text
from memory.scenes import scan_video
from memory.screen_text import TextWatch
from tests import real_media

TOLERANCE = 0.3


class CountingReader(KeyframeReader):
    """The real OCR engine, counting the images it reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, image: bytes | np.ndarray) -> str:
        self.reads += 1
        return super().read(image)


def _spans(memory: object, words: tuple[str, ...]) -> dict[str, list[tuple[float, float]]]:
    entries = memory.level(Level.OCR)  # type: ignore[attr-defined]
    return {w: [(e.start, e.end) for e in entries if w in e.text.upper()] for w in words}


@pytest.mark.parametrize("seconds", [real_media.SLIDE_SECONDS, 2.0])
def test_slide_line_changing_without_a_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    video = real_media.slide_video(tmp_path / "slide.mp4", seconds=seconds, size=(960, 540))
    assert scan_video(probe(video), IndexSettings()).cuts == []
    reader = CountingReader()
    monkeypatch.setattr("memory.stages.KeyframeReader", lambda **_: reader)
    memory, _ = build_memory(video, settings=IndexSettings(ocr=True), cache=tmp_path / "c")
    spans = _spans(memory, real_media.ELEMENTS)
    for i, word in enumerate(real_media.ELEMENTS):
        assert len(spans[word]) == 1, (word, spans)
        (start, end) = spans[word][0]
        assert start == pytest.approx(i * seconds, abs=TOLERANCE)
        assert end == pytest.approx((i + 1) * seconds, abs=TOLERANCE)
    title = [e for e in memory.level(Level.OCR) if "Chemistry" in e.text]
    assert len(title) == len(real_media.ELEMENTS)  # the title is read with every line
    assert reader.reads == len(real_media.ELEMENTS)  # one read per state, none repeated


def test_scoreboard_over_moving_footage(tmp_path: Path) -> None:
    video = real_media.scoreboard_video(tmp_path / "score.mp4", size=(960, 540))
    memory, _ = build_memory(video, settings=IndexSettings(ocr=True), cache=tmp_path)
    entries = memory.level(Level.OCR)
    for i, score in enumerate(real_media.SCORES):
        found = [e for e in entries if e.text.split() == score.split()]
        assert len(found) == 1, (score, [(e.start, e.end, e.text) for e in entries])
        assert found[0].start == pytest.approx(i * real_media.SCORE_SECONDS, abs=TOLERANCE)
        assert found[0].end == pytest.approx((i + 1) * real_media.SCORE_SECONDS, abs=TOLERANCE)


def _frame(box_x: int | None, text: str | None) -> np.ndarray:
    img = np.full((144, 256, 3), 90, np.uint8)
    img[::8] = 60  # a soft striped background
    if box_x is not None:  # a uniform shape moving across
        cv2.rectangle(img, (box_x, 20), (box_x + 60, 80), (250, 250, 250), -1)
    if text:
        cv2.putText(img, text, (10, 130), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return img


def test_text_watch_asks_for_steps_not_motion() -> None:
    watch = TextWatch()
    kept = []
    for k in range(250):  # 10 s at 25 fps
        t = k / 25
        box = int(2 + 30 * t) if t < 6 else None  # moves across, then leaves
        text = "SCORE 1" if t < 4 else "SCORE 2"
        if (since := watch.add(t, _frame(box, text))) is not None:
            kept.append((round(since, 2), round(t, 2)))
    assert [s for s, _ in kept] == pytest.approx([0.0, 4.0], abs=1 / watch.rate)
    assert all(t - s <= 1.0 for s, t in kept)


def test_same_text_tells_a_replaced_word_from_ocr_noise() -> None:
    assert _same_text("SCORE 42", "SCORE 42.")
    assert _same_text("Breaking news: markets rise", "Breaking news: rnarkets rise")
    line = "Introduction to Chemistry Element of the day: "
    assert not _same_text(line + "PLATINUM", line + "TUNGSTEN")
    assert not _same_text("HOME 1 AWAY 0", "HOME 1 AWAY 1")


class ScriptedReader(KeyframeReader):
    """Reads the text written into each test image's file name, without an OCR engine."""

    def __init__(self, texts: dict[str, str]) -> None:
        super().__init__()
        self.texts = texts
        self.reads = 0

    def read(self, image: bytes | np.ndarray) -> str:
        self.reads += 1
        assert isinstance(image, bytes)
        return self.texts[image.decode()]


def test_read_scenes_spans(tmp_path: Path) -> None:
    from memory.ocr import read_scenes
    from memory.records import Keyframe, Scene, TextFrame

    names = {"k1": "OPEN", "k2": "OPEN", "t1": "CLOSED", "k3": "CLOSED", "k4": "LATE"}
    for name in names:
        (tmp_path / name).write_bytes(name.encode())  # not a picture: always read
    scenes = [
        Scene(0, 0.0, 10.0, (Keyframe(2.0, "k1"), Keyframe(6.0, "k2"))),
        Scene(
            1,
            10.0,
            30.0,
            (Keyframe(12.0, "k3"), Keyframe(24.0, "k4")),
            (TextFrame(11.0, 10.2, "t1"),),
        ),
    ]
    reader = ScriptedReader(names)
    entries = read_scenes(scenes, tmp_path, reader)
    assert [(e.start, e.end, e.text) for e in entries] == [
        (0.0, 10.0, "OPEN"),
        (10.0, 18.0, "CLOSED"),  # the scene starts with it; the change is at 10.2
        (18.0, 30.0, "LATE"),  # an undetected change: half way between the reads
    ]
    assert reader.reads == 5
