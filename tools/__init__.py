"""Agent-callable tools over the video memory; each validates typed arguments first."""

from .base import Evidence, Tool, ToolArgs, ToolResult, clamp_window, run_tool
from .memory_search import MemorySearch, MemorySearchArgs

__all__ = [
    "Evidence",
    "MemorySearch",
    "MemorySearchArgs",
    "Tool",
    "ToolArgs",
    "ToolResult",
    "clamp_window",
    "run_tool",
]
