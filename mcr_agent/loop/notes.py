"""The shared context C: its notes as the model reads them, and their compression to a
token budget."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memory import Entry
from tools import Evidence, data_block

from .spans import overlaps_any
from .state import Belief, Note

__all__ = [
    "balanced",
    "belief_text",
    "compress",
    "entry_lines",
    "estimate_tokens",
    "memory_note",
    "render_context",
]

_KEEP_CHARS = 240
_LOCAL = 120.0


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
