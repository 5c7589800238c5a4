"""The routes: a thin layer over `Agent` and `VideoMemory`.

Pages get the video list, upload, index and ask (both as jobs whose events stream as
server-sent events), the memory of a video (scenes with thumbnails, every timed entry),
search over it, the video file itself (with range requests, so the player seeks), and the
HTML and JSON traces of answered questions.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from memory import Entry, Level, VideoMemory

from ...errors import VideoError
from .access import TOKEN_COOKIE, Access
from .jobs import JobBoard, Question
from .library import VideoLibrary

__all__ = ["Context", "OpenMemories", "router"]

_MEMORIES_KEPT = 8
_SERVER_HINT = (
    "start one with `mcr-agent serve MODEL` on a GPU machine (see the README) and point "
    "MCR_BASE_URL or --base-url at it; indexing works without one, answers need it"
)


class OpenMemories:
    """The memories pages have opened, by folder name (thumbnails and search read them)."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, VideoMemory] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, memory: VideoMemory) -> None:
        with self._lock:
            self._open[memory.folder.name] = memory
            self._open.move_to_end(memory.folder.name)
            while len(self._open) > _MEMORIES_KEPT:
                self._open.popitem(last=False)

    def get(self, name: str) -> VideoMemory:
        with self._lock:
            memory = self._open.get(name)
        if memory is None:
            raise VideoError("this memory is no longer open: pick the video again")
        return memory


@dataclass(frozen=True)
class Context:
    """What the routes work with (one per app, in ``app.state.context``)."""

    library: VideoLibrary
    board: JobBoard
    access: Access
    memories: OpenMemories
    page: Path


def _context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


async def _guard(request: Request) -> None:
    await _context(request).access(request)


Ctx = Annotated[Context, Depends(_context)]
router = APIRouter(dependencies=[Depends(_guard)])


class IndexRequest(BaseModel):
    video: str = Field(max_length=4096)


class AskRequest(BaseModel):
    video: str = Field(max_length=4096)
    question: str = Field(max_length=4000)
    options: list[str] = Field(default_factory=list, max_length=8)
    mode: Literal["agent", "direct"] = "agent"


@router.get("/")
def page(ctx: Ctx, token: str | None = None) -> Response:
    if token is not None:  # the token came in the address: keep it in a cookie instead
        back = RedirectResponse("/", status_code=303)
        back.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return back
    return FileResponse(ctx.page, media_type="text/html")


@router.get("/api/status")
def status(ctx: Ctx) -> dict[str, Any]:
    agent = ctx.board.agent
    problem = agent.server_status()
    return {
        "base_url": agent.config.base_url,
        "model": None if problem else agent.llm.model_name,
        "server_error": problem,
        "hint": _SERVER_HINT if problem else None,
        "max_upload": ctx.library.max_upload,
        "concurrency": ctx.board.concurrency,
    }


@router.get("/api/videos")
def videos(ctx: Ctx) -> list[dict[str, Any]]:
    return [vars(item) for item in ctx.library.list()]


@router.put("/api/upload")
async def upload(
    ctx: Ctx, request: Request, name: Annotated[str, Query(max_length=255)]
) -> dict[str, Any]:
    length = request.headers.get("content-length")
    announced = int(length) if length and length.isdigit() else None
    return vars(await ctx.library.store_upload(name, announced, request.stream()))


@router.get("/media/{video_id:path}")
def media(ctx: Ctx, video_id: str) -> FileResponse:
    return FileResponse(ctx.library.resolve(video_id))


@router.post("/api/index")
def index(ctx: Ctx, body: IndexRequest) -> dict[str, str]:
    path = ctx.library.resolve(body.video)
    return {"job": ctx.board.index(body.video, path, ctx.library.subtitles_for(path)).id}


@router.post("/api/ask")
def ask(ctx: Ctx, body: AskRequest) -> dict[str, str]:
    path = ctx.library.resolve(body.video)
    options = tuple(o.strip() for o in body.options if o.strip())
    question = Question(body.question, options, body.mode)
    return {"job": ctx.board.ask(body.video, path, ctx.library.subtitles_for(path), question).id}


@router.get("/api/jobs/{job_id}/events")
async def events(ctx: Ctx, job_id: str, request: Request) -> EventSourceResponse:
    job = ctx.board.get(job_id)
    if job is None:
        raise VideoError(f"no job {job_id!r}: it ended long ago or the app restarted")
    last = request.headers.get("last-event-id", "")
    start = int(last) + 1 if last.isdigit() else 0  # a reconnecting page resumes after it

    async def stream() -> AsyncIterator[dict[str, str]]:
        async for event in job.follow(start):
            yield {"id": str(event["id"]), "event": event["type"], "data": json.dumps(event)}

    return EventSourceResponse(stream(), ping=15)


@router.get("/api/jobs/{job_id}/trace.{fmt}")
def trace(ctx: Ctx, job_id: str, fmt: Literal["html", "json"]) -> FileResponse:
    job = ctx.board.get(job_id)
    if job is None or job.answer is None:
        raise VideoError(f"no answered question {job_id!r}: ask it again")
    folder = Path(tempfile.mkdtemp(prefix="mcr-ui-trace-"))
    written = ctx.board.agent.save_trace(job.answer, folder / f"{job_id}.{fmt}")
    gone = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)  # once it is sent
    return FileResponse(written, filename=f"mcr-trace-{job_id}.{fmt}", background=gone)


@router.get("/api/memory")
def memory(ctx: Ctx, video: Annotated[str, Query(max_length=4096)]) -> Any:
    opened = ctx.board.agent.open_memory(ctx.library.resolve(video))
    if opened is None:
        return JSONResponse({"error": "not indexed yet: press Index to build its memory"}, 404)
    ctx.memories.keep(opened)
    return _memory_view(opened)


@router.get("/api/memories/{name}/scenes/{index}.jpg")
def thumbnail(ctx: Ctx, name: str, index: int) -> FileResponse:
    opened = ctx.memories.get(name)
    scene = next((s for s in opened.scenes if s.index == index and s.keyframes), None)
    if scene is None:
        raise VideoError(f"scene {index} has no keyframe")
    middle = scene.keyframes[len(scene.keyframes) // 2]
    return FileResponse(opened.folder / middle.path, media_type="image/jpeg")


@router.get("/api/memories/{name}/search")
def search(
    ctx: Ctx,
    name: str,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    level: Annotated[list[Level] | None, Query()] = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["hybrid", "semantic", "lexical"] = "hybrid",
) -> list[dict[str, Any]]:
    hits = ctx.memories.get(name).search(q, k=k, levels=level or None, mode=mode)
    return [h.to_dict() for h in hits]


def _memory_view(memory: VideoMemory) -> dict[str, Any]:
    """What the page draws: the timeline's scenes and every timed entry by level."""
    name = memory.folder.name
    captions = {e.start: e for e in memory.level(Level.SCENE)}
    scenes = [
        {
            "index": s.index,
            "start": s.start,
            "end": s.end,
            "thumbnail": f"/api/memories/{name}/scenes/{s.index}.jpg" if s.keyframes else None,
            "caption": captions[s.start].text if s.start in captions else "",
        }
        for s in memory.scenes
    ]
    levels = {lv.value: [_entry(e) for e in memory.level(lv)] for lv in Level}
    return {
        "memory": name,
        "duration": memory.duration,
        "scenes": scenes,
        "levels": levels,
        "missing_captions": memory.missing_captions,
        "counts": memory.manifest.get("counts", {}),
    }


def _entry(entry: Entry) -> dict[str, Any]:
    return {"start": entry.start, "end": entry.end, "source": entry.source, "text": entry.text}
