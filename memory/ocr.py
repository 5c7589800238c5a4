"""On-screen text from keyframes with RapidOCR, merged across neighbouring frames."""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DependencyError
from .picture import readable
from .records import Entry, Level, Scene

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
                params = {"Det.limit_type": "max", "Det.limit_side_len": 736}
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
    """OCR every keyframe and merge runs of the same text into one entry.

    Each keyframe stands for the part of its scene nearest to it; consecutive keyframes
    reading (nearly) the same text become one entry spanning all of them.
    """
    spans: list[tuple[float, float, str, str]] = []
    done = 0
    for scene in scenes:
        times = [k.time for k in scene.keyframes]
        for j, key in enumerate(scene.keyframes):
            if should_stop is not None and should_stop():
                return _merge(spans)
            lo = scene.start if j == 0 else (times[j - 1] + times[j]) / 2
            hi = scene.end if j == len(times) - 1 else (times[j] + times[j + 1]) / 2
            text = reader.read((folder / key.path).read_bytes())
            if text:
                spans.append((lo, hi, text, key.path))
            done += 1
            if on_progress is not None:
                on_progress(done)
    return _merge(spans)


def _normal(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _merge(spans: list[tuple[float, float, str, str]]) -> list[Entry]:
    entries: list[Entry] = []
    for lo, hi, text, frame in spans:
        last = entries[-1] if entries else None
        if (
            last is not None
            and lo - last.end < 1.0
            and difflib.SequenceMatcher(None, _normal(last.text), _normal(text)).ratio() >= 0.9
        ):
            longer = text if len(text) > len(last.text) else last.text
            entries[-1] = Entry(last.start, hi, Level.OCR, "ocr", longer, (*last.frames, frame))
        else:
            entries.append(Entry(lo, hi, Level.OCR, "ocr", text, (frame,)))
    return entries
