"""Scene detection and keyframes from one decoding pass over the video.

The video is decoded once with PyAV. Every frame is scaled down for PySceneDetect's
AdaptiveDetector, fed with its exact presentation time (so variable frame rate is handled;
times are on the player's clock, `clock.playback_origin`),
and a frame every `sample_interval` seconds is kept as a model-sized JPEG; keyframes are
then picked from those samples once the cuts are known, so no second pass or seek is needed.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mcr_agent.errors import VideoError

from .clock import FrameTimes, playback_origin, video_stream
from .picture import encode_jpeg, scaled_size, small_bgr
from .records import Keyframe, Scene, TextFrame, VideoInfo
from .screen_text import TextWatch
from .settings import IndexSettings
from .threads import thread_limit

__all__ = ["FrameSample", "ScanResult", "pick_keyframes", "scan_video", "split_scenes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameSample:
    """A decoded frame kept for keyframes or OCR: its time and JPEG bytes (and, for OCR,
    when the change it shows began)."""

    time: float
    jpeg: bytes
    since: float | None = None


@dataclass
class ScanResult:
    """What the decoding pass found.

    Attributes:
        cuts: Times of the detected cuts, in seconds, ascending.
        samples: Frames kept at regular intervals, ascending by time.
        text_samples: Frames kept where on-screen text may have changed (`TextWatch`).
        end: Time where decoded video ends (less than the duration if the file is truncated).
        frames: Number of frames decoded.
        bad_packets: Packets that failed to decode and were skipped.
    """

    cuts: list[float] = field(default_factory=list)
    samples: list[FrameSample] = field(default_factory=list)
    text_samples: list[FrameSample] = field(default_factory=list)
    end: float = 0.0
    frames: int = 0
    bad_packets: int = 0


def scan_video(
    info: VideoInfo,
    settings: IndexSettings,
    *,
    on_progress: Callable[[float], None] | None = None,
    sample_interval: float | None = None,
) -> ScanResult:
    """Decode the video once, detecting cuts, keeping regular frame samples and frames
    where on-screen text may have changed.

    Args:
        info: The probed video.
        settings: Detection and keyframe settings.
        on_progress: Called with the current video time, about once per video second.
        sample_interval: Seconds between kept samples; defaults to half the minimum scene length.

    Returns:
        The cuts and samples.

    Raises:
        VideoError: Nothing at all could be decoded.
    """
    from scenedetect.common import FrameTimecode, Timecode
    from scenedetect.detectors import AdaptiveDetector

    interval = sample_interval or max(0.2, min(0.5, settings.min_scene_seconds))
    sample_size = _even_size(info, settings.keyframe_max_pixels)
    rate = Fraction(info.fps).limit_denominator(1001)
    detector = AdaptiveDetector(
        adaptive_threshold=settings.scene_threshold,
        min_scene_len=float(settings.min_scene_seconds),
    )
    result = ScanResult()
    watch = TextWatch()
    cut_codes: list[Any] = []
    next_sample = -math.inf
    next_report = 0.0
    first = 0.0
    last_code = None
    start_pts: int | None = None
    for frame, time_base, origin in _decoded_frames(info.path, result):
        t = float(frame.pts * time_base - origin)
        if start_pts is None:
            start_pts, first = frame.pts, t
        pts = frame.pts - start_pts  # the detector's own clock starts at its first frame
        last_code = FrameTimecode(Timecode(pts, time_base), fps=rate)
        small = small_bgr(frame, settings.detect_width)
        cut_codes += detector.process_frame(last_code, small)
        jpeg = None
        if t >= next_sample:
            jpeg = _jpeg(frame, sample_size, info, settings)
            result.samples.append(FrameSample(t, jpeg))
            next_sample = t + interval
        if (since := watch.add(t, small)) is not None:
            jpeg = jpeg or _jpeg(frame, sample_size, info, settings)
            result.text_samples.append(FrameSample(t, jpeg, since))
        result.frames += 1
        result.end = t + 1.0 / max(info.fps, 1.0)
        if on_progress is not None and t >= next_report:
            on_progress(t)
            next_report = t + 1.0
    if last_code is None:
        raise VideoError(
            f"{info.path}: no frame could be decoded (corrupt video); re-encode it with ffmpeg"
        )
    cut_codes += detector.post_process(last_code)
    cut_times = (first + c.seconds for c in cut_codes)
    result.cuts = sorted({round(c, 3) for c in cut_times if first < c < result.end})
    if result.bad_packets:
        logger.debug("%s: skipped %d undecodable packets", info.path, result.bad_packets)
    if result.end < info.duration - 1.0:
        logger.debug(
            "%s: decoding stopped at %.1f s of %.1f s (truncated file?)",
            info.path,
            result.end,
            info.duration,
        )
    return result


_DONE = object()


def _decoded_frames(path: str, result: ScanResult) -> Iterator[tuple[Any, Fraction, Fraction]]:
    """Yield (frame, time base, player origin in seconds) decoded in a background thread.

    Decoding runs on one core while the caller's per-frame work runs on the other (PyAV
    releases the GIL while decoding); on 2 cores this is ~1.4x faster than decoding and
    processing in one thread with FFmpeg's own frame threading.
    """
    import av

    frames: queue.Queue[Any] = queue.Queue(maxsize=48)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            with av.open(path, metadata_errors="ignore") as container:
                stream = video_stream(container)
                if stream is None:
                    raise VideoError(f"{path} has no video stream")
                stream.thread_type = "SLICE"
                stream.thread_count = thread_limit() or 0  # 0: FFmpeg picks (all cores)
                time_base = Fraction(stream.time_base or Fraction(1, 90000))
                origin = Fraction(playback_origin(container)).limit_denominator(10**9)
                times = FrameTimes(stream)
                for packet in container.demux(stream):
                    try:
                        decoded = packet.decode()
                    except av.FFmpegError:
                        result.bad_packets += 1
                        if result.bad_packets > 200:
                            break
                        continue
                    for frame in decoded:
                        frame.pts = times.pts(frame.pts)
                        if not put((frame, time_base, origin)):
                            return
        except av.FFmpegError as exc:  # damaged container: keep what decoded so far
            logger.debug("%s: demuxing stopped: %s", path, exc)
            result.bad_packets += 1
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
        finally:
            put(_DONE)

    worker = threading.Thread(target=decode, name="mcr-decode", daemon=True)
    worker.start()
    try:
        while (item := frames.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise VideoError(f"{path}: decoding failed ({item}); re-encode it with ffmpeg")
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _even_size(info: VideoInfo, max_pixels: int) -> tuple[int, int]:
    """Width and height (stored orientation, square pixels) fitting `max_pixels`, even."""
    w, h = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
    return scaled_size(w, h, None, max_pixels)


def _jpeg(frame: Any, size: tuple[int, int], info: VideoInfo, settings: IndexSettings) -> bytes:
    return encode_jpeg(
        frame,
        size,
        rotation=info.rotation,
        quality=settings.keyframe_quality,
        path=info.path,
        max_pixels=settings.keyframe_max_pixels,
    )


def split_scenes(cuts: list[float], end: float, *, max_seconds: float) -> list[tuple[float, float]]:
    """Turn cut times into scene spans, splitting spans longer than `max_seconds` evenly.

    A video without cuts still gets units; a sliver shorter than 50 ms at the end is merged.
    """
    bounds = [0.0, *(c for c in cuts if 0.05 < c < end - 0.05), end]
    spans: list[tuple[float, float]] = []
    for start, stop in itertools.pairwise(bounds):
        parts = max(1, math.ceil((stop - start) / max_seconds - 1e-9))
        step = (stop - start) / parts
        spans += [(start + i * step, start + (i + 1) * step) for i in range(parts)]
    return [(round(s, 3), round(e, 3)) for s, e in spans]


def pick_keyframes(
    spans: list[tuple[float, float]],
    samples: list[FrameSample],
    folder: Path,
    settings: IndexSettings,
    text_samples: list[FrameSample] | None = None,
) -> list[Scene]:
    """Choose keyframes per scene from the samples and write them as JPEG files, with the
    text samples inside each scene.

    Args:
        spans: Scene spans from `split_scenes`.
        samples: Frame samples from `scan_video`.
        folder: Memory folder; files go to its ``keyframes/`` subfolder.
        settings: Keyframe interval and count.
        text_samples: Frames where on-screen text may have changed, from `scan_video`.

    Returns:
        The scenes with their keyframes and text frames (paths relative to `folder`).
    """
    times = np.array([s.time for s in samples])
    out_dir = folder / "keyframes"
    out_dir.mkdir(parents=True, exist_ok=True)
    scenes = []
    for index, (start, end) in enumerate(spans):
        count = min(
            settings.max_keyframes, max(1, math.ceil((end - start) / settings.keyframe_interval))
        )
        chosen: list[int] = []
        for j in range(count):
            target = start + (j + 0.5) * (end - start) / count
            i = _nearest_inside(times, target, start, end)
            if i is not None and i not in chosen:
                chosen.append(i)
        frames = []
        for i in chosen:
            name = f"keyframes/{index:05d}_{samples[i].time:010.3f}.jpg"
            (folder / name).write_bytes(samples[i].jpeg)
            frames.append(Keyframe(round(samples[i].time, 3), name))
        texts = []
        for sample in text_samples or ():
            if start <= sample.time < end or (sample.time == end and index == len(spans) - 1):
                name = f"keyframes/{index:05d}_{sample.time:010.3f}_text.jpg"
                (folder / name).write_bytes(sample.jpeg)
                since = max(start, sample.since if sample.since is not None else sample.time)
                texts.append(TextFrame(round(sample.time, 3), round(since, 3), name))
        scenes.append(Scene(index, start, end, tuple(frames), tuple(texts)))
    return scenes


def _nearest_inside(times: np.ndarray, target: float, start: float, end: float) -> int | None:
    if times.size == 0:
        return None
    inside = np.flatnonzero((times >= start) & (times < end))
    pool = inside if inside.size else np.arange(times.size)
    return int(pool[np.argmin(np.abs(times[pool] - target))])
