"""Import .srt and .vtt subtitles as timed entries."""

from __future__ import annotations

import html
import re
from pathlib import Path

from mcr_agent.errors import SubtitleError

from .records import Entry, Level

__all__ = ["parse_subtitles", "read_subtitles"]

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE = re.compile(rf"{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def read_subtitles(path: str | Path) -> list[Entry]:
    """Read a subtitle file (.srt or .vtt).

    Raises:
        SubtitleError: The file is missing, unreadable or holds no cue.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise SubtitleError(f"subtitle file not found: {p} (check the --subtitles path)")
    raw = p.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    entries = parse_subtitles(text, source=f"subtitle:{p.name}")
    if not entries:
        raise SubtitleError(f"{p} holds no subtitle cue: pass an .srt or .vtt file")
    return entries


def parse_subtitles(text: str, *, source: str = "subtitle") -> list[Entry]:
    """Parse SRT or WebVTT text; tags such as ``<font>`` and ``<i>`` are removed."""
    entries = []
    blocks = re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n"))
    for block in blocks:
        lines = block.strip().split("\n")
        for i, line in enumerate(lines):
            m = _CUE.search(line)
            if not m:
                continue
            start = _seconds(*m.groups()[:4])
            end = _seconds(*m.groups()[4:])
            body = " ".join(_TAG.sub("", t).strip() for t in lines[i + 1 :])
            body = html.unescape(re.sub(r"\s+", " ", body)).strip()
            if body and end >= start:
                entries.append(Entry(start, end, Level.SUBTITLE, source, body))
            break
    return sorted(entries, key=lambda e: (e.start, e.end))


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000
