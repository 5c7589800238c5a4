"""verify: check a claim against a time window, and read the model's verdict leniently."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

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
from .replies import object_in
from .summarize import keyframes_in, memory_digest

__all__ = ["Verdict", "Verify", "VerifyArgs", "parse_verdict"]


@dataclass(frozen=True)
class Verdict:
    """A model's judgement of a claim (the `verify` tool's, and the loop's check of an answer).

    Attributes:
        supported: True or False, or None when the reply gave no readable verdict.
        confidence: 0 to 1.
        reason: Why, in the model's words.
        conflicts: What in the video speaks against the claim, if anything.
        evidence: ``[start, end]`` spans (seconds) the reply says support it, as written.
        window: The ``[start, end]`` span (seconds) the reply says to look at again, if any.
    """

    supported: bool | None
    confidence: float
    reason: str
    conflicts: str = ""
    evidence: tuple[tuple[float, float], ...] = ()
    window: tuple[float, float] | None = None


# Longer phrases first, so "not supported" is not read as "supported"; the earliest wins.
_WORDS = re.compile(
    r"\b(not\s+supported|unsupported|not\s+true|contradict(?:s|ed)?|refuted|incorrect|false|"
    r"no|supported|confirmed|correct|true|yes)\b",
    re.IGNORECASE,
)
_NEGATIVE = ("not", "unsupported", "contradict", "refuted", "incorrect", "false", "no")
_CONFIDENCE = re.compile(r"confidence\W{0,3}([0-9]*\.?[0-9]+)\s*(%?)", re.IGNORECASE)


def parse_verdict(text: str) -> Verdict:
    """Read a verdict from a model reply, as leniently as is still unambiguous.

    Understands a JSON object ``{"supported": ..., "confidence": ..., "reason": ...,
    "conflicts": ..., "evidence": [[start, end], ...], "uncertain_window": [start, end]}``
    anywhere in the text (fenced or not, single quotes or Python literals too), and
    otherwise the first verdict word ("yes", "supported", "not supported", "false", ...).
    Spans are returned as written (not clamped into the video).

    Args:
        text: The model's reply.

    Returns:
        The verdict; ``supported`` is None when none could be read.
    """
    found = object_in(text)
    if found is not None and "supported" in found:
        return _from_object(found)
    words = _WORDS.search(text)
    supported = None if words is None else not words.group(1).lower().startswith(_NEGATIVE)
    confidence, reason = _confidence_in(text, supported), _oneline(text)[:300]
    return Verdict(supported, confidence, reason, "", *_spans_of(found or {}))


def _from_object(found: dict[str, object]) -> Verdict:
    raw = found.get("supported")
    if isinstance(raw, bool):
        supported: bool | None = raw
    else:
        word = _WORDS.fullmatch(str(raw).strip().rstrip("."))
        supported = None if word is None else not word.group(1).lower().startswith(_NEGATIVE)
    conflicts = found.get("conflicts") or ""
    if isinstance(conflicts, list | tuple):
        conflicts = "; ".join(str(c) for c in conflicts)
    try:
        confidence = _unit(float(str(found.get("confidence")).strip().rstrip("%")))
    except ValueError:
        confidence = 0.5 if supported is not None else 0.0
    reason = _oneline(str(found.get("reason") or ""))
    return Verdict(supported, confidence, reason, _oneline(str(conflicts)), *_spans_of(found))


def _spans_of(
    found: dict[str, object],
) -> tuple[tuple[tuple[float, float], ...], tuple[float, float] | None]:
    """The ``evidence`` spans and the ``uncertain_window`` of a verdict object."""
    raw = found.get("evidence")
    spans = tuple(p for p in map(_pair, raw if isinstance(raw, list) else []) if p)
    return spans, _pair(found.get("uncertain_window"))


def _pair(value: object) -> tuple[float, float] | None:
    """``[start, end]`` as two floats, or None for anything else."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        return float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None


def _confidence_in(text: str, supported: bool | None) -> float:
    match = _CONFIDENCE.search(text)
    if match is None:
        return 0.5 if supported is not None else 0.0
    value = float(match.group(1))
    return _unit(value / 100 if match.group(2) else value)


def _unit(value: float) -> float:
    if value != value:  # NaN
        return 0.0
    if 1.0 < value <= 100.0:  # a percentage written without its sign
        value /= 100.0
    return min(1.0, max(0.0, value))


def _oneline(text: str) -> str:
    return " ".join(text.split())


class VerifyArgs(WindowArgs):
    """Arguments of verify."""

    claim: str = Field(min_length=1, description="The statement to check, in words.")


class Verify:
    """Asks the video-LLM whether a claim holds in a window, given its memory and keyframes."""

    name: ClassVar[str] = "verify"
    description: ClassVar[str] = (
        "Check a claim against [start, end] seconds of the video (frames, speech, on-screen "
        "text and captions there); returns whether it is supported, how sure, and why."
    )
    args: ClassVar[type[ToolArgs]] = VerifyArgs

    max_frames: ClassVar[int] = 6

    def run(self, args: VerifyArgs, ctx: ToolContext) -> ToolResult:
        if ctx.perceiver is None:
            raise ToolFailure("verify needs the video model, which is not available")
        memory = ctx.memory
        lo, hi, note = clamp_window(args.start, args.end, memory.duration)
        digest, _ = memory_digest(memory, lo, hi)
        frames = keyframes_in(memory, lo, hi, min(self.max_frames, ctx.limits.frames_per_call))
        reply = ctx.perceiver.look(
            "verify",
            frames,
            claim=args.claim,
            start=f"{lo:.1f}",
            end=f"{hi:.1f}",
            context=data_block("memory", digest or "(no text in memory for this window)"),
        )
        verdict = parse_verdict(reply)
        if verdict.supported is None:
            raise ToolFailure(f"the model gave no readable verdict: {_oneline(reply)[:200]!r}")
        word = "supported" if verdict.supported else "not supported"
        lines = [
            f"claim: {args.claim}",
            f"verdict in [{lo:.1f}, {hi:.1f}] s: {word} (confidence {verdict.confidence:.2f})",
            f"reason: {verdict.reason or '(none given)'}",
        ]
        lines += [f"conflicts: {verdict.conflicts}"] if verdict.conflicts else []
        evidence = (
            (Evidence(lo, hi, "verify", verdict.reason or args.claim),) if verdict.supported else ()
        )
        return ToolResult("\n".join(lines), evidence, notes=(note,) if note else ())
