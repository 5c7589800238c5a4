"""Frames decoded on demand: window sampling, frames at times, finer cuts, broken files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mcr_agent.errors import VideoError
from mcr_agent.front import media, media_quirks
from memory import Frame, frames_at, sample_window, window_cuts

FPS = 25
SECONDS = [1.5, 2.0, 2.5]  # cuts at 1.5 and 3.5 s, 6 s long


@pytest.fixture(scope="module")
def video(media_dir: Path) -> Path:
    return media.make_scenes_video(
        media_dir / "frames.mp4", scene_seconds=SECONDS, fps=FPS, size=(640, 360)
    )


def _image(frame: Frame) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    assert (img.shape[1], img.shape[0]) == (frame.width, frame.height)
    return img


def test_window_frames_evenly_cover_the_window(video: Path) -> None:
    frames = sample_window(video, 1.0, 3.0, fps=2, max_frames=16, max_pixels=10**6)
    targets = [1.25, 1.75, 2.25, 2.75]  # the middles of four half-second slices
    assert [f.time for f in frames] == pytest.approx(targets, abs=0.5 / FPS + 1e-6)
    assert all(1.0 <= f.time <= 3.0 for f in frames)
    assert (frames[0].width, frames[0].height) == (640, 360)  # never upscaled
    assert frames[0].jpeg[:2] == b"\xff\xd8"


def test_frame_count_capped_and_short_window(video: Path) -> None:
    frames = sample_window(video, 0.0, 6.0, fps=4, max_frames=5, max_pixels=10**6)
    assert len(frames) == 5  # 5 frames over 6 s, not 4 fps
    steps = np.diff([f.time for f in frames])
    assert np.allclose(steps, 1.2, atol=1.0 / FPS + 1e-6)
    (middle,) = sample_window(video, 2.0, 2.03, fps=4, max_frames=16, max_pixels=10**6)
    assert middle.time == pytest.approx(2.0, abs=1e-6)  # the frame inside the window


def test_frames_fit_the_pixel_budget(video: Path) -> None:
    (frame,) = sample_window(video, 0.0, 1.0, fps=1, max_frames=1, max_pixels=100 * 100)
    assert frame.width * frame.height <= 100 * 100
    assert frame.width % 2 == 0 and frame.height % 2 == 0
    assert frame.width / frame.height == pytest.approx(16 / 9, rel=0.05)
    _image(frame)


def test_window_past_the_end(video: Path) -> None:
    frames = sample_window(video, 5.0, 9.0, fps=2, max_frames=16, max_pixels=10**5)
    assert len(frames) == 2  # the window is cut at the end of the video: 1 s at 2 fps
    assert all(5.0 <= f.time < 6.0 for f in frames)
    (last,) = sample_window(video, 30.0, 40.0, fps=2, max_frames=16, max_pixels=10**5)
    assert last.time == pytest.approx(6.0 - 1.0 / FPS)


def test_rotated_frames_are_upright(media_dir: Path) -> None:
    video = media_quirks.make_rotated_video(media_dir / "frames_rot.mp4", seconds=1.0)
    frames = sample_window(video, 0.0, 1.0, fps=2, max_frames=4, max_pixels=10**6)
    assert (frames[0].width, frames[0].height) == media_quirks.ROTATED_DISPLAY_SIZE
    img = _image(frames[0])
    h = img.shape[0]
    # The stored top-left red square shows at the bottom-left once upright.
    b, g, r = img[h - 10, 10]
    assert r > 200 and g < 60 and b < 60
    assert not (img[10, 10][2] > 200 and img[10, 10][1] < 60)


def test_variable_frame_rate_times_follow_timestamps(media_dir: Path) -> None:
    video = media_quirks.make_vfr_video(media_dir / "frames_vfr.mp4")
    frames = sample_window(video, 3.5, 4.5, fps=4, max_frames=16, max_pixels=10**5)
    times = [f.time for f in frames]
    # 30 fps before the cut at 4 s, 10 fps after: the nearest frames to the slice middles.
    assert times == pytest.approx([3.633, 3.867, 4.1, 4.4], abs=2e-3)
    red, yellow = _image(frames[1]).mean(axis=(0, 1)), _image(frames[2]).mean(axis=(0, 1))
    assert red[2] > 2 * red[1]  # style 0 (red) before the cut
    assert yellow[1] > 0.5 * yellow[2]  # style 3 (yellow) after it


def test_frames_at_times(video: Path) -> None:
    frames = frames_at(video, [5.52, 0.2, 1.01, 1.0], max_pixels=10**5)
    assert [f.time for f in frames] == pytest.approx([0.2, 1.0, 5.52])  # sorted, once each
    assert frames_at(video, [], max_pixels=10**5) == []
    (near,) = frames_at(video, [3.0], max_pixels=10**5, tolerance=0.5)
    assert abs(near.time - 3.0) <= 0.5


def test_window_cuts_within_one_frame(video: Path) -> None:
    truth = media.scene_cut_times(SECONDS)[:2]
    found = window_cuts(video, 0.0, 6.0)
    assert found == pytest.approx(truth, abs=1.0 / FPS + 1e-6)
    assert window_cuts(video, 2.0, 3.2) == []  # moving shapes inside one shot are no cut
    assert window_cuts(video, 1.0, 3.0) == pytest.approx(truth[:1], abs=1.0 / FPS + 1e-6)


def test_window_cuts_on_variable_frame_rate(media_dir: Path) -> None:
    video = media_quirks.make_vfr_video(media_dir / "frames_vfr.mp4")
    assert window_cuts(video, 2.0, 6.0) == pytest.approx([media_quirks.VFR_CUT_TIME], abs=1 / 30)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return media_quirks.make_corrupt_files(tmp_path_factory.mktemp("broken"))


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "audio_only", "zero_length"])
def test_unreadable_video_is_a_one_line_error(broken: dict[str, Path], kind: str) -> None:
    with pytest.raises(VideoError) as caught:
        sample_window(broken[kind], 0.0, 1.0, fps=1, max_frames=2, max_pixels=10**4)
    message = str(caught.value)
    assert "\n" not in message and ("ffmpeg" in message or "pass a file" in message)


def test_missing_video_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not found"):
        frames_at(tmp_path / "gone.mp4", [1.0], max_pixels=10**4)
    with pytest.raises(VideoError, match="not found"):
        window_cuts(tmp_path / "gone.mp4", 0.0, 1.0)


def test_truncated_video_gives_what_decodes(broken: dict[str, Path]) -> None:
    frames = sample_window(
        broken["truncated_tail"], 0.0, 2.0, fps=2, max_frames=8, max_pixels=10**4
    )
    assert frames and all(0.0 <= f.time < 2.0 for f in frames)
    assert frames_at(broken["truncated_tail"], [1.9], max_pixels=10**4)  # the last that decodes


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sample_window("x.mp4", 2.0, 1.0, fps=1, max_frames=1, max_pixels=100)
    with pytest.raises(ValueError):
        sample_window("x.mp4", 0.0, 1.0, fps=0, max_frames=1, max_pixels=100)
