"""The update node: C_{i+1} = C_i + (R_i, A_{i+1}, F_{i+1}), compressed to its budget, and
the budget check that ends the loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from .notes import compress, estimate_tokens
from .runtime import Deps
from .spans import merge_spans, spans_in
from .state import AgentState, Belief, Note, Step

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["UpdateUpdate", "update"]


class UpdateUpdate(TypedDict):
    """What update writes."""

    context: list[Note]
    feedback: list[Note]
    belief: Belief
    exhausted: str
    steps: list[Step]


def update(state: AgentState, runtime: Runtime[Deps]) -> UpdateUpdate:
    """Fold the step's feedback into the context and the belief; compress the context to its
    budget without dropping what the hypothesis cites; check the budget.

    Reads ``feedback``, ``context``, ``belief``, ``step``, ``repairs``. Writes ``context``
    (with the feedback folded in, compressed), ``feedback`` (emptied), ``belief`` (the
    spans the feedback cites added to its candidates) and ``exhausted`` (why the loop must
    answer now, or empty).
    """
    deps = runtime.context
    budget = deps.budget
    feedback = state.get("feedback") or []
    belief = state["belief"]
    seen = [
        (e.start, e.end)
        for n in reversed(feedback)
        for e in n.evidence
        if e.end > e.start or e.source != "web"
    ]
    candidates = merge_spans([*seen[:4], *belief.candidates], gap=0, limit=6)
    belief = Belief(belief.hypothesis, belief.uncertainty, tuple(candidates), belief.cited)
    protect = [*belief.cited, *spans_in(belief.hypothesis)]
    before = [*state["context"], *feedback]
    context = compress(before, budget.context_tokens, protect=protect)
    shrunk = sum(1 for n in context if n.compressed) - sum(1 for n in before if n.compressed)
    tokens = sum(estimate_tokens(n.text) for n in context)
    exhausted = _exhausted(state, deps)
    summary = f"context: {len(context)} notes, ~{tokens} tokens"
    if shrunk or len(context) < len(before):
        summary += f" ({shrunk} compressed, {len(before) - len(context)} dropped)"
    if exhausted:
        summary += f"; {exhausted}: answering the best hypothesis"
    return {
        "context": context,
        "feedback": [],
        "belief": belief,
        "exhausted": exhausted,
        "steps": [Step("update", summary=summary)],
    }


def _exhausted(state: AgentState, deps: Deps) -> str:
    if state.get("step", 0) >= deps.budget.max_steps:
        return f"step budget ({deps.budget.max_steps}) spent"
    if deps.meter.calls_left < 1:
        return f"model-call budget ({deps.budget.max_model_calls}) spent"
    if state.get("repairs", 0) > deps.budget.max_repairs:
        return f"{state['repairs']} unusable replies in a row"
    return ""
