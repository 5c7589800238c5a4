"""Import subtitle files as timed entries: any encoding, the formats sites and tools write.

WebVTT is read with webvtt-py (cue identifiers, settings, STYLE/NOTE/REGION blocks and
inline word times as the W3C WebVTT spec defines them); SRT, ASS/SSA and the other formats
pysubs2 knows are read with pysubs2. The encoding is detected with chardet.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from mcr_agent.errors import SubtitleError

from .records import Entry, Level

__all__ = ["cue_entries", "decode_text", "parse_subtitles", "read_subtitles"]

MAX_SUBTITLE_BYTES = 50 * 1024 * 1024
"""Larger files are not subtitles (a few hours of dense cues take a few MB)."""

_TAG = re.compile(r"</?[A-Za-z0-9][^<>]*>|\{\\[^}]*\}")
_RUBY_TEXT = re.compile(r"<rt>.*?</rt>", re.DOTALL)
_FIX = "pass an .srt, .vtt or .ass file"

Cue = tuple[float, float, str]
"""Start and end in seconds, and the text (lines separated by newlines, tags allowed)."""


def read_subtitles(path: str | Path) -> list[Entry]:
    """Read a subtitle file in any encoding: SRT, WebVTT, ASS/SSA, or another pysubs2 format.

    Args:
        path: The file. Its times are on the player's clock (0 is where playback starts).

    Returns:
        One `subtitle` entry per cue with text, in time order; tags removed.

    Raises:
        SubtitleError: The file is missing, empty, binary, too large, or holds no cue.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise SubtitleError(f"subtitle file not found: {p} (check the --subtitles path)")
    size = p.stat().st_size
    if size == 0:
        raise SubtitleError(f"{p} is empty (0 bytes): {_FIX}")
    if size > MAX_SUBTITLE_BYTES:
        raise SubtitleError(f"{p} is {size / 2**20:.0f} MiB, too large for subtitles: {_FIX}")
    try:
        text = decode_text(p.read_bytes())
    except OSError as exc:
        raise SubtitleError(f"{p} cannot be read ({exc.strerror or exc}): {_FIX}") from exc
    if text is None:
        raise SubtitleError(
            f"{p} is not text (binary data or an undetectable encoding): {_FIX}, "
            "or convert it to UTF-8 (e.g. `iconv -f CP1252 -t UTF-8`)"
        )
    entries = parse_subtitles(text, source=f"subtitle:{p.name}")
    if not entries:
        raise SubtitleError(f"{p} holds no subtitle cue: {_FIX}")
    return entries


def decode_text(raw: bytes) -> str | None:
    """Decode a text file whatever its encoding, or None if it is not text.

    UTF-8 (with or without a byte-order mark) is taken as is; anything else (UTF-16/32 with
    or without a BOM, legacy code pages such as cp1252, cp1251, GBK, Big5, Shift-JIS,
    EUC-JP) is detected by chardet. (charset-normalizer 3.5 takes French cp1252 subtitles
    for Baltic cp1257, even 240 KB of them; chardet 7 detects all of these.)
    """
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    import chardet

    found = chardet.detect(raw)
    encoding = found.get("encoding")
    if not encoding or not str(found.get("mime_type") or "text/").startswith("text/"):
        return None
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def parse_subtitles(text: str, *, source: str = "subtitle") -> list[Entry]:
    """Parse subtitle text: WebVTT, SRT (with or without cue numbers), ASS/SSA, and so on.

    Args:
        text: The decoded file.
        source: The `source` of the entries.

    Returns:
        One `subtitle` entry per cue with text, in time order. Tags (``<font>``, ``<i>``,
        ``<c.yellow>``, ASS overrides), inline word times and repeated roll-up lines are
        removed; comments and drawings are skipped. Empty if nothing parses.
    """
    if text.lstrip("\ufeff \t\r\n").startswith("WEBVTT"):
        cues = _webvtt_cues(text)
        if cues is not None:
            return cue_entries(cues, source)
    return cue_entries(_pysubs2_cues(text), source)


def cue_entries(cues: Iterable[Cue], source: str) -> list[Entry]:
    """Turn cues into entries: plain text, roll-up repeats removed, duplicates and cues of
    no length dropped.

    Roll-up captions (broadcast, YouTube's automatic ones) repeat the previous cue's last
    lines at the top of the next cue; only the new lines are kept.
    """
    entries: list[Entry] = []
    previous: list[str] = []
    for start, end, raw in sorted(cues, key=lambda c: (c[0], c[1])):
        lines = [line for line in (_plain(x) for x in _cue_text(raw)) if line]
        fresh = lines[_repeated_prefix(previous, lines) :]
        previous = lines or previous
        if not fresh or end <= start:  # a cue of no length is never shown
            continue
        entry = Entry(round(start, 3), round(end, 3), Level.SUBTITLE, source, " ".join(fresh))
        if not entries or entries[-1] != entry:
            entries.append(entry)
    return entries


def _cue_text(raw: str) -> list[str]:
    """The lines of a cue up to a timing line that did not parse: a file cut mid-cue or a
    garbled time line makes a reader glue the next cue (its number, its ``-->`` line, its
    text) onto this one; none of that was ever shown as this cue."""
    lines = raw.split("\n")
    for n, line in enumerate(lines):
        if "-->" in line:
            kept = lines[:n]
            if kept and kept[-1].strip().isdigit():
                kept.pop()  # the next cue's number
            return kept
    return lines


def _repeated_prefix(previous: list[str], lines: list[str]) -> int:
    """How many leading `lines` repeat the last lines of `previous`."""
    for n in range(min(len(previous), len(lines)), 0, -1):
        if previous[-n:] == lines[:n]:
            return n
    return 0


def _plain(line: str) -> str:
    line = _TAG.sub("", _RUBY_TEXT.sub("", line))
    return " ".join(html.unescape(line).split())


def _webvtt_cues(text: str) -> list[Cue] | None:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        captions = webvtt.from_string(text.lstrip("\ufeff"))
    except (MalformedFileError, MalformedCaptionError, ValueError):
        return None
    return [
        (c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.raw_text)
        for c in captions.captions
    ]


def _pysubs2_cues(text: str) -> list[Cue]:
    import pysubs2

    try:
        subs = pysubs2.SSAFile.from_string(text)
    except (pysubs2.exceptions.Pysubs2Error, ValueError, KeyError, IndexError):
        return []
    return [
        (event.start / 1000, event.end / 1000, event.plaintext)
        for event in subs
        if not event.is_comment and not event.is_drawing
    ]
