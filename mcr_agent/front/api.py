"""The public entry point: `Agent` answers questions about videos and builds their memories."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from memory import (
    BuildReport,
    ProgressSink,
    VideoInfo,
    VideoMemory,
    build_memory,
    fingerprint,
    probe,
    probe_or_recall,
)
from tools import Tool, WebSearcher

from ..config import AgentConfig
from ..errors import ConfigError, ModelServerError
from ..loop.options import normalize_options
from ..loop.runtime import Deps
from ..loop.state import Final, Step
from ..model.captioner import VLMCaptioner
from ..model.client import OpenAIVideoLLM, VideoLLM
from ..model.meter import Meter, Usage
from .answer import Answer, Event, VideoRef
from .startup import interrupts_deferred, load_embedder_beside, prepare_tool_schemas

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from ..loop.state import AgentState, InputState

Mode = Literal["agent", "direct"]

__all__ = ["Agent"]

logger = logging.getLogger(__name__)


class Agent:
    """mcr-agent for one configuration.

    Args:
        config: The configuration; defaults to `AgentConfig.from_env()`.
        llm: The model client; defaults to the OpenAI-compatible server of the config.
        tools: The tools the model may call; defaults to all of them.
        web: The web search backend; defaults to ddgs (None in `tools` order switches it
            off only if "web_search" is left out of `tools`).
    """

    def __init__(
        self,
        config: AgentConfig | None = None,
        *,
        llm: VideoLLM | None = None,
        tools: Mapping[str, Tool] | None = None,
        web: WebSearcher | None = None,
    ) -> None:
        self.config = config or AgentConfig.from_env()
        self.llm: VideoLLM = llm or OpenAIVideoLLM(self.config)
        self._tools = tools
        self._web = web

    def run(
        self,
        video: str | Path,
        question: str,
        options: Sequence[str] | None = None,
        *,
        subtitles: str | Path | None = None,
        mode: Mode = "agent",
        progress: ProgressSink | None = None,
    ) -> Answer:
        """Answer a question about a video.

        Args:
            video: The video file.
            question: The question.
            options: Multiple-choice options ("A. ..."); the answer then has a letter.
            subtitles: An .srt/.vtt file to use as the speech track.
            mode: ``agent`` (the MCR loop) or ``direct`` (one call on uniform frames).
            progress: Receives memory-building progress.

        Returns:
            The answer; its `Answer.status` says whether the model gave it (``answered``) or
            it is a labelled best guess (``fallback``).

        Raises:
            ModelServerError: The model server is unreachable or keeps failing (no answer).
            MCRAgentError: A bad video or cache (one-line message).
        """
        final = None
        for event in self.stream(
            video, question, options, subtitles=subtitles, mode=mode, progress=progress
        ):
            final = event.answer or final
        assert final is not None  # the last event always carries the answer
        if final.status == "failed":
            raise ModelServerError(final.error or "the model server failed")
        return final

    async def arun(
        self,
        video: str | Path,
        question: str,
        options: Sequence[str] | None = None,
        *,
        subtitles: str | Path | None = None,
        mode: Mode = "agent",
    ) -> Answer:
        """`run` in a worker thread, so an event loop keeps serving while the video is read."""
        return await asyncio.to_thread(
            self.run, video, question, options, subtitles=subtitles, mode=mode
        )

    def stream(
        self,
        video: str | Path,
        question: str,
        options: Sequence[str] | None = None,
        *,
        subtitles: str | Path | None = None,
        mode: Mode = "agent",
        progress: ProgressSink | None = None,
    ) -> Iterator[Event]:
        """Answer step by step: one `Event` per node; the last one carries the `Answer`.

        A model server that fails (unreachable, or failing after retries) ends the stream
        with an `Answer` of status ``failed`` whose `Answer.error` says why, after the
        steps that ran; `run` raises it as `ModelServerError`.

        Raises:
            MCRAgentError: A bad video, subtitle file or cache (one-line message).
        """
        question = _checked_question(question)
        opts = tuple(normalize_options([o for o in options or () if o.strip()]))
        # Fail in a second, not after minutes of indexing, on a bad file or a dead server;
        # the video is probed once per question, here (recalled from its memory if indexed).
        info = probe_or_recall(video, self.config.cache_dir)
        meter = Meter(self.llm, self.config.budget)
        seen = _Seen("direct" if mode == "direct" else "global")
        if mode == "agent":
            load_embedder_beside(self.config.index.embed_model, self.config.cache_dir)
        try:
            meter.ping()
            if mode == "direct":
                events: Iterator[Event] = iter(
                    [self._direct(info, question, opts, meter, subtitles=subtitles)]
                )
            else:
                events = self._loop(info, question, opts, meter, subtitles, progress, seen)
            for event in events:
                seen.steps += event.steps
                yield event
        except ModelServerError as exc:
            failed = Final("", None, 0.0, (), "failed", str(exc))
            ref = VideoRef(info.path, info.duration, fingerprint(info.path)[:20])
            answer = _answer(question, opts, failed, seen.route, tuple(seen.steps), meter, ref,
                             index_usage=seen.index_usage)  # fmt: skip
            yield Event("failed", (), answer)

    def _direct(
        self,
        info: VideoInfo,
        question: str,
        options: tuple[str, ...],
        meter: Meter,
        *,
        subtitles: str | Path | None,
    ) -> Event:
        from ..loop.direct import run_direct

        final, step = run_direct(
            meter, info, question, options, budget=self.config.budget, subtitles=subtitles
        )
        ref = VideoRef(info.path, info.duration, fingerprint(info.path)[:20])
        return Event(
            "direct", (step,), _answer(question, options, final, "direct", (step,), meter, ref)
        )

    def _loop(
        self,
        info: VideoInfo,
        question: str,
        options: tuple[str, ...],
        meter: Meter,
        subtitles: str | Path | None,
        progress: ProgressSink | None,
        seen: _Seen,
    ) -> Iterator[Event]:
        from ..loop.opening import Opening

        opening = Opening()
        deps = Deps(
            config=self.config,
            meter=meter,
            # `stream` has just pinged the server: captions need no second check.
            load_memory=lambda: self._build(
                info,
                subtitles=subtitles,
                progress=progress,
                server_up=True,
                usage=seen.index_usage,
            )[0],
            tools=self._tool_map(),
            web=self._web if self._web is not None else _default_web(),
            video_path=info.path,
            opening=opening,
        )
        try:
            # Built (or opened) here, not in the opening's thread: a Ctrl-C while indexing
            # unwinds the build and leaves nothing half-written.
            deps.memory  # noqa: B018
            opening.start(deps, {"question": question, "options": list(options)})
            opening.wait_busy()
            # The first model request is on its way: a fresh process imports LangGraph now.
            with interrupts_deferred():
                from ..loop.graph import compiled_graph, recursion_limit

                graph = compiled_graph()
            budget = self.config.budget
            limit = recursion_limit(budget.max_steps, budget.max_verifications)
            yield from self._events(graph, deps, question, options, meter, limit, seen)
        finally:
            deps.close()

    def _events(
        self,
        graph: CompiledStateGraph[AgentState, Deps, InputState, AgentState],
        deps: Deps,
        question: str,
        options: tuple[str, ...],
        meter: Meter,
        limit: int,
        seen: _Seen,
    ) -> Iterator[Event]:
        steps: list[Step] = []
        for chunk in graph.stream(
            {"question": question, "options": list(options)},
            context=deps,
            stream_mode="updates",
            config={"recursion_limit": limit},
        ):
            for node, update in chunk.items():
                new = tuple((update or {}).get("steps", []))
                steps += new
                seen.route = (update or {}).get("route", seen.route)
                final = (update or {}).get("final")
                answer = None
                if final is not None:
                    memory = deps.memory
                    ref = VideoRef(memory.info.path, memory.duration, memory.fingerprint)
                    answer = _answer(question, options, final, seen.route, tuple(steps), meter,
                                     ref, memory.folder, index_usage=seen.index_usage)  # fmt: skip
                yield Event(node, new, answer)

    def save_trace(self, answer: Answer, path: str | Path) -> Path:
        """Write a trace of an answer: ``.html`` (a page to open) or ``.json``."""
        from .trace import TraceScene, write_trace

        scenes: list[TraceScene] = []
        if answer.memory_folder:
            memory = VideoMemory.load(Path(answer.memory_folder))
            captions = {e.start: e.text for e in memory.level("scene")}
            for scene in memory.scenes:
                first = scene.keyframes[0] if scene.keyframes else None
                thumb = (memory.folder / first.path).read_bytes() if first else None
                scenes.append(
                    TraceScene(scene.start, scene.end, captions.get(scene.start, ""), thumb)
                )
        feedback = [s.feedback for s in answer.steps]
        return write_trace(Path(path), answer.to_dict(), scenes=scenes, feedback=feedback)

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
        usage: Usage | None = None,
    ) -> tuple[VideoMemory, BuildReport]:
        """Build (or load, or complete) a video's memory.

        Captions need the model server: when it does not answer, everything else is built
        and the report lists the scenes without captions; a later call completes them.

        Args:
            usage: Receives the model use of this build: the captions and summaries written
                now (calls, tokens, frames) and every request to the server, retries
                included. A memory loaded from the cache costs only the server check.

        Raises:
            VideoError: The video is missing or unreadable.
            SubtitleError: The subtitle file cannot be read.
            CacheError: The cache folder cannot be written.
        """
        built = self._build(
            probe(video), subtitles=subtitles, force=force, captions=captions, progress=progress,
            usage=usage,
        )  # fmt: skip
        prepare_tool_schemas(self._tool_map(), self.config.cache_dir)
        return built

    def _tool_map(self) -> Mapping[str, Tool]:
        """The tools the model may call: those given, or all of them."""
        return self._tools if self._tools is not None else _default_tools()

    def _build(
        self,
        info: VideoInfo,
        *,
        subtitles: str | Path | None = None,
        force: bool = False,
        captions: bool = True,
        progress: ProgressSink | None = None,
        server_up: bool = False,
        usage: Usage | None = None,
    ) -> tuple[VideoMemory, BuildReport]:
        meter = Meter(self.llm, None, usage=usage)
        captioner = None
        if captions and (server_up or _answers(meter)):
            captioner = VLMCaptioner(self.llm, meter=meter)
        settings = replace(self.config.index, caption_concurrency=self.config.max_concurrency)
        return build_memory(
            info,
            settings=settings,
            cache=self.config.cache_dir,
            subtitles=subtitles,
            captioner=captioner,
            progress=progress,
            force=force,
        )

    def index(
        self,
        video: str | Path,
        *,
        subtitles: str | Path | None = None,
        force: bool = False,
        progress: ProgressSink | None = None,
        usage: Usage | None = None,
    ) -> VideoMemory:
        """The memory of a video, built if needed (`usage` as in `build`)."""
        return self.build(video, subtitles=subtitles, force=force, progress=progress, usage=usage)[
            0
        ]

    def open_memory(self, video: str | Path) -> VideoMemory | None:
        """The newest complete memory of a video, or None if it was never indexed."""
        from memory import open_memory

        cache = self.config.cache_dir
        return open_memory(probe_or_recall(video, cache).path, cache)


def _answer(
    question: str,
    options: tuple[str, ...],
    final: Final,
    route: str,
    steps: tuple[Step, ...],
    meter: Meter,
    video: VideoRef,
    memory_folder: Path | None = None,
    *,
    index_usage: Usage | None = None,
) -> Answer:
    """The `Answer` of a question, in either mode: the one place one is made."""
    return Answer(
        question=question, options=options, answer=final.answer, choice=final.choice,
        status=final.status, error=final.error, confidence=final.confidence, route=route,
        evidence=final.evidence, steps=steps, usage=meter.usage.counts(), video=video,
        memory_folder=str(memory_folder) if memory_folder else None, reply=final.reply,
        index_usage=index_usage.counts() if index_usage and index_usage.requests else {},
    )  # fmt: skip


def _answers(meter: Meter) -> bool:
    """Whether the model server answers (its check counted by `meter`)."""
    try:
        meter.ping()
    except ModelServerError:
        return False
    return True


@dataclass
class _Seen:
    """What a stream has shown so far: enough to report a run the server cut short, and the
    model use of the memory it loaded or built."""

    route: str
    steps: list[Step] = field(default_factory=list)
    index_usage: Usage = field(default_factory=Usage)


def _checked_question(question: str) -> str:
    if not question or not question.strip():
        raise ConfigError("the question is empty: ask something about the video")
    return question.strip()


def _default_tools() -> dict[str, Tool]:
    from ..loop.toolset import default_tools

    return default_tools()


def _default_web() -> WebSearcher:
    from tools.web_search import DDGSearcher

    return DDGSearcher()
