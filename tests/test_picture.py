"""Keyframes, OCR input and frames for the model look like the picture a player shows, in a
shape the model and OCR accept: non-square pixels, extreme strips, one frame, odd sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mcr_agent.front import media
from memory import Frame, IndexSettings, Level, build_memory, frames_at, probe, sample_window
from memory.ocr import KeyframeReader
from memory.picture import MAX_ASPECT, MIN_SIDE, readable
from tests import real_media


def _accepted_by_the_model(width: int, height: int) -> None:
    """Qwen2/3-VL's own resize (what a vLLM or transformers server runs on every image)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, 32, min_pixels=32 * 32, max_pixels=448 * 448)
    assert h >= 32 and w >= 32


def _image(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.mark.parametrize(
    "shape", [(16, 4000), (4000, 16), (3, 3), (20, 90), (1, 4000), (360, 640), (2, 40000)]
)
def test_readable_shapes(shape: tuple[int, int]) -> None:
    img = np.full((*shape, 3), 200, np.uint8)
    out = readable(img)
    h, w = out.shape[:2]
    assert max(h, w) <= MAX_ASPECT * min(h, w) + 1 and min(h, w) >= MIN_SIDE
    if max(shape) <= MAX_ASPECT * min(shape) and min(shape) >= MIN_SIDE:
        assert out is img  # ordinary pictures pass untouched
    _accepted_by_the_model(w, h)


def test_wrapped_strip_keeps_every_word_readable() -> None:
    text = "BREAKING NEWS MARKETS RISE AS RAIN FALLS ON THE CITY TONIGHT"
    strip = np.full((24, 1800, 3), 255, np.uint8)
    cv2.putText(strip, text, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
    read = KeyframeReader().read(strip).upper()
    for word in text.split():
        assert word in read


@pytest.fixture(scope="module")
def strip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_media.strip_video(tmp_path_factory.mktemp("strip") / "strip.mp4")


def test_strip_video_indexes_with_ocr(strip: Path, tmp_path: Path) -> None:
    info = probe(strip)
    assert (info.width, info.height) == (4000, 16)
    memory, _ = build_memory(strip, settings=IndexSettings(ocr=True), cache=tmp_path)
    text = " ".join(e.text for e in memory.level(Level.OCR)).upper()
    assert "MARKETS" in text and "RAIN" in text
    for scene in memory.scenes:
        for key in scene.keyframes:
            img = cv2.imread(str(memory.folder / key.path))
            _accepted_by_the_model(img.shape[1], img.shape[0])


def test_strip_frames_for_the_model_are_accepted(strip: Path) -> None:
    frames: list[Frame] = [
        *frames_at(strip, [0.5, 1.5], max_pixels=448 * 448),
        *sample_window(strip, 0, 2, fps=1, max_frames=2, max_pixels=128 * 128),
    ]
    for frame in frames:
        img = _image(frame.jpeg)
        assert (img.shape[1], img.shape[0]) == (frame.width, frame.height)
        _accepted_by_the_model(frame.width, frame.height)


def test_one_frame_is_a_video(tmp_path: Path) -> None:
    two = media.make_scenes_video(
        tmp_path / "two.mp4", scene_seconds=[2.0], texts=["HELLO WORLD"], size=(320, 240)
    )
    one = real_media.one_frame_video(tmp_path / "one.mp4", two)
    info = probe(one)
    assert 0 < info.duration <= 0.1
    memory, _ = build_memory(one, settings=IndexSettings(ocr=True), cache=tmp_path / "cache")
    assert len(memory.scenes) == 1 and len(memory.scenes[0].keyframes) == 1
    ocr = memory.level(Level.OCR)
    assert [e.text.split() for e in ocr] == [["HELLO", "WORLD"]]
    assert ocr[0].start == 0.0 and ocr[0].end == pytest.approx(info.duration)
    assert [f.time for f in frames_at(one, [0.0, 5.0], max_pixels=4096)] == [0.0]


def _disc_aspect(img: np.ndarray) -> float:
    red = (img[:, :, 2] > 150) & (img[:, :, 1] < 100) & (img[:, :, 0] < 100)
    ys, xs = np.nonzero(red)
    return float((xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1))


@pytest.mark.parametrize(
    ("stored", "sar", "shown"),
    [
        ((720, 576), (64, 45), (1024, 576)),
        ((720, 576), (16, 15), (768, 576)),
        ((320, 240), (2, 1), (640, 240)),
    ],
)
def test_non_square_pixels_shown_as_a_player_does(
    tmp_path: Path, stored: tuple[int, int], sar: tuple[int, int], shown: tuple[int, int]
) -> None:
    video = real_media.anamorphic_video(tmp_path / "anamorphic.mp4", stored=stored, sar=sar)
    info = probe(video)
    assert (info.width, info.height) == shown
    memory, _ = build_memory(video, settings=IndexSettings(asr=False), cache=tmp_path)
    key = cv2.imread(str(memory.folder / memory.scenes[0].keyframes[0].path))
    assert key.shape[1] / key.shape[0] == pytest.approx(shown[0] / shown[1], rel=0.02)
    assert _disc_aspect(key) == pytest.approx(1.0, abs=0.06)  # round, as drawn for display
    frame = frames_at(video, [1.0], max_pixels=10**6)[0]
    assert (frame.width, frame.height) == shown
    assert _disc_aspect(_image(frame.jpeg)) == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("size", [(321, 241), (98, 54), (17, 9)])
def test_odd_and_tiny_sizes(tmp_path: Path, size: tuple[int, int]) -> None:
    frames = (np.full((size[1], size[0], 3), 40 * i % 255, np.uint8) for i in range(25))
    # VP9 in WebM takes odd sizes in 4:2:0 (H.264 does not)
    video = real_media.encode(tmp_path / "odd.webm", frames, fps=25, size=size, codec="libvpx-vp9")
    info = probe(video)
    assert (info.width, info.height) == size and info.duration == pytest.approx(1.0, abs=0.05)
    memory, _ = build_memory(video, settings=IndexSettings(ocr=True), cache=tmp_path)
    key = cv2.imread(str(memory.folder / memory.scenes[0].keyframes[0].path))
    _accepted_by_the_model(key.shape[1], key.shape[0])


def test_missing_duration_comes_from_the_packets(tmp_path: Path) -> None:
    video = media.make_scenes_video(tmp_path / "v.mp4", scene_seconds=[2.0, 3.0], size=(160, 96))
    raw = tmp_path / "raw.h264"  # an elementary stream: no duration, no timestamps
    real_media.ffmpeg("-i", video, "-c", "copy", raw)
    piped = tmp_path / "piped.mkv"  # written to a pipe: no duration in the header
    real_media.run(
        ["sh", "-c", f"ffmpeg -loglevel error -i {video} -c copy -f matroska - > {piped}"]
    )
    for path in (raw, piped):
        info = probe(path)
        assert info.duration == pytest.approx(5.0, abs=0.05)
        memory, _ = build_memory(path, settings=IndexSettings(asr=False), cache=tmp_path / "c")
        assert [s.start for s in memory.scenes] == pytest.approx([0.0, 2.0], abs=0.05)
        assert [f.time for f in frames_at(path, [2.5, 1.0], max_pixels=4096)] == pytest.approx(
            [1.0, 2.5], abs=0.03
        )
