"""The OpenAI-compatible HTTP layer (FastAPI): chat completions, models, health.

Replies follow the OpenAI chat-completions shape, with `usage` in every reply (and in the
last chunk of a stream). Hermes ``<tool_call>`` blocks in the model's text come back as
`tool_calls`; think blocks as `reasoning_content`. Errors are OpenAI error objects whose
message says what to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..model.replies import parse_reply
from .engine import Engine, Job, Sampling
from .inputs import RequestError

__all__ = ["ChatRequest", "create_app", "split_reply"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 4096
_MARKERS = ("<tool_call>", "<think>", "</think>")


class ChatRequest(BaseModel):
    """The chat-completions fields this server reads (others are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[Any]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    logprobs: bool | None = None
    mm_processor_kwargs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    """A finished reply split into its OpenAI fields."""

    content: str | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]]


def split_reply(text: str, *, tools: bool, opens_think: bool = False) -> Reply:
    """Think blocks, prose and Hermes tool calls of a model's text.

    Calls are returned only when every ``<tool_call>`` block is well-formed JSON with a
    name; otherwise the text stays as content (the client can show or repair it). A call
    inside a think block is thinking, not a call. `opens_think` says the prompt ended
    inside a think block (thinking models' templates open it).
    """
    reasoning, content = _parts(text, opens_think=opens_think, tools=False)
    if tools and "<tool_call>" in content:
        parsed = parse_reply(("<think>" if opens_think else "") + text)
        if parsed.calls and not parsed.errors:
            calls = [
                {
                    "id": f"call_{secrets.token_hex(12)}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in parsed.calls
            ]
            return Reply(parsed.text or None, reasoning.strip() or None, calls)
    return Reply(content.strip(), reasoning.strip() or None, [])


def _parts(text: str, *, opens_think: bool, tools: bool) -> tuple[str, str]:
    """(reasoning, content) of a reply so far; with `tools`, content stops where the first
    tool call starts (calls are sent whole at the end)."""
    if opens_think:
        text = "<think>" + text
    before, opened, rest = text.partition("<think>")
    if opened:
        inside, closed, after = rest.partition("</think>")
        reasoning, content = inside, before + after if closed else before
    else:
        reasoning, content = "", text
    if tools:
        content = content.partition("<tool_call>")[0]
    return reasoning.lstrip(), content.lstrip()


def create_app(engine: Engine, *, api_key: str | None = None) -> FastAPI:
    """The FastAPI application serving `engine`."""
    app = FastAPI(title="mcr-agent model server", docs_url=None, redoc_url=None)
    created = int(time.time())

    @app.exception_handler(RequestError)
    async def _refused(request: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.status, str(exc), exc.param)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"{where or 'request'}: {first.get('msg', 'invalid request')}", where)

    @app.exception_handler(Exception)
    async def _broken(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request failed")
        return _error(500, f"the server failed on this request: {type(exc).__name__}: {exc}")

    async def _auth(request: Request) -> None:
        # A dependency, not a middleware: Starlette's HTTP middleware hides a client leaving.
        if api_key:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not secrets.compare_digest(given.encode(), api_key.encode()):
                raise RequestError(
                    "missing or wrong API key: send the server's --api-key", status=401
                )

    @app.get("/health", response_model=None)
    async def health() -> Any:
        if not engine.alive():
            return _error(503, "the model worker is not running: restart the server")
        return {"status": "ok", "model": engine.name, **engine.stats()}

    @app.get("/v1/models", dependencies=[Depends(_auth)])
    async def models() -> dict[str, Any]:
        card = {
            "id": engine.name,
            "object": "model",
            "created": created,
            "owned_by": "mcr-agent",
            "max_model_len": engine.limits.max_model_len,
        }
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions", response_model=None, dependencies=[Depends(_auth)])
    async def chat(body: ChatRequest, request: Request) -> Any:
        if body.model and body.model != engine.name:
            raise RequestError(
                f"model {body.model!r} is not served here; this server serves {engine.name!r}",
                status=404,
                param="model",
            )
        if body.n != 1:
            raise RequestError("n must be 1 on this server", param="n")
        if body.logprobs:
            raise RequestError("logprobs are not available on this server", param="logprobs")
        if body.tool_choice not in (None, "auto", "none"):
            raise RequestError(
                "tool_choice can be 'auto' or 'none' on this server (it cannot force a call)",
                param="tool_choice",
            )
        use_tools = bool(body.tools) and body.tool_choice != "none"
        fps = (body.mm_processor_kwargs or {}).get("fps")
        if fps is not None and (not isinstance(fps, int | float) or not 0 < fps <= 30):
            raise RequestError("mm_processor_kwargs.fps must be a number in (0, 30]", param="fps")
        prepared = await run_in_threadpool(
            engine.builder.build, body.messages, body.tools if use_tools else None, fps=fps
        )
        sampling = _sampling(body, engine, len(prepared.ids))
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def emit(kind: str, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown
                loop.call_soon_threadsafe(events.put_nowait, (kind, value))

        job = Job(prepared, sampling, emit, streaming=body.stream)
        engine.submit(job)
        meta = _Meta(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), engine.name)
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            stream = _stream(job, events, engine, meta, use_tools, include_usage)
            return StreamingResponse(stream, media_type="text/event-stream")
        try:
            event = await _outcome(events, request)
        finally:
            job.cancelled.set()  # stops the row if the client left
        if event is None:
            return Response(status_code=499)
        if event[0] == "error":
            raise event[1]
        reply = split_reply(_text(engine, job), tools=use_tools, opens_think=prepared.opens_think)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        return {
            "id": meta.id,
            "object": "chat.completion",
            "created": meta.created,
            "model": meta.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": _finish(job, reply),
                    "logprobs": None,
                }
            ],
            "usage": _usage(job),
        }

    return app


async def _outcome(
    events: asyncio.Queue[tuple[str, Any]], request: Request
) -> tuple[str, Any] | None:
    """The job's "done" or "error" event; None when the client leaves first (checked twice
    a second, tokens or not)."""
    loop = asyncio.get_running_loop()
    check_at = loop.time() + 0.5
    while True:
        try:
            event = await asyncio.wait_for(events.get(), timeout=max(0.0, check_at - loop.time()))
        except TimeoutError:
            event = ("token", None)
        if event[0] != "token":
            return event
        if loop.time() >= check_at:
            if await request.is_disconnected():
                return None
            check_at = loop.time() + 0.5


@dataclass(frozen=True)
class _Meta:
    id: str
    created: int
    model: str

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }


async def _stream(
    job: Job,
    events: asyncio.Queue[tuple[str, Any]],
    engine: Engine,
    meta: _Meta,
    tools: bool,
    include_usage: bool,
) -> AsyncIterator[str]:
    """Server-sent events: text as it is made, held back only where it may turn into a
    tool call, a think marker or a stop string; tool calls at the end."""
    sent = {"content": "", "reasoning_content": ""}
    holds = list(_MARKERS) + list(job.sampling.stop)
    opens = job.prepared.opens_think
    try:
        yield _sse(meta.chunk({"role": "assistant", "content": ""}))
        detokenizer = _Detokenizer(engine)
        while True:
            kind, value = await events.get()
            while kind == "token" and not events.empty():  # decode once per burst of tokens
                kind, value = events.get_nowait()
            if kind == "error":
                yield _sse({"error": {"message": str(value), "type": "server_error"}})
                return
            text = _cut_at_stop(detokenizer.text(job.tokens), job.sampling.stop)
            if kind == "token":  # hold back a half-decoded character or a marker's start
                text = text.rstrip("\ufffd")
                text = text[: len(text) - _held(text, holds)]
            reasoning, content = _parts(text, opens_think=opens, tools=tools)
            for field, now in (("reasoning_content", reasoning), ("content", content)):
                if len(now) > len(sent[field]) and now.startswith(sent[field]):
                    yield _sse(meta.chunk({field: now[len(sent[field]) :]}))
                    sent[field] = now
            if kind == "done":
                break
        reply = split_reply(text, tools=tools, opens_think=opens)
        if reply.tool_calls:
            calls = [{"index": i, **call} for i, call in enumerate(reply.tool_calls)]
            yield _sse(meta.chunk({"tool_calls": calls}))
        elif tools:  # a malformed call: the rest of the text goes out as it is
            full = _parts(text, opens_think=opens, tools=False)[1]
            if full.startswith(sent["content"]) and len(full) > len(sent["content"]):
                yield _sse(meta.chunk({"content": full[len(sent["content"]) :]}))
        last = meta.chunk({}, _finish(job, reply))
        last["usage"] = _usage(job)
        yield _sse(last)
        if include_usage:
            yield _sse({**meta.chunk({}), "choices": [], "usage": _usage(job)})
        yield "data: [DONE]\n\n"
    finally:
        job.cancelled.set()


def _held(text: str, markers: list[str]) -> int:
    """Characters at the end of `text` that may be the start of a marker."""
    best = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), best, -1):
            if marker.startswith(text[-size:]):
                best = size
                break
    return best


def _text(engine: Engine, job: Job) -> str:
    """The whole reply so far, cut at the first stop string."""
    tokens = [t for t in job.tokens if t not in engine.eos]
    return _cut_at_stop(
        str(engine.tokenizer.decode(tokens, skip_special_tokens=True)), job.sampling.stop
    )


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    for stop in stops:
        text = text.partition(stop)[0]
    return text


class _Detokenizer:
    """The text of a growing token list, decoding only the tokens after the last clean
    break (byte-level BPE decodes piecewise exactly where no character is split)."""

    _SPAN = 32

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.head = ""
        self.start = 0

    def text(self, tokens: list[int]) -> str:
        end = len(tokens)
        if end and tokens[end - 1] in self.engine.eos:
            end -= 1
        decode = self.engine.tokenizer.decode
        tail = str(decode(tokens[self.start : end], skip_special_tokens=True))
        if end - self.start >= self._SPAN and not tail.endswith("\ufffd"):
            self.head, self.start, tail = self.head + tail, end, ""
        return self.head + tail


def _finish(job: Job, reply: Reply) -> str:
    if reply.tool_calls:
        return "tool_calls"
    return "length" if job.finish == "length" else "stop"


def _usage(job: Job) -> dict[str, int]:
    prompt, completion = len(job.prepared.ids), len(job.tokens)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _sampling(body: ChatRequest, engine: Engine, prompt: int) -> Sampling:
    room = engine.limits.max_model_len - prompt
    wanted = body.max_completion_tokens or body.max_tokens
    if wanted is not None and wanted > room:
        raise RequestError(
            f"the prompt is {prompt:,} tokens and max_tokens is {wanted:,}: together over this "
            f"server's context of {engine.limits.max_model_len:,} tokens (--max-model-len); "
            f"ask for at most {room:,}",
            param="max_tokens",
        )
    defaults = engine.model.generation_config
    temperature = body.temperature
    if temperature is None:
        temperature = defaults.temperature if defaults.do_sample and defaults.temperature else 0.0
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    return Sampling(
        max_tokens=wanted or min(room, DEFAULT_MAX_TOKENS),
        temperature=float(temperature),
        top_p=body.top_p if body.top_p is not None else float(defaults.top_p or 1.0),
        top_k=body.top_k if body.top_k is not None else defaults.top_k,
        seed=body.seed,
        stop=tuple(s for s in stops if s),
    )


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": status}},
        status_code=status,
    )
