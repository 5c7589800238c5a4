"""Probe a video file: duration, frame rate, size, rotation, audio, variable frame rate."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from mcr_agent.errors import VideoError

from .records import VideoInfo

__all__ = ["probe"]

logger = logging.getLogger(__name__)

_MIN_DURATION = 0.05


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's container and stream headers, and decode its first frame.

    Args:
        path: The video file.

    Returns:
        What the file holds.

    Raises:
        VideoError: The path is missing, a folder, not a video, corrupt or of zero length.
    """
    import av

    p = Path(path).expanduser()
    if not p.exists():
        raise VideoError(f"video not found: {p} (check the path)")
    if p.is_dir():
        raise VideoError(f"{p} is a folder, not a video file (pass the path of a video file)")
    if p.stat().st_size == 0:
        raise VideoError(f"{p} is an empty file (0 bytes): re-download or re-export the video")
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(
            f"{p} is not a readable video ({_reason(exc)}): "
            "check the file is a complete video (e.g. `ffprobe FILE`) or re-encode it with ffmpeg"
        ) from exc
    with container:
        if not container.streams.video:
            raise VideoError(
                f"{p} has no video stream (audio only or data): pass a file with a video track"
            )
        stream = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        fps = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0)
        duration = _duration(container, stream)
        rotation, width, height = _first_frame_geometry(container, stream, p)
        vfr = _is_vfr(stream)
        codec = stream.codec_context.name
    if duration < _MIN_DURATION:
        raise VideoError(f"{p} has zero length ({duration:.3f} s): pass a video with frames")
    if fps <= 0:
        fps = 25.0
        logger.warning("%s declares no frame rate; assuming 25 fps for cut tolerances", p)
    return VideoInfo(
        path=str(p.resolve()),
        duration=round(duration, 3),
        fps=round(fps, 3),
        width=width,
        height=height,
        rotation=rotation,
        has_audio=has_audio,
        vfr=vfr,
        codec=codec,
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).split(":", 1)[0] if isinstance(exc, OSError) else str(exc)
    return getattr(exc, "strerror", None) or text or type(exc).__name__


def _duration(container: object, stream: object) -> float:
    sd = getattr(stream, "duration", None)
    tb = getattr(stream, "time_base", None)
    if sd and tb:
        return float(sd * tb)
    cd = getattr(container, "duration", None)
    if cd:
        return float(cd) / 1_000_000
    return 0.0


def _first_frame_geometry(container: object, stream: object, p: Path) -> tuple[int, int, int]:
    import av

    try:
        frame = next(container.decode(stream), None)  # type: ignore[attr-defined]
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(
            f"{p} is corrupt: its first frame cannot be decoded ({_reason(exc)}); "
            "re-encode it with ffmpeg"
        ) from exc
    if frame is None:
        raise VideoError(f"{p} has zero length (no frame decodes): pass a video with frames")
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    width, height = frame.width, frame.height
    if rotation in (90, 270):
        width, height = height, width
    return rotation, width, height


def _is_vfr(stream: object) -> bool:
    avg = getattr(stream, "average_rate", None)
    base = getattr(stream, "base_rate", None) or getattr(stream, "guessed_rate", None)
    if not avg or not base:
        return False
    return abs(float(avg) - float(base)) / float(base) > 0.01
