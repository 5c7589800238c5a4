"""Running one tool call the model asked for, with its feedback note and step record."""

from __future__ import annotations

import time

from memory import Frame
from tools import ToolResult, run_tool

from .deps import Deps
from .state import Note, Step
from .toolcalls import ToolCall

__all__ = ["run_call"]


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
