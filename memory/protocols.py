"""What the memory needs from the layers above it, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Captioner",
    "Embedder",
    "ProgressSink",
    "SceneCaptionRequest",
    "SummaryRequest",
]


@dataclass(frozen=True)
class SceneCaptionRequest:
    """Everything a captioner gets for one scene.

    Attributes:
        index: Scene number.
        start: Scene start, video seconds.
        end: Scene end, video seconds.
        frames: (time in seconds, JPEG bytes) of the scene's keyframes.
        transcript: Speech overlapping the scene, with timestamps, or empty.
        on_screen_text: Text read from the scene's keyframes, or empty.
        video_duration: Length of the whole video in seconds.
    """

    index: int
    start: float
    end: float
    frames: tuple[tuple[float, bytes], ...]
    transcript: str
    on_screen_text: str
    video_duration: float


@dataclass(frozen=True)
class SummaryRequest:
    """A summary of timed texts (scene captions or segment summaries).

    Attributes:
        level: ``segment`` or ``video``.
        start: Span start in video seconds.
        end: Span end in video seconds.
        items: (start, end, text) of the parts to summarize, in time order.
    """

    level: str
    start: float
    end: float
    items: tuple[tuple[float, float, str], ...]


@runtime_checkable
class Captioner(Protocol):
    """Writes scene captions and summaries with a video-LLM (supplied by `mcr_agent`)."""

    @property
    def name(self) -> str:
        """Model name recorded with each caption."""
        ...

    @property
    def prompt_versions(self) -> dict[str, str]:
        """Version of the prompt per level (``scene``, ``segment``, ``video``)."""
        ...

    def caption_scene(self, request: SceneCaptionRequest) -> str:
        """Describe one scene; raises `ModelServerError` or `ModelReplyError` on failure."""
        ...

    def summarize(self, request: SummaryRequest) -> str:
        """Summarize timed texts; raises like `caption_scene`."""
        ...


class Embedder(Protocol):
    """Turns texts into L2-normalized vectors."""

    @property
    def name(self) -> str:
        """Model name recorded in the manifest."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim), rows of unit length."""
        ...


class ProgressSink(Protocol):
    """Receives stage progress; the CLI draws bars from it, the library only reports."""

    def stage(self, name: str, total: float | None) -> None:
        """A stage starts; `total` is in the stage's own unit (seconds or items)."""
        ...

    def update(self, name: str, done: float) -> None:
        """The stage has reached `done` of its total."""
        ...

    def done(self, name: str, summary: str) -> None:
        """The stage ended; `summary` says what it produced."""
        ...
