"""Hierarchical video memory: scenes, speech, on-screen text and captions with timestamps.

Build once with `build_memory`, then search by meaning, words or time. This package imports
nothing from `tools` or `mcr_agent` except the project's errors (`mcr_agent.errors`); what it
needs from above (a captioner, an embedder, a progress sink) is a Protocol here.

Everything else (ASR, OCR, scene detection, the store, the embedder) is reached through its
module, e.g. `memory.asr`, `memory.scenes`. Each public name loads its module on first use
(PEP 562), so `from memory import Level` costs no more than that module: a command that
only searches a memory never loads what builds one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Light modules (the standard library only) load at once. `probe` must: it names both a
# module and a function, and the function has to win over the module attribute that
# importing `memory.probe` later would otherwise leave on the package.
from .probe import probe
from .records import Entry, Frame, Hit, Keyframe, Level, Scene, VideoInfo
from .settings import IndexSettings
from .store import cache_dir, fingerprint

if TYPE_CHECKING:
    from .build import BuildReport, build_memory, open_memory, probe_or_recall
    from .frames import frames_at, sample_window, window_cuts
    from .protocols import Captioner, Embedder, ProgressSink, SceneCaptionRequest, SummaryRequest
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
    "probe_or_recall",
    "read_subtitles",
    "sample_window",
    "window_cuts",
]

_MODULES = {
    ".build": ("BuildReport", "build_memory", "open_memory", "probe_or_recall"),
    ".frames": ("frames_at", "sample_window", "window_cuts"),
    ".protocols": (
        "Captioner", "Embedder", "ProgressSink", "SceneCaptionRequest", "SummaryRequest",
    ),
    ".subtitles": ("read_subtitles",),
    ".video_memory": ("VideoMemory",),
}  # fmt: skip
_LAZY = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> object:
    """Load a public name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'memory' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
