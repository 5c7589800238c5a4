"""summarize: a model-written summary of a time window from its memory and keyframes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from memory import Entry, Frame, Level, VideoMemory

from .base import Evidence, ToolArgs, ToolContext, ToolFailure, ToolResult, clamp_window, data_block

__all__ = ["Summarize", "SummarizeArgs", "keyframes_in", "memory_digest"]

logger = logging.getLogger(__name__)

DIGEST_CHARS = 6000
"""Most characters of memory text sent with one summarize or verify call."""

# Lower ranks are kept first when the window holds more text than fits: scene captions and
# speech say what happens; segment summaries repeat them, on-screen text is often noise.
_RANK = {Level.SCENE: 0, Level.SUBTITLE: 0, Level.ASR: 0, Level.SEGMENT: 1, Level.OCR: 2}
_LINE_CHARS = 600  # so one long caption cannot crowd out the rest


class SummarizeArgs(ToolArgs):
    """Arguments of summarize."""

    start: float = Field(default=0.0, description="Window start in seconds (default 0).")
    end: float | None = Field(
        default=None, description="Window end in seconds (default: the end of the video)."
    )
    focus: str | None = Field(
        default=None, description="What the summary should concentrate on (optional)."
    )


class Summarize:
    """Summary of a window by the video-LLM, from the memory's text and a few keyframes."""

    name: ClassVar[str] = "summarize"
    description: ClassVar[str] = (
        "Summarize what happens in [start, end] seconds (default: the whole video), "
        "optionally focused on something; built from the memory and a few keyframes."
    )
    args: ClassVar[type[ToolArgs]] = SummarizeArgs

    max_frames: ClassVar[int] = 4

    def run(self, args: SummarizeArgs, ctx: ToolContext) -> ToolResult:
        if ctx.perceiver is None:
            raise ToolFailure("summarize needs the video model, which is not available")
        memory = ctx.memory
        end = memory.duration if args.end is None else args.end
        lo, hi, note = clamp_window(args.start, end, memory.duration)
        notes = [note] if note else []
        digest, left_out = memory_digest(memory, lo, hi)
        if left_out:
            notes.append(f"{left_out} memory entries left out to fit; narrow the window for more")
        frames = keyframes_in(memory, lo, hi, min(self.max_frames, ctx.limits.frames_per_call))
        if not digest and not frames:
            raise ToolFailure(f"the memory holds nothing for [{lo:.1f}, {hi:.1f}] s")
        reply = ctx.perceiver.look(
            "summarize",
            frames,
            start=f"{lo:.1f}",
            end=f"{hi:.1f}",
            focus=args.focus or "(none)",
            content=data_block("memory", digest or "(no text in memory for this window)"),
        ).strip()
        if not reply:
            raise ToolFailure("the model returned an empty summary")
        text = f"Summary of [{lo:.1f}, {hi:.1f}] s:\n{reply}"
        return ToolResult(text, (Evidence(lo, hi, "summary", reply),), notes=tuple(notes))


def memory_digest(
    memory: VideoMemory, start: float, end: float, *, limit: int = DIGEST_CHARS
) -> tuple[str, int]:
    """The memory's text for a window as timed lines, compacted to fit `limit` characters.

    Scene captions and speech are kept first, then segment summaries, then on-screen text;
    the kept lines are returned in time order. Subtitles, when present, replace ASR;
    placeholders of scenes not captioned yet are skipped.

    Returns:
        The lines joined by newlines, and how many entries were left out.
    """
    # Placeholders of uncaptioned scenes only repeat the speech and on-screen text.
    entries = [
        e for e in memory.window(start, end, levels=list(_RANK)) if e.source != "uncaptioned"
    ]
    if any(e.level is Level.SUBTITLE for e in entries):
        entries = [e for e in entries if e.level is not Level.ASR]
    lines = [(_RANK[e.level], e.start, e.end, _line(e)) for e in entries]
    kept: list[tuple[int, float, float, str]] = []
    used = 0
    for line in sorted(lines, key=lambda x: (x[0], x[1], x[2])):
        if used + len(line[3]) + 1 <= limit:
            kept.append(line)
            used += len(line[3]) + 1
    kept.sort(key=lambda x: (x[1], x[2], x[0]))
    return "\n".join(line[3] for line in kept), len(lines) - len(kept)


def keyframes_in(memory: VideoMemory, start: float, end: float, most: int) -> list[Frame]:
    """Up to `most` keyframes of [start, end], evenly spread, read from the memory folder.

    Unreadable files are skipped (logged): a summary or check can go on without them.
    """
    found = memory.keyframes(start, end)
    if most <= 0 or not found:
        return []
    if len(found) > most:
        step = len(found) / most
        found = [found[int(i * step + step / 2)] for i in range(most)]
    frames = []
    for key in found:
        try:
            frames.append(Frame(key.time, Path(key.path).read_bytes()))
        except OSError as exc:
            logger.warning("keyframe %s unreadable: %s", key.path, exc)
    return frames


def _line(entry: Entry) -> str:
    text = " ".join(entry.text.split())
    if len(text) > _LINE_CHARS:
        text = text[: _LINE_CHARS - 3] + "..."
    return f"[{entry.start:.1f}-{entry.end:.1f} s] ({entry.level.value}) {text}"
