"""OCR for the test fakes, memoised by image bytes for the whole session.

The fake models are sent the same frames again and again: every test that captions the
shared video sends its keyframes, and every reasoning step sends its frames again. RapidOCR
reads the same bytes the same way, so each distinct image is read once per session; the
fakes still reply from what they are sent.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, ClassVar

from memory.ocr import KeyframeReader

__all__ = ["FrameReader"]


class FrameReader(KeyframeReader):
    """`KeyframeReader` whose reads of JPEG bytes are shared by every instance."""

    _read: ClassVar[dict[tuple[bytes, float], str]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def read(self, image: bytes | Any) -> str:
        """Text lines of one image, as `KeyframeReader.read`."""
        if not isinstance(image, bytes):
            return super().read(image)
        key = (hashlib.blake2b(image, digest_size=16).digest(), self.min_score)
        with self._lock:
            known = self._read.get(key)
        if known is None:
            known = super().read(image)
            with self._lock:
                self._read[key] = known
        return known
