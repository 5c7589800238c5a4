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
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools import Tool

__all__ = ["load_embedder_beside", "prepare_tool_schemas", "settle", "start_up"]

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
