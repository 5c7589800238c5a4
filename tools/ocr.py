"""ocr: read the on-screen text of a window from freshly decoded, larger frames.

The memory's OCR level reads a few small keyframes per scene; this tool samples the window
at a steady rate and at the run's full frame size, so short or small text is caught too.
It runs RapidOCR locally and needs no model server.
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from pydantic import Field

from memory.ocr import KeyframeReader

from .base import Evidence, ToolArgs, ToolContext, ToolResult, WindowArgs, data_block
from .inspection import capped, decode_window, tool_window

__all__ = ["ReadText", "ReadTextArgs"]

logger = logging.getLogger(__name__)

_JPEG_QUALITY = 95  # compression ringing around small glyphs costs OCR more than bytes


class ReadTextArgs(WindowArgs):
    """Arguments of ocr."""

    fps: float = Field(default=1.0, gt=0, description="Frames read per second.")


class ReadText:
    """On-screen text of a window, as time spans of unchanged text.

    Args:
        reader: The OCR engine (RapidOCR with its shipped models by default).
    """

    name: ClassVar[str] = "ocr"
    description: ClassVar[str] = (
        "Read the on-screen text (signs, captions, scores, slides) in [start, end] seconds "
        "from frames decoded again at high resolution; returns each text with when it shows."
    )
    args: ClassVar[type[ToolArgs]] = ReadTextArgs

    def __init__(self, reader: KeyframeReader | None = None) -> None:
        self.reader = reader or KeyframeReader()

    def run(self, args: ReadTextArgs, ctx: ToolContext) -> ToolResult:
        start, end, notes = tool_window(args.start, args.end, ctx.memory)
        fps = capped("fps", args.fps, ctx.limits.max_fps, notes)
        most = 2 * ctx.limits.frames_per_call  # OCR is local: no model budget, only time
        if (end - start) * fps > most + 1e-6:
            notes.append(f"read {most} frames ({most / (end - start):.2f} fps) to stay in budget")
        # The OCR engine scales the long side down to 736 px, so the run's frame size is ample.
        frames = decode_window(
            ctx, start, end, fps=fps, max_frames=most, max_pixels=ctx.limits.max_pixels
        )
        times = [f.time for f in frames]
        texts = [" / ".join(self.reader.read(f.jpeg).splitlines()) for f in frames]
        spans = _spans(times, texts, start, end)
        evidence = tuple(Evidence(s, e, "ocr", text) for s, e, text in spans)
        if not spans:
            text = f"no on-screen text found in [{start:.1f}-{end:.1f} s] ({len(frames)} frames)"
            return ToolResult(text, notes=tuple(notes))
        lines = "\n".join(f"[{s:.1f}-{e:.1f} s] {text}" for s, e, text in spans)
        header = f"on-screen text in [{start:.1f}-{end:.1f} s] ({len(frames)} frames read):\n"
        return ToolResult(header + data_block("ocr", lines), evidence, notes=tuple(notes))


def _spans(
    times: list[float], texts: list[str], start: float, end: float
) -> list[tuple[float, float, str]]:
    """Runs of frames reading the same text, each frame standing for the time nearest it."""
    spans: list[tuple[float, float, str]] = []
    last_key = None
    for i, (t, text) in enumerate(zip(times, texts, strict=True)):
        lo = start if i == 0 else (times[i - 1] + t) / 2
        hi = end if i == len(times) - 1 else (t + times[i + 1]) / 2
        key = _normal(text)
        if not key:
            last_key = None
            continue
        if key == last_key:
            s, _, kept = spans[-1]
            spans[-1] = (s, hi, kept if len(kept) >= len(text) else text)
        else:
            spans.append((lo, hi, text))
        last_key = key
    return [(round(s, 3), round(e, 3), text) for s, e, text in spans]


def _normal(text: str) -> str:
    """Text compared without case, punctuation or spacing, which OCR reads unsteadily."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()
