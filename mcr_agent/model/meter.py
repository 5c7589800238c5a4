"""The usage meter of one question: counts model calls, tokens, frames, HTTP requests and
retries and model wait, and refuses calls beyond the question's budget (when it has one)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools import ToolFailure

from ..config import Budget
from .client import VideoLLM
from .completion import Completion
from .messages import Message
from .traffic import counting

__all__ = ["Meter", "Usage"]


@dataclass
class Usage:
    """Model usage of one question (or of building one memory)."""

    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    frames_sent: int = 0
    requests: int = 0
    """HTTP requests sent to the model server: each model call's, the openai client's own
    retries and ours, and the checks that the server answers."""
    retries: int = 0
    """Of those, requests sent again after a failure (`mcr_agent.model.traffic.Traffic`)."""
    model_s: float = 0.0
    """Seconds spent waiting for the model server (not part of the JSON contract)."""
    started: float = field(default_factory=time.perf_counter)

    def to_dict(self) -> dict[str, Any]:
        """The documented ``usage`` object of an answer (``ask --json``)."""
        return {
            "model_calls": self.model_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "frames_sent": self.frames_sent,
            "wall_s": round(time.perf_counter() - self.started, 3),
        }

    def counts(self) -> dict[str, Any]:
        """`to_dict` plus ``requests`` and ``retries`` (what evaluations record)."""
        return {**self.to_dict(), "requests": self.requests, "retries": self.retries}


class Meter:
    """A `VideoLLM` wrapper that counts usage and refuses calls beyond the budget.

    Args:
        llm: The model client.
        budget: The question's budget; None counts without a limit (building a memory).
        usage: The tally to add to (the meter's lock guards it); a new one by default.
    """

    def __init__(self, llm: VideoLLM, budget: Budget | None, *, usage: Usage | None = None) -> None:
        self.llm = llm
        self.budget = budget
        self.usage = usage if usage is not None else Usage()
        self._lock = threading.Lock()
        self._on_call: list[Callable[[], None]] = []

    def when_calling(self, callback: Callable[[], None]) -> None:
        """Run `callback` once, in the calling thread, as the next model call's request is
        handed to the socket, so a caller can start work of its own while the model answers
        (a client that sends nothing through the counted HTTP client: as the call ends)."""
        with self._lock:
            self._on_call.append(callback)

    @property
    def calls_left(self) -> int:
        if self.budget is None:
            return 1 << 30
        return self.budget.max_model_calls - self.usage.model_calls

    @property
    def frames_left(self) -> int:
        if self.budget is None:
            return 1 << 30
        return self.budget.max_frames - self.usage.frames_sent

    def ping(self) -> str:
        """`VideoLLM.ping`, its requests counted. Raises `ModelServerError`."""
        with counting() as traffic:
            try:
                return self.llm.ping()
            finally:
                with self._lock:
                    self.usage.requests += traffic.requests
                    self.usage.retries += traffic.retries

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
            callbacks, self._on_call = self._on_call, []
        started = time.perf_counter()
        with counting() as traffic:
            traffic.on_send = callbacks
            try:
                reply = self.llm.complete(messages, max_tokens=max_tokens, tools=tools)
            finally:
                with self._lock:
                    self.usage.model_s += time.perf_counter() - started
                    self.usage.requests += traffic.requests
                    self.usage.retries += traffic.retries
                for callback in traffic.on_send:  # nothing was sent
                    callback()
        with self._lock:
            self.usage.prompt_tokens += reply.prompt_tokens
            self.usage.completion_tokens += reply.completion_tokens
        return reply
