"""On-screen text from keyframes and text frames with RapidOCR, merged across neighbours.

Each scene is read at its keyframes (evenly spaced) and its text frames (where the picture
stepped to new text without a cut, `screen_text.TextWatch`), in time order. A frame that
shows the same picture as the one read before it is not read again. A text frame's text
starts where its change began; a keyframe's where the previous read's ends, half way.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcr_agent.errors import DependencyError

from .picture import readable
from .records import Entry, Level, Scene
from .threads import thread_limit

__all__ = ["KeyframeReader", "read_scenes"]

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_ENGINE: list[Any] = []


class KeyframeReader:
    """Reads text from JPEG images with RapidOCR (its ONNX models ship in the wheel).

    Args:
        min_score: Lowest line confidence kept.
    """

    def __init__(self, *, min_score: float = 0.6) -> None:
        self.min_score = min_score

    def _engine(self) -> Any:
        with _LOCK:
            if not _ENGINE:
                try:
                    from rapidocr import RapidOCR
                except ImportError as exc:
                    raise DependencyError("OCR needs rapidocr: pip install rapidocr") from exc
                noisy = logging.getLogger("RapidOCR")
                noisy.setLevel(logging.ERROR)
                # "max" keeps keyframes at their size; the default ("min", 736) upscales a
                # 596x336 keyframe to 1311x736 first, 3x slower for the same text.
                # No text-angle classifier: frames are already upright (rotation applied),
                # it only tells 0 from 180 degree lines, and it costs ~12% of a read.
                params: dict[str, object] = {
                    "Det.limit_type": "max",
                    "Det.limit_side_len": 736,
                    "Global.use_cls": False,
                }
                if (threads := thread_limit()) is not None:
                    params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
                _ENGINE.append(RapidOCR(params=params))
                noisy.setLevel(logging.ERROR)  # it resets its own level on start-up
            return _ENGINE[0]

    def read(self, image: bytes | np.ndarray) -> str:
        """Text lines of one image (JPEG bytes or BGR array), top to bottom, one per line.

        Images of any shape are read: a strip too thin or too long for the detector is
        wrapped or padded first (`picture.readable`). An image that cannot be decoded or
        read gives no text (logged as a warning), never an exception.
        """
        import cv2

        pixels = (
            cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
            if isinstance(image, bytes)
            else image
        )
        if pixels is None:
            logger.warning("OCR skipped an image that does not decode")
            return ""
        image = readable(pixels)
        engine = self._engine()
        try:
            output = engine(image)
        except Exception as exc:  # RapidOCR raises its own errors on odd inputs
            logger.warning("OCR failed on a %dx%d image: %r", image.shape[1], image.shape[0], exc)
            return ""
        texts: Sequence[str] = output.txts or ()
        scores: Sequence[float] = output.scores or ()
        return "\n".join(
            t.strip()
            for t, s in zip(texts, scores, strict=False)
            if s >= self.min_score and t.strip()
        )


def read_scenes(
    scenes: Sequence[Scene],
    folder: Path,
    reader: KeyframeReader,
    *,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Entry]:
    """OCR each scene's keyframes and text frames and merge runs of the same text.

    Args:
        scenes: Scenes with their keyframes and text frames (files inside `folder`).
        folder: The memory folder.
        reader: The OCR engine.
        on_progress: Called with the number of frames done so far.
        should_stop: Polled between frames; True returns what was read so far.

    Returns:
        `ocr` entries in time order, one per run of (nearly) the same text.
    """
    spans: list[tuple[float, float, str, str]] = []
    done = [0]

    def tick() -> bool:
        done[0] += 1
        if on_progress is not None:
            on_progress(done[0])
        return should_stop is not None and should_stop()

    for scene in scenes:
        found, stopped = _read_scene(scene, folder, reader, tick)
        spans += found
        if stopped:
            break
    return _merge(spans)


def _read_scene(
    scene: Scene, folder: Path, reader: KeyframeReader, tick: Callable[[], bool]
) -> tuple[list[tuple[float, float, str, str]], bool]:
    """(start, end, text, frame file) per frame of one scene that shows text, and whether
    `tick` (called after each frame) asked to stop."""
    frames = sorted(
        [(k.time, None, k.path) for k in scene.keyframes]
        + [(f.time, f.since, f.path) for f in scene.text_frames]
    )
    starts: list[float] = []
    read: list[tuple[str, str]] = []  # (text, frame file) per frame
    last: tuple[np.ndarray, str] | None = None  # the picture read last, and its text
    stopped = False
    for j, (_, _, path) in enumerate(frames):
        data = (folder / path).read_bytes()
        picture = _coarse(data)
        if last is not None and _same_picture(picture, last[0]):
            text = last[1]
        else:
            text = reader.read(data)
            last = (picture, text) if picture is not None else None
        starts.append(_start(frames, j, scene.start, starts[-1] if starts else None))
        read.append((text, path))
        if stopped := tick():
            break
    ends = [*starts[1:], scene.end]
    spans = [
        (lo, hi, text, path)
        for lo, hi, (text, path) in zip(starts, ends, read, strict=True)
        if text and hi > lo
    ]
    return spans, stopped


def _start(
    frames: Sequence[tuple[float, float | None, str]],
    j: int,
    scene_start: float,
    last: float | None,
) -> float:
    """Where the text of `frames[j]` (time, since, path) starts: a text frame's at its
    change; a keyframe's half way from the frame before, but not before the latest change
    at or before it (a keyframe taken after a change shows the changed text)."""
    time, since, _ = frames[j]
    if j == 0:
        start = scene_start
    elif since is not None:
        start = since
    else:
        changes = [s for t, s, _ in frames if s is not None and s <= time]
        start = max([(frames[j - 1][0] + time) / 2, *changes])
    return max(start, scene_start if last is None else last)


def _coarse(jpeg: bytes) -> np.ndarray | None:
    """Block means of a frame: grey, 64 blocks across."""
    import cv2

    grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        return None
    h, w = grey.shape
    size = (64, max(1, round(64 * h / w)))
    return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), np.float32)


def _same_picture(a: np.ndarray | None, b: np.ndarray) -> bool:
    """Whether two frames show the same picture up to compression noise."""
    return a is not None and a.shape == b.shape and float(np.abs(a - b).max()) <= 6.0


def _normal(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _same_text(a: str, b: str) -> bool:
    """Whether two readings are the same text up to OCR noise: nearly equal as a whole, and
    every word of each close to a word of the other (so a replaced word is a new text)."""
    na, nb = _normal(a), _normal(b)
    if na == nb:
        return True
    if difflib.SequenceMatcher(None, na, nb).ratio() < 0.9:
        return False
    wa, wb = set(na.split()), set(nb.split())
    return all(
        any(difflib.SequenceMatcher(None, w, v).ratio() >= 0.75 for v in other)
        for words, other in ((wa - wb, wb), (wb - wa, wa))
        for w in words
    )


def _merge(spans: list[tuple[float, float, str, str]]) -> list[Entry]:
    entries: list[Entry] = []
    for lo, hi, text, frame in spans:
        last = entries[-1] if entries else None
        if last is not None and lo - last.end < 1.0 and _same_text(last.text, text):
            longer = text if len(text) > len(last.text) else last.text
            entries[-1] = Entry(last.start, hi, Level.OCR, "ocr", longer, (*last.frames, frame))
        else:
            entries.append(Entry(lo, hi, Level.OCR, "ocr", text, (frame,)))
    return entries
