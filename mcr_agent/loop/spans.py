"""Time spans ``(start, end)`` in seconds of the video: read from prose, clamped into the
video, merged, and tested for overlap."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from tools import Evidence

__all__ = ["clamp_span", "clamp_spans", "merge_spans", "overlaps_any", "spans_in"]

_SPAN = re.compile(
    r"\[?\s*(\d+(?:\.\d+)?)\s*(?:s\s*)?(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*s\b\]?"
    r"|\bat\s+(\d+(?:\.\d+)?)\s*s\b|\[(\d+(?:\.\d+)?)\s*s\]"
)


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


def overlaps_any(evidence: Iterable[Evidence], spans: Iterable[tuple[float, float]]) -> bool:
    """Whether any evidence shares time with any span (touching ends count)."""
    windows = list(spans)
    return any(e.start <= hi and lo <= e.end for e in evidence for lo, hi in windows)


def merge_spans(
    spans: Sequence[tuple[float, float]], *, gap: float = 1.0, limit: int = 6
) -> list[tuple[float, float]]:
    """Spans merged where they overlap or come within `gap` seconds (with ``gap=0`` touching
    spans stay apart); order of first appearance kept."""
    out: list[tuple[float, float]] = []
    for lo, hi in spans:
        for i, (a, b) in enumerate(out):
            if lo < b + gap and a < hi + gap:
                out[i] = (min(a, lo), max(b, hi))
                break
        else:
            out.append((lo, hi))
    return out[:limit]
