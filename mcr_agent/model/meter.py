"""The usage meter of one question: counts model calls, tokens, frames and model wait, and
refuses calls beyond the question's budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tools import ToolFailure

from ..config import Budget
from .client import Completion, VideoLLM
from .messages import Message

__all__ = ["Meter", "Usage"]


@dataclass
class Usage:
    """Model usage of one question."""

    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    frames_sent: int = 0
    model_s: float = 0.0
    """Seconds spent waiting for the model server (not part of the JSON contract)."""
    started: float = field(default_factory=time.perf_counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_calls": self.model_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "frames_sent": self.frames_sent,
            "wall_s": round(time.perf_counter() - self.started, 3),
        }


class Meter:
    """A `VideoLLM` wrapper that counts usage and refuses calls beyond the budget."""

    def __init__(self, llm: VideoLLM, budget: Budget) -> None:
        self.llm = llm
        self.budget = budget
        self.usage = Usage()
        self._lock = threading.Lock()

    @property
    def calls_left(self) -> int:
        return self.budget.max_model_calls - self.usage.model_calls

    @property
    def frames_left(self) -> int:
        return self.budget.max_frames - self.usage.frames_sent

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 512,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        """`VideoLLM.complete`, counted.

        Raises:
            ToolFailure: The model-call budget of the question is spent.
            ModelServerError: As `VideoLLM.complete` (also `ModelReplyError`).
        """
        frames = sum(
            1
            for m in messages
            if isinstance(m.get("content"), list)
            for p in m["content"]
            if p.get("type") == "image_url"
        )
        with self._lock:
            if self.calls_left <= 0:
                raise ToolFailure("the model-call budget of this question is spent")
            self.usage.model_calls += 1
            self.usage.frames_sent += frames
        started = time.perf_counter()
        try:
            reply = self.llm.complete(messages, max_tokens=max_tokens, tools=tools)
        finally:
            with self._lock:
                self.usage.model_s += time.perf_counter() - started
        with self._lock:
            self.usage.prompt_tokens += reply.prompt_tokens
            self.usage.completion_tokens += reply.completion_tokens
        return reply
