"""The reason node: R_i = f(Q | V_i, A_i, F_i, C_i), one model call that picks the next
actions (tool calls) or proposes an answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from pydantic import ValidationError

import prompts

from ..errors import ModelReplyError
from ..model.messages import Message, frame_parts, text_part
from ..model.replies import ToolCall
from .notes import belief_text, render_context
from .options import OPEN_QUESTION, extract_choice, option_letters
from .runtime import Deps
from .spans import clamp_spans, spans_in
from .state import AgentState, Belief, Note, Proposal, Step
from .toolset import ANSWER, AnswerArgs, schemas

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["ReasonUpdate", "reason", "written_answer"]

_LINE = re.compile(r"^\s*(hypothesis|uncertain(?:ty)?)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


class ReasonUpdate(TypedDict, total=False):
    """What reason writes (``pending``, ``proposal`` and ``belief`` only when the reply
    was usable)."""

    step: int
    pending: list[ToolCall]
    proposal: Proposal | None
    problems: list[str]
    repairs: int
    unusable: int
    belief: Belief
    feedback: list[Note]
    steps: list[Step]
    attempt: str


def reason(state: AgentState, runtime: Runtime[Deps]) -> ReasonUpdate:
    """One model call over the question, belief, context C, feedback F and frames V: tool
    calls or an answer proposal. An unusable reply becomes a problem for the next call.

    Reads ``question``, ``options``, ``route``, ``tool_order``, ``belief``, ``context``,
    ``feedback``, ``visual_evidence``, ``problems``, ``step``, ``repairs``, ``unusable``.
    Writes ``step`` (+1), ``pending`` (at most two tool calls), ``proposal``, ``problems``
    (with ``repairs`` counting replies in a row that had some, ``unusable`` in all),
    ``belief`` (hypothesis and uncertainty the reply states), ``feedback`` (the reasoning as
    a note), ``attempt`` (an answer as the model wrote it, usable or not).
    """
    deps = runtime.context
    step = state.get("step", 0) + 1
    order = state.get("tool_order") or list(deps.tools)
    try:
        tools = schemas(dict(deps.tools), order, deps.config.cache_dir)
        reply = deps.meter.complete(
            _reason_messages(state, deps, step), tools=tools, max_tokens=700
        )
    except ModelReplyError as exc:
        problem = f"Your last reply could not be used ({exc}). Call a tool or `answer`."
        return _repair(state, step, problem, summary=f"unusable reply: {exc}")
    belief = _belief(state["belief"], reply.text)
    reasoning = [Note("reasoning", step, reply.text[:800])] if reply.text else []
    letters = option_letters(state.get("options") or [])
    calls = [c for c in reply.calls if c.name != ANSWER]
    proposal, problems, attempt = None, list(reply.call_errors), None
    for call in (c for c in reply.calls if c.name == ANSWER):
        proposal, problem = _proposal(call, letters, deps.memory.duration)
        problems += [problem] if problem else []
        attempt = written_answer(call.arguments)
        break
    if proposal is None and not calls and not problems:
        proposal, problem = _prose_proposal(reply.text, letters, deps.memory.duration)
        problems += [problem] if problem else []
        attempt = reply.text
    tried: ReasonUpdate = {"attempt": attempt} if attempt else {}
    if proposal is None and not calls:
        summary = "; ".join(problems)[:200] or "no tool call and no answer"
        repair = _repair(state, step, " ".join(problems), summary=summary)
        return {**repair, "feedback": reasoning, "belief": belief, **tried}
    answered = next((c for c in reply.calls if c.name == ANSWER), ToolCall(ANSWER, {}))
    first = answered if proposal else calls[0]
    if proposal is not None and proposal.evidence:
        belief = Belief(proposal.answer, belief.uncertainty, belief.candidates, proposal.evidence)
    summary = proposal.answer if proposal else (belief.hypothesis or reply.text or first.name)
    return {
        "step": step,
        "pending": [] if proposal else calls[:2],
        "proposal": proposal,
        "problems": problems,
        "repairs": 0,
        "belief": belief,
        "feedback": reasoning,
        "steps": [Step("reason", first.name, first.arguments, " ".join(summary.split())[:160])],
        **tried,
    }


def _reason_messages(state: AgentState, deps: Deps, step: int) -> list[Message]:
    budget = deps.budget
    options = state.get("options") or []
    left = (
        f"{budget.max_steps - step} more steps after this one, "
        f"{deps.meter.calls_left - 1} model calls, {max(0, deps.meter.frames_left)} frames"
    )
    problems = state.get("problems") or []
    text = prompts.render(
        "reason",
        question=state["question"],
        options="\n".join(options) or OPEN_QUESTION,
        route=state.get("route", "global"),
        tool_order=", ".join(state.get("tool_order") or []),
        belief=belief_text(state["belief"]),
        context=render_context([*state.get("context", []), *state.get("feedback", [])]),
        budget=left,
        feedback=("\nProblems with your last reply:\n- " + "\n- ".join(problems) + "\n")
        if problems
        else "",
    )
    frames = frame_parts(
        state.get("visual_evidence") or [],
        max_frames=min(budget.frames_per_call, max(0, deps.meter.frames_left)),
        max_pixels=budget.call_pixels,
    )
    system = prompts.render("reason_system", duration=f"{deps.memory.duration:.1f}")
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": [*frames, text_part(text)]},
    ]


def _repair(state: AgentState, step: int, problem: str, *, summary: str) -> ReasonUpdate:
    return {
        "step": step,
        "pending": [],
        "proposal": None,
        "problems": [problem],
        "repairs": state.get("repairs", 0) + 1,
        "unusable": state.get("unusable", 0) + 1,
        "steps": [Step("reason", summary=summary[:160])],
    }


def _belief(old: Belief, text: str) -> Belief:
    found = {m.group(1).lower()[:9]: m.group(2).strip() for m in _LINE.finditer(text)}
    return Belief(
        found.get("hypothesi", old.hypothesis)[:300],
        found.get("uncertain", old.uncertainty)[:300],
        old.candidates,
        old.cited,
    )


def _proposal(call: ToolCall, letters: list[str], duration: float) -> tuple[Proposal | None, str]:
    try:
        args = AnswerArgs.model_validate(call.arguments)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return None, f"invalid arguments for answer: {where}"
    # "(B)", "b", a full-width B and "B. the red car" are all the letter B; with no `choice`, the
    # answer text may state it.
    choice = extract_choice(args.choice or args.answer, letters) if letters else None
    if letters and choice is None:
        shown = f"{args.choice!r} is not" if args.choice else "no choice is"
        return None, f"{shown} one of the options ({', '.join(letters)}): set `choice`"
    spans = clamp_spans(((s.start, s.end) for s in args.evidence), duration)
    return Proposal(args.answer, choice, spans, args.confidence, written_answer(call.arguments)), ""


def _prose_proposal(text: str, letters: list[str], duration: float) -> tuple[Proposal | None, str]:
    """A reply that answers in prose instead of calling `answer` still counts."""
    if not text:
        return None, "the reply was empty"
    choice = extract_choice(text, letters) if letters else None
    if letters and choice is None:
        return None, "no tool call and no option letter: call a tool or `answer` with `choice`"
    return Proposal(text[:600], choice, clamp_spans(spans_in(text)[:4], duration), 0.5, text), ""


def written_answer(arguments: Mapping[str, Any]) -> str:
    """An `answer` call as the model wrote it, for results files that score the model's own
    words: the ``choice`` exactly as written, then the ``answer`` text (joined by ". " as in
    "C. Berries.", by a space after punctuation); the answer alone when it already starts
    with that choice, or when there is none.
    """
    choice = arguments.get("choice")
    answer = arguments.get("answer")
    said = str(choice).strip() if isinstance(choice, str | int | float) else ""
    text = str(answer).strip() if isinstance(answer, str | int | float) else ""
    if not said or re.match(re.escape(said) + r"(?![0-9A-Za-z])", text):
        return text or said
    if not text:
        return said
    return f"{said}{'. ' if said[-1].isalnum() else ' '}{text}"
