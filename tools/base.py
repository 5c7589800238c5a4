"""What every agent-callable tool shares: typed arguments, a result, one way to run it.

A tool's arguments are a pydantic model, validated before it runs; times outside the video
are clamped, and invalid arguments come back as an error the loop feeds to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ValidationError

from memory import VideoMemory

__all__ = ["Evidence", "Tool", "ToolArgs", "ToolResult", "clamp_window", "run_tool"]


@dataclass(frozen=True)
class Evidence:
    """A piece of evidence with its time span in video seconds."""

    start: float
    end: float
    source: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "source": self.source,
            "text": self.text,
        }


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns: feedback text for the model, evidence, and any error."""

    text: str
    evidence: tuple[Evidence, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())


class ToolArgs(BaseModel, extra="forbid"):
    """Base of tool argument models: unknown arguments are errors."""


class Tool(Protocol):
    """An agent-callable tool."""

    name: ClassVar[str]
    description: ClassVar[str]
    args: ClassVar[type[ToolArgs]]

    def run(self, args: Any, memory: VideoMemory) -> ToolResult:
        """Run with validated arguments."""
        ...


def clamp_window(start: float, end: float, duration: float) -> tuple[float, float, str | None]:
    """Clamp [start, end] into the video; returns the window and a note if it changed."""
    lo, hi = max(0.0, min(start, end)), min(duration, max(start, end))
    if hi <= lo:
        lo, hi = max(0.0, min(lo, duration) - 1.0), min(duration, max(hi, 0.0) + 1.0)
    if (lo, hi) != (start, end):
        return lo, hi, f"window [{start:g}, {end:g}] s clamped to [{lo:.1f}, {hi:.1f}] s"
    return lo, hi, None


def run_tool(tool: Tool, raw: Mapping[str, Any], memory: VideoMemory) -> ToolResult:
    """Validate `raw` against the tool's argument model and run it.

    Invalid arguments and tool failures come back as a `ToolResult` with `error` set, worded
    for the model to correct itself; they are never raised.
    """
    try:
        args = tool.args.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return ToolResult("", error=f"invalid arguments for {tool.name}: {problems}")
    return tool.run(args, memory)
