"""The one module that talks to the model server (through the `openai` client).

Everything else depends on the `VideoLLM` Protocol. Retries with exponential backoff on
429, 5xx, timeouts and dropped connections are the `openai` client's own (``max_retries``);
an HTTP 200 whose body is no usable chat completion (no choice, a null message, no
``finish_reason``, not JSON) is a server fault too, retried the same way with `tenacity`.
A semaphore bounds the requests in flight; every failure becomes a one-line error. Faults
of the server are `ModelServerError`; a reply the model wrote but that cannot be used (empty,
a refused request) is `ModelReplyError`, which the loop turns into feedback.

Inside `traffic.counting()`, every HTTP request and retry is counted where it happens.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import prompts

from ..config import AgentConfig
from ..errors import ModelReplyError, ModelServerError
from .completion import Completion, read_completion
from .messages import Message
from .replicas import Replica, ReplicaPool
from .traffic import count_request, count_retry
from .traffic import current as current_traffic

__all__ = ["OpenAIVideoLLM", "VideoLLM"]

logger = logging.getLogger(__name__)


class VideoLLM(Protocol):
    """A chat model that sees images."""

    @property
    def model_name(self) -> str:
        """The served model's id."""
        ...

    def ping(self, timeout: float = 3.0) -> str:
        """Check the server answers quickly; returns the model id. Raises `ModelServerError`."""
        ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        """One chat completion; `tools` are OpenAI function schemas the model may call.

        Raises:
            ModelServerError: The server is unreachable, keeps failing, or keeps sending
                replies that are no chat completion (no choice, a null message, ...).
            ModelReplyError: The server answered, but this request was refused (a 4xx) or
                the model's reply is empty.
        """
        ...


class OpenAIVideoLLM:
    """`VideoLLM` over any OpenAI-compatible server (vLLM, our own server, ...)."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self._replicas: ReplicaPool | None = None
        self._replicas_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._model = config.model
        self._lock = threading.Lock()
        # None until the server shows whether it takes `tools`; "text" config forces False.
        self._native_tools: bool | None = (
            None if config.tool_mode == "auto" else (config.tool_mode == "native")
        )

    @property
    def _pool(self) -> ReplicaPool:
        """The clients, made on first use: `openai` takes about half a CPU-second to import,
        which a process that never calls the model (``memory search``) does not pay."""
        with self._replicas_lock:
            if self._replicas is None:
                from .sdk import openai

                urls = self.config.base_urls
                # One server: the client's own retries (with backoff, honouring retry-after).
                # Several: a failure moves the request to another replica at once instead.
                retries = self.config.max_retries if len(urls) == 1 else 0
                replicas = [
                    Replica(u, openai.OpenAI(base_url=u, api_key=self.config.api_key,
                                             timeout=self.config.timeout, max_retries=retries,
                                             http_client=_http_client()))
                    for u in urls
                ]  # fmt: skip
                self._replicas = ReplicaPool(replicas, self._healthy)
            return self._replicas

    @property
    def model_name(self) -> str:
        with self._lock:
            if self._model is None:
                self._model = self._first_model()
            return self._model

    def _first_model(self) -> str:
        with self._pool.use() as replica:
            return self._pick(self._list(replica.client))

    def _list(self, client: Any) -> list[str]:
        try:
            return [m.id for m in client.models.list()]
        except Exception as exc:
            raise self._server_error(exc) from exc

    def _pick(self, models: list[str]) -> str:
        if not models:
            raise ModelServerError(
                f"the model server at {self.config.base_url} lists no model: "
                "pass --model or set MCR_MODEL"
            )
        return models[0]

    def ping(self, timeout: float = 3.0) -> str:
        """Check the server answers quickly; returns the model id to use.

        Raises:
            ModelServerError: Nothing answers at the base URL, or it lists no model and
                none was configured.
        """
        problems = []
        for replica in self._pool.replicas:
            try:
                models = self._list(replica.client.with_options(timeout=timeout, max_retries=0))
                break
            except ModelServerError as exc:
                problems.append(exc)
        else:
            raise problems[0]
        with self._lock:
            if self._model is None:
                self._model = self._pick(models)
            return self._model

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        model = self.model_name
        native = bool(tools) and self._native_tools is not False
        sent = list(messages) if native or not tools else _with_tool_text(messages, tools or ())
        try:
            reply = self._create(model, sent, max_tokens, temperature, tools if native else None)
        except ModelReplyError as exc:
            if not (native and _rejects_tools(str(exc))):
                raise
            # The server has no tool parser (e.g. vLLM without --enable-auto-tool-choice):
            # describe the tools in the prompt instead and read Hermes calls from the text.
            logger.info("the server rejects native tool calls; using the text protocol")
            self._native_tools = False
            sent = _with_tool_text(messages, tools or ())
            reply = self._create(model, sent, max_tokens, temperature, None)
        if native and self._native_tools is None:
            self._native_tools = True
        return _read_reply(reply, model, [t["function"]["name"] for t in tools or ()])

    def _create(
        self,
        model: str,
        messages: list[Message],
        max_tokens: int,
        temperature: float,
        tools: Sequence[dict[str, Any]] | None,
    ) -> Any:
        """One chat completion of a usable shape.

        One server: the openai client has retried transport failures, 429 and 5xx itself;
        a malformed reply is retried here `max_retries` times with backoff. Several: any of
        these takes the replica out and moves the request to another one at once.
        """
        import tenacity

        request: dict[str, Any] = {
            "model": model, "messages": messages, "max_tokens": max_tokens,
            "temperature": temperature,
        }  # fmt: skip
        if tools:
            request |= {"tools": list(tools), "tool_choice": "auto"}
        several = len(self._pool) > 1
        where = [self.config.base_url]
        retries = self.config.max_retries
        # The openai client's own schedule: 0.5 s doubling up to 8 s, with some jitter.
        backoff = tenacity.wait_exponential(multiplier=0.5, max=8.0) + tenacity.wait_random(0, 0.25)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(len(self._pool) + retries if several else 1 + retries),
            wait=tenacity.wait_none() if several else backoff,
            retry=tenacity.retry_if_exception(_replica_failure if several else _malformed),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, request, where)
        except _MalformedReply as exc:
            raise ModelServerError(
                f"the model server at {where[0]} keeps sending replies that are not chat "
                f"completions ({exc}; model {model}, {retries} retries): check its logs"
            ) from exc
        except Exception as exc:
            raise self._server_error(exc, where[0]) from exc

    def _attempt(self, request: dict[str, Any], where: list[str]) -> Any:
        """One request on the replica the pool picks (its URL written to `where`)."""
        from .sdk import openai

        traffic = current_traffic()
        sent = traffic.requests if traffic is not None else 0
        with self._slots, self._pool.use() as replica:
            where[0] = replica.url
            try:
                try:
                    reply = replica.client.chat.completions.create(**request)
                except (ValueError, openai.APIResponseValidationError) as exc:
                    raise _MalformedReply(f"a body that is not JSON: {_short(exc)}") from exc
                return _well_formed(reply)
            except Exception as exc:
                if len(self._pool) > 1 and _replica_failure(exc):
                    self._pool.failed(replica, _short(exc, self.config.api_key))
                raise
            finally:
                if traffic is not None:  # the openai client's own retries of this request
                    traffic.retries += max(0, traffic.requests - sent - 1)

    def _healthy(self, replica: Replica) -> bool:
        """A failed replica is back when its ``/health`` (or ``/v1/models``) answers."""
        root = replica.url.rstrip("/").removesuffix("/v1")
        quick = replica.client.with_options(timeout=2.0, max_retries=0)
        try:
            import httpx

            if httpx.get(f"{root}/health", timeout=2.0).status_code == 200:
                return True
            quick.models.list()
        except Exception:
            return False
        return True

    def _server_error(self, exc: Exception, url: str | None = None) -> ModelServerError:
        from .sdk import openai

        url = url or self.config.base_url
        why = _short(exc, self.config.api_key)
        if isinstance(exc, openai.APITimeoutError):
            return ModelServerError(
                f"the model server at {url} timed out after {self.config.timeout:g} s "
                f"and {self.config.max_retries} retries: check the server or raise MCR_TIMEOUT"
            )
        if isinstance(exc, openai.APIConnectionError):
            return ModelServerError(
                f"no model server answers at {url}: start one (`mcr-agent serve MODEL` on a "
                "GPU machine, see README) or set MCR_BASE_URL / --base-url"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelServerError(f"the model server at {url} refused the key: set MCR_API_KEY")
        if isinstance(exc, openai.NotFoundError):
            return ModelServerError(
                f"the model server at {url} does not know model {self._model!r} or the "
                "endpoint: check --model / MCR_MODEL and that the URL ends in /v1"
            )
        if isinstance(exc, openai.APIStatusError) and _refusal(exc.status_code):
            return ModelReplyError(
                f"the model server at {url} refused the request (HTTP {exc.status_code}): {why}"
            )
        if isinstance(exc, openai.APIStatusError):
            return ModelServerError(
                f"the model server at {url} keeps failing (HTTP {exc.status_code} after "
                f"{self.config.max_retries} retries): {why}; check its logs"
            )
        return ModelReplyError(f"unreadable reply from the model server at {url}: {why}")


def _http_client() -> Any:
    """The openai client's default HTTP client (its timeouts, limits and redirects), with the
    hook that counts each request it sends."""
    from .sdk import openai

    return openai.DefaultHttpxClient(event_hooks={"request": [count_request]})


def _short(exc: Exception, secret: str = "") -> str:
    body = getattr(exc, "body", None)  # an HTTP error's own message, without "Error code: 400"
    said = body.get("message") if isinstance(body, dict) else None
    message = said or getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = " ".join(str(message).split())
    if len(secret) >= 8:  # a server that echoes the key back must not put it on screen
        text = text.replace(secret, "***")
    return text[:200]


def _read_reply(reply: Any, model: str, names: list[str]) -> Completion:
    """The reply as a `Completion`; a reply of the wrong shape is a `ModelReplyError`."""
    try:
        return read_completion(reply, model, names)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise ModelReplyError(
            f"the model server sent a malformed reply ({type(exc).__name__}: {_short(exc)})"
        ) from exc


class _MalformedReply(Exception):
    """An HTTP 200 whose body is no usable chat completion: a fault of the server."""


def _well_formed(reply: Any) -> Any:
    """`reply` if it holds a first choice with a message and a finish_reason.

    Raises:
        _MalformedReply: It does not (the server sent no choice, a null message, ...).
    """
    choices = getattr(reply, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _MalformedReply("no choice in the reply")
    if getattr(choices[0], "message", None) is None:
        raise _MalformedReply("a null message")
    if getattr(choices[0], "finish_reason", None) is None:
        raise _MalformedReply("no finish_reason")
    return reply


def _malformed(exc: BaseException) -> bool:
    return isinstance(exc, _MalformedReply)


def _with_tool_text(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[Message]:
    """Messages with the tools described in the system prompt, as Qwen's template does."""
    described = prompts.render(
        "tools_fallback", tools="\n".join(json.dumps(t["function"]) for t in tools)
    )
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0]["content"] = f"{out[0]['content']}\n\n{described}"
    else:
        out.insert(0, {"role": "system", "content": described})
    return out


def _rejects_tools(message: str) -> bool:
    lowered = message.lower()
    return "tool" in lowered or "function" in lowered


def _replica_failure(exc: BaseException) -> bool:
    """Failures that another replica may not have: connection, timeout, 429, 5xx, a
    malformed reply."""
    from .sdk import openai

    if isinstance(exc, openai.APIConnectionError | _MalformedReply):  # includes timeouts
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code == 429 or exc.status_code >= 500
    )


def _refusal(status: int) -> bool:
    """A 4xx that refuses this request (a frame the server cannot read, a prompt too long),
    not the client's key, model or rate: another request may well pass."""
    return 400 <= status < 500 and status not in (401, 403, 404, 408, 409, 429)
