"""The act node: every tool call of the loop runs here, the reasoner's and verification's
re-perception alike; each result becomes feedback F."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypedDict

from memory import Frame
from tools import ToolResult, run_tool

from ..model.replies import ToolCall
from .runtime import Deps
from .state import AgentState, Note, Step

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["ActUpdate", "act", "run_call"]


class ActUpdate(TypedDict):
    """What act writes."""

    feedback: list[Note]
    visual_evidence: list[Frame]
    pending: list[ToolCall]
    steps: list[Step]


def act(state: AgentState, runtime: Runtime[Deps]) -> ActUpdate:
    """Run the pending tool calls.

    Reads ``pending``, ``feedback``, ``visual_evidence``, ``step``. Writes ``feedback`` (one
    note per call added), ``visual_evidence`` (the frames the last call suggests showing
    next, else unchanged), ``pending`` (emptied) and one step per call.
    """
    deps = runtime.context
    notes: list[Note] = []
    steps: list[Step] = []
    frames = list(state.get("visual_evidence") or [])
    for call in state.get("pending") or []:
        note, step, shown = run_call(call, deps, state.get("step", 0))
        notes.append(note)
        steps.append(step)
        frames = shown or frames
    return {
        "feedback": [*state.get("feedback", []), *notes],
        "visual_evidence": frames,
        "pending": [],
        "steps": steps,
    }


def run_call(call: ToolCall, deps: Deps, step: int) -> tuple[Note, Step, list[Frame]]:
    """Run one tool call: its feedback note, its step record (own wall and model time) and
    the frames it suggests showing next."""
    started, waited = time.perf_counter(), deps.meter.usage.model_s
    tool = deps.tools.get(call.name)
    if tool is None:  # a client that does not filter names itself (Agent(llm=...))
        known = ", ".join(sorted(deps.tools))
        result = ToolResult("", error=f"unknown tool {call.name!r} (tools: {known})")
    else:
        result = run_tool(tool, call.arguments, deps.tool_context)
    body = "\n".join([result.text, *result.notes]).strip()
    if result.error:
        note = Note("error", step, result.error, tool=call.name)
    else:
        note = Note("observation", step, body, result.evidence, call.name)
    line = (result.error or body or "(empty)").splitlines()[0][:160]
    record = Step(
        "act", call.name, call.arguments, line, time.perf_counter() - started,
        feedback=result.error or body, model_s=deps.meter.usage.model_s - waited,
    )  # fmt: skip
    return note, record, list(result.frames)
