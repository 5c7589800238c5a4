"""What `mcr-agent serve` is asked for: one value read by the CLI, the server and the
vLLM launcher (its defaults are the server's `Limits`, defined here so that the CLI reads
them without loading the server's input pipeline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Limits", "ServeOptions"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    Attributes:
        max_frames: Images plus video frames in one request.
        max_pixels: Pixels of one image (larger ones are refused) or video frame (larger
            ones are scaled down).
        max_model_len: Prompt plus completion tokens.
        media_root: Folder whose files requests may name by path; None refuses paths.
        video_fps: Default sampling rate of videos.
    """

    max_frames: int = 64
    max_pixels: int = 1920 * 1080
    max_model_len: int = 65536
    media_root: Path | None = None
    video_fps: float = 2.0


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
