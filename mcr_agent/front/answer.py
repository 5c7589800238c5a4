"""What a question returns: the answer with its evidence, the steps taken and the usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..loop.state import CitedEvidence, Status, Step

__all__ = ["Answer", "Event", "VideoRef"]

_USAGE_KEYS = ("model_calls", "prompt_tokens", "completion_tokens", "frames_sent", "wall_s")
"""The documented keys of the JSON ``usage`` object."""


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
        answer: The answer text (the model's, when `status` is ``answered``; for a
            fallback, a sentence saying there is none).
        choice: The option letter: the model's when ``answered``, a best guess from the
            evidence on ``fallback`` (None when nothing favours one option), else None.
        status: ``answered`` (the model gave this answer), ``fallback`` (it gave none
            within the budget; the letter is a guess, confidence at most 1/len(options)) or
            ``failed`` (no answer at all: the model server failed).
        error: Why there is no answer from the model (``fallback``, ``failed``), else None.
        confidence: 0 to 1; high only when verification found the answer supported.
        route: The question's class (``direct`` in the single-pass mode).
        evidence: The time spans the answer rests on, with what they hold and who cited
            them (``model``, or ``agent`` when the model cited none).
        steps: One record per node run (tool feedback kept for traces).
        usage: Model calls, prompt and completion tokens, frames sent, wall time; also
            ``requests`` (HTTP requests to the model server, retries included) and
            ``retries``, which the JSON leaves out.
        video: Path, duration and content fingerprint of the video.
        reply: The model's own final reply as it wrote it: the direct mode's reply text; the
            agent's final answer (the letter as the model wrote it, then its answer text, or
            its prose answer); "" when the model gave none. Not part of the JSON.
        index_usage: Model use of building the memory during this question (captions and
            summaries not cached yet, the server check), counted apart from `usage`. Not
            part of the JSON.
    """

    question: str
    options: tuple[str, ...]
    answer: str
    choice: str | None
    status: Status
    error: str | None
    confidence: float
    route: str
    evidence: tuple[CitedEvidence, ...]
    steps: tuple[Step, ...]
    usage: dict[str, int | float]
    video: VideoRef
    memory_folder: str | None = field(default=None, compare=False)
    reply: str = ""
    index_usage: dict[str, int | float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object (feedback and internals left out)."""
        return {
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "choice": self.choice,
            "status": self.status,
            "error": self.error,
            "confidence": round(self.confidence, 3),
            "route": self.route,
            "evidence": [e.to_dict() for e in self.evidence],
            "steps": [s.to_dict() for s in self.steps],
            "usage": {k: self.usage[k] for k in _USAGE_KEYS if k in self.usage},
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
