"""What a question returns: the answer with its evidence, the steps taken and the usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools import Evidence

from ..loop.state import Step

__all__ = ["Answer", "Event", "VideoRef"]


@dataclass(frozen=True)
class VideoRef:
    """The video a question was about."""

    path: str
    duration: float
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "duration": round(self.duration, 3),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class Answer:
    """The answer to one question (the fields of ``mcr-agent ask --json``).

    Attributes:
        question: The question asked.
        options: Its options (empty for an open question).
        answer: The answer text.
        choice: The option letter; always set when options were given.
        confidence: 0 to 1; high only when verification found the answer supported.
        route: The question's class (``direct`` in the single-pass mode).
        evidence: The time spans the answer rests on, with what they hold.
        steps: One record per node run (tool feedback kept for traces).
        usage: Model calls, prompt and completion tokens, frames sent, wall time.
        video: Path, duration and content fingerprint of the video.
    """

    question: str
    options: tuple[str, ...]
    answer: str
    choice: str | None
    confidence: float
    route: str
    evidence: tuple[Evidence, ...]
    steps: tuple[Step, ...]
    usage: dict[str, int | float]
    video: VideoRef
    memory_folder: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object (feedback and internals left out)."""
        return {
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "choice": self.choice,
            "confidence": round(self.confidence, 3),
            "route": self.route,
            "evidence": [e.to_dict() for e in self.evidence],
            "steps": [s.to_dict() for s in self.steps],
            "usage": dict(self.usage),
            "video": self.video.to_dict(),
        }


@dataclass(frozen=True)
class Event:
    """One node of the loop finished (what `Agent.stream` yields).

    Attributes:
        node: The node's name.
        steps: The steps it recorded.
        answer: Set on the last event only.
    """

    node: str
    steps: tuple[Step, ...]
    answer: Answer | None = None
