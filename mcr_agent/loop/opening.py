"""The opening of a run: observe → route → the first reason call, run ahead of the graph.

A fresh process (every ``mcr-agent ask``) would otherwise import LangGraph before its first
model request: about 0.8 s on 2 cores, most of it LangChain's tracing models, that the
user waits through. The opening runs the graph's first three nodes on the state the graph
would give them, the first reason in a worker thread; once its model call is sent, the
caller imports and compiles the graph while the model answers. The graph then
runs every node as usual, and observe, route and the first reason hand back the updates
the opening computed (`Opening.take`) instead of running again: one model call, the same
steps, the same events.

In a warm process the graph is already loaded and the opening gains nothing, but it costs
a thread per question and keeps one code path for both.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast, get_type_hints

from .nodes import NODES
from .state import AgentState, InputState

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from .runtime import Deps

__all__ = ["OPENING", "Opening", "merged"]

OPENING = ("observe", "route", "reason")
"""The nodes the opening runs, in the graph's order (observe → route → reason)."""

Update = Mapping[str, object]


def merged(state: Mapping[str, Any], update: Update) -> dict[str, Any]:
    """The state after a node's update, as LangGraph folds it: keys with a reducer in
    `AgentState` (``steps``: ``operator.add``) accumulate, the others are replaced."""
    out = dict(state)
    for key, value in update.items():
        reducer = _REDUCERS.get(key)
        out[key] = reducer(out[key], value) if reducer and key in out else value
    return out


def _reducers() -> dict[str, Any]:
    hints = get_type_hints(AgentState, include_extras=True)
    found = {}
    for key, hint in hints.items():
        for meta in getattr(hint, "__metadata__", ()):
            if callable(meta):
                found[key] = meta
    return found


_REDUCERS = _reducers()


@dataclass(frozen=True)
class _Context:
    """What the nodes read of LangGraph's `Runtime`: its ``context``."""

    context: Deps


class Opening:
    """observe → route → reason (its first call) of one run, ahead of the graph.

    `start` runs observe and route in the calling thread (a Ctrl-C there stops them at
    once) and the first reason in a worker thread; `wait_busy` until its model call is
    sent; then run the graph, whose node wrapper calls `take`.
    """

    def __init__(self) -> None:
        self._updates: dict[str, Future[Update]] = {name: Future() for name in OPENING}
        self._lock = threading.Lock()
        self._busy = threading.Event()

    def start(self, deps: Deps, state: InputState) -> None:
        """Run observe and route, then start reason in a daemon thread (a Ctrl-C exits
        without waiting for the model) in a copy of the caller's context variables.

        What a node raises is kept for the graph to raise in its place, as it did before
        (Ctrl-C and exits aside), and the nodes after it are not run.
        """
        runtime = cast("Runtime[Deps]", _Context(deps))
        current: dict[str, Any] = dict(state)
        for name in OPENING[:-1]:
            update = self._run(name, current, runtime, catch=Exception)
            if update is None:
                self._busy.set()
                return
            current = merged(current, update)
        # The worker runs only Python, the image encoder and the socket: nothing in it minds
        # being stopped at exit (C++ code that had released the GIL would abort the process).
        deps.meter.when_calling(self._busy.set)
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run,
            args=(self._last, current, runtime),
            name="mcr-opening",
            daemon=True,
        ).start()

    def _last(self, state: dict[str, Any], runtime: Runtime[Deps]) -> None:
        try:
            self._run(OPENING[-1], state, runtime, catch=BaseException)
        finally:
            self._busy.set()

    def _run(
        self,
        name: str,
        state: dict[str, Any],
        runtime: Runtime[Deps],
        *,
        catch: type[BaseException],
    ) -> Update | None:
        future = self._updates[name]
        future.set_running_or_notify_cancel()
        try:
            update = NODES[name](cast(AgentState, state), runtime)
        except catch as exc:  # handed to the graph, which raises it in the node's place
            future.set_exception(exc)
            for rest in OPENING[OPENING.index(name) + 1 :]:
                self._updates[rest].cancel()
            return None
        future.set_result(update)
        return update

    def wait_busy(self) -> None:
        """Block until the model call is sent (or the opening ended without one): from
        there the worker waits for the model, and the GIL is free for the caller's imports.
        Work run beside the worker before that would slow it several-fold (each release of
        the GIL it makes costs it a switch interval)."""
        self._busy.wait()

    def take(self, name: str) -> Update | None:
        """The update the opening computed for node `name`, once (None after that, or for a
        node it does not run or never reached); blocks until it is ready.

        Raises:
            BaseException: What the node raised in the opening.
        """
        with self._lock:
            future = self._updates.pop(name, None)
        if future is None or future.cancelled():
            return None
        return future.result()
