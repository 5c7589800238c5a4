"""Run the web app: check where it may listen, build it, serve it with uvicorn."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...config import AgentConfig
from ...errors import DependencyError
from ...sockets import bind

__all__ = ["UIOptions", "serve_ui"]


@dataclass(frozen=True, kw_only=True)
class UIOptions:
    """How `mcr-agent ui` runs.

    Attributes:
        videos: The folder whose videos are listed (and readable), or None.
        host: Address to listen on; beyond loopback a login or token is required.
        port: TCP port (0 picks a free one).
        auth: ``USER:PASS`` for HTTP Basic.
        token: A bearer token (``MCR_UI_TOKEN``).
        concurrency: Questions answered at once; others wait in line.
        max_upload_mb: Largest upload, in megabytes (10^6 bytes).
    """

    videos: Path | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    concurrency: int = 2
    max_upload_mb: int = 2000


def serve_ui(config: AgentConfig, options: UIOptions, *, announce: Callable[[str], None]) -> None:
    """Serve the app until Ctrl-C; `announce` gets the URL and who may use it.

    Raises:
        ConfigError: A non-loopback host without credentials, bad --auth, a port in use.
        DependencyError: The ``ui`` extra is not installed.
    """
    from .access import Access, check_bind

    access = Access.parse(options.auth, options.token)
    check_bind(options.host, access)
    try:
        import sse_starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise DependencyError(f"the web app needs {exc.name}: pip install 'mcr-agent[ui]'") from exc
    from ..api import Agent
    from .app import create_app
    from .jobs import JobBoard
    from .library import VideoLibrary

    library = VideoLibrary(
        options.videos,
        config.cache_dir / "uploads",
        config.cache_dir,
        options.max_upload_mb * 1_000_000,
    )
    board = JobBoard(Agent(config), concurrency=options.concurrency)
    app = create_app(library, board, access, host=options.host)
    sock = _listen(options.host, options.port)
    port = sock.getsockname()[1]
    shown = f"[{options.host}]" if ":" in options.host else options.host
    if options.host in ("0.0.0.0", "::"):  # every address: name one that others can open
        shown = socket.gethostname()
    announce(f"mcr-agent ui: http://{shown}:{port}/  (Ctrl-C stops it)")
    announce(access.describe(options.host))
    if options.videos is not None:
        announce(f"videos: {options.videos.resolve()}; uploads: {library.roots['uploads']}")
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, access_log=False)
    )
    server.run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    sock = bind(host, port)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
