"""memory_search: find entries of the video memory by meaning and words, optionally in a window."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .base import Evidence, ToolArgs, ToolContext, ToolResult, clamp_window, data_block

__all__ = ["MemorySearch", "MemorySearchArgs"]

LevelName = Literal["video", "segment", "scene", "asr", "subtitle", "ocr"]


class MemorySearchArgs(ToolArgs):
    """Arguments of memory_search."""

    query: str = Field(min_length=1, description="What to look for, in words.")
    levels: list[LevelName] | None = Field(
        default=None, description="Only these memory levels (default: all)."
    )
    start: float | None = Field(default=None, description="Window start in seconds.")
    end: float | None = Field(default=None, description="Window end in seconds.")
    k: int = Field(default=5, ge=1, le=20, description="Most hits.")


class MemorySearch:
    """Hybrid (meaning + words) search of the memory, best hits first, with timestamps."""

    name: ClassVar[str] = "memory_search"
    description: ClassVar[str] = (
        "Search the video's memory (scene captions, summaries, speech, subtitles, on-screen "
        "text) by meaning and words; optionally only inside [start, end] seconds."
    )
    args: ClassVar[type[ToolArgs]] = MemorySearchArgs

    def run(self, args: MemorySearchArgs, ctx: ToolContext) -> ToolResult:
        memory = ctx.memory
        notes: list[str] = []
        depth = args.k
        window = None
        if args.start is not None or args.end is not None:
            lo, hi, note = clamp_window(
                args.start if args.start is not None else 0.0,
                args.end if args.end is not None else memory.duration,
                memory.duration,
            )
            window = (lo, hi)
            notes += [note] if note else []
            depth = max(50, 10 * args.k)  # filter a deeper ranking by time
        hits = memory.search(args.query, k=depth, levels=args.levels)
        if window is not None:
            hits = [h for h in hits if h.entry.overlaps(*window)]
        hits = hits[: args.k]
        evidence = tuple(
            Evidence(h.entry.start, h.entry.end, h.entry.level.value, h.entry.text) for h in hits
        )
        lines = [f"[{e.start:.1f}-{e.end:.1f} s] ({e.source}) {e.text}" for e in evidence]
        text = (
            data_block("memory", "\n".join(lines))
            if lines
            else (f"no memory entry matches {args.query!r}")
        )
        return ToolResult(text, evidence, notes=tuple(notes))
