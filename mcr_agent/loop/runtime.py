"""What one run of the loop depends on (`Deps`), passed to every node as the graph's
runtime context: nothing reaches a node through module globals."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from memory import VideoMemory
from tools import FrameLimits, Tool, ToolContext, WebSearcher

from ..config import AgentConfig, Budget
from ..model.meter import Meter
from ..model.perceiver import ModelPerceiver

if TYPE_CHECKING:
    from tools.asr import SpeechWindows

__all__ = ["Deps", "Replay"]


class Replay(Protocol):
    """Node updates computed ahead of the graph (`mcr_agent.loop.opening.Opening`)."""

    def take(self, name: str) -> Mapping[str, object] | None:
        """Node `name`'s update, once; None when there is none to hand over."""


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
        opening: observe, route and the first reason call, run ahead of the graph
            (`mcr_agent.loop.opening`); None runs every node in the graph.
    """

    config: AgentConfig
    meter: Meter
    load_memory: Callable[[], VideoMemory]
    tools: Mapping[str, Tool]
    web: WebSearcher | None = None
    video_path: str | None = None
    opening: Replay | None = None

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
    def speech(self) -> SpeechWindows:
        """Speech transcribed on demand during this run, some of it ahead of the request."""
        from tools.asr import SpeechWindows

        return SpeechWindows(self.memory)

    @functools.cached_property
    def tool_context(self) -> ToolContext:
        limits = FrameLimits(
            frames_per_call=self.budget.frames_per_call, max_pixels=self.budget.inspect_pixels
        )
        return ToolContext(self.memory, ModelPerceiver(self.meter), self.web, limits, self.speech)

    def close(self) -> None:
        """End the run: work started ahead and not used is abandoned."""
        if "speech" in self.__dict__:
            self.speech.close()
