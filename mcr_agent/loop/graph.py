"""The MCR state machine: every edge of the loop is in `build_graph`; routers are pure.

observe → route → reason → act → update → reason … → verify → answer; a rejected answer
goes verify → act (re-perception) → update → reason.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from .nodes import NODES, Node
from .opening import OPENING
from .runtime import Deps
from .state import AgentState, InputState

__all__ = [
    "after_reason",
    "after_update",
    "after_verify",
    "build_graph",
    "compiled_graph",
    "recursion_limit",
]


def after_reason(state: AgentState) -> Literal["act", "verify", "update"]:
    """A proposal is verified, tool calls are run; a reply to repair goes through update."""
    if state.get("proposal") is not None:
        return "verify"
    if state.get("pending"):
        return "act"
    return "update"


def after_update(state: AgentState) -> Literal["reason", "answer"]:
    """Reason again while the budget lasts."""
    return "answer" if state.get("exhausted") else "reason"


def after_verify(state: AgentState) -> Literal["answer", "act"]:
    """A rejected proposal with budget left has its re-perception run by act (then update
    and reasoning again); any other verdict is answered."""
    return "act" if state.get("proposal") is None and state.get("pending") else "answer"


def _node(name: str) -> Node:
    """The node, or for observe, route and reason: the update the run's `Opening` computed
    for it, when there is one it has not handed over yet."""
    node = NODES[name]
    if name not in OPENING:
        return node

    @functools.wraps(node)
    def run(state: AgentState, runtime: Runtime[Deps]) -> Mapping[str, object]:
        opening = runtime.context.opening
        update = opening.take(name) if opening is not None else None
        return update if update is not None else node(state, runtime)

    return run


def build_graph() -> CompiledStateGraph[AgentState, Deps, InputState, AgentState]:
    """observe → route → reason ⇄ (act → update) … → verify → answer (or → act)."""
    builder = StateGraph(AgentState, context_schema=Deps, input_schema=InputState)
    for name in NODES:
        # The wrappers keep the node's (state, runtime) signature, which LangGraph inspects.
        builder.add_node(name, _node(name))  # type: ignore[call-overload]
    builder.add_edge(START, "observe")
    builder.add_edge("observe", "route")
    builder.add_edge("route", "reason")
    builder.add_conditional_edges("reason", after_reason)
    builder.add_edge("act", "update")
    builder.add_conditional_edges("update", after_update)
    builder.add_conditional_edges("verify", after_verify)
    builder.add_edge("answer", END)
    return builder.compile(name="mcr-agent")


def recursion_limit(max_steps: int, max_verifications: int) -> int:
    """LangGraph's super-step limit for a budget: each step runs at most reason, act, update
    and each verification verify, act, update, reason; plus observe, route, answer."""
    return 4 * max_steps + 4 * max_verifications + 8


@functools.cache
def compiled_graph() -> CompiledStateGraph[AgentState, Deps, InputState, AgentState]:
    """`build_graph()` compiled once per process (about 15 ms saved per question); runs
    share nothing through it, their dependencies come with each run's context."""
    return build_graph()
