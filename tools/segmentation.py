"""video_segmentation: the shots inside a window, each with what the memory says of it.

The memory's scenes come from a whole-video pass tuned to avoid false cuts; here the window
is decoded again and cut more finely (`memory.window_cuts`), so a scene that holds several
shots is split, and each shot is listed with the memory entries overlapping it.
"""

from __future__ import annotations

import itertools
import logging
from typing import ClassVar

from mcr_agent.errors import VideoError
from memory import Entry, Level, window_cuts

from .base import Evidence, ToolArgs, ToolContext, ToolFailure, ToolResult, WindowArgs, data_block
from .inspection import tool_window

__all__ = ["VideoSegmentation", "VideoSegmentationArgs"]

logger = logging.getLogger(__name__)

MAX_SECONDS = 120.0
"""Longest window cut in one call: every frame of the window is decoded."""

_LEVELS = (Level.SCENE, Level.SUBTITLE, Level.ASR, Level.OCR)
_ENTRIES_PER_SHOT = 4
_ENTRY_CHARS = 160
_MAX_SHOTS = 40


class VideoSegmentationArgs(WindowArgs):
    """Arguments of video_segmentation."""


class VideoSegmentation:
    """Finer shot boundaries of a window, with the memory entries of each shot."""

    name: ClassVar[str] = "video_segmentation"
    description: ClassVar[str] = (
        f"Split [start, end] seconds (at most {MAX_SECONDS:g} s) into its shots, found by "
        "decoding the video again, and list what the memory holds for each shot "
        "(captions, speech, on-screen text)."
    )
    args: ClassVar[type[ToolArgs]] = VideoSegmentationArgs

    def run(self, args: VideoSegmentationArgs, ctx: ToolContext) -> ToolResult:
        start, end, notes = tool_window(args.start, args.end, ctx.memory)
        if end - start > MAX_SECONDS:
            end = start + MAX_SECONDS
            notes.append(f"window shortened to [{start:.1f}, {end:.1f}] s: call again for more")
        try:
            cuts = window_cuts(ctx.memory.info.path, start, end)
        except VideoError as exc:
            raise ToolFailure(f"cannot decode the video: {exc}") from exc
        bounds = [start, *cuts, end]
        shots = list(itertools.pairwise(bounds))
        if len(shots) > _MAX_SHOTS:
            notes.append(f"{len(shots)} shots: the first {_MAX_SHOTS} are listed")
            shots = shots[:_MAX_SHOTS]
        parts = [f"[{start:.1f}-{end:.1f} s]: {len(bounds) - 1} shot(s)"]
        evidence = []
        for i, (lo, hi) in enumerate(shots, 1):
            entries = ctx.memory.window(lo, hi, levels=_LEVELS)
            entries = [e for e in entries if e.source != "uncaptioned"][:_ENTRIES_PER_SHOT]
            lines = "\n".join(_line(e) for e in entries) or "(no memory entry)"
            parts.append(f"shot {i} [{lo:.1f}-{hi:.1f} s]\n" + data_block("memory", lines))
            evidence.append(Evidence(lo, hi, "segmentation", f"shot {i} of {len(bounds) - 1}"))
        return ToolResult("\n".join(parts), tuple(evidence), notes=tuple(notes))


def _line(entry: Entry) -> str:
    text = " ".join(entry.text.split())
    if len(text) > _ENTRY_CHARS:
        text = text[: _ENTRY_CHARS - 3] + "..."
    return f"[{entry.start:.1f}-{entry.end:.1f} s] ({entry.level.value}) {text}"
