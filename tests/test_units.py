"""Pure pieces: subtitles, transcript splitting, OCR merging, prompts, settings, index."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import prompts
from mcr_agent.errors import SubtitleError
from memory import Entry, Level, read_subtitles
from memory.asr import split_at_pauses
from memory.index import EntryIndex
from memory.ocr import _merge
from memory.settings import IndexSettings
from memory.subtitles import parse_subtitles

SRT = """1
00:00:01,000 --> 00:00:03,500
<font color="#ffffff">Hello &amp; welcome</font>

2
00:01:02,250 --> 00:01:04,000
<font color="#ffffff">second line</font>
continues here
"""

VTT = """WEBVTT

00:00.500 --> 00:02.000
<i>first</i>

intro
00:00:03.000 --> 00:00:04.000 align:start
<c.yellow>second</c>
"""


def test_srt_with_font_tags() -> None:
    entries = parse_subtitles(SRT)
    assert [(e.start, e.end, e.text) for e in entries] == [
        (1.0, 3.5, "Hello & welcome"),
        (62.25, 64.0, "second line continues here"),
    ]
    assert all(e.level is Level.SUBTITLE for e in entries)


def test_vtt() -> None:
    entries = parse_subtitles(VTT)
    assert [(e.start, e.end, e.text) for e in entries] == [
        (0.5, 2.0, "first"),
        (3.0, 4.0, "second"),
    ]


def test_bad_subtitle_files(tmp_path: Path) -> None:
    with pytest.raises(SubtitleError, match="not found"):
        read_subtitles(tmp_path / "none.srt")
    empty = tmp_path / "x.srt"
    empty.write_text("no cues here")
    with pytest.raises(SubtitleError, match="no subtitle cue"):
        read_subtitles(empty)


def test_split_at_pauses() -> None:
    words = [(0.0, 0.4, " Hello"), (0.5, 0.9, " there."), (3.0, 3.4, " Next"), (3.5, 4.0, " one")]
    assert split_at_pauses(words) == [(0.0, 0.9, "Hello there."), (3.0, 4.0, "Next one")]
    long = [(i * 0.5, i * 0.5 + 0.4, " w") for i in range(60)]
    lines = split_at_pauses(long)
    assert all(e - s <= 15.0 for s, e, _ in lines) and len(lines) >= 2


def test_ocr_merges_neighbours_only() -> None:
    spans = [
        (0.0, 4.0, "SCORE 42", "a"),
        (4.0, 8.0, "SCORE 42.", "b"),
        (8.0, 9.0, "OTHER", "c"),
        (9.0, 12.0, "SCORE 42", "d"),
    ]
    merged = _merge(spans)
    assert [(e.start, e.end) for e in merged] == [(0.0, 8.0), (8.0, 9.0), (9.0, 12.0)]
    assert merged[0].frames == ("a", "b")


def test_entry_overlap_is_strict_at_edges() -> None:
    e = Entry(5.0, 9.0, Level.SCENE, "caption", "x")
    assert e.overlaps(8.0, 10.0) and not e.overlaps(9.0, 12.0) and e.overlaps(9.0, 9.0)


def test_prompts_render_strictly() -> None:
    assert set(prompts.names()) >= {"caption_scene", "summarize_segment", "summarize_video"}
    assert prompts.variables("summarize_segment") == {"start", "end", "items"}
    with pytest.raises(KeyError):
        prompts.render("summarize_segment", start="0", end="1")
    with pytest.raises(ValueError, match="takes no variable"):
        prompts.render("summarize_segment", start="0", end="1", items="", extra="x")
    text = prompts.render("summarize_segment", start="0", end="1", items="[0-1 s] {json}")
    assert "{json}" in text and "$" not in text


def test_settings_digest_tracks_structure_only() -> None:
    base = IndexSettings()
    assert base.digest() == IndexSettings(ocr=True, asr_model="x").digest()
    assert base.digest() != IndexSettings(max_scene_seconds=10).digest()
    assert base.memory_fields() != IndexSettings(ocr=True).memory_fields()


def test_index_levels_and_fusion(tmp_path: Path) -> None:
    entries = [
        Entry(0, 5, Level.SCENE, "caption", "a dog runs on the beach"),
        Entry(5, 9, Level.ASR, "asr", "the price is twelve euros"),
        Entry(9, 12, Level.OCR, "ocr", "TICKETS 12 EUROS"),
    ]
    vectors = np.eye(3, 8, dtype=np.float32)
    index = EntryIndex.build(entries, vectors)
    assert index.semantic(vectors[1], 5, [Level.ASR])[0][0] == 1
    assert index.semantic(vectors[1], 5, [Level.SCENE]) == [(0, 0.0)]
    assert [r for r, _ in index.lexical("euros", 5, list(Level))] in ([1, 2], [2, 1])
    assert index.hybrid("euros", vectors[2], 1, list(Level))[0][0] == 2
    index.save(tmp_path)
    loaded = EntryIndex.load(tmp_path, entries)
    assert loaded.semantic(vectors[0], 1, list(Level))[0][0] == 0


def test_layering() -> None:
    """The lower layers load nothing of the layers above but the project's errors (a module
    that imports nothing; the package around it loads its names lazily)."""
    code = (
        "import sys, memory, tools\n"
        "up = {m for m in sys.modules if m.split('.')[0] in ('mcr_agent', 'prompts', 'evals')}\n"
        "assert up == {'mcr_agent', 'mcr_agent.errors'}, up\n"
        "assert 'openai' not in sys.modules and 'langgraph' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_only_the_sdk_module_imports_openai() -> None:
    """`mcr_agent/model/sdk.py` imports the SDK (its type packages read on demand); the
    client takes it from there."""
    root = Path(__file__).parent.parent
    imports = re.compile(r"^\s*(import openai\b|from openai\b)", re.MULTILINE)
    importers = sorted(
        p.relative_to(root).as_posix()
        for pkg in ("mcr_agent", "memory", "tools", "prompts")
        for p in (root / pkg).rglob("*.py")
        if imports.search(p.read_text())
    )
    assert importers == ["mcr_agent/model/sdk.py"]
    assert "from .sdk import openai" in (root / "mcr_agent/model/client.py").read_text()


def test_atomic_writes_get_the_usual_file_mode(tmp_path: Path) -> None:
    import os

    from memory.store import atomic_path

    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~mask
