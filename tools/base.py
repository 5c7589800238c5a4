"""What every agent-callable tool shares: typed arguments, a result, one way to run it.

A tool's arguments are a pydantic model, validated before it runs; times outside the video
are clamped, and invalid arguments come back as an error the loop feeds to the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, Field, ValidationError, model_validator

from mcr_agent.errors import ModelReplyError
from memory import Entry, Frame, VideoMemory

__all__ = [
    "Evidence",
    "FrameLimits",
    "Perceiver",
    "SpeechSource",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolFailure",
    "ToolResult",
    "WebResult",
    "WebSearcher",
    "WindowArgs",
    "clamp_window",
    "data_block",
    "run_tool",
]


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
    """What a tool returns.

    Attributes:
        text: Feedback for the model (text read from the video or the web already
            delimited as data with `data_block`).
        evidence: What the result rests on, with time spans.
        error: Set when the tool could not do its job; worded for the model to react.
        notes: Side remarks for the model (e.g. a clamped window).
        frames: Frames worth showing the reasoner next, with their times.
    """

    text: str
    evidence: tuple[Evidence, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    frames: tuple[Frame, ...] = field(default=(), repr=False)


class Perceiver(Protocol):
    """The video-LLM as tools see it; implemented (with prompts and usage accounting) above.

    ``task`` names a prompt (``inspect``, ``ground``, ``summarize``, ``verify``); ``fields``
    fill it. Raises `ModelServerError` when the server is unusable (the run stops) and
    `ModelReplyError` for a bad reply (the tool reports an error and the loop goes on).
    """

    def look(self, task: str, frames: Sequence[Frame], **fields: str) -> str:
        """One model call on frames (each sent after its timestamp) and filled-in text."""
        ...


@dataclass(frozen=True)
class WebResult:
    """One web search hit."""

    title: str
    url: str
    snippet: str


class WebSearcher(Protocol):
    """A web search backend (ddgs by default; a local stub in tests)."""

    def search(self, query: str, *, max_results: int, timeout: float) -> list[WebResult]:
        """Hits for a query; raises `ToolFailure` when the search cannot be done."""
        ...


class SpeechSource(Protocol):
    """Speech of the video transcribed on demand (`tools.asr.SpeechWindows`)."""

    def entries(self, start: float, end: float) -> list[Entry]:
        """`asr` entries overlapping [start, end] s; raises `ToolFailure` when it cannot."""
        ...


@dataclass(frozen=True)
class FrameLimits:
    """Per-call budgets for frames a tool decodes and sends to the model.

    Attributes:
        frames_per_call: Most frames in one model call.
        max_pixels: Pixel budget of one re-perceived frame (width times height).
        max_fps: Highest sampling rate a tool may use.
    """

    frames_per_call: int = 16
    max_pixels: int = 768 * 768
    max_fps: float = 4.0


@dataclass(frozen=True)
class ToolContext:
    """What tools may use during one run: the memory (and through it, only its video file),
    the model, web search, frame budgets, and the run's speech transcribed on demand
    (`tools.asr.SpeechWindows`; None: each request is transcribed when it is made)."""

    memory: VideoMemory
    perceiver: Perceiver | None = None
    web: WebSearcher | None = None
    limits: FrameLimits = field(default_factory=FrameLimits)
    speech: SpeechSource | None = None


class ToolArgs(BaseModel, extra="forbid", allow_inf_nan=False):
    """Base of tool argument models: unknown arguments and non-finite numbers are errors; an
    argument given as null (``None`` in a Python-literal call) counts as not given."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class WindowArgs(ToolArgs):
    """Arguments of a tool that works on a time window of the video."""

    start: float = Field(description="Window start in seconds.")
    end: float = Field(description="Window end in seconds.")


class Tool(Protocol):
    """An agent-callable tool."""

    name: ClassVar[str]
    description: ClassVar[str]
    args: ClassVar[type[ToolArgs]]

    def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        """Run with validated arguments; may raise `ToolFailure` (reported to the model)."""
        ...


class ToolFailure(Exception):
    """A tool could not do its job; the message goes back to the model as feedback."""


def data_block(source: str, text: str) -> str:
    """Wrap text read from the video or the web so the model treats it as data.

    Any closing tag inside the text is defused, so the data cannot end its own block.
    """
    safe = text.replace("</data", "<\\/data").replace("<data", "<\\data")
    return f'<data source="{source}">\n{safe}\n</data>'


def clamp_window(start: float, end: float, duration: float) -> tuple[float, float, str | None]:
    """Clamp [start, end] into the video; returns the window and a note if it changed."""
    lo, hi = max(0.0, min(start, end)), min(duration, max(start, end))
    if hi <= lo:
        lo, hi = max(0.0, min(lo, duration) - 1.0), min(duration, max(hi, 0.0) + 1.0)
    if (lo, hi) != (start, end):
        return lo, hi, f"window [{start:g}, {end:g}] s clamped to [{lo:.1f}, {hi:.1f}] s"
    return lo, hi, None


def run_tool(tool: Tool, raw: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
    """Validate `raw` against the tool's argument model and run it.

    Invalid arguments, `ToolFailure` and bad model replies come back as a `ToolResult` with
    `error` set, worded for the model to correct itself. `ModelServerError` (the server is
    gone) is raised: the run cannot go on without it.
    """
    try:
        args = tool.args.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return ToolResult("", error=f"invalid arguments for {tool.name}: {problems}")
    try:
        return tool.run(args, ctx)
    except ToolFailure as exc:
        return ToolResult("", error=f"{tool.name} failed: {exc}")
    except ModelReplyError as exc:
        return ToolResult("", error=f"{tool.name} got no usable model reply: {exc}")
