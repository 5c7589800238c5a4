"""Probe a video file: duration, frame rate, size as shown, rotation, audio, variable frame rate.

Times are on the player's clock (`clock.playback_origin`); the size is the picture a player
shows (sample aspect ratio and rotation applied).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from mcr_agent.errors import VideoError

from .clock import playback_origin, stream_span, video_stream
from .records import VideoInfo

__all__ = ["probe", "video_file"]

logger = logging.getLogger(__name__)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's container and stream headers, and decode its first frame.

    Args:
        path: The video file.

    Returns:
        What the file holds.

    Raises:
        VideoError: The path is missing, a folder, not a video, corrupt, or no frame decodes.
    """
    import av

    p = video_file(path)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(
            f"{p} is not a readable video ({_reason(exc)}): "
            "check the file is a complete video (e.g. `ffprobe FILE`) or re-encode it with ffmpeg"
        ) from exc
    with container:
        stream = video_stream(container)
        if stream is None:
            raise VideoError(
                f"{p} has no video stream (audio only or data): pass a file with a video track"
            )
        has_audio = bool(container.streams.audio)
        fps = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0)
        if fps <= 0:
            fps = 25.0
            logger.warning("%s declares no frame rate; assuming 25 fps for cut tolerances", p)
        origin = playback_origin(container)
        rotation, width, height = _first_frame_geometry(container, stream, p)
        # One frame is a video too: it is shown for one frame interval.
        duration = max(_duration(container, stream, origin), 1.0 / fps)
        vfr = _is_vfr(stream)
        codec = stream.codec_context.name
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
        start_time=round(origin, 6),
    )


def video_file(path: str | os.PathLike[str]) -> Path:
    """`path` (user folder expanded) if it names a non-empty file.

    Raises:
        VideoError: The path is missing, a folder, or an empty file.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise VideoError(f"video not found: {p} (check the path)")
    if p.is_dir():
        raise VideoError(f"{p} is a folder, not a video file (pass the path of a video file)")
    if p.stat().st_size == 0:
        raise VideoError(f"{p} is an empty file (0 bytes): re-download or re-export the video")
    return p


def _reason(exc: BaseException) -> str:
    text = str(exc).split(":", 1)[0] if isinstance(exc, OSError) else str(exc)
    return getattr(exc, "strerror", None) or text or type(exc).__name__


def _duration(container: Any, stream: Any, origin: float) -> float:
    """Where the picture ends on the player's clock: from the stream's header, else the
    container's, else the last packet's timestamp (headers that say nothing, or 0)."""
    span = stream_span(stream, origin)
    if span is not None and span[1] > 0:
        return span[1]
    if container.duration:
        header = float(container.duration) / 1_000_000
        if origin > 0:
            # Matroska's header counts from the file's own 0, not from where playback starts.
            # The end is read from the last keyframe interval only: a seek to the header's end.
            return _packet_end(container.name, origin, after=origin + header) or header
        return header
    return _packet_end(container.name, origin)


def _packet_end(path: str, origin: float, *, after: float | None = None) -> float:
    """The end of the last video packet (player's clock; 0 if none is read), from a fresh
    container: the whole file, or from `after` seconds of the file's own clock on (a seek
    lands on the keyframe before it). A raw stream's packets have durations but no
    timestamps, so those are summed."""
    import av

    end = run = 0.0
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = video_stream(container)
            if after is not None and stream is not None and stream.time_base:
                container.seek(int(after / stream.time_base), stream=stream)
            for packet in container.demux(stream):
                if not packet.time_base:
                    continue
                run += float((packet.duration or 0) * packet.time_base)
                if packet.pts is not None:
                    last = (packet.pts + (packet.duration or 0)) * packet.time_base
                    end = max(end, float(last) - origin)
                else:
                    end = max(end, run)
    except (av.FFmpegError, OSError) as exc:
        logger.debug("%s: reading packet times stopped: %s", path, exc)
    return end


def _first_frame_geometry(container: Any, stream: Any, p: Path) -> tuple[int, int, int]:
    """Rotation and the size a player shows: the stored size with the sample aspect ratio
    applied (to the width, as ffmpeg and players do), then turned."""
    import av

    try:
        frame = next(container.decode(stream), None)
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(
            f"{p} is corrupt: its first frame cannot be decoded ({_reason(exc)}); "
            "re-encode it with ffmpeg"
        ) from exc
    if frame is None:
        raise VideoError(f"{p} has zero length (no frame decodes): pass a video with frames")
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    sar = float(stream.sample_aspect_ratio or 1) or 1.0
    width, height = max(1, round(frame.width * sar)), frame.height
    if rotation in (90, 270):
        width, height = height, width
    return rotation, width, height


def _is_vfr(stream: object) -> bool:
    avg = getattr(stream, "average_rate", None)
    base = getattr(stream, "base_rate", None) or getattr(stream, "guessed_rate", None)
    if not avg or not base:
        return False
    return abs(float(avg) - float(base)) / float(base) > 0.01
