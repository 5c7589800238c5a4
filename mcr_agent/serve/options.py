"""What `mcr-agent serve` is asked for: one value read by the CLI, the server and the
vLLM launcher (its defaults are the server's `Limits`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .inputs import Limits

__all__ = ["ServeOptions"]


@dataclass(frozen=True)
class ServeOptions:
    """What `mcr-agent serve` was asked for (see its ``--help``)."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    engine: str = "transformers"
    dtype: str = "auto"
    device: str = "auto"
    max_frames: int = Limits.max_frames
    max_pixels: int = Limits.max_pixels
    max_batch: int = 8
    max_model_len: int = Limits.max_model_len
    media_root: Path | None = None
    served_model_name: str | None = None
    api_key: str | None = None
    trust_remote_code: bool = True
    extra: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}/v1"
