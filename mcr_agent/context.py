"""The shared context C as the model reads it, and its compression to a token budget."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from memory import Entry
from tools import Evidence, data_block

from .state import Belief, Note

__all__ = [
    "balanced",
    "belief_text",
    "clamp_span",
    "clamp_spans",
    "compress",
    "entry_lines",
    "estimate_tokens",
    "memory_note",
    "overlaps_any",
    "render_context",
    "spans_in",
]

_KEEP_CHARS = 240
_LOCAL = 120.0
_SPAN = re.compile(
    r"\[?\s*(\d+(?:\.\d+)?)\s*(?:s\s*)?(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*s\b\]?"
    r"|\bat\s+(\d+(?:\.\d+)?)\s*s\b|\[(\d+(?:\.\d+)?)\s*s\]"
)


def estimate_tokens(text: str) -> int:
    """Rough token count of English text (about four characters per token)."""
    return len(text) // 4 + 1


def entry_lines(entries: Iterable[Entry], *, limit: int = 300) -> str:
    """Entries as ``[start-end s] (level) text`` lines, each cut to `limit` characters."""
    lines = []
    for e in entries:
        text = " ".join(e.text.split())
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        lines.append(f"[{e.start:.1f}-{e.end:.1f} s] ({e.level.value}) {text}")
    return "\n".join(lines)


def render_context(notes: Sequence[Note]) -> str:
    """The context as the reasoner reads it, oldest first."""
    if not notes:
        return "(nothing yet)"
    blocks = []
    for note in notes:
        head = f"[step {note.step}] {note.kind}" + (f" from {note.tool}" if note.tool else "")
        blocks.append(f"{head}{' (compressed)' if note.compressed else ''}:\n{note.text}")
    return "\n\n".join(blocks)


def belief_text(belief: Belief) -> str:
    spans = ", ".join(f"[{s:.1f}-{e:.1f} s]" for s, e in belief.candidates) or "none yet"
    return (
        f"- hypothesis: {belief.hypothesis or 'none yet'}\n"
        f"- open uncertainty: {belief.uncertainty or 'everything'}\n"
        f"- candidate time spans: {spans}"
    )


def overlaps_any(evidence: Iterable[Evidence], spans: Iterable[tuple[float, float]]) -> bool:
    """Whether any evidence shares time with any span (touching ends count)."""
    windows = list(spans)
    return any(e.start <= hi and lo <= e.end for e in evidence for lo, hi in windows)


def compress(
    notes: Sequence[Note], budget_tokens: int, *, protect: Sequence[tuple[float, float]] = ()
) -> list[Note]:
    """Shrink the context to `budget_tokens`, oldest first.

    Notes whose evidence overlaps a protected span (what the current hypothesis cites) and
    the newest note are never touched. Others are first cut to a short excerpt, then dropped.
    Evidence longer than `_LOCAL` seconds (a timeline, a summary) protects nothing: it
    overlaps every span.
    """
    out = list(notes)

    def size() -> int:
        return sum(estimate_tokens(n.text) for n in out)

    def touchable(i: int) -> bool:
        local = [e for e in out[i].evidence if e.end - e.start <= _LOCAL]
        return i < len(out) - 1 and not (protect and overlaps_any(local, protect))

    for i in range(len(out)):
        if size() <= budget_tokens:
            return out
        if touchable(i) and not out[i].compressed and len(out[i].text) > _KEEP_CHARS:
            out[i] = _shortened(out[i])
    i = 0
    while size() > budget_tokens and i < len(out):
        if touchable(i):
            del out[i]
        else:
            i += 1
    return out


def _shortened(note: Note) -> Note:
    text = note.text[:_KEEP_CHARS].rsplit("\n", 1)[0] if "\n" in note.text[:_KEEP_CHARS] else ""
    text = balanced(text or note.text[: _KEEP_CHARS - 1], suffix=" …")
    return Note(note.kind, note.step, text, note.evidence, note.tool, compressed=True)


def balanced(text: str, *, suffix: str = "") -> str:
    """Text cut anywhere, with `suffix` and the data blocks it left open closed again, so
    nothing after it reads as data (or as instructions inside data)."""
    opened = text.count("<data source=") - text.count("</data>")
    return text + suffix + "\n</data>" * max(0, opened)


def clamp_span(lo: float, hi: float, duration: float) -> tuple[float, float] | None:
    """A span ordered and clamped into [0, duration]; None if nothing of it is in the video."""
    lo, hi = min(lo, hi), max(lo, hi)
    if hi < 0 or lo > duration or lo != lo or hi != hi:  # NaN compares false
        return None
    return max(0.0, lo), min(duration, hi)


def clamp_spans(
    spans: Iterable[tuple[float, float]], duration: float
) -> tuple[tuple[float, float], ...]:
    """`clamp_span` on each span, dropping those outside the video."""
    kept = (clamp_span(lo, hi, duration) for lo, hi in spans)
    return tuple(s for s in kept if s is not None)


def spans_in(text: str) -> list[tuple[float, float]]:
    """Time spans written in prose: "12-15 s", "[3.0-4.5 s]", "at 12 s", "[7.5s]"."""
    spans = []
    for m in _SPAN.finditer(text):
        if m.group(1) is not None:
            lo, hi = float(m.group(1)), float(m.group(2))
            spans.append((min(lo, hi), max(lo, hi)))
        else:
            t = float(m.group(3) or m.group(4))
            spans.append((t, t))
    return spans


def memory_note(
    header: str,
    entries: Sequence[Entry],
    *,
    source: str = "memory",
    step: int = 0,
    limit: int = 300,
) -> Note:
    """A context note quoting memory entries as data, with their spans as evidence."""
    evidence = tuple(Evidence(e.start, e.end, e.level.value, e.text) for e in entries)
    body = data_block(source, entry_lines(entries, limit=limit))
    return Note("memory", step, f"{header}\n{body}", evidence)
