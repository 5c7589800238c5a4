"""temporal_grounding: find when something happens, and have the video model confirm it.

Candidate windows come from searching the memory; each is decoded again and shown to the
video-LLM, which says whether the described moment is there and where exactly. Without a
model the candidates are returned unconfirmed, so the agent can still go on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from mcr_agent.errors import ModelReplyError
from memory import Frame, Hit, Level

from .base import Evidence, Perceiver, ToolArgs, ToolContext, ToolResult, data_block
from .inspection import decode_window, memory_context
from .replies import object_in

__all__ = [
    "Grounding",
    "TemporalGrounding",
    "TemporalGroundingArgs",
    "candidate_windows",
    "parse_grounding",
]

logger = logging.getLogger(__name__)

_LEVELS = (Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR, Level.SEGMENT)
_PAD = 1.0  # seconds added around a hit: its edges are where cuts and speech start
_FRAMES = 8
_MAX_PIXELS = 448 * 448  # enough to tell whether something happens, cheap for up to 5 calls
_FPS = 2.0
_SHOWN = 4
_HITS_SHOWN = 3
_HIT_CHARS = 200
_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class TemporalGroundingArgs(ToolArgs):
    """Arguments of temporal_grounding."""

    description: str = Field(min_length=1, description="The moment to find, in words.")
    k: int = Field(default=3, ge=1, le=5, description="Most candidate windows to check.")


@dataclass(frozen=True)
class Grounding:
    """The model's reply about one candidate window.

    Attributes:
        present: Whether the moment is seen there; None when the reply says neither.
        start: Where it starts, in seconds, if given.
        end: Where it ends, in seconds, if given.
        reason: Why, in the model's words.
    """

    present: bool | None
    start: float | None = None
    end: float | None = None
    reason: str = ""


class TemporalGrounding:
    """Candidate windows from the memory, each confirmed or rejected by the video model."""

    name: ClassVar[str] = "temporal_grounding"
    description: ClassVar[str] = (
        "Find when something happens: candidate windows from the memory are checked on "
        "freshly decoded frames by the video model, which confirms or rejects each and "
        "narrows it to where the moment is seen."
    )
    args: ClassVar[type[ToolArgs]] = TemporalGroundingArgs

    def run(self, args: TemporalGroundingArgs, ctx: ToolContext) -> ToolResult:
        memory = ctx.memory
        # Twice k hits: a deeper ranking adds weak hits that chain candidates into one window.
        hits = memory.search(args.description, k=2 * args.k, levels=_LEVELS)
        windows = candidate_windows(hits, memory.duration, args.k)
        if not windows:
            return ToolResult(f"no memory entry matches {args.description!r}; try inspect")
        if ctx.perceiver is None:
            return _unconfirmed(args.description, windows, hits)
        checked: list[tuple[tuple[float, float], Grounding, list[Frame]]] = []
        failures: list[ModelReplyError] = []
        for window in windows:
            try:
                checked.append((window, *self._check(args.description, window, ctx, ctx.perceiver)))
            except ModelReplyError as exc:  # one bad reply should not lose the other windows
                failures.append(exc)
                checked.append((window, Grounding(None, reason=f"bad model reply: {exc}"), []))
        if len(failures) == len(windows):
            raise failures[-1]
        return _report(args.description, checked)

    def _check(
        self,
        description: str,
        window: tuple[float, float],
        ctx: ToolContext,
        perceiver: Perceiver,
    ) -> tuple[Grounding, list[Frame]]:
        lo, hi = window
        frames = decode_window(
            ctx,
            lo,
            hi,
            fps=min(_FPS, ctx.limits.max_fps),
            max_frames=min(_FRAMES, ctx.limits.frames_per_call),
            max_pixels=min(_MAX_PIXELS, ctx.limits.max_pixels),
        )
        reply = perceiver.look(
            "ground",
            frames,
            description=description,
            start=f"{lo:.1f}",
            end=f"{hi:.1f}",
            context=memory_context(ctx.memory, lo, hi),
        )
        return _inside(parse_grounding(reply), lo, hi), frames


def candidate_windows(hits: Sequence[Hit], duration: float, most: int) -> list[tuple[float, float]]:
    """Up to `most` windows around the hits, best first.

    Each hit's span is padded by a second and clamped into the video; a hit overlapping or
    touching a window widens it (merging any others it reaches). Hits after the window
    count is reached are ignored, so weak hits cannot chain the windows into one.
    """
    windows: list[tuple[float, float]] = []
    for hit in hits:
        if len(windows) >= most:
            break
        lo, hi = max(0.0, hit.entry.start - _PAD), min(duration, hit.entry.end + _PAD)
        if hi <= lo:
            continue
        touching = [i for i, (s, e) in enumerate(windows) if s <= hi and lo <= e]
        for i in touching:
            lo, hi = min(lo, windows[i][0]), max(hi, windows[i][1])
        if touching:  # the merged window keeps the rank of the best window it absorbed
            windows[touching[0]] = (lo, hi)
            windows = [w for i, w in enumerate(windows) if i not in touching[1:]]
        else:
            windows.append((lo, hi))
    return windows


def parse_grounding(text: str) -> Grounding:
    """Read a grounding reply leniently.

    Understands ``{"present": ..., "start": ..., "end": ..., "reason": ...}`` anywhere in the
    text (fenced or not), and otherwise takes the first "yes" or "no".

    Args:
        text: The model's reply.

    Returns:
        The reading; ``present`` is None when the reply gives no verdict.
    """
    found = object_in(text)
    if found is not None and "present" in found:
        raw = found["present"]
        present = raw if isinstance(raw, bool) else _yes_no(str(raw))
        reason = " ".join(str(found.get("reason") or "").split())
        return Grounding(present, _seconds(found.get("start")), _seconds(found.get("end")), reason)
    return Grounding(_yes_no(text), reason=" ".join(text.split())[:300])


def _yes_no(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    word = _WORD.search(text)
    return None if word is None else word.group(1).lower() == "yes"


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value).strip().rstrip("s").strip())
    except ValueError:
        return None
    return seconds if seconds == seconds else None  # NaN


def _inside(found: Grounding, lo: float, hi: float) -> Grounding:
    """The reply's span clamped into its candidate window (the whole window if none)."""
    start = lo if found.start is None else min(max(found.start, lo), hi)
    end = hi if found.end is None else min(max(found.end, lo), hi)
    start, end = min(start, end), max(start, end)
    return Grounding(found.present, start, end, found.reason)


def _report(
    description: str, checked: list[tuple[tuple[float, float], Grounding, list[Frame]]]
) -> ToolResult:
    seen = [(w, g, f) for w, g, f in checked if g.present]
    unseen = [(w, g) for w, g, _ in checked if not g.present]
    lines = [f"{description!r}: seen in {len(seen)} of {len(checked)} candidate windows"]
    evidence, frames = [], []
    for _, g, f in seen:
        assert g.start is not None and g.end is not None
        lines.append(f"[{g.start:.1f}-{g.end:.1f} s] seen: {g.reason or '(no reason given)'}")
        evidence.append(Evidence(g.start, g.end, "grounding", f"{description}: {g.reason}"))
        middle = (g.start + g.end) / 2
        frames += [min(f, key=lambda x: abs(x.time - middle))] if f else []
    for (lo, hi), g in unseen:
        verdict = "not seen" if g.present is False else "not seen (unclear reply)"
        lines.append(f"[{lo:.1f}-{hi:.1f} s] {verdict}: {g.reason or '(no reason given)'}")
    return ToolResult("\n".join(lines), tuple(evidence), frames=tuple(frames[:_SHOWN]))


def _unconfirmed(
    description: str, windows: list[tuple[float, float]], hits: Sequence[Hit]
) -> ToolResult:
    lines = [f"{description!r}: {len(windows)} candidate windows from the memory"]
    for lo, hi in windows:
        matched = [h.entry for h in hits if h.entry.overlaps(lo, hi)][:_HITS_SHOWN]
        found = "\n".join(
            f"[{e.start:.1f}-{e.end:.1f} s] ({e.level.value}) {_short(e.text)}" for e in matched
        )
        lines += [
            f"[{lo:.1f}-{hi:.1f} s] unconfirmed (no model); matched:",
            data_block("memory", found),
        ]
    evidence = tuple(
        Evidence(lo, hi, "memory", f"candidate for {description}") for lo, hi in windows
    )
    return ToolResult(
        "\n".join(lines), evidence, notes=("no video model: windows are not checked on frames",)
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _HIT_CHARS else text[: _HIT_CHARS - 3] + "..."
