"""Hierarchical video memory: scenes, speech, on-screen text and captions with timestamps.

Build once with `build_memory`, then search by meaning, words or time. This package
imports nothing from `tools` or `mcr_agent`; what it needs from them is a Protocol.
"""

from .build import BuildReport, build_memory, find_memory, memory_folder, open_memory
from .embed import SentenceEmbedder
from .errors import (
    CacheError,
    ConfigError,
    DependencyError,
    MCRAgentError,
    ModelReplyError,
    ModelServerError,
    SubtitleError,
    VideoError,
)
from .frames import frames_at, sample_window, window_cuts
from .probe import probe
from .protocols import Captioner, Embedder, ProgressSink, SceneCaptionRequest, SummaryRequest
from .records import Entry, Frame, Hit, Keyframe, Level, Scene, VideoInfo
from .settings import IndexSettings
from .store import cache_dir, fingerprint
from .subtitles import parse_subtitles, read_subtitles
from .video_memory import VideoMemory

__all__ = [
    "BuildReport",
    "CacheError",
    "Captioner",
    "ConfigError",
    "DependencyError",
    "Embedder",
    "Entry",
    "Frame",
    "Hit",
    "IndexSettings",
    "Keyframe",
    "Level",
    "MCRAgentError",
    "ModelReplyError",
    "ModelServerError",
    "ProgressSink",
    "Scene",
    "SceneCaptionRequest",
    "SentenceEmbedder",
    "SubtitleError",
    "SummaryRequest",
    "VideoError",
    "VideoInfo",
    "VideoMemory",
    "build_memory",
    "cache_dir",
    "find_memory",
    "fingerprint",
    "frames_at",
    "memory_folder",
    "open_memory",
    "parse_subtitles",
    "probe",
    "read_subtitles",
    "sample_window",
    "window_cuts",
]
