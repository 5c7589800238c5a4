"""The listening socket of the project's servers (`serve`, `ui`, `mcp --http`)."""

from __future__ import annotations

import socket

from .errors import ConfigError

__all__ = ["bind"]


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` (IPv6 when `host` has a colon; port 0 picks a free
    one), bound before anything slow starts so a busy port fails at once.

    Raises:
        ConfigError: The address cannot be bound (in use, not this machine's), in one line.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): pass another --port, "
            "or stop what is using it"
        ) from exc
    return sock
