"""Counting the HTTP traffic to the model server, where it happens.

Inside `counting()`, every HTTP request the client sends (found by an httpx event hook,
so the openai client's own retries are seen too) and every retry of ours (a tenacity
hook) is counted for the thread that sent it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Traffic", "count_request", "count_retry", "counting", "current"]


@dataclass
class Traffic:
    """HTTP traffic to the model server inside one `counting()` block.

    Attributes:
        requests: HTTP requests sent (chat completions, model lists), retries included.
        retries: Requests sent again after a failure: the openai client's own retries (429,
            5xx, timeouts, dropped connections) and ours of malformed replies or on another
            replica.
    """

    requests: int = 0
    retries: int = 0
    on_send: list[Callable[[], None]] = field(default_factory=list)
    """Run once, in the sending thread, as the first request is handed to the socket."""


_TRAFFIC: ContextVar[Traffic | None] = ContextVar("mcr_agent_traffic", default=None)


@contextlib.contextmanager
def counting() -> Iterator[Traffic]:
    """Count the requests this thread sends to the model server until the block ends."""
    traffic = Traffic()
    token = _TRAFFIC.set(traffic)
    try:
        yield traffic
    finally:
        _TRAFFIC.reset(token)


def current() -> Traffic | None:
    """The traffic this thread is counting, if it is inside `counting()`."""
    return _TRAFFIC.get()


def count_request(_request: object) -> None:
    """httpx ``request`` event hook: runs once per request actually sent."""
    traffic = _TRAFFIC.get()
    if traffic is not None:
        traffic.requests += 1
        callbacks, traffic.on_send = traffic.on_send, []
        for callback in callbacks:
            callback()


def count_retry(_state: object) -> None:
    """tenacity ``before_sleep`` hook: runs once per retry of ours."""
    traffic = _TRAFFIC.get()
    if traffic is not None:
        traffic.retries += 1
