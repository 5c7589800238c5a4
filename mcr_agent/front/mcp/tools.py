"""The MCP server: video question answering as tools and resources, over one `Agent`.

Built on the official SDK's high-level server (`mcp.server.mcpserver.MCPServer`, which was
`FastMCP` before mcp 2). One `Agent` serves every call, so the model client is made once and
the ASR, embedding and OCR models load once per process (on first use). Blocking work runs
in worker threads (`run_cancellable`); every user-facing failure is a tool error carrying
the library's one-line message, and the server goes on serving.
"""

from __future__ import annotations

import base64
import functools
import threading
from collections.abc import Awaitable
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from memory import Keyframe, VideoMemory
from memory.store import read_json

from ...errors import MCRAgentError
from ..answer import Answer
from ..api import Agent, Mode
from .bridge import AllowedRoots, ToolProgress, progress_sender, run_cancellable
from .views import (
    AnswerResult,
    IndexResult,
    SearchResult,
    WindowResult,
    answer_text,
    index_result,
    index_text,
    resource_uris,
    search_result,
    search_text,
    summary_document,
    transcript_document,
    window_result,
    window_text,
)

__all__ = ["VideoTools", "build_server"]

VideoPath = Annotated[
    str,
    Field(
        description="The video file: an absolute path, or one relative to the first allowed "
        "folder. It must lie under a folder the server allows."
    ),
]
LevelName = Literal["video", "segment", "scene", "asr", "subtitle", "ocr"]
Seconds = Annotated[float, Field(ge=0, description="Video seconds.")]
Documents = Literal["summary", "transcript"]


class VideoTools:
    """The tools and resources, bound to one agent and the allowed folders."""

    def __init__(self, agent: Agent, roots: AllowedRoots) -> None:
        self.agent = agent
        self.roots = roots
        self._videos: dict[str, Path] = {}  # fingerprint -> newest memory folder
        self._server: MCPServer | None = None

    # -- tools (their docstrings are the descriptions clients show the model) -----------
    async def index_video(
        self, path: VideoPath, ctx: Context
    ) -> Annotated[CallToolResult, IndexResult]:
        """Build the searchable memory of a local video, or load it from the cache: scene
        cuts and keyframes, the speech transcript, scene captions and summaries written by
        the video model. Call it first for a new video; it can take minutes (progress is
        reported per stage) and returns at once for a video indexed before. The result gives
        the duration in seconds, the scene and entry counts, and which scenes lack captions
        because the model server was down (call again once it is up to complete them)."""
        return await _guarded(self._index(path, ctx))

    async def ask_video(
        self,
        path: VideoPath,
        question: Annotated[str, Field(min_length=1, description="The question, in words.")],
        ctx: Context,
        options: Annotated[
            list[str] | None,
            Field(
                description='Multiple-choice options such as ["A. red", "B. blue"]; the '
                "result's choice is then the letter."
            ),
        ] = None,
        mode: Annotated[
            Mode,
            Field(
                description="agent: the full reasoning loop (searches, re-watches windows, "
                "checks its answer). direct: one model call on evenly spaced frames."
            ),
        ] = "agent",
    ) -> Annotated[CallToolResult, AnswerResult]:
        """Answer a question about a local video, citing the time spans the answer rests on.
        The agent searches the video's memory, looks again at the frames of the windows that
        matter and checks its answer against the evidence. Indexes the video first if needed
        (which can take minutes; progress is reported). Returns answer, choice (the option
        letter), status, confidence (0 to 1), evidence (start and end in seconds, source,
        text), the steps taken and usage."""
        return await _guarded(self._ask(path, question, options, mode, ctx))

    async def search_video(
        self,
        path: VideoPath,
        query: Annotated[str, Field(min_length=1, description="Words or a description.")],
        levels: Annotated[
            list[LevelName] | None,
            Field(
                description="Only these levels: video (summary), segment (summaries of "
                "minutes), scene (captions), asr (speech), subtitle, ocr (on-screen text). "
                "Default: all."
            ),
        ] = None,
        k: Annotated[int, Field(ge=1, le=50, description="Most hits returned.")] = 8,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search an indexed video's memory by meaning and words; returns the best matching
        entries, best first, each with its time span in seconds, level, source and score.
        The video must have been indexed (index_video)."""
        return await _guarded(self._search(path, query, levels, k))

    async def video_window(
        self,
        path: VideoPath,
        start: Seconds,
        end: Seconds,
        keyframes: Annotated[
            bool, Field(description="Also return the window's keyframes as images.")
        ] = False,
        max_keyframes: Annotated[
            int, Field(ge=1, le=32, description="Most images, evenly spread over the window.")
        ] = 8,
    ) -> Annotated[CallToolResult, WindowResult]:
        """Everything an indexed video's memory holds between start and end seconds, in time
        order: the scenes with their captions, speech, on-screen text, subtitles and the
        summaries covering it; with keyframes=true also the keyframes as JPEG images. Use it
        to read a moment found by search_video or cited by ask_video."""
        return await _guarded(self._window(path, start, end, keyframes, max_keyframes))

    # -- what the tools do ------------------------------------------------------------------
    async def _index(self, path: str, ctx: Context) -> CallToolResult:
        video = self.roots.check(path)
        send = progress_sender(ctx.report_progress)
        memory, report = await run_cancellable(
            lambda stop: self.agent.build(video, progress=ToolProgress(send, stop)),
            f"index_video({video})",
        )
        result = index_result(memory, report, self.agent.config.base_url)
        await self._refresh(ctx)
        return _result(result, index_text(result))

    async def _ask(
        self, path: str, question: str, options: list[str] | None, mode: Mode, ctx: Context
    ) -> CallToolResult:
        video = self.roots.check(path)
        send = progress_sender(ctx.report_progress)

        def work(stop: threading.Event) -> Answer:
            progress = ToolProgress(send, stop)
            answer = None
            for event in self.agent.stream(video, question, options, mode=mode, progress=progress):
                for step in event.steps:
                    tool = f" {step.tool}" if step.tool else ""
                    progress.note(f"{step.node}{tool}: {step.summary}")
                answer = event.answer or answer
            assert answer is not None  # the last event carries the answer
            return answer

        answer = await run_cancellable(work, f"ask_video({video}, {question!r})")
        await self._refresh(ctx)
        data = answer.to_dict()
        # A question the server failed to answer (status "failed", as `ask` exits 1) is a
        # tool error; the object still comes along, for what the steps did.
        failed = data.get("status") == "failed"
        return CallToolResult(
            content=[_text(answer_text(answer))], structured_content=data, is_error=failed
        )

    async def _search(
        self, path: str, query: str, levels: list[LevelName] | None, k: int
    ) -> CallToolResult:
        video = self.roots.check(path)

        def work(stop: threading.Event) -> SearchResult:
            hits = self._memory(video, path).search(query, k=k, levels=levels)
            return search_result(str(video), query, hits)

        result = await run_cancellable(work, f"search_video({video}, {query!r})")
        return _result(result, search_text(result))

    async def _window(
        self, path: str, start: float, end: float, keyframes: bool, most: int
    ) -> CallToolResult:
        video = self.roots.check(path)
        if end < start:
            raise MCRAgentError(f"end ({end:g} s) is before start ({start:g} s): swap them")

        def work(stop: threading.Event) -> tuple[WindowResult, list[ContentBlock]]:
            memory = self._memory(video, path)
            frames = _spread(memory.keyframes(start, end), most) if keyframes else []
            images: list[ContentBlock] = [
                ImageContent(
                    type="image",
                    data=base64.b64encode(Path(k.path).read_bytes()).decode(),
                    mime_type="image/jpeg",
                )
                for k in frames
            ]
            result = window_result(memory, start, end, [k.time for k in frames])
            return result, images

        result, images = await run_cancellable(work, f"video_window({video})")
        return _result(result, window_text(result), images)

    def _memory(self, video: Path, path: str) -> VideoMemory:
        memory = self.agent.open_memory(video)
        if memory is None:
            raise MCRAgentError(f"{path} has no memory yet: call index_video with it first")
        return memory

    # -- resources --------------------------------------------------------------------------
    def attach(self, server: MCPServer) -> None:
        """Register the resource templates, and a listed resource per indexed video."""
        self._server = server
        for kind, reader in (("summary", self.summary), ("transcript", self.transcript)):
            server.resource(
                f"mcr://video/{{fingerprint}}/{kind}",
                name=f"video {kind}",
                description=_DOCUMENTS[kind],
                mime_type="text/plain",
            )(reader)
        self.scan()

    def scan(self) -> list[str]:
        """Find memories in the cache whose video lies under an allowed folder; list the
        new ones as resources. Returns the new fingerprints."""
        newest: dict[str, tuple[float, Path, str]] = {}
        for manifest in self.agent.config.cache_dir.glob("*/manifest.json"):
            try:  # another process may be rebuilding (removing) this memory right now
                data = read_json(manifest) or {}
                seen = (manifest.stat().st_mtime, manifest.parent, str(data["video"]["path"]))
                key = str(data["fingerprint"])
            except (OSError, KeyError, TypeError):
                continue
            if data.get("complete") and seen[2] in self.roots:
                newest[key] = max(newest.get(key, seen), seen)
        new = [fp for fp in newest if fp not in self._videos]
        self._videos = {fp: folder for fp, (_, folder, _) in newest.items()}
        for fp in new:
            self._list(fp, Path(newest[fp][2]).name)
        return new

    def _list(self, fingerprint: str, name: str) -> None:
        if self._server is None:
            return
        for uri, kind in zip(resource_uris(fingerprint), ("summary", "transcript"), strict=True):
            resource = FunctionResource(
                uri=uri,
                name=f"{name} {kind}",
                description=_DOCUMENTS[kind],
                mime_type="text/plain",
                fn=functools.partial(self.document, fingerprint, kind),  # type: ignore[arg-type]
            )
            self._server.add_resource(resource)

    async def _refresh(self, ctx: Context) -> None:
        if await anyio.to_thread.run_sync(self.scan):
            await ctx.notify_resources_changed()

    async def summary(self, fingerprint: str) -> str:
        """The summary resource of the video with this fingerprint."""
        return await anyio.to_thread.run_sync(self.document, fingerprint, "summary")

    async def transcript(self, fingerprint: str) -> str:
        """The transcript resource of the video with this fingerprint."""
        return await anyio.to_thread.run_sync(self.document, fingerprint, "transcript")

    def document(self, fingerprint: str, kind: Documents) -> str:
        """A video's summary or transcript, by fingerprint.

        Raises:
            ResourceError: No video with that fingerprint is indexed under the allowed
                folders, or its memory cannot be read.
        """
        if fingerprint not in self._videos:
            self.scan()  # indexed since, perhaps by another process
        folder = self._videos.get(fingerprint)
        if folder is None:
            raise ResourceError(
                f"no video with fingerprint {fingerprint} is indexed under {self.roots}: "
                "call index_video first"
            )
        try:
            memory = VideoMemory.load(folder)
        except MCRAgentError as exc:
            raise ResourceError(str(exc)) from exc
        if kind == "summary":
            return summary_document(memory, self.agent.config.base_url)
        return transcript_document(memory)


_DOCUMENTS = {
    "summary": "What the video shows: the whole-video summary, then each segment's summary "
    "with its time span in seconds.",
    "transcript": "Everything said in the video (speech recognition and subtitles), one "
    "line per utterance with its time span in seconds.",
}


class _VideoServer(MCPServer):
    """`MCPServer` whose argument errors are one line: the SDK passes pydantic's multi-line
    report (with a documentation URL per error) to the client as it is."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        import pydantic

        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, pydantic.ValidationError):
                raise
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'arguments'}: {e['msg']}"
                for e in cause.errors()
            )
            raise ToolError(f"invalid arguments for {name}: {problems}") from cause


def build_server(agent: Agent, roots: AllowedRoots) -> MCPServer:
    """An MCP server with the video tools over `agent`, reading files under `roots` only."""
    server: MCPServer = _VideoServer(
        "mcr-agent",
        title="mcr-agent: video question answering",
        version=metadata.version("mcr-agent"),
        instructions=(
            "Answers questions about local video files, citing timestamps. Start with "
            "index_video (slow the first time), then ask_video; search_video and "
            "video_window read the memory directly. Videos must lie under: "
            f"{roots}. Times are in seconds from the start of the video."
        ),
        warn_on_duplicate_resources=False,
    )
    tools = VideoTools(agent, roots)
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    server.add_tool(tools.index_video, title="Index a video", annotations=writes)
    server.add_tool(
        tools.ask_video,
        title="Ask about a video",
        # The agent may search the web; it writes the memory when the video is new.
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
    )
    server.add_tool(tools.search_video, title="Search a video's memory", annotations=reads)
    server.add_tool(tools.video_window, title="Read a time window", annotations=reads)
    tools.attach(server)
    return server


async def _guarded(call: Awaitable[CallToolResult]) -> CallToolResult:
    """The call's result, or a tool error with the one-line message of a library error."""
    try:
        return await call
    except MCRAgentError as exc:
        return CallToolResult(content=[_text(str(exc))], is_error=True)


def _result(
    result: BaseModel, text: str, extra: list[ContentBlock] | None = None
) -> CallToolResult:
    return CallToolResult(
        content=[_text(text), *(extra or [])], structured_content=result.model_dump(mode="json")
    )


def _text(text: str) -> TextContent:
    return TextContent(type="text", text=text)


def _spread(items: list[Keyframe], most: int) -> list[Keyframe]:
    """At most `most` items, evenly spread, first and last kept."""
    if len(items) <= most:
        return items
    if most == 1:
        return [items[len(items) // 2]]
    return [items[round(i * (len(items) - 1) / (most - 1))] for i in range(most)]
