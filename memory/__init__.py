"""Hierarchical video memory: scenes, speech, on-screen text and captions with timestamps.

Build once with `build_memory`, then search by meaning, words or time. This package imports
nothing from `tools` or `mcr_agent` except the project's errors (`mcr_agent.errors`); what it
needs from above (a captioner, an embedder, a progress sink) is a Protocol here.

Everything else (ASR, OCR, scene detection, the store, the embedder) is reached through its
module, e.g. `memory.asr`, `memory.scenes`.
"""

from .build import BuildReport, build_memory, open_memory
from .frames import frames_at, sample_window, window_cuts
from .probe import probe
from .protocols import Captioner, Embedder, ProgressSink, SceneCaptionRequest, SummaryRequest
from .records import Entry, Frame, Hit, Keyframe, Level, Scene, VideoInfo
from .settings import IndexSettings
from .store import cache_dir, fingerprint
from .subtitles import read_subtitles
from .video_memory import VideoMemory

__all__ = [
    "BuildReport",
    "Captioner",
    "Embedder",
    "Entry",
    "Frame",
    "Hit",
    "IndexSettings",
    "Keyframe",
    "Level",
    "ProgressSink",
    "Scene",
    "SceneCaptionRequest",
    "SummaryRequest",
    "VideoInfo",
    "VideoMemory",
    "build_memory",
    "cache_dir",
    "fingerprint",
    "frames_at",
    "open_memory",
    "probe",
    "read_subtitles",
    "sample_window",
    "window_cuts",
]
