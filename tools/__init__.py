"""Agent-callable tools over the video memory; each validates typed arguments first.

What a tool is (`Tool`, `ToolArgs`, `ToolContext`, `ToolResult`, `run_tool`) and what it may
use (`Perceiver`, `WebSearcher`) are here, with the tools themselves. Each tool's argument
model and helpers are in its module, e.g. `tools.grounding`. Each public name loads its
module on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .asr import Transcript
    from .base import (
        Evidence,
        FrameLimits,
        Perceiver,
        SpeechSource,
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
    "SpeechSource",
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

_MODULES = {
    ".asr": ("Transcript",),
    ".grounding": ("TemporalGrounding",),
    ".inspection": ("Inspect",),
    ".memory_search": ("MemorySearch",),
    ".ocr": ("ReadText",),
    ".segmentation": ("VideoSegmentation",),
    ".summarize": ("Summarize",),
    ".verify": ("Verdict", "Verify"),
    ".web_search": ("WebSearch",),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> object:
    """Load a public name on first use (PEP 562): a tool's module loads with the tool."""
    module = _LAZY.get(name, ".base" if name in __all__ else None)
    if module is None:
        raise AttributeError(f"module 'tools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
