"""The one module that talks to the model server (through the `openai` client).

Everything else depends on the `VideoLLM` Protocol. Retries with exponential backoff on
429, 5xx, timeouts and dropped connections are the `openai` client's own (``max_retries``);
a semaphore bounds the requests in flight; every failure becomes a one-line error.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .config import AgentConfig
from .errors import ModelReplyError, ModelServerError
from .toolcalls import strip_think

__all__ = ["Completion", "OpenAIVideoLLM", "VideoLLM", "image_part", "text_part"]

logger = logging.getLogger(__name__)

Message = dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """A model reply: text (think blocks removed) and token usage."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class VideoLLM(Protocol):
    """A chat model that sees images."""

    @property
    def model_name(self) -> str:
        """The served model's id."""
        ...

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Completion:
        """One chat completion; raises `ModelServerError` or `ModelReplyError`."""
        ...


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_part(jpeg: bytes) -> dict[str, Any]:
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}


class OpenAIVideoLLM:
    """`VideoLLM` over any OpenAI-compatible server (vLLM, our own server, ...)."""

    def __init__(self, config: AgentConfig) -> None:
        import openai

        self.config = config
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._model = config.model
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        with self._lock:
            if self._model is None:
                self._model = self._first_model()
            return self._model

    def _first_model(self) -> str:
        return self._pick(self._list(self._client))

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
        models = self._list(self._client.with_options(timeout=timeout, max_retries=0))
        with self._lock:
            if self._model is None:
                self._model = self._pick(models)
            return self._model

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Completion:
        model = self.model_name
        with self._slots:
            try:
                reply = self._client.chat.completions.create(
                    model=model,
                    messages=list(messages),  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=temperature,
                )
            except Exception as exc:
                raise self._server_error(exc) from exc
        choices = getattr(reply, "choices", None)
        if not choices:
            raise ModelReplyError(f"the model server returned no choice ({model})")
        content = choices[0].message.content
        if not isinstance(content, str):
            raise ModelReplyError(f"the model returned no text ({model})")
        text = strip_think(content)
        if not text:
            raise ModelReplyError(f"the model returned an empty reply ({model})")
        usage = getattr(reply, "usage", None)
        return Completion(
            text,
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
        )

    def _server_error(self, exc: Exception) -> ModelServerError:
        import openai

        url = self.config.base_url
        if isinstance(exc, openai.APITimeoutError):
            return ModelServerError(
                f"the model server at {url} timed out after {self.config.timeout:g} s "
                f"and {self.config.max_retries} retries: check the server or raise MCR_TIMEOUT"
            )
        if isinstance(exc, openai.APIConnectionError):
            return ModelServerError(
                f"no model server answers at {url}: start one (vLLM or another "
                "OpenAI-compatible server, see README) or set MCR_BASE_URL / --base-url"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelServerError(f"the model server at {url} refused the key: set MCR_API_KEY")
        if isinstance(exc, openai.NotFoundError):
            return ModelServerError(
                f"the model server at {url} does not know model {self._model!r} or the "
                "endpoint: check --model / MCR_MODEL and that the URL ends in /v1"
            )
        if isinstance(exc, openai.BadRequestError):
            return ModelReplyError(f"the model server rejected a request: {_short(exc)}")
        if isinstance(exc, openai.APIStatusError):
            return ModelServerError(
                f"the model server at {url} keeps failing (HTTP {exc.status_code} after "
                f"{self.config.max_retries} retries): {_short(exc)}; check its logs"
            )
        return ModelReplyError(f"unreadable reply from the model server at {url}: {_short(exc)}")


def _short(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:200]
