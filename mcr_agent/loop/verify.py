"""The verify node: check a proposed answer against the evidence of the spans it cites; when
the check fails and budget remains, queue a re-perception of the uncertain window for act."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, TypedDict

import prompts
from memory import Level
from tools import Verdict, data_block
from tools.verify import parse_verdict

from ..errors import ModelReplyError
from ..model.messages import Message, frame_parts, text_part
from ..model.replies import ToolCall
from .notes import balanced, entry_lines
from .options import OPEN_QUESTION
from .prefetch import keyframes
from .runtime import Deps
from .spans import clamp_span, clamp_spans
from .state import AgentState, Belief, Note, Proposal, Step

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["VerifyUpdate", "verify"]

REPERCEIVE = "inspect"
"""The tool verification asks act to run on the uncertain window."""


class VerifyUpdate(TypedDict, total=False):
    """What verify writes (the re-perception keys only when it asks for one)."""

    verdict: Verdict | None
    verifications: int
    steps: list[Step]
    proposal: Proposal | None
    proposed: Proposal | None
    pending: list[ToolCall]
    problems: list[str]
    feedback: list[Note]
    belief: Belief


def verify(state: AgentState, runtime: Runtime[Deps]) -> VerifyUpdate:
    """Ask the model whether the proposal is supported, by which evidence, with what
    conflicts; if not and budget remains, queue a close look at the uncertain window.

    Reads ``question``, ``options``, ``proposal``, ``belief``, ``context``, ``feedback``,
    ``step``, ``verifications``. Writes ``verdict`` and ``verifications`` (+1); on a
    rejection with budget left also ``pending`` (the ``inspect`` call for act),
    ``proposal`` (withdrawn, kept as ``proposed``), ``problems`` (why, for the next
    reasoning call),
    ``feedback`` (the verification as a note) and ``belief`` (the window as a candidate).
    """
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
    checked: VerifyUpdate = {"verdict": verdict, "verifications": done, "steps": steps}
    if verdict.supported is not False or not _can_retry(state, deps, done):
        return checked
    return {**checked, **_reperceive(state, deps, proposal, verdict, spans)}


def _can_retry(state: AgentState, deps: Deps, done: int) -> bool:
    budget = deps.budget
    # A re-perception, another reasoning step and another check must still fit.
    return (
        done < budget.max_verifications
        and deps.meter.calls_left >= 3
        and state.get("step", 0) < budget.max_steps
        and REPERCEIVE in deps.tools
    )


def _reperceive(
    state: AgentState,
    deps: Deps,
    proposal: Proposal,
    verdict: Verdict,
    spans: list[tuple[float, float]],
) -> VerifyUpdate:
    """Withdraw the proposal and queue ``inspect`` on the uncertain window for act."""
    lo, hi = verdict.window or (spans[0] if spans else (0.0, deps.memory.duration))
    question = (
        f"{state['question']} Is this answer right: {proposal.answer!r}? "
        "Look for what confirms or contradicts it."
    )
    call = ToolCall(REPERCEIVE, {"start": lo, "end": hi, "question": question})
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
        "proposed": proposal,
        "pending": [call],
        "problems": [problem],
        "feedback": [
            *state.get("feedback", []),
            Note("verification", state.get("step", 0), problem),
        ],
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
        for n in [*state.get("context", []), *state.get("feedback", [])]
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
    """The model's verdict, its spans clamped into the video."""
    read = parse_verdict(reply)
    window = clamp_span(*read.window, duration) if read.window else None
    return dataclasses.replace(read, evidence=clamp_spans(read.evidence, duration), window=window)
