"""Scene detection and keyframes on generated videos with known cuts."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mcr_agent.front import media, media_quirks
from memory import IndexSettings, probe
from memory.scenes import pick_keyframes, scan_video, split_scenes


def _cuts(path: Path) -> list[float]:
    return scan_video(probe(path), IndexSettings()).cuts


def test_cuts_found_within_one_frame(media_dir: Path) -> None:
    seconds = [3.0, 2.0, 4.0, 1.5, 3.5]
    video = media.make_scenes_video(media_dir / "cuts.mp4", scene_seconds=seconds, fps=25)
    found = _cuts(video)
    truth = media.scene_cut_times(seconds)
    assert len(found) == len(truth)
    assert np.allclose(found, truth, atol=1 / 25 + 1e-6)


def test_variable_frame_rate_cut_time(media_dir: Path) -> None:
    video = media_quirks.make_vfr_video(media_dir / "vfr.mp4")
    info = probe(video)
    assert info.vfr
    assert _cuts(video) == pytest.approx([media_quirks.VFR_CUT_TIME], abs=0.1)


def test_rotated_video_keyframes_are_upright(media_dir: Path, tmp_path: Path) -> None:
    video = media_quirks.make_rotated_video(media_dir / "rot.mp4")
    info = probe(video)
    assert (info.width, info.height) == media_quirks.ROTATED_DISPLAY_SIZE
    scan = scan_video(info, IndexSettings())
    scenes = pick_keyframes([(0.0, scan.end)], scan.samples, tmp_path, IndexSettings())
    img = cv2.imread(str(tmp_path / scenes[0].keyframes[0].path))
    assert img.shape[1] < img.shape[0]  # portrait, as displayed


def test_video_without_cuts_still_gets_units(media_dir: Path) -> None:
    video = media.make_long_static_video(media_dir / "static.mp4", seconds=70)
    scan = scan_video(probe(video), IndexSettings())
    assert scan.cuts == []
    spans = split_scenes(scan.cuts, scan.end, max_seconds=30)
    assert len(spans) == 3
    assert all(e - s <= 30 for s, e in spans)
    assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(70, abs=0.2)


def test_split_scenes_caps_length_and_merges_slivers() -> None:
    spans = split_scenes([10.0, 49.99], 100.0, max_seconds=30)
    assert spans[0] == (0.0, 10.0)
    assert all(e - s <= 30 + 1e-6 for s, e in spans)
    assert spans[-1][1] == 100.0
    assert [s for s, _ in spans[1:]] == [e for _, e in spans[:-1]]


def test_keyframes_inside_their_scene(speech_video: Path, tmp_path: Path) -> None:
    settings = IndexSettings()
    scan = scan_video(probe(speech_video), settings)
    spans = split_scenes(scan.cuts, scan.end, max_seconds=settings.max_scene_seconds)
    for scene in pick_keyframes(spans, scan.samples, tmp_path, settings):
        assert scene.keyframes
        for key in scene.keyframes:
            assert scene.start <= key.time < scene.end
            img = cv2.imread(str(tmp_path / key.path))
            assert img.shape[0] * img.shape[1] <= settings.keyframe_max_pixels
