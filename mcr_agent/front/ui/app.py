"""The web app's HTTP routes: a thin layer over `Agent` and `VideoMemory`.

Pages get the video list, upload, index and ask (both as jobs whose events stream as
server-sent events), the memory of a video (scenes with thumbnails, every timed entry),
search over it, the video file itself (with range requests, so the player seeks), and the
HTML and JSON traces of answered questions. Every failure is a JSON ``{"error": "..."}``
with one line the page shows as is.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from memory import Entry, Level, VideoMemory

from ...errors import CacheError, MCRAgentError, VideoError
from .access import TOKEN_COOKIE, Access, SecurityHeaders, is_loopback
from .jobs import JobBoard, Question
from .library import OutsideFolders, TooLarge, VideoLibrary

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_STATUS = {OutsideFolders: 403, TooLarge: 413, CacheError: 409}
_MEMORIES_KEPT = 8
_SERVER_HINT = (
    "start one with `mcr-agent serve MODEL` on a GPU machine (see the README) and point "
    "MCR_BASE_URL or --base-url at it; indexing works without one, answers need it"
)


class IndexRequest(BaseModel):
    video: str = Field(max_length=4096)


class AskRequest(BaseModel):
    video: str = Field(max_length=4096)
    question: str = Field(max_length=4000)
    options: list[str] = Field(default_factory=list, max_length=8)
    mode: Literal["agent", "direct"] = "agent"


class _Memories:
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


def create_app(library: VideoLibrary, board: JobBoard, access: Access, *, host: str) -> FastAPI:
    """The app for one library and job board; `host` is where it listens."""
    app = FastAPI(title="mcr-agent", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders)
    if is_loopback(host):  # a page elsewhere cannot reach us by rebinding a name to 127.0.0.1
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    static = resources.files(__package__).joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    traces = Path(tempfile.mkdtemp(prefix="mcr-ui-traces-"))
    memories = _Memories()
    agent = board.agent
    guard = [Depends(access)]

    @app.exception_handler(MCRAgentError)
    async def _mcr_error(_: Request, exc: MCRAgentError) -> JSONResponse:
        status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 400)
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"bad request: {where}: {first.get('msg', '')}"}, 422)

    @app.get("/", dependencies=guard)
    def page(token: str | None = None) -> Response:
        if token is not None:  # the token came in the address: keep it in a cookie instead
            back = RedirectResponse("/", status_code=303)
            back.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return back
        return FileResponse(str(static.joinpath("index.html")), media_type="text/html")

    @app.get("/api/status", dependencies=guard)
    def status() -> dict[str, Any]:
        problem = agent.server_status()
        return {
            "base_url": agent.config.base_url,
            "model": None if problem else agent.llm.model_name,
            "server_error": problem,
            "hint": _SERVER_HINT if problem else None,
            "max_upload": library.max_upload,
            "concurrency": board.concurrency,
        }

    @app.get("/api/videos", dependencies=guard)
    def videos() -> list[dict[str, Any]]:
        return [vars(item) for item in library.list()]

    @app.put("/api/upload", dependencies=guard)
    async def upload(
        request: Request, name: Annotated[str, Query(max_length=255)]
    ) -> dict[str, Any]:
        length = request.headers.get("content-length")
        announced = int(length) if length and length.isdigit() else None
        item = await library.store_upload(name, announced, request.stream())
        return vars(item)

    @app.get("/media/{video_id:path}", dependencies=guard)
    def media(video_id: str) -> FileResponse:
        return FileResponse(library.resolve(video_id))

    @app.post("/api/index", dependencies=guard)
    def index(body: IndexRequest) -> dict[str, str]:
        path = library.resolve(body.video)
        return {"job": board.index(body.video, path, library.subtitles_for(path)).id}

    @app.post("/api/ask", dependencies=guard)
    def ask(body: AskRequest) -> dict[str, str]:
        path = library.resolve(body.video)
        options = tuple(o.strip() for o in body.options if o.strip())
        question = Question(body.question, options, body.mode)
        return {"job": board.ask(body.video, path, library.subtitles_for(path), question).id}

    @app.get("/api/jobs/{job_id}/events", dependencies=guard)
    async def events(job_id: str, request: Request) -> EventSourceResponse:
        job = board.get(job_id)
        if job is None:
            raise VideoError(f"no job {job_id!r}: it ended long ago or the app restarted")
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def stream() -> AsyncIterator[dict[str, str]]:
            async for event in job.follow(start):
                yield {"id": str(event["id"]), "event": event["type"], "data": json.dumps(event)}

        return EventSourceResponse(stream(), ping=15)

    @app.get("/api/jobs/{job_id}/trace.{fmt}", dependencies=guard)
    def trace(job_id: str, fmt: Literal["html", "json"]) -> FileResponse:
        job = board.get(job_id)
        if job is None or job.answer is None:
            raise VideoError(f"no answered question {job_id!r}: ask it again")
        written = agent.save_trace(job.answer, traces / f"{job_id}.{fmt}")
        return FileResponse(written, filename=f"mcr-trace-{job_id}.{fmt}")

    @app.get("/api/memory", dependencies=guard)
    def memory(video: Annotated[str, Query(max_length=4096)]) -> Any:
        opened = agent.open_memory(library.resolve(video))
        if opened is None:
            return JSONResponse({"error": "not indexed yet: press Index to build its memory"}, 404)
        memories.keep(opened)
        return _memory_view(opened)

    @app.get("/api/memories/{name}/scenes/{index}.jpg", dependencies=guard)
    def thumbnail(name: str, index: int) -> FileResponse:
        scenes = memories.get(name).scenes
        scene = next((s for s in scenes if s.index == index and s.keyframes), None)
        if scene is None:
            raise VideoError(f"scene {index} has no keyframe")
        middle = scene.keyframes[len(scene.keyframes) // 2]
        return FileResponse(memories.get(name).folder / middle.path, media_type="image/jpeg")

    @app.get("/api/memories/{name}/search", dependencies=guard)
    def search(
        name: str,
        q: Annotated[str, Query(min_length=1, max_length=1000)],
        level: Annotated[list[Level] | None, Query()] = None,
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        mode: Literal["hybrid", "semantic", "lexical"] = "hybrid",
    ) -> list[dict[str, Any]]:
        hits = memories.get(name).search(q, k=k, levels=level or None, mode=mode)
        return [h.to_dict() for h in hits]

    return app


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
