"""Agent-callable tools over the video memory; each validates typed arguments first."""

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
    clamp_window,
    data_block,
    run_tool,
)
from .memory_search import MemorySearch, MemorySearchArgs

__all__ = [
    "Evidence",
    "FrameLimits",
    "MemorySearch",
    "MemorySearchArgs",
    "Perceiver",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolFailure",
    "ToolResult",
    "WebResult",
    "WebSearcher",
    "clamp_window",
    "data_block",
    "run_tool",
]
