"""The nodes of the loop by name, each wrapped to time the steps it reports.

Importing this module loads no LangGraph: the nodes take LangGraph's `Runtime` but use only
its ``context`` (`Deps`), so `opening` can run the first of them before the graph exists.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .act import act
from .answer import answer
from .observe import observe
from .reason import reason
from .route import route
from .runtime import Deps
from .state import AgentState
from .update import update
from .verify import verify

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["NODES", "Node", "timed"]

Node = Callable[[AgentState, "Runtime[Deps]"], Mapping[str, object]]


def timed(node: Node) -> Node:
    """Stamp the node's wall time, and the model wait inside it, on the steps it reports
    without their own duration."""

    @functools.wraps(node)
    def run(state: AgentState, runtime: Runtime[Deps]) -> Mapping[str, object]:
        usage = runtime.context.meter.usage
        started, waited = time.perf_counter(), usage.model_s
        out = node(state, runtime)
        spent, waited = time.perf_counter() - started, usage.model_s - waited
        steps = out.get("steps")
        # A node of several steps times each itself.
        if isinstance(steps, list) and len(steps) == 1 and not steps[0].duration_s:
            return {**out, "steps": [replace(steps[0], duration_s=spent, model_s=waited)]}
        return out

    return run


NODES: dict[str, Node] = {
    name: timed(node)
    for name, node in (
        ("observe", observe),
        ("route", route),
        ("reason", reason),
        ("act", act),
        ("update", update),
        ("verify", verify),
        ("answer", answer),
    )
}
"""observe, route, reason, act, update, verify, answer: the graph's nodes, timed."""
