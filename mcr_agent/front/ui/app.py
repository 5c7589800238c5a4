"""The web app: FastAPI with the security middleware, the static page and the routes.

Every failure is a JSON ``{"error": "..."}`` with one line the page shows as is.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ...errors import CacheError, MCRAgentError
from .access import Access, SecurityHeaders, is_loopback
from .jobs import JobBoard
from .library import OutsideFolders, TooLarge, VideoLibrary
from .routes import Context, OpenMemories, router

__all__ = ["create_app"]

_STATUS = {OutsideFolders: 403, TooLarge: 413, CacheError: 409}


def create_app(library: VideoLibrary, board: JobBoard, access: Access, *, host: str) -> FastAPI:
    """The app for one library and job board; `host` is where it listens."""
    app = FastAPI(title="mcr-agent", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders)
    if is_loopback(host):  # a page elsewhere cannot reach us by rebinding a name to 127.0.0.1
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    static = resources.files(__package__).joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.state.context = Context(
        library=library,
        board=board,
        access=access,
        memories=OpenMemories(),
        page=Path(str(static.joinpath("index.html"))),
    )
    app.add_exception_handler(MCRAgentError, _mcr_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.include_router(router)
    return app


async def _mcr_error(_: Request, exc: MCRAgentError) -> JSONResponse:
    status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 400)
    return JSONResponse({"error": str(exc)}, status_code=status)


async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return JSONResponse({"error": f"bad request: {where}: {first.get('msg', '')}"}, 422)
