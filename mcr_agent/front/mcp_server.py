"""`mcr-agent mcp`: serve the video tools over stdio or streamable HTTP (127.0.0.1).

The `mcp` package is an optional extra (``pip install 'mcr-agent[mcp]'``), imported here
only when the server starts.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from ..config import AgentConfig
from ..errors import ConfigError, DependencyError

__all__ = ["HOST", "serve_mcp"]

HOST = "127.0.0.1"
"""The HTTP transport listens on loopback only: the server has no authentication."""


def serve_mcp(
    config: AgentConfig,
    *,
    allow: Sequence[str | Path],
    http: bool = False,
    port: int = 8765,
    announce: Callable[[str], None],
) -> None:
    """Serve until the client disconnects (stdio) or Ctrl-C (HTTP).

    Args:
        config: How the agent reaches the model server and where memories live.
        allow: Folders whose videos may be read (symlinks resolved).
        http: Streamable HTTP on `HOST`:`port` instead of stdio.
        port: The HTTP port; 0 picks a free one (the announced URL names it).
        announce: Gets one line once the server is ready (never stdout: stdio is the wire).

    Raises:
        DependencyError: The `mcp` package is not installed.
        ConfigError: The port is taken or an allowed folder is unusable.
    """
    try:
        from .mcp_tools import build_server
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("mcp", "mcp_types"):
            raise
        raise DependencyError(
            "the MCP server needs the mcp package: pip install 'mcr-agent[mcp]'"
        ) from exc
    from .api import Agent
    from .mcp_bridge import AllowedRoots

    roots = AllowedRoots(allow)
    server = build_server(Agent(config), roots)
    if not http:
        announce(f"mcr-agent MCP server on stdio; videos under {roots}")
        server.run("stdio")
        return
    import uvicorn

    sock = _bind(port)
    app = server.streamable_http_app(host=HOST)
    config_ = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    sock.listen(128)  # from here connections queue until uvicorn accepts them
    url = f"http://{HOST}:{sock.getsockname()[1]}/mcp"
    announce(f"mcr-agent MCP server at {url} (streamable HTTP); videos under {roots}; Ctrl-C stops")
    try:
        uvicorn.Server(config_).run(sockets=[sock])
    finally:
        sock.close()


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {HOST}:{port} ({exc.strerror}): pass another --port, or stop "
            "what is using it"
        ) from exc
    return sock
