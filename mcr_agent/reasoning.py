"""The two nodes that consult the model about the question itself: reason and verify."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ValidationError

import prompts
from memory import Level
from tools import data_block
from tools.replies import object_in
from tools.verify import parse_verdict

from .calls import run_call
from .choice import OPEN_QUESTION, extract_choice, option_letters
from .context import (
    balanced,
    belief_text,
    clamp_span,
    clamp_spans,
    entry_lines,
    render_context,
    spans_in,
)
from .deps import Deps, frame_parts
from .errors import ModelReplyError
from .llm import Message, text_part
from .prefetch import keyframes
from .state import AgentState, Belief, Note, Proposal, Step, Verdict
from .toolcalls import ToolCall
from .toolset import ANSWER, AnswerArgs, schemas

__all__ = ["reason", "verify"]

Update = dict[str, Any]
_LINE = re.compile(r"^\s*(hypothesis|uncertain(?:ty)?)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def reason(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """One model call over the question, belief, context and frames: a tool call or an
    answer proposal. Unusable replies become feedback for the next call."""
    deps = runtime.context
    step = state.get("step", 0) + 1
    order = state.get("tool_order") or list(deps.tools)
    try:
        reply = deps.meter.complete(
            _reason_messages(state, deps, step), tools=schemas(dict(deps.tools), order),
            max_tokens=700,
        )  # fmt: skip
    except ModelReplyError as exc:
        problem = f"Your last reply could not be used ({exc}). Call a tool or `answer`."
        return _repair(state, step, problem, summary=f"unusable reply: {exc}")
    belief = _belief(state["belief"], reply.text)
    fresh = [Note("reasoning", step, reply.text[:800])] if reply.text else []
    letters = option_letters(state.get("options") or [])
    calls = [c for c in reply.calls if c.name != ANSWER]
    proposal, problems = None, list(reply.call_errors)
    for call in (c for c in reply.calls if c.name == ANSWER):
        proposal, problem = _proposal(call, letters, deps.memory.duration)
        problems += [problem] if problem else []
        break
    if proposal is None and not calls and not problems:
        proposal, problem = _prose_proposal(reply.text, letters, deps.memory.duration)
        problems += [problem] if problem else []
    if proposal is None and not calls:
        summary = "; ".join(problems)[:200] or "no tool call and no answer"
        return _repair(state, step, " ".join(problems), summary=summary, fresh=fresh, belief=belief)
    answered = next((c for c in reply.calls if c.name == ANSWER), ToolCall(ANSWER, {}))
    first = answered if proposal else calls[0]
    if proposal is not None and proposal.evidence:
        belief = Belief(proposal.answer, belief.uncertainty, belief.candidates, proposal.evidence)
    summary = proposal.answer if proposal else (belief.hypothesis or reply.text or first.name)
    return {
        "step": step,
        "pending": [] if proposal else calls[:2],
        "proposal": proposal,
        "feedback": problems,
        "repairs": 0,
        "belief": belief,
        "fresh": fresh,
        "steps": [Step("reason", first.name, first.arguments, " ".join(summary.split())[:160])],
    }


def _reason_messages(state: AgentState, deps: Deps, step: int) -> list[Message]:
    budget = deps.budget
    options = state.get("options") or []
    left = (
        f"{budget.max_steps - step} more steps after this one, "
        f"{deps.meter.calls_left - 1} model calls, {max(0, deps.meter.frames_left)} frames"
    )
    feedback = state.get("feedback") or []
    text = prompts.render(
        "reason",
        question=state["question"],
        options="\n".join(options) or OPEN_QUESTION,
        route=state.get("route", "global"),
        tool_order=", ".join(state.get("tool_order") or []),
        belief=belief_text(state["belief"]),
        context=render_context([*state.get("context", []), *state.get("fresh", [])]),
        budget=left,
        feedback=("\nProblems with your last reply:\n- " + "\n- ".join(feedback) + "\n")
        if feedback
        else "",
    )
    frames = frame_parts(
        state.get("frames") or [],
        max_frames=min(budget.frames_per_call, max(0, deps.meter.frames_left)),
        max_pixels=budget.call_pixels,
    )
    system = prompts.render("reason_system", duration=f"{deps.memory.duration:.1f}")
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": [*frames, text_part(text)]},
    ]


def _repair(state: AgentState, step: int, problem: str, *, summary: str, **extra: Any) -> Update:
    return {
        "step": step,
        "pending": [],
        "proposal": None,
        "feedback": [problem],
        "repairs": state.get("repairs", 0) + 1,
        "steps": [Step("reason", summary=summary[:160])],
        **extra,
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
    choice = args.choice.upper() if args.choice else None
    if letters and choice is None:
        choice = extract_choice(args.answer, letters)
    if letters and choice not in letters:
        shown = f"{args.choice!r} is not" if args.choice else "no choice is"
        return None, f"{shown} one of the options ({', '.join(letters)}): set `choice`"
    spans = clamp_spans(((s.start, s.end) for s in args.evidence), duration)
    return Proposal(args.answer, choice, spans, args.confidence), ""


def _prose_proposal(text: str, letters: list[str], duration: float) -> tuple[Proposal | None, str]:
    """A reply that answers in prose instead of calling `answer` still counts."""
    if not text:
        return None, "the reply was empty"
    choice = extract_choice(text, letters) if letters else None
    if letters and choice is None:
        return None, "no tool call and no option letter: call a tool or `answer` with `choice`"
    return Proposal(text[:600], choice, clamp_spans(spans_in(text)[:4], duration), 0.5), ""


def verify(state: AgentState, runtime: Runtime[Deps]) -> Update:
    """Ask the model whether the proposal is supported, by which evidence, with what
    conflicts; if not and budget remains, re-perceive the uncertain window closely."""
    deps = runtime.context
    proposal = state["proposal"]
    assert proposal is not None  # the router sends only proposals here
    done = state.get("verifications", 0) + 1
    if deps.meter.calls_left < 1:
        note = "skipped: no model call left"
        return {"verdict": None, "verifications": done, "steps": [Step("verify", summary=note)]}
    spans = list(proposal.evidence) or list(state["belief"].candidates[:2])
    started, waited = time.perf_counter(), deps.meter.usage.model_s
    try:
        reply = deps.meter.complete(_verify_messages(state, deps, spans), max_tokens=300).text
    except ModelReplyError as exc:
        note = f"unreadable verification ({exc}); keeping the answer"
        return {"verdict": None, "verifications": done, "steps": [Step("verify", summary=note)]}
    verdict = _verdict(reply, deps.memory.duration)
    verb = {True: "supported", False: "not supported", None: "no readable verdict"}
    line = f"{verb[verdict.supported]}: {verdict.reason}"[:160]
    spent, waited = time.perf_counter() - started, deps.meter.usage.model_s - waited
    steps = [Step("verify", summary=line, duration_s=spent, feedback=reply, model_s=waited)]
    update: Update = {"verdict": verdict, "verifications": done, "steps": steps}
    if verdict.supported is not False or not _can_retry(state, deps, done):
        return update
    return {**update, **_reperceive(state, deps, proposal, verdict, spans, steps)}


def _can_retry(state: AgentState, deps: Deps, done: int) -> bool:
    budget = deps.budget
    # A re-perception, another reasoning step and another check must still fit.
    return (
        done < budget.max_verifications
        and deps.meter.calls_left >= 3
        and state.get("step", 0) < budget.max_steps
        and "inspect" in deps.tools
    )


def _reperceive(
    state: AgentState,
    deps: Deps,
    proposal: Proposal,
    verdict: Verdict,
    spans: list[tuple[float, float]],
    steps: list[Step],
) -> Update:
    lo, hi = verdict.window or (spans[0] if spans else (0.0, deps.memory.duration))
    question = (
        f"{state['question']} Is this answer right: {proposal.answer!r}? "
        "Look for what confirms or contradicts it."
    )
    call = ToolCall("inspect", {"start": lo, "end": hi, "question": question})
    note, step, frames = run_call(call, deps, state.get("step", 0))
    steps.append(dataclasses.replace(step, node="verify"))
    problem = (
        f"Verification did not support the answer {proposal.answer!r}: {verdict.reason}"
        + (f" Conflicts: {verdict.conflicts}." if verdict.conflicts else "")
        + f" A closer look at [{lo:.1f}-{hi:.1f} s] is in the context: revise or confirm."
    )
    old = state["belief"]
    belief = Belief(
        proposal.answer,
        verdict.reason,
        tuple(dict.fromkeys([(lo, hi), *old.candidates]))[:6],
        tuple(dict.fromkeys([*proposal.evidence, (lo, hi)])),
    )
    return {
        "proposal": None,
        "feedback": [problem],
        "fresh": [
            *state.get("fresh", []),
            Note("verification", state.get("step", 0), problem),
            note,
        ],
        "frames": frames or state.get("frames", []),
        "belief": belief,
    }


def _verify_messages(
    state: AgentState, deps: Deps, spans: list[tuple[float, float]]
) -> list[Message]:
    memory = deps.memory
    proposal = state["proposal"]
    assert proposal is not None
    levels = (Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)
    entries = [e for lo, hi in spans for e in memory.window(lo, hi, levels=levels)]
    notes = [
        n
        for n in [*state.get("context", []), *state.get("fresh", [])]
        if n.kind in ("observation", "memory")
        and n.evidence
        and any(e.start <= hi and lo <= e.end for e in n.evidence for lo, hi in spans)
    ][-4:]
    context = "\n\n".join(
        [data_block("memory", entry_lines(list(dict.fromkeys(entries))[:30]) or "(nothing)")]
        + [n.text for n in notes]
    )
    options = state.get("options") or []
    answer = f"({proposal.choice}) {proposal.answer}" if proposal.choice else proposal.answer
    text = prompts.render(
        "verify_answer",
        question=state["question"],
        options="\n".join(options) or OPEN_QUESTION,
        answer=answer,
        cited=", ".join(f"[{a:.1f}-{b:.1f} s]" for a, b in spans) or "none",
        context=balanced(context[:12000]),
    )
    budget = deps.budget
    most = min(6, budget.frames_per_call, max(0, deps.meter.frames_left))
    frames = keyframes(memory, spans, most) if spans and most else []
    parts = frame_parts(frames, max_frames=most, max_pixels=budget.call_pixels)
    return [{"role": "user", "content": [*parts, text_part(text)]}]


def _verdict(reply: str, duration: float) -> Verdict:
    read = parse_verdict(reply)
    found = object_in(reply) or {}
    raw = found.get("evidence")
    spans = clamp_spans(
        (p for p in map(_pair, raw if isinstance(raw, list) else []) if p), duration
    )
    window = _pair(found.get("uncertain_window"))
    uncertain = clamp_span(*window, duration) if window else None
    return Verdict(read.supported, read.confidence, read.reason, read.conflicts, spans, uncertain)


def _pair(value: object) -> tuple[float, float] | None:
    """``[start, end]`` as two floats, or None for anything else."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        return float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None
