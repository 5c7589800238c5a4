"""The one-pass detector finds the cuts PySceneDetect's own detect() finds (±1 frame):
its downsampling loses no cut and adds none inside a fade."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.scene_agreement import agreement
from tests import real_media


@pytest.mark.parametrize("kind", ["cuts", "fades", "flashes", "pan", "portrait", "small"])
def test_cuts_agree_with_the_library(tmp_path: Path, kind: str) -> None:
    video = real_media.footage(kind, tmp_path / f"{kind}.mp4")
    result = agreement([video])
    assert (result.extra, result.missed) == (0, 0), result.files
    if kind in ("cuts", "fades", "portrait", "small"):
        assert result.matched == 6  # one per shot change
