"""Tools validate their arguments, clamp windows, and cite timestamps."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import VideoMemory
from tests.conftest import ocr_memory
from tools import MemorySearch, ToolContext, clamp_window, run_tool


@pytest.fixture(scope="module")
def mem(
    speech_video: Path, ocr_memory_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> VideoMemory:
    return ocr_memory(ocr_memory_cache, speech_video, tmp_path_factory.mktemp("tools"))


def test_memory_search_cites_timestamps(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(MemorySearch(), {"query": "hello world", "levels": ["ocr"]}, ToolContext(mem))
    assert result.error is None
    assert result.evidence[0].text == "HELLO WORLD" and result.evidence[0].start >= 15.0 - 1e-6
    assert result.text.startswith('<data source="memory">\n[15.0-20.0 s] (ocr) HELLO WORLD')


def test_memory_search_in_a_window_clamped(mem) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(MemorySearch(), {"query": "score", "start": -5, "end": 4}, ToolContext(mem))
    assert result.error is None and result.notes and "clamped" in result.notes[0]
    assert result.evidence and all(e.start < 4.0 for e in result.evidence)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({}, "query: Field required"),
        ({"query": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"query": "x", "levels": ["frames"]}, "levels.0"),
        ({"query": "x", "color": "red"}, "color: Extra inputs are not permitted"),
    ],
)
def test_invalid_arguments_are_feedback(mem, raw: dict[str, object], words: str) -> None:  # type: ignore[no-untyped-def]
    result = run_tool(MemorySearch(), raw, ToolContext(mem))
    assert result.error is not None and words in result.error and result.evidence == ()


def test_clamp_window() -> None:
    assert clamp_window(2, 5, 10) == (2, 5, None)
    lo, hi, note = clamp_window(8, 50, 10)
    assert (lo, hi) == (8, 10) and note
    lo, hi, _ = clamp_window(30, 40, 10)  # wholly outside: the last second
    assert (lo, hi) == (9.0, 10.0)
    assert clamp_window(5, 2, 10)[:2] == (2, 5)
