"""Every bad video gives one clear line and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcr_agent.errors import VideoError
from mcr_agent.front import media_quirks
from memory import build_memory, probe


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return media_quirks.make_corrupt_files(tmp_path_factory.mktemp("corrupt"))


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("text", "not a readable video"),
        ("empty", "empty file"),
        ("truncated", "not a readable video"),
        ("audio_only", "no video stream"),
        ("zero_length", "zero length"),
    ],
)
def test_bad_files(corrupt: dict[str, Path], key: str, words: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(VideoError) as err:
        build_memory(corrupt[key], cache=cache)
    message = str(err.value)
    assert words in message and "\n" not in message
    assert not cache.exists() or not any(cache.iterdir())


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="folder"):
        probe(tmp_path)


def test_truncated_tail_indexes_what_decodes(corrupt: dict[str, Path], tmp_path: Path) -> None:
    try:
        memory, report = build_memory(corrupt["truncated_tail"], cache=tmp_path)
    except VideoError as exc:  # nothing decodable is also a clean outcome
        assert "\n" not in str(exc)
        return
    assert memory.scenes
    assert any("decoded" in w for w in report.warnings)
