"""Configuration: arguments > CLI flags > environment (``MCR_*``) > defaults."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from memory import IndexSettings, cache_dir

from .errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "AgentConfig", "Budget"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
ToolMode = Literal["auto", "native", "text"]


@dataclass(frozen=True, kw_only=True)
class Budget:
    """Limits that guarantee one question ends; when one is spent the agent answers its best
    hypothesis.

    Attributes:
        max_steps: Reasoning steps (each may call tools).
        max_model_calls: Model calls in all, tools' and verification's included.
        max_frames: Frames sent to the model in all.
        frames_per_call: Most frames in one model call.
        call_pixels: Pixel budget of all frames of one call (Qwen3-VL spends about one
            token per 32x32 block).
        inspect_pixels: Pixel budget of one re-perceived frame.
        context_tokens: Size the shared context is compressed to (estimated tokens).
        max_repairs: Malformed replies sent back for repair before giving up on the step.
        max_verifications: Answers checked against evidence before the last one is kept.
        direct_frames: Frames of the single-pass baseline (``--mode direct``).
    """

    max_steps: int = 6
    max_model_calls: int = 16
    max_frames: int = 96
    frames_per_call: int = 16
    call_pixels: int = 16 * 448 * 448
    inspect_pixels: int = 768 * 768
    context_tokens: int = 6000
    max_repairs: int = 2
    max_verifications: int = 2
    direct_frames: int = 32

    def validate(self) -> None:
        """Raise `ConfigError` for limits that cannot work."""
        if min(self.max_steps, self.max_model_calls, self.frames_per_call, self.direct_frames) < 1:
            raise ConfigError("steps, model calls and frames per call must be at least 1")
        if self.max_frames < 0 or self.context_tokens < 500:
            raise ConfigError("the frame budget must be >= 0 and the context >= 500 tokens")


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """Everything a run of mcr-agent is configured by.

    Attributes:
        base_url: OpenAI-compatible endpoint of the video-LLM server; several servers of
            the same model are separated by commas (requests go to the least busy).
        model: Model id; None means the first id the server lists.
        api_key: Key sent to the server (never logged).
        cache_dir: Where video memories are stored.
        timeout: Seconds before one model request is abandoned.
        max_retries: Retries of a request on 429, 5xx, timeouts and dropped connections.
        max_concurrency: Model requests in flight at once from this process.
        index: How videos are turned into memory.
        budget: Per-question limits of the agent.
        tool_mode: ``auto`` tries the server's native tool calling and falls back to
            Hermes ``<tool_call>`` text; ``native`` or ``text`` force one.
    """

    base_url: str = DEFAULT_BASE_URL
    model: str | None = None
    api_key: str = field(default="EMPTY", repr=False)
    cache_dir: Path = field(default_factory=cache_dir)
    timeout: float = 120.0
    max_retries: int = 3
    max_concurrency: int = 4
    index: IndexSettings = field(default_factory=IndexSettings)
    budget: Budget = field(default_factory=Budget)
    tool_mode: ToolMode = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> AgentConfig:
        """Build from ``MCR_*`` variables, then apply `overrides` that are not None.

        Reads ``MCR_BASE_URL``, ``MCR_MODEL``, ``MCR_API_KEY`` (else ``OPENAI_API_KEY``),
        ``MCR_CACHE_DIR``, ``MCR_TIMEOUT``, ``MCR_CONCURRENCY`` and ``MCR_TOOL_MODE``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("MCR_BASE_URL"):
            values["base_url"] = env["MCR_BASE_URL"]
        if env.get("MCR_MODEL"):
            values["model"] = env["MCR_MODEL"]
        key = env.get("MCR_API_KEY") or env.get("OPENAI_API_KEY")
        if key:
            values["api_key"] = key
        if env.get("MCR_TOOL_MODE"):
            values["tool_mode"] = env["MCR_TOOL_MODE"]
        if env.get("MCR_CACHE_DIR"):
            values["cache_dir"] = Path(env["MCR_CACHE_DIR"]).expanduser()
        for name, var, kind in (
            ("timeout", "MCR_TIMEOUT", float),
            ("max_concurrency", "MCR_CONCURRENCY", int),
        ):
            if env.get(var):
                try:
                    values[name] = kind(env[var])
                except ValueError as exc:
                    raise ConfigError(
                        f"{var}={env[var]!r} is not a number: fix or unset it"
                    ) from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "cache_dir" in values:
            values["cache_dir"] = Path(str(values["cache_dir"])).expanduser()
        config = cls(**values)  # type: ignore[arg-type]
        config.validate()
        return config

    @property
    def base_urls(self) -> list[str]:
        """The servers: `base_url` may list several, separated by commas or spaces."""
        return [u for u in self.base_url.replace(",", " ").split() if u]

    def validate(self) -> None:
        """Raise `ConfigError` for values that cannot work."""
        for url in self.base_urls or [self.base_url]:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"base URL {url!r} must start with http:// or https:// "
                    "(e.g. http://127.0.0.1:8000/v1; several: separate them with commas)"
                )
        if self.max_concurrency < 1 or self.timeout <= 0:
            raise ConfigError("concurrency must be at least 1 and the timeout positive")
        if self.tool_mode not in ("auto", "native", "text"):
            raise ConfigError(
                f"tool mode {self.tool_mode!r} is not one of auto, native, text: fix MCR_TOOL_MODE"
            )
        self.budget.validate()

    def replace(self, **changes: object) -> AgentConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
