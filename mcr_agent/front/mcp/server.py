"""`mcr-agent mcp`: serve the video tools over stdio or streamable HTTP (127.0.0.1).

The command lives here, beside what it starts, and `cli.py` registers it. The `mcp` package
is an optional extra (``pip install 'mcr-agent[mcp]'``), imported only when the server
starts, so `mcr-agent --help` stays instant and works without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ...config import AgentConfig
from ...errors import DependencyError
from ...sockets import bind
from ..console import make_console

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = ["HOST", "mcp_command", "serve_mcp"]

HOST = "127.0.0.1"
"""The HTTP transport listens on loopback only: the server has no authentication."""


@click.command("mcp")
@click.option("--http", is_flag=True, help="Serve streamable HTTP on 127.0.0.1, not stdio.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTP port (0: a free one, named in the line printed at start).",
)
@click.option(
    "--allow",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder whose videos clients may read (repeat; default: the current folder).",
)
@click.option("--ocr/--no-ocr", default=False, show_default=True, help="Read on-screen text.")
@click.option("--base-url", help="OpenAI-compatible URL (default: $MCR_BASE_URL or :8000/v1).")
@click.option("--model", help="Model id (default: $MCR_MODEL or the server's first).")
def mcp_command(
    http: bool,
    port: int,
    allow: tuple[Path, ...],
    ocr: bool,
    base_url: str | None,
    model: str | None,
) -> None:
    """Serve video question answering to MCP clients (stdio; --http for streamable HTTP)."""
    err = make_console(stderr=True)  # stdout is the protocol's wire on stdio
    config = AgentConfig.from_env(base_url=base_url, model=model)
    config = config.replace(index=dataclasses.replace(config.index, ocr=ocr))
    try:
        serve_mcp(
            config,
            allow=allow or [Path.cwd()],
            http=http,
            port=port,
            announce=lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True),
        )
    except KeyboardInterrupt:
        err.print("stopped")


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
        ConfigError: The port is taken.
    """
    try:
        from .tools import build_server
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("mcp", "mcp_types"):
            raise
        raise DependencyError(
            "the MCP server needs the mcp package: pip install 'mcr-agent[mcp]'"
        ) from exc
    from ..api import Agent
    from .bridge import AllowedRoots

    roots = AllowedRoots(allow)
    server = build_server(Agent(config), roots)
    if not http:
        announce(f"mcr-agent MCP server on stdio; videos under {roots}")
        server.run("stdio")
        return
    rest = f"(streamable HTTP); videos under {roots}; Ctrl-C stops"
    _serve_http(server, port, lambda url: announce(f"mcr-agent MCP server at {url} {rest}"))


def _serve_http(server: MCPServer, port: int, ready: Callable[[str], None]) -> None:
    """Serve the SDK's streamable HTTP app with uvicorn; `ready` gets the URL once the
    port listens (connections queue from then on, so a client may connect at once)."""
    import uvicorn

    sock = bind(HOST, port)
    app = server.streamable_http_app(host=HOST)  # with the SDK's DNS-rebinding guard
    settings = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    sock.listen(128)
    ready(f"http://{HOST}:{sock.getsockname()[1]}/mcp")
    try:
        uvicorn.Server(settings).run(sockets=[sock])
    finally:
        sock.close()
