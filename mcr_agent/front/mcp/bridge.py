"""What the MCP server needs around the library: allowed folders, progress, cancellation.

The library is synchronous and reports progress through `memory.ProgressSink`; an MCP call
is a task on an event loop that the client may cancel. `run_cancellable` runs the work in
a worker thread, and `ToolProgress` turns its stages into MCP progress notifications and
stops it at its next stage or step once the client cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from ...errors import ConfigError

__all__ = [
    "AllowedRoots",
    "CallCancelled",
    "PathRefused",
    "ToolProgress",
    "progress_sender",
    "run_cancellable",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

Send = Callable[[float, str], None]
"""Sends one progress notification: (progress, message), progress increasing."""


class PathRefused(ConfigError):
    """A path outside the folders the server may read."""


class CallCancelled(BaseException):
    """Raised in a worker whose call the client cancelled.

    A BaseException, like `KeyboardInterrupt`, so no handler of ordinary errors on the way
    up (a tool turning failures into feedback) mistakes it for a result; the build keeps
    every finished stage, as it does on Ctrl-C.
    """


class AllowedRoots:
    """The folders whose files the server may read (``--allow DIR``), symlinks resolved.

    Args:
        folders: The folders; relative paths given to `check` are taken from the first.
    """

    def __init__(self, folders: Sequence[str | Path]) -> None:
        resolved = [Path(f).expanduser().resolve() for f in folders]
        if not resolved:
            raise ConfigError("no folder is allowed: pass --allow DIR")
        self.folders = tuple(dict.fromkeys(resolved))

    def __str__(self) -> str:
        return ", ".join(str(f) for f in self.folders)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str | Path):
            return False
        real = Path(path).expanduser().resolve()
        return any(real.is_relative_to(f) for f in self.folders)

    def check(self, path: str) -> Path:
        """The real path of `path` (symlinks resolved) if it lies under an allowed folder.

        Raises:
            PathRefused: It does not (checked before the file is opened or even looked for).
        """
        raw = Path(path).expanduser()
        real = (raw if raw.is_absolute() else self.folders[0] / raw).resolve()
        if not any(real.is_relative_to(f) for f in self.folders):
            raise PathRefused(
                f"{path} is outside the folders this server may read ({self}): "
                "restart `mcr-agent mcp` with --allow DIR naming its folder"
            )
        return real


class ToolProgress:
    """A `memory.ProgressSink` (plus agent steps) for one tool call.

    Each stage start, end and notable advance becomes one notification whose progress
    counts the notifications (MCP wants it to increase; the stages and their totals vary
    with what the cache holds), with a message such as ``scenes: 12/20``. Every call checks
    the call's stop event first and raises `CallCancelled` once it is set.

    Args:
        send: Sends one notification; called from worker threads.
        stop: Set when the client cancelled the call.
        step: Fraction of a stage's total between two update notifications.
    """

    def __init__(self, send: Send, stop: threading.Event, *, step: float = 0.05) -> None:
        self._send = send
        self._stop = stop
        self._step = step
        self._lock = threading.Lock()  # stages are reported from worker threads too
        self._sent = 0
        self._totals: dict[str, float | None] = {}
        self._last: dict[str, float] = {}

    def check(self) -> None:
        """Raise `CallCancelled` if the client cancelled the call."""
        if self._stop.is_set():
            raise CallCancelled

    def note(self, message: str) -> None:
        """Send one notification with this message (after `check`)."""
        self.check()
        with self._lock:
            self._sent += 1
            self._send(float(self._sent), message)

    def stage(self, name: str, total: float | None) -> None:
        self._totals[name] = total
        self._last[name] = 0.0
        self.note(f"{name}: started" + (f" (0/{total:g})" if total else ""))

    def update(self, name: str, done: float) -> None:
        self.check()
        total = self._totals.get(name)
        last = self._last.get(name, 0.0)
        if total and done - last < total * self._step and done < total:
            return
        if not total and done - last < 1.0:
            return
        self._last[name] = done
        self.note(f"{name}: {done:.0f}/{total:.0f}" if total else f"{name}: {done:.0f}")

    def done(self, name: str, summary: str) -> None:
        self.note(f"{name}: {summary}")


async def run_cancellable(work: Callable[[threading.Event], T], what: str) -> T:
    """Run `work(stop)` in a worker thread; a cancelled call sets `stop` and returns at once.

    The worker is not waited for after a cancellation: it stops at its next check of
    `stop` (the next stage, progress update or agent step), keeping what it finished.

    Args:
        work: The blocking work; it should pass `stop` to a `ToolProgress`.
        what: The call, for the log line a cancellation writes.
    """
    stop = threading.Event()
    try:
        return await anyio.to_thread.run_sync(work, stop, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        logger.info("cancelled by the client: %s (stops at its next step)", what)
        raise


def progress_sender(
    report: Callable[[float, float | None, str | None], Coroutine[Any, Any, None]],
) -> Send:
    """A `Send` for worker threads: runs the async `report(progress, total, message)` on
    the calling event loop and returns once it is sent. Call it on the loop."""
    token = anyio.lowlevel.current_token()

    def send(progress: float, message: str) -> None:
        anyio.from_thread.run(report, progress, None, message, token=token)

    return send
