"""Helpers for the web app's tests: model requests held until the test lets them go."""

from __future__ import annotations

import threading

from tests.fake_openai import HANG_GUARD_S, Request

__all__ = ["CAPTION", "VERIFY", "Hold"]

CAPTION = "describing one scene"  # in every scene-caption request
VERIFY = "Proposed answer:"  # in every verification request: the last call of a question


class Hold:
    """Model requests whose text contains `marker` wait until `release()`; `reached` is set
    once `count` of them are waiting at the same time."""

    def __init__(self, marker: str, count: int = 1) -> None:
        self.marker = marker
        self.count = count
        self.waiting = 0
        self.reached = threading.Event()
        self.opened = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> None:
        if self.marker not in request.texts or self.opened.is_set():
            return
        with self._lock:
            self.waiting += 1
            if self.waiting >= self.count:
                self.reached.set()
        assert self.opened.wait(HANG_GUARD_S), "the test never released the model"

    def release(self) -> None:
        self.opened.set()
