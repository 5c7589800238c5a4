"""What one run of the loop depends on, passed to every node as the graph's runtime context.

`Meter` wraps the model client to count calls, tokens and frames and to enforce the
budget; `ModelPerceiver` is the model as tools see it (prompts from files).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import prompts
from memory import Frame, VideoMemory
from tools import FrameLimits, Tool, ToolContext, ToolFailure, WebSearcher

from .config import AgentConfig, Budget
from .llm import Completion, Message, VideoLLM, image_part, text_part

__all__ = ["Deps", "Meter", "ModelPerceiver", "Usage", "frame_parts"]


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


def frame_parts(frames: Sequence[Frame], *, max_frames: int, max_pixels: int) -> list[Message]:
    """Content parts for frames, each after a text part with its time, within budgets.

    When there are more frames than `max_frames`, or their pixels exceed `max_pixels`, an
    evenly spread subset is kept (time order preserved).
    """
    kept = list(frames)
    while kept and (
        len(kept) > max_frames or sum(max(1, f.width * f.height) for f in kept) > max_pixels
    ):
        n = max(0, min(max_frames, len(kept) - 1))
        kept = [kept[round(i * (len(kept) - 1) / max(1, n - 1))] for i in range(n)] if n else []
    parts: list[Message] = []
    for f in kept:
        parts += [text_part(f"Frame at [{f.time:.1f}s]:"), image_part(f.jpeg)]
    return parts


class ModelPerceiver:
    """The model as tools see it: renders ``prompts/tool_<task>.md`` and sends the frames."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def look(self, task: str, frames: Sequence[Frame], **fields: str) -> str:
        budget = self.meter.budget
        allowed = min(budget.frames_per_call, max(0, self.meter.frames_left))
        if frames and allowed == 0:
            raise ToolFailure("the frame budget of this question is spent")
        content = frame_parts(frames, max_frames=allowed, max_pixels=budget.call_pixels)
        content.append(text_part(prompts.render(f"tool_{task}", **fields)))
        return self.meter.complete([{"role": "user", "content": content}], max_tokens=400).text


@dataclass(frozen=True)
class Deps:
    """The runtime context of one run.

    Attributes:
        config: The agent configuration (budgets included).
        meter: The metered model client.
        load_memory: Loads or builds the video's memory (called once, by observe).
        tools: Tools the model may call, by name.
        web: Web search backend, or None to switch web search off.
        video_path: The video file as found now (its memory may record an older path).
    """

    config: AgentConfig
    meter: Meter
    load_memory: Callable[[], VideoMemory]
    tools: Mapping[str, Tool]
    web: WebSearcher | None = None
    video_path: str | None = None

    @property
    def budget(self) -> Budget:
        return self.config.budget

    @functools.cached_property
    def memory(self) -> VideoMemory:
        memory = self.load_memory()
        if self.video_path and memory.info.path != self.video_path:
            # The memory is keyed by content: the same video moved or copied reuses it, and
            # tools must decode the file that exists now.
            memory.info = dataclasses.replace(memory.info, path=self.video_path)
        return memory

    @functools.cached_property
    def tool_context(self) -> ToolContext:
        limits = FrameLimits(
            frames_per_call=self.budget.frames_per_call, max_pixels=self.budget.inspect_pixels
        )
        return ToolContext(self.memory, ModelPerceiver(self.meter), self.web, limits)
