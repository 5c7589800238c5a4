"""Agent-callable tools over the video memory; each validates typed arguments first."""

from .asr import Transcript, TranscriptArgs
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
from .grounding import Grounding, TemporalGrounding, TemporalGroundingArgs, parse_grounding
from .inspect import Inspect, InspectArgs
from .memory_search import MemorySearch, MemorySearchArgs
from .ocr import ReadText, ReadTextArgs
from .segmentation import VideoSegmentation, VideoSegmentationArgs
from .summarize import Summarize, SummarizeArgs
from .verify import Verdict, Verify, VerifyArgs, parse_verdict
from .web_search import DDGSearcher, WebSearch, WebSearchArgs

__all__ = [
    "DDGSearcher",
    "Evidence",
    "FrameLimits",
    "Grounding",
    "Inspect",
    "InspectArgs",
    "MemorySearch",
    "MemorySearchArgs",
    "Perceiver",
    "ReadText",
    "ReadTextArgs",
    "Summarize",
    "SummarizeArgs",
    "TemporalGrounding",
    "TemporalGroundingArgs",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolFailure",
    "ToolResult",
    "Transcript",
    "TranscriptArgs",
    "Verdict",
    "Verify",
    "VerifyArgs",
    "VideoSegmentation",
    "VideoSegmentationArgs",
    "WebResult",
    "WebSearch",
    "WebSearchArgs",
    "WebSearcher",
    "WindowArgs",
    "clamp_window",
    "data_block",
    "parse_grounding",
    "parse_verdict",
    "run_tool",
]
