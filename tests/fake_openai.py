"""A real HTTP server on 127.0.0.1 that speaks enough OpenAI chat-completions for tests.

Only the standard library is used. The real ``openai`` client talks to it over HTTP/1.1
keep-alive::

    with FakeOpenAIServer(responder=lambda req: "hi") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")

A test that needs a reply to come late holds it (``Reply(hold=event)``, or a responder that
waits on an event) until the test releases it, rather than making it slow: a slow machine then
cannot change which happens first.

Endpoints: ``GET /v1/models``, ``GET /health`` and ``POST /v1/chat/completions`` (also with
``"stream": true``, answered as server-sent events ending in ``data: [DONE]``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = [
    "HANG_GUARD_S",
    "FakeOpenAIServer",
    "Reply",
    "Request",
    "Script",
    "dead_url",
    "free_port",
    "scripted",
    "wait_for",
]

HANG_GUARD_S = 600.0
"""How long a test waits for an event before calling it a hang. Tests wait on events, and
this bound is only reached when something hangs: it is never what makes a test pass."""


def wait_for(condition: Callable[[], bool], *, poll: float = 0.05) -> bool:
    """Wait until `condition()` holds, for a state only visible by asking (another process's
    /health, a replica's cool-down); False only after `HANG_GUARD_S`, i.e. when it hangs."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


_TIMESTAMP = re.compile(r"\[\s*(\d+(?:\.\d+)?)\s*s\s*\]|\bt\s*=\s*(\d+(?:\.\d+)?)\s*s\b")
_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


@dataclass
class Request:
    """One chat-completion request as the server received it.

    Attributes:
        body: The parsed JSON body.
        headers: Request headers (lower-case names).
        received_at: ``time.monotonic()`` when the body had been read.
    """

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    received_at: float = 0.0

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``messages`` list."""
        return list(self.body.get("messages") or [])

    @property
    def model(self) -> str | None:
        """The requested model name."""
        return self.body.get("model")

    def _parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for msg in self.messages:
            content = msg.get("content")
            if isinstance(content, str):
                parts.append({"type": "text", "text": content})
            elif isinstance(content, list):
                parts.extend(p for p in content if isinstance(p, dict))
        return parts

    @property
    def texts(self) -> str:
        """All text parts of all messages (any role), in order, joined by newlines."""
        return "\n".join(p.get("text", "") for p in self._parts() if p.get("type") == "text")

    def _images(self) -> list[tuple[bytes, float | None]]:
        found: list[tuple[bytes, float | None]] = []
        previous: dict[str, Any] | None = None
        for part in self._parts():
            if part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                if url.startswith("data:") and "," in url:
                    try:
                        data = base64.b64decode(url.split(",", 1)[1], validate=False)
                    except (binascii.Error, ValueError):
                        data = b""
                    stamp = None
                    if previous is not None and previous.get("type") == "text":
                        hits = _TIMESTAMP.findall(previous.get("text", ""))
                        stamp = float(next(g for g in hits[-1] if g)) if hits else None
                    found.append((data, stamp))
            previous = part
        return found

    @property
    def images(self) -> list[bytes]:
        """Decoded bytes of every ``data:`` image URL, in order (other URLs are skipped)."""
        return [data for data, _ in self._images()]

    @property
    def image_timestamps(self) -> list[float | None]:
        """One entry per item of ``images``: the time written just before that image.

        The text part immediately preceding the image part (in the same flattened list of parts)
        is searched for ``[12.3s]`` or ``t=12.3s``; the last match wins, ``None`` if no match.
        """
        return [stamp for _, stamp in self._images()]


@dataclass
class Reply:
    """What to answer to one chat-completion request.

    Attributes:
        content: Assistant text (for errors: the error message).
        tool_calls: OpenAI-shaped tool calls, or ``{"name": ..., "arguments": dict | str}``.
        status: HTTP status; >= 400 sends an OpenAI-style ``{"error": {...}}`` body.
        body: Raw response body sent verbatim (e.g. garbage), overriding everything else.
        hold: If set, the reply is sent only once this event is set: a reply that does not
            come until the test releases it (waiting at most ``HANG_GUARD_S``).
        finish_reason: Defaults to ``"tool_calls"`` with tool calls, else ``"stop"``.
        retry_after: If set, sent as a ``retry-after-ms`` header (the openai client honours it).
        headers: Extra response headers.
        message: Extra fields of the assistant message, e.g. ``{"reasoning_content": ...}``
            as vLLM's reasoning parsers send (with ``content=None``).
    """

    content: str | None = ""
    tool_calls: list[dict[str, Any]] | None = None
    status: int = 200
    body: bytes | str | None = None
    hold: threading.Event | None = None
    finish_reason: str | None = None
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: dict[str, Any] = field(default_factory=dict)


Responder = Callable[[Request], "str | Reply"]


class Script:
    """A responder that returns scripted replies in order (thread-safe).

    Items may be ``str``, ``Reply`` or a callable ``Request -> str | Reply``. When the script is
    exhausted the server answers 500.
    """

    def __init__(self, replies: list[str | Reply | Responder]) -> None:
        """Store a copy of ``replies``."""
        self._replies = list(replies)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> str | Reply:
        """Pop and return the next reply."""
        with self._lock:
            if not self._replies:
                raise RuntimeError("scripted responder: no replies left")
            item = self._replies.pop(0)
        return item(request) if callable(item) else item

    @property
    def remaining(self) -> int:
        """How many replies have not been used."""
        with self._lock:
            return len(self._replies)

    def assert_consumed(self) -> None:
        """Raise ``AssertionError`` if some replies were not used."""
        left = self.remaining
        assert left == 0, f"{left} scripted replies were not consumed"


def scripted(replies: list[str | Reply | Responder]) -> Script:
    """Return a responder that answers with ``replies`` in order; see ``Script``."""
    return Script(replies)


def free_port() -> int:
    """A port on 127.0.0.1 where (almost certainly) nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_url() -> str:
    """Return a base URL on 127.0.0.1 where (almost certainly) nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error", "server_error"))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, call in enumerate(calls):
        if "function" not in call:
            args = call.get("arguments", {})
            fn = {
                "name": call["name"],
                "arguments": args if isinstance(args, str) else json.dumps(args),
            }
            call = {"id": call.get("id", f"call_{i}"), "type": "function", "function": fn}
        out.append(call)
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # No idle timeout: a keep-alive connection stays open until the client closes it or
    # `stop()` shuts it down, so a busy machine cannot make it close under a client.
    timeout = None

    def setup(self) -> None:
        """Disable Nagle's algorithm (avoids ~40 ms stalls on keep-alive connections)."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.fake._lock:
            self.server.fake._conns.add(self.connection)

    def finish(self) -> None:
        """Forget the connection."""
        with self.server.fake._lock:
            self.server.fake._conns.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._json(200, {"status": "ok"})
        elif path == "/v1/models":
            card = {
                "id": self.server.fake.model,
                "object": "model",
                "created": 0,
                "owned_by": "test",
            }
            self._json(200, {"object": "list", "data": [card]})
        else:
            self._json(404, _error_body(404, f"no route GET {path}"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._json(404, _error_body(404, f"no route POST {path}"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            self._json(400, _error_body(400, f"invalid JSON body: {exc}"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.fake._complete(self, Request(body, headers, time.monotonic()))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before its reply (a held reply a test let time out) is normal."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """An OpenAI-compatible chat-completions server in a background thread.

    Attributes:
        requests: Every chat-completion ``Request`` received, in arrival order.
        errors: Exceptions raised by the responder (each answered with a 500).
        max_concurrency: Most chat-completion requests ever in flight at once.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        model: str = "fake-vlm",
        port: int = 0,
    ) -> None:
        """Configure the server; it starts on ``start()`` or ``__enter__``.

        Args:
            responder: Maps each ``Request`` to a ``str`` or ``Reply``; default answers "OK".
            latency: Seconds every completion request sleeps before answering (for the
                benchmarks' model latency; tests hold replies with ``Reply.hold`` instead).
            model: The model id listed by ``/v1/models``.
            port: Port on 127.0.0.1; 0 picks a free one.
        """
        self.responder: Responder = responder or (lambda _req: "OK")
        self.latency = latency
        self.model = model
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self.max_concurrency = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._port = port
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after ``start()``)."""
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``openai.OpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def in_flight(self) -> int:
        """Chat-completion requests being handled right now."""
        with self._lock:
            return self._in_flight

    def start(self) -> FakeOpenAIServer:
        """Bind and serve in a daemon thread."""
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and drop open keep-alive connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def _complete(self, handler: _Handler, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_concurrency = max(self.max_concurrency, self._in_flight)
        try:
            try:
                result = self.responder(request)
                reply = Reply(content=result) if isinstance(result, str) else result
            except Exception as exc:
                with self._lock:
                    self.errors.append(exc)
                reply = Reply(content=f"responder failed: {exc!r}", status=500)
            if reply.hold is not None:
                reply.hold.wait(HANG_GUARD_S)
            elif self.latency:
                time.sleep(self.latency)
        finally:
            with self._lock:
                self._in_flight -= 1
        self._respond(handler, request, reply)

    def _respond(self, handler: _Handler, request: Request, reply: Reply) -> None:
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers["retry-after-ms"] = str(int(reply.retry_after * 1000))
        if reply.body is not None:
            raw = reply.body.encode() if isinstance(reply.body, str) else reply.body
            handler._send(reply.status, raw, "application/json", headers)
            return
        if reply.status >= 400:
            text = reply.content or f"fake error {reply.status}"
            handler._json(reply.status, _error_body(reply.status, text), headers)
            return
        calls = _tool_calls(reply.tool_calls) if reply.tool_calls else None
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, **reply.message}
        if calls:
            message["tool_calls"] = calls
        with self._lock:
            number = len(self.requests)
        prompt = len(request.texts.split()) + 85 * len(request.images)
        completion = len((reply.content or "").split())
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}  # fmt: skip
        head = {"id": f"chatcmpl-fake{number}", "created": int(time.time()),
                "model": request.model or self.model}  # fmt: skip
        if not request.body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            handler._json(200, {**head, "object": "chat.completion", "choices": [choice],
                                "usage": usage}, headers)  # fmt: skip
            return
        chunk = {**head, "object": "chat.completion.chunk"}
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": reply.content or ""}]
        if calls:
            deltas.append({"tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]})
        events = [{**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
                  for d in deltas]  # fmt: skip
        events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (request.body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        handler._send(200, sse.encode(), "text/event-stream", headers)
