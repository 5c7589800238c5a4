"""Frames decoded on demand from the video file: a window, chosen times, finer cuts.

The memory keeps a few small keyframes per scene; tools that look at a moment again decode
fresh frames here, at the rate and size they need, seeking near where they start so the cost
follows the window, not the video. Times are frame presentation times on the player's clock
(`clock.playback_origin`), as in `scenes.scan_video`, so they match the memory's and
variable frame rate is handled; frames look as a player shows them (`picture`).
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mcr_agent.errors import VideoError

from .clock import FrameTimes, playback_origin, stream_span, video_stream
from .picture import scaled_size, shown, small_bgr, to_jpeg
from .records import Frame
from .threads import thread_limit

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

__all__ = ["frames_at", "sample_window", "window_cuts"]

logger = logging.getLogger(__name__)

_Decoded = tuple[float, "VideoFrame"]  # (time in seconds, PyAV frame)
_ALL = (-math.inf, math.inf)

# Decoding forward through a few seconds costs about what a seek costs (decoding from the
# previous keyframe, 2-10 s back with common encoder settings), so only larger gaps seek.
_SEEK_GAP = 4.0
_MAX_BAD_PACKETS = 200
_CUT_WIDTH = 64


def sample_window(
    path: str | os.PathLike[str],
    start: float,
    end: float,
    *,
    fps: float,
    max_frames: int,
    max_pixels: int,
    quality: int = 90,
) -> list[Frame]:
    """Frames evenly covering [start, end] seconds, upright, as JPEG.

    The rate is ``min(fps, max_frames / (end - start))``; each of the window's equal slices
    gets the decoded frame nearest its middle (preferring frames inside the window; once per
    frame), so a window shorter than one slice gives its middle frame. Decoding seeks to the
    keyframe before `start` and runs forward to the last slice (seeking again only across
    gaps of seconds). A window running past the end of the video is cut at the end.

    Args:
        path: The video file.
        start: Window start in seconds.
        end: Window end in seconds (not before `start`).
        fps: Highest sampling rate.
        max_frames: Most frames returned.
        max_pixels: Pixel budget of one frame; frames are scaled down (never up) to fit.
        quality: JPEG quality.

    Returns:
        At least one frame, in time order.

    Raises:
        ValueError: Bad arguments.
        VideoError: The file is missing, unreadable, or no frame decodes.
    """
    if fps <= 0 or max_frames < 1 or max_pixels < 4 or not start <= end:
        raise ValueError(f"bad window sampling: [{start}, {end}] s, {fps} fps, {max_frames}")
    with closing(_Decoder(path)) as decoder:
        if decoder.duration > 0 and start < decoder.duration:
            end = min(end, decoder.duration)
        count = max(1, min(max_frames, math.floor((end - start) * fps + 1e-6)))
        step = (end - start) / count
        decoder.seek(start)
        targets = [start + (i + 0.5) * step for i in range(count)]
        return decoder.records(decoder.walk(targets, (start, end)), max_pixels, quality)


def frames_at(
    path: str | os.PathLike[str],
    times: Sequence[float],
    *,
    max_pixels: int,
    quality: int = 90,
    tolerance: float = 0.0,
) -> list[Frame]:
    """The frames nearest to the given times, upright, as JPEG.

    Made for a few dozen times spread over a long video: the decoder seeks across large gaps
    and decodes forward across small ones.

    Args:
        path: The video file.
        times: Times in seconds, in any order; a frame nearest to several is returned once.
        max_pixels: Pixel budget of one frame; frames are scaled down (never up) to fit.
        quality: JPEG quality.
        tolerance: Seconds a frame may be off its time: the first frame decoded within it
            (often the keyframe a seek lands on) is taken instead of decoding on to the
            nearest. Uniform sampling can allow half its step and decode far less.

    Returns:
        The frames in time order (empty only if `times` is).

    Raises:
        ValueError: Bad arguments.
        VideoError: The file is missing, unreadable, or no frame decodes.
    """
    if max_pixels < 4 or tolerance < 0:
        raise ValueError(f"bad frame sampling: {max_pixels} pixels, tolerance {tolerance}")
    if not times:
        return []
    targets = sorted(times)
    with closing(_Decoder(path)) as decoder:
        decoder.seek(targets[0])
        picked = decoder.walk(targets, tolerance=tolerance)
        return decoder.records(picked, max_pixels, quality)


def window_cuts(
    path: str | os.PathLike[str],
    start: float,
    end: float,
    *,
    fps: float = 8.0,
    threshold: float = 2.0,
    min_change: float = 8.0,
) -> list[float]:
    """Shot boundaries inside [start, end] seconds, finer than the indexer's scenes.

    An own detector rather than PySceneDetect: placing a cut on the exact frame while scoring
    only `fps` samples a second needs the change between every pair of frames too. The score
    follows AdaptiveDetector's (mean HSV change between samples over the median change of two
    samples either side, so steady camera motion is no cut), with a lower `threshold` than
    the indexer's 3.0 and a lower `min_change` than PySceneDetect's 15, to split what the
    indexer kept whole; the cut goes on the frame that changes most between the two samples.

    Args:
        path: The video file.
        start: Window start in seconds.
        end: Window end in seconds.
        fps: Samples analysed per second.
        threshold: Lowest ratio of a change to its neighbours' that makes a cut.
        min_change: Lowest mean HSV change (0-255) that makes a cut.

    Returns:
        Times (seconds) of the first frame of each new shot, strictly inside the window.

    Raises:
        ValueError: Bad arguments.
        VideoError: The file is missing, unreadable, or no frame decodes.
    """
    if fps <= 0 or not start <= end:
        raise ValueError(f"bad window for cuts: [{start}, {end}] s at {fps} fps")
    with closing(_Decoder(path)) as decoder:
        decoder.seek(start)
        scan = _ChangeScan(start, 1.0 / fps)
        for t, frame in decoder.forward():
            if t > end:
                break
            if t >= start:
                scan.add(t, frame)
        if not decoder.decoded:
            raise VideoError(f"{path}: no frame could be decoded; re-encode it with ffmpeg")
    return [c for c in scan.cuts(threshold, min_change) if start < c < end]


class _ChangeScan:
    """Per-frame and per-sample HSV changes of a run of frames."""

    def __init__(self, start: float, step: float) -> None:
        self.step = step
        self.next_sample = start
        self.times: list[float] = []
        self.changes: list[float] = []  # frame i against frame i - 1
        self.samples: list[int] = []  # indexes of the sampled frames
        self.sample_changes: list[float] = []  # sample j against sample j - 1
        self._last: np.ndarray | None = None
        self._last_sample: np.ndarray | None = None

    def add(self, t: float, frame: VideoFrame) -> None:
        import cv2

        hsv = cv2.cvtColor(small_bgr(frame, _CUT_WIDTH), cv2.COLOR_BGR2HSV).astype(np.int16)
        self.changes.append(_change(hsv, self._last))
        self.times.append(t)
        self._last = hsv
        if t >= self.next_sample:
            if self._last_sample is not None:
                self.sample_changes.append(_change(hsv, self._last_sample))
            self.samples.append(len(self.times) - 1)
            self._last_sample = hsv
            while self.next_sample <= t:
                self.next_sample += self.step

    def cuts(self, threshold: float, min_change: float) -> list[float]:
        found: list[tuple[float, float]] = []  # (time, score)
        d = self.sample_changes
        for i, change in enumerate(d):
            around = d[max(0, i - 2) : i] + d[i + 1 : i + 3]
            score = change / max(1.0, statistics.median(around) if around else 0.0)
            if change < min_change or score < threshold:
                continue
            a, b = self.samples[i], self.samples[i + 1]
            j = a + 1 + int(np.argmax(self.changes[a + 1 : b + 1]))
            if found and self.times[j] - found[-1][0] < 2 * self.step:
                if score > found[-1][1]:  # a flash or a double trigger: keep the stronger
                    found[-1] = (self.times[j], score)
                continue
            found.append((self.times[j], score))
        return [round(t, 3) for t, _ in found]


def _change(a: np.ndarray, b: np.ndarray | None) -> float:
    return 0.0 if b is None else float(np.abs(a - b).mean())


class _Decoder:
    """One video stream decoded forward from a seek point, with a one-frame lookbehind.

    `cur` is the next frame not yet passed, `prev` the one before it; undecodable packets
    are skipped, and a damaged container ends the stream with what decoded.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._container, self.stream = _open(self.path)
        self.stream.thread_type = "AUTO"
        self.stream.thread_count = thread_limit() or 0  # 0: FFmpeg picks (all cores)
        self.time_base = Fraction(self.stream.time_base or Fraction(1, 90000))
        origin = playback_origin(self._container)
        self.origin = Fraction(origin).limit_denominator(10**9)  # seconds at player time 0
        span = stream_span(self.stream, origin)
        if span is not None:
            self.duration = span[1]
        else:
            self.duration = float(self._container.duration or 0) / 1_000_000
        self.sample_aspect_ratio = self.stream.sample_aspect_ratio
        self._times = FrameTimes(self.stream)
        self.prev: _Decoded | None = None
        self.cur: _Decoded | None = None
        self.decoded = 0
        self.bad_packets = 0
        self._frames: Generator[_Decoded, None, None] | None = None

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
        self._container.close()

    def seek(self, t: float) -> None:
        """Go to the keyframe at or before `t` (further back if the demuxer overshoots)."""
        for back in (0.0, 2.0, 10.0):
            self._seek_to(max(0.0, t - back))
            if (self.cur is not None and self.cur[0] <= t) or t - back <= 0:
                break
        if (self.cur is None and t > 0) or (self.cur is not None and self.cur[0] > t):
            # Nothing decodes from there (past the decodable end of a truncated file), or the
            # demuxer keeps landing after `t` (MPEG-TS): decode from the start, so the
            # nearest frame is found (or is the last one that decodes).
            self._seek_to(-math.inf)

    def walk(
        self, targets: Sequence[float], inside: tuple[float, float] = _ALL, tolerance: float = 0.0
    ) -> Iterator[_Decoded | None]:
        """The frame nearest to each ascending target (preferring frames `inside` a window;
        with a tolerance, the first frame within it), seeking across large gaps."""
        for t in targets:
            if self.cur is not None and t - tolerance - self.cur[0] > _SEEK_GAP:
                self.seek(t)
            if tolerance > 0:
                self._advance(t - tolerance)
                if self.cur is not None and self.cur[0] <= t + tolerance:
                    yield self.cur
                    continue
            self._advance(t)
            pool = [c for c in (self.prev, self.cur) if c is not None]
            within = [c for c in pool if inside[0] <= c[0] <= inside[1]]
            yield min(within or pool, key=lambda c: abs(c[0] - t), default=None)

    def forward(self) -> Iterator[_Decoded]:
        """Every frame from `cur` on."""
        while self.cur is not None:
            yield self.cur
            self._step()

    def records(
        self, picked: Iterator[_Decoded | None], max_pixels: int, quality: int
    ) -> list[Frame]:
        """Encode picked frames as they come (holding few decoded frames), once each."""
        out: list[Frame] = []
        last = None
        for item in picked:
            if item is not None and item[0] != last:
                out.append(self._record(item, max_pixels, quality))
                last = item[0]
        if not out:
            raise VideoError(f"{self.path}: no frame could be decoded; re-encode it with ffmpeg")
        return out

    def _record(self, item: _Decoded, max_pixels: int, quality: int) -> Frame:
        t, frame = item
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        size = scaled_size(frame.width, frame.height, self.sample_aspect_ratio, max_pixels)
        img = shown(frame, size, rotation=rotation, max_pixels=max_pixels)
        jpeg = to_jpeg(img, quality=quality, path=self.path)
        return Frame(round(t, 3), jpeg, img.shape[1], img.shape[0])

    def _advance(self, target: float) -> None:
        while self.cur is not None and self.cur[0] < target:
            self._step()

    def _step(self) -> None:
        assert self._frames is not None
        self.prev, self.cur = self.cur, next(self._frames, None)

    def _seek_to(self, t: float) -> None:
        import av

        if self._frames is not None:
            self._frames.close()
        try:
            if t > 0:
                target = math.floor((self.origin + Fraction(t)) / self.time_base)
            else:  # aim a second before the start: a seek to the first timestamp itself
                # lands on the next keyframe in MPEG-TS
                target = math.floor((min(self.origin, Fraction(0)) - 1) / self.time_base)
            self._container.seek(target, stream=self.stream, backward=True, any_frame=False)
        except (av.FFmpegError, OSError) as exc:  # unseekable (a raw stream): from the start
            logger.debug("%s: seek to %.3f s failed: %s", self.path, t, exc)
            self._container.close()
            self._container, self.stream = _open(self.path)
            self.stream.thread_type = "AUTO"
        self._times.reset()
        self._frames = self._decode()
        self.prev, self.cur = None, next(self._frames, None)

    def _decode(self) -> Generator[_Decoded, None, None]:
        import av

        try:
            for packet in self._container.demux(self.stream):
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    self.bad_packets += 1
                    if self.bad_packets > _MAX_BAD_PACKETS:
                        return
                    continue
                for frame in decoded:
                    self.decoded += 1
                    pts = self._times.pts(frame.pts)
                    yield float(pts * self.time_base - self.origin), frame
        except (av.FFmpegError, OSError) as exc:  # damaged container: keep what decoded
            logger.debug("%s: demuxing stopped: %s", self.path, exc)


def _open(path: str) -> tuple[InputContainer, VideoStream]:
    import av

    p = Path(path)
    if not p.is_file():
        raise VideoError(f"video not found: {p} (check the path; re-index a moved video)")
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise VideoError(
            f"{p} is not a readable video ({reason}): check it with `ffprobe FILE` "
            "or re-encode it with ffmpeg"
        ) from exc
    stream = video_stream(container)
    if stream is None:
        container.close()
        raise VideoError(f"{p} has no video stream: pass a file with a video track")
    return container, stream
