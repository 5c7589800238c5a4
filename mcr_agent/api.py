"""The public entry point: `Agent` builds and opens video memories (and, later, answers)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from memory import (
    BuildReport,
    ModelServerError,
    ProgressSink,
    VideoMemory,
    build_memory,
)

from .captioner import VLMCaptioner
from .config import AgentConfig
from .llm import OpenAIVideoLLM

__all__ = ["Agent"]

logger = logging.getLogger(__name__)


class Agent:
    """mcr-agent for one configuration.

    Args:
        config: The configuration; defaults to `AgentConfig.from_env()`.
    """

    def __init__(self, config: AgentConfig | None = None) -> None:
        self.config = config or AgentConfig.from_env()
        self.llm = OpenAIVideoLLM(self.config)

    def server_status(self) -> str | None:
        """None if the model server answers, else the one-line reason it does not."""
        try:
            self.llm.ping()
        except ModelServerError as exc:
            return str(exc)
        return None

    def build(
        self,
        video: str | Path,
        *,
        subtitles: str | Path | None = None,
        force: bool = False,
        captions: bool = True,
        progress: ProgressSink | None = None,
    ) -> tuple[VideoMemory, BuildReport]:
        """Build (or load, or complete) a video's memory.

        Captions need the model server: when it does not answer, everything else is built
        and the report lists the scenes without captions; a later call completes them.
        """
        captioner = None
        if captions and self.server_status() is None:
            captioner = VLMCaptioner(self.llm)
        settings = replace(self.config.index, caption_concurrency=self.config.max_concurrency)
        return build_memory(
            video,
            settings=settings,
            cache=self.config.cache_dir,
            subtitles=subtitles,
            captioner=captioner,
            progress=progress,
            force=force,
        )

    def index(
        self, video: str | Path, *, subtitles: str | Path | None = None, force: bool = False
    ) -> VideoMemory:
        """The memory of a video, built if needed."""
        return self.build(video, subtitles=subtitles, force=force)[0]

    def open_memory(self, video: str | Path) -> VideoMemory | None:
        """The newest complete memory of a video, or None if it was never indexed."""
        from memory import open_memory, probe

        return open_memory(probe(video).path, self.config.cache_dir)
