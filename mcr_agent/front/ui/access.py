"""Who may use the web app: loopback by default; elsewhere a login or a token is required.

A login is HTTP Basic (the browser asks for it). A token (``MCR_UI_TOKEN``) is sent as
``Authorization: Bearer TOKEN``, or once in the address (``/?token=TOKEN``), after which a
cookie carries it. Responses carry a Content-Security-Policy that allows only the app's own
scripts, so text from a video or the model that slipped into the page as markup would not run.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from fastapi.security import HTTPBasic
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...errors import ConfigError

__all__ = ["TOKEN_COOKIE", "Access", "SecurityHeaders", "check_bind", "is_loopback"]

TOKEN_COOKIE = "mcr_ui_token"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_basic = HTTPBasic(auto_error=False)


@dataclass(frozen=True)
class Access:
    """The credentials the app requires (none: open to whoever reaches the port).

    Attributes:
        user: HTTP Basic user, with `password`.
        password: HTTP Basic password.
        token: A bearer token (from ``MCR_UI_TOKEN``).
    """

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, auth: str | None, token: str | None) -> Access:
        """From ``--auth USER:PASS`` and a token.

        Raises:
            ConfigError: `auth` is not USER:PASS with both parts.
        """
        if auth is None:
            return cls(token=token or None)
        user, colon, password = auth.partition(":")
        if not colon or not user or not password:
            raise ConfigError("--auth must be USER:PASS (e.g. --auth alice:s3cret)")
        return cls(user, password, token or None)

    @property
    def required(self) -> bool:
        return self.user is not None or self.token is not None

    def describe(self, host: str) -> str:
        """One line on who can get in."""
        ways = []
        if self.user is not None:
            ways.append(f"HTTP Basic login as {self.user!r}")
        if self.token is not None:
            ways.append("the token from MCR_UI_TOKEN (open the URL with ?token=TOKEN once)")
        if not ways:
            return "access: this machine only" if is_loopback(host) else "access: anyone"
        return "access: " + " or ".join(ways)

    async def __call__(self, request: Request) -> None:
        """A FastAPI dependency: passes, or raises 401 asking for a login."""
        if not self.required or await self._allowed(request):
            return
        raise HTTPException(
            401,
            "log in: this app requires the user and password it was started with",
            headers={"WWW-Authenticate": 'Basic realm="mcr-agent"'} if self.user else None,
        )

    async def _allowed(self, request: Request) -> bool:
        if self.token is not None:
            header = request.headers.get("authorization", "")
            given = [
                header[7:] if header.lower().startswith("bearer ") else "",
                request.cookies.get(TOKEN_COOKIE, ""),
                request.query_params.get("token", ""),
            ]
            if any(g and secrets.compare_digest(g.encode(), self.token.encode()) for g in given):
                return True
        if self.user is not None and self.password is not None:
            login = await _basic(request)
            if login is not None:
                same_user = secrets.compare_digest(login.username.encode(), self.user.encode())
                same_pass = secrets.compare_digest(login.password.encode(), self.password.encode())
                return same_user and same_pass
        return False


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, access: Access) -> None:
    """Refuse to listen beyond this machine without credentials.

    Raises:
        ConfigError: `host` is not a loopback address and no login or token is set.
    """
    if not is_loopback(host) and not access.required:
        raise ConfigError(
            f"--host {host} lets other machines read your videos and use your model server: "
            "add --auth USER:PASS (or set MCR_UI_AUTH=USER:PASS or MCR_UI_TOKEN), "
            "or keep the default --host 127.0.0.1"
        )


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
