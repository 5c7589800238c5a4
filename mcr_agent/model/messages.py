"""Chat-completion content parts: text, and frames as JPEG data URLs after their timestamp."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from memory import Frame

__all__ = ["Message", "frame_parts", "image_part", "text_part"]

Message = dict[str, Any]
"""One OpenAI chat message, or one content part of it."""


def text_part(text: str) -> Message:
    """A ``{"type": "text"}`` content part."""
    return {"type": "text", "text": text}


def image_part(jpeg: bytes) -> Message:
    """An ``image_url`` content part holding `jpeg` as a base64 data URL."""
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}


def frame_parts(frames: Sequence[Frame], *, max_frames: int, max_pixels: int) -> list[Message]:
    """Content parts for frames, each after a text part with its time, within budgets.

    When there are more frames than `max_frames`, or their pixels exceed `max_pixels` (the
    sum of width x height over the frames kept), an evenly spread subset is kept (time order
    preserved).
    """
    kept = list(frames)
    while kept and (
        len(kept) > max_frames or sum(max(1, f.width * f.height) for f in kept) > max_pixels
    ):
        n = max(0, min(max_frames, len(kept) - 1))
        kept = [kept[round(i * (len(kept) - 1) / max(1, n - 1))] for i in range(n)] if n else []
    parts: list[Message] = []
    for f in kept:
        parts += [text_part(f"Frame at [{f.time:.1f}s]:"), image_part(f.jpeg)]
    return parts
