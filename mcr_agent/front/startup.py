"""What a fresh process does to reach its first model request sooner, and to end sooner.

Every ``mcr-agent ask`` is a new process; most of its first second is imports (openai,
numpy, LangGraph) that a warm process (the web app, the MCP server, an evaluation) pays
once. `mcr_agent.loop.opening` overlaps LangGraph's import with the first model call; this
module does the rest: it pauses and settles the garbage collector around the imports, loads
the embedding model beside the client's import, and keeps the tools' schemas in the cache.
Measured by ``python -m evals.bench_latency``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory import ProgressSink
    from tools import Tool

__all__ = [
    "ResumingProgress",
    "exit_on_second_interrupt",
    "interrupts_deferred",
    "load_embedder_beside",
    "prepare_tool_schemas",
    "settle",
    "start_up",
]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def start_up(*, paused: bool) -> Iterator[Callable[[], None]]:
    """With `paused`, the cyclic garbage collector is off until the call this yields (or
    the block's end): a question on an indexed video spends most of its first second
    importing, and collections walking those long-lived objects cost about 0.1 s of it.
    Not for a video still to index: that runs for minutes."""
    was = gc.isenabled()
    if paused:
        gc.disable()

    def started() -> None:
        if was:
            gc.enable()

    try:
        yield started
    finally:
        started()


class ResumingProgress:
    """A `memory.ProgressSink` that ends `start_up`'s pause at the first stage reported:
    building or completing a memory (captions a dead server left missing, say) runs for
    minutes, with the collector on.

    Args:
        sink: Where the progress goes.
        started: The call `start_up` yields.
    """

    def __init__(self, sink: ProgressSink, started: Callable[[], None]) -> None:
        self.sink = sink
        self.started = started

    def stage(self, name: str, total: float | None) -> None:
        self.started()
        self.sink.stage(name, total)

    def update(self, name: str, done: float) -> None:
        self.sink.update(name, done)

    def done(self, name: str, summary: str) -> None:
        self.sink.done(name, summary)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """A Ctrl-C during the block takes effect as it ends (in the main thread; elsewhere the
    block runs as is).

    For imports run while the model answers (LangGraph's, in `Agent.stream`): they run
    many weakref callbacks, and a KeyboardInterrupt raised inside one is only printed by
    CPython ("Exception ignored in ..."), so the Ctrl-C would be lost until the reply.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
    elif received and previous == signal.SIG_DFL:
        signal.raise_signal(signal.SIGINT)


def exit_on_second_interrupt() -> None:
    """After a Ctrl-C, a second one ends the process at once (exit 130): the first waits
    for work in other threads to stop cleanly (a speech window's current segment)."""

    def now(_signum: int, _frame: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, now)


def settle() -> None:
    """Before a successful exit: collect the young garbage (what the command's work left in
    cycles, native objects such as ONNX Runtime sessions included: they are destroyed
    before the process ends), then exempt the rest from the interpreter's teardown, which
    would walk and free every object the imports made (pydantic and LangChain models):
    0.3-0.4 s of an `ask` on 2 cores, where a full collection would cost 0.1 s again.

    Not after a failure or Ctrl-C: the exception's frames still hold the run's objects,
    and they are left to the usual teardown.
    """
    gc.collect(1)
    gc.freeze()


def load_embedder_beside(model: str, cache: Path) -> None:
    """Load the embedding model, and run it once, in a thread while this one imports the
    model client: ONNX Runtime builds its session and makes its first run (about 0.1 s
    each, the first run costing 20 later ones) mostly outside the GIL. Nothing is left to
    do in a process that has run it. Only from an export in the cache: a model to export,
    or a failure, is left to the memory's own load."""
    from memory.embed import SentenceEmbedder

    embedder = SentenceEmbedder(model, cache=cache)

    def load() -> None:
        try:
            if embedder.load_if_exported():
                embedder.embed(["a question about a video"])
        except Exception as exc:  # reported where the memory loads it
            logger.debug("embedding model not loaded ahead: %s", exc)

    # Not a daemon: an early exit waits for it rather than stopping it inside ONNX Runtime.
    threading.Thread(target=load, name="mcr-embedder-load").start()


def prepare_tool_schemas(tools: Mapping[str, Tool], cache: Path) -> None:
    """Put the tools' schemas in the cache, so the first question asked in a fresh process
    does not import langchain-core (about 0.5 s) before its first request."""
    from ..loop.toolset import schemas

    try:
        schemas(dict(tools), list(tools), cache)
    except Exception as exc:  # the question makes them itself, and reports a failure
        logger.debug("tool schemas not prepared: %s", exc)
