"""Agent-callable tools over the video memory; each validates typed arguments first.

What a tool is (`Tool`, `ToolArgs`, `ToolContext`, `ToolResult`, `run_tool`) and what it may
use (`Perceiver`, `WebSearcher`) are here, with the tools themselves. Each tool's argument
model and helpers are in its module, e.g. `tools.grounding`.
"""

from .asr import Transcript
from .base import (
    Evidence,
    FrameLimits,
    Perceiver,
    Tool,
    ToolArgs,
    ToolContext,
    ToolFailure,
    ToolResult,
    WebResult,
    WebSearcher,
    WindowArgs,
    clamp_window,
    data_block,
    run_tool,
)
from .grounding import TemporalGrounding
from .inspection import Inspect
from .memory_search import MemorySearch
from .ocr import ReadText
from .segmentation import VideoSegmentation
from .summarize import Summarize
from .verify import Verdict, Verify
from .web_search import WebSearch

__all__ = [
    "Evidence",
    "FrameLimits",
    "Inspect",
    "MemorySearch",
    "Perceiver",
    "ReadText",
    "Summarize",
    "TemporalGrounding",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolFailure",
    "ToolResult",
    "Transcript",
    "Verdict",
    "Verify",
    "VideoSegmentation",
    "WebResult",
    "WebSearch",
    "WebSearcher",
    "WindowArgs",
    "clamp_window",
    "data_block",
    "run_tool",
]
