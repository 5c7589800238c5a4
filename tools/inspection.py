"""inspect: look again at a window of the video, densely and at high resolution.

The memory's keyframes are few and small; inspect decodes fresh frames of the window from
the video file and asks the video-LLM a focused question about them. The helpers below are
shared by the other tools that decode frames (ocr, video_segmentation, temporal_grounding).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from mcr_agent.errors import VideoError
from memory import Frame, VideoMemory, sample_window

from .base import (
    Evidence,
    ToolArgs,
    ToolContext,
    ToolFailure,
    ToolResult,
    WindowArgs,
    clamp_window,
    data_block,
)
from .summarize import memory_digest

__all__ = [
    "Inspect",
    "InspectArgs",
    "capped",
    "decode_window",
    "memory_context",
    "spread",
    "tool_window",
]

logger = logging.getLogger(__name__)

CONTEXT_CHARS = 3000
"""Most characters of memory text sent with one inspect or grounding call."""


class InspectArgs(WindowArgs):
    """Arguments of inspect."""

    question: str = Field(min_length=1, description="What to find out from the frames.")
    fps: float | None = Field(
        default=None, gt=0, description="Frames per second to sample (default: the most allowed)."
    )
    max_frames: int | None = Field(
        default=None, ge=1, description="Most frames to look at (default: the most allowed)."
    )


class Inspect:
    """Re-perceives a window from the video file and asks the video-LLM about it."""

    name: ClassVar[str] = "inspect"
    description: ClassVar[str] = (
        "Look closely at [start, end] seconds: frames are decoded again from the video, "
        "densely and at high resolution, and the video model answers a focused question "
        "about them (small details, counts, actions, what changes when)."
    )
    args: ClassVar[type[ToolArgs]] = InspectArgs

    shown_frames: ClassVar[int] = 4
    """Most of the sampled frames handed on to the reasoner."""

    def run(self, args: InspectArgs, ctx: ToolContext) -> ToolResult:
        if ctx.perceiver is None:
            raise ToolFailure("no model server: inspect needs the video model; try ocr instead")
        start, end, notes = tool_window(args.start, args.end, ctx.memory)
        limits = ctx.limits
        fps = capped("fps", args.fps, limits.max_fps, notes)
        most = capped("max_frames", args.max_frames, limits.frames_per_call, notes)
        frames = decode_window(
            ctx, start, end, fps=fps, max_frames=int(most), max_pixels=limits.max_pixels
        )
        answer = ctx.perceiver.look(
            "inspect",
            frames,
            question=args.question,
            start=f"{start:.1f}",
            end=f"{end:.1f}",
            context=memory_context(ctx.memory, start, end),
        ).strip()
        if not answer:
            raise ToolFailure("the model returned an empty answer")
        text = f"[{start:.1f}-{end:.1f} s] ({len(frames)} frames) {answer}"
        return ToolResult(
            text,
            (Evidence(start, end, "inspect", answer),),
            notes=tuple(notes),
            frames=spread(frames, self.shown_frames),
        )


def tool_window(start: float, end: float, memory: VideoMemory) -> tuple[float, float, list[str]]:
    """A tool's window clamped into the video, with the clamping note if any.

    Raises:
        ToolFailure: No window is left (a video of no length).
    """
    lo, hi, note = clamp_window(start, end, memory.duration)
    if hi <= lo:
        raise ToolFailure(f"the video is {memory.duration:g} s long: there is no window to use")
    return lo, hi, [note] if note else []


def capped(name: str, asked: float | None, most: float, notes: list[str]) -> float:
    """`asked` (default `most`), lowered to `most` with a note for the model."""
    if asked is None:
        return most
    if asked > most:
        notes.append(f"{name} {asked:g} lowered to the limit {most:g}")
        return most
    return asked


def decode_window(
    ctx: ToolContext, start: float, end: float, *, fps: float, max_frames: int, max_pixels: int
) -> list[Frame]:
    """Frames of a window from the video file; an unreadable video is a tool failure."""
    try:
        return sample_window(
            ctx.memory.info.path,
            start,
            end,
            fps=fps,
            max_frames=max_frames,
            max_pixels=max_pixels,
        )
    except VideoError as exc:  # e.g. the video moved since indexing: other tools still work
        raise ToolFailure(f"cannot decode the video: {exc}") from exc


def memory_context(memory: VideoMemory, start: float, end: float) -> str:
    """What the memory holds for a window, one ``[s-e s] (level) text`` line per entry,
    delimited as data."""
    digest, left_out = memory_digest(memory, start, end, limit=CONTEXT_CHARS)
    if left_out:
        digest += f"\n({left_out} more entries left out)"
    return data_block("memory", digest or "(no memory entries for this window)")


def spread(frames: Sequence[Frame], most: int) -> tuple[Frame, ...]:
    """Up to `most` of the frames, evenly spread, first and last included."""
    if len(frames) <= most:
        return tuple(frames)
    if most <= 1:
        return tuple(frames[len(frames) // 2 : len(frames) // 2 + most])
    last = len(frames) - 1
    return tuple(frames[round(i * last / (most - 1))] for i in range(most))
