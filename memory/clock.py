"""The player's clock: one timeline for every stream of a file, starting where playback starts.

Every time in the memory is on this clock. A file's streams carry their own timestamps: an
MPEG-TS capture starts at seconds or hours, an audio track may start after the picture (an
edit list or an offset), a Matroska audio track a few milliseconds before 0. Players show 0
where playback starts: libavformat's ``format.start_time``, the earliest start among the
streams it plays (``update_stream_timings`` in libavformat/demux.c, which ignores subtitle
and data streams unless they start less than a second earlier), and the time mpv rebases to
zero (``--rebase-start-time``, on by default). So a time on the player's clock is a stream
timestamp in seconds minus that start time.
"""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from typing import TYPE_CHECKING

from mcr_agent.errors import VideoError

if TYPE_CHECKING:
    import numpy as np
    from av.audio.stream import AudioStream
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = [
    "AUDIO_RATE",
    "FrameTimes",
    "decode_audio",
    "playback_origin",
    "stream_span",
    "video_stream",
]

logger = logging.getLogger(__name__)

AUDIO_RATE = 16_000
"""Sample rate (Hz) of `decode_audio`: what Whisper models take."""

# Audio timestamps jitter by a few milliseconds between packets; only a jump larger than
# this is a gap (dropped packets, a splice) to fill with silence.
_GAP = 0.1


def video_stream(container: InputContainer) -> VideoStream | None:
    """The video stream a player shows: the first one that is not an attached cover picture."""
    import av.stream

    pictures = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    return pictures[0] if pictures else None


def playback_origin(container: InputContainer) -> float:
    """Where playback starts, in seconds on the file's own timestamps (player time 0).

    libavformat's format start time when it knows one, else the earliest start of the
    video and first audio stream, else 0.
    """
    if container.start_time is not None:
        return float(container.start_time) / 1_000_000
    starts = [
        float(s.start_time * s.time_base)
        for s in (video_stream(container), *container.streams.audio[:1])
        if s is not None and s.start_time is not None and s.time_base
    ]
    return min(starts, default=0.0)


def stream_span(stream: VideoStream | AudioStream, origin: float) -> tuple[float, float] | None:
    """A stream's [start, end] on the player's clock from its headers, if they say."""
    if not stream.time_base or stream.start_time is None or not stream.duration:
        return None
    start = float(stream.start_time * stream.time_base) - origin
    return start, start + float(stream.duration * stream.time_base)


class FrameTimes:
    """Presentation timestamps of decoded video frames, made up where the file has none.

    Raw H.264/HEVC elementary streams (and some damaged files) carry no timestamps; players
    show such a frame one frame interval after the previous one, at the stream's frame rate.
    Call `reset` after seeking.
    """

    def __init__(self, stream: VideoStream) -> None:
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        rate = Fraction(stream.average_rate or stream.guessed_rate or stream.base_rate or 25)
        self.step = max(1, round(1 / (rate * time_base)))
        self._last: int | None = None

    def reset(self) -> None:
        self._last = None

    def pts(self, frame_pts: int | None) -> int:
        """The frame's own timestamp, or the previous one plus one frame interval."""
        if frame_pts is None:
            frame_pts = 0 if self._last is None else self._last + self.step
        self._last = frame_pts
        return frame_pts


def decode_audio(
    path: str | os.PathLike[str], *, start: float = 0.0, end: float = math.inf
) -> tuple[np.ndarray, float]:
    """The first audio stream in [start, end] seconds of the player's clock, 16 kHz mono.

    Samples sit where their timestamps put them: a gap between packets becomes silence, so
    the n-th sample plays at ``first + n / AUDIO_RATE``. Decoding stops at the first
    undecodable stretch, keeping what decoded (a truncated file).

    Args:
        path: A video or audio file.
        start: Window start (player seconds); decoding seeks near it.
        end: Window end (player seconds).

    Returns:
        float32 samples in [-1, 1] and the player time of the first one; no samples (and
        `start`) when the file has no audio there.

    Raises:
        VideoError: The file cannot be opened.
    """
    import av
    import numpy as np

    chunks: list[np.ndarray] = []
    first: float | None = None
    written = 0
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path}: the audio cannot be read ({exc}); re-encode it") from exc
    with container:
        if not container.streams.audio:
            return np.zeros(0, np.float32), start
        stream = container.streams.audio[0]
        origin = playback_origin(container)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
        if start > 0 and stream.time_base:
            container.seek(math.floor((start + origin) / Fraction(stream.time_base)), stream=stream)
        try:
            for frame in container.decode(stream):
                t = None if frame.time is None else float(frame.time) - origin
                if t is not None and t >= end:
                    break
                if first is None:
                    first = t if t is not None else 0.0
                gap = 0 if t is None else round((t - first) * AUDIO_RATE) - written
                if gap > _GAP * AUDIO_RATE:
                    chunks.append(np.zeros(gap, np.int16))
                    written += gap
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    written += chunks[-1].size
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        except av.FFmpegError as exc:
            logger.warning(
                "%s: audio decoding stopped at %.1f s: %s", path, written / AUDIO_RATE, exc
            )
    if first is None or not chunks:
        return np.zeros(0, np.float32), start
    samples = np.concatenate(chunks)
    skip = max(0, round((start - first) * AUDIO_RATE))  # the seek lands before `start`
    stop = None if math.isinf(end) else max(skip, round((end - first) * AUDIO_RATE))
    samples = samples[skip:stop]
    return samples.astype(np.float32) / 32768.0, first + skip / AUDIO_RATE
