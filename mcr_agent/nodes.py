"""The nodes of the MCR loop. Each takes the state and the run's `Deps` and returns an update;
the topology lives in `graph.build_graph`.

observe → route → reason → act → update → reason … → verify → answer
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from memory import Level
from tools import data_block

from .calls import run_call
from .choice import option_text
from .context import compress, entry_lines, estimate_tokens, memory_note, spans_in
from .deps import Deps
from .finish import final_answer
from .prefetch import merge_spans, prefetch
from .reasoning import reason, verify
from .routing import classify, tool_order
from .state import AgentState, Belief, Note, Step

__all__ = ["act", "answer", "observe", "reason", "route", "update", "verify"]

_RETRIEVE = (Level.SEGMENT, Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)
_FINE = (Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)
Update = dict[str, Any]


def observe(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """Load or build the memory; seed the context with the summary and what the question
    retrieves across levels (hybrid search), with timestamps."""
    memory = runtime.context.memory
    query = " ".join([state["question"], *map(option_text, state.get("options") or [])])
    # Scenes not captioned yet hold only a placeholder: retrieving them would mislead.
    hits = [h for h in memory.search(query, k=16, levels=_RETRIEVE) if h.entry.text.strip()
            and h.entry.source != "uncaptioned"][:8]  # fmt: skip
    notes: list[Note] = []
    if memory.summary is not None:
        summary = data_block("summary", entry_lines([memory.summary], limit=2000))
        notes.append(Note("memory", 0, f"Summary of the whole video:\n{summary}"))
    if hits:
        entries = sorted((h.entry for h in hits), key=lambda e: e.start)
        notes.append(memory_note("Memory entries retrieved for the question:", entries))
    # Candidate spans come from the fine levels: a segment summary spans minutes.
    fine = [(h.entry.start, h.entry.end) for h in hits if h.entry.level in _FINE][:4]
    candidates = merge_spans(fine, gap=0, limit=3)
    missing = f", {len(memory.missing_captions)} scenes uncaptioned" * bool(memory.missing_captions)
    summary = (
        f"memory of {memory.duration:.0f} s: {len(memory.scenes)} scenes, "
        f"{len(memory.entries)} entries{missing}; {len(hits)} retrieved"
    )
    return {
        "context": notes,
        "fresh": [],
        "frames": [],
        "belief": Belief(candidates=tuple(candidates)),
        "pending": [],
        "proposal": None,
        "verdict": None,
        "feedback": [],
        "repairs": 0,
        "step": 0,
        "verifications": 0,
        "exhausted": "",
        "steps": [Step("observe", summary=summary)],
    }


def route(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """Classify the question into a soft strategy prior and pre-fetch what that class needs."""
    deps = runtime.context
    kind = classify(state["question"], state.get("options") or [])
    order = tool_order(kind, list(deps.tools))
    notes, frames, fetched = prefetch(kind, deps.memory, state["belief"].candidates, deps.budget)
    return {
        "route": kind,
        "tool_order": order,
        "context": [*state["context"], *notes],
        "frames": frames,
        "steps": [Step("route", summary=f"{kind} question; pre-fetched {fetched}")],
    }


def act(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """Run the tools the reasoner called; each result becomes feedback in the context."""
    deps = runtime.context
    notes: list[Note] = []
    steps: list[Step] = []
    frames = list(state.get("frames") or [])
    for call in state.get("pending") or []:
        note, step, shown = run_call(call, deps, state.get("step", 0))
        notes.append(note)
        steps.append(step)
        frames = shown or frames
    return {
        "fresh": [*state.get("fresh", []), *notes],
        "frames": frames,
        "pending": [],
        "steps": steps,
    }


def update(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """Fold reasoning, actions and feedback into the context and the belief; compress the
    context to its budget without dropping what the hypothesis cites; check the budget."""
    deps = runtime.context
    budget = deps.budget
    fresh = state.get("fresh") or []
    belief = state["belief"]
    seen = [
        (e.start, e.end)
        for n in reversed(fresh)
        for e in n.evidence
        if e.end > e.start or e.source != "web"
    ]
    candidates = merge_spans([*seen[:4], *belief.candidates], gap=0, limit=6)
    belief = Belief(belief.hypothesis, belief.uncertainty, tuple(candidates), belief.cited)
    protect = [*belief.cited, *spans_in(belief.hypothesis)]
    before = [*state["context"], *fresh]
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
        "fresh": [],
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


def answer(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """The final answer: text, option letter (always one when options exist), confidence and
    the evidence with [start, end], source and text."""
    final = final_answer(state, runtime.context)
    cited = ", ".join(f"[{e.start:.1f}-{e.end:.1f} s]" for e in final.evidence[:4])
    letter = f"{final.choice}: " if final.choice else ""
    return {
        "final": final,
        "steps": [Step("answer", summary=f"{letter}{final.answer[:120]} ({cited or 'no span'})")],
    }
