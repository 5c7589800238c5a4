"""The answer node: the model's answer with the evidence it rests on; or, when the model gave
none within the budget, a best guess from the evidence that says it is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

from memory import Level
from tools import Evidence

from .options import (
    closest_option,
    content_words,
    covered,
    distinctive_words,
    extract_choice,
    option_letters,
    option_text,
)
from .runtime import Deps
from .state import AgentState, CitedBy, CitedEvidence, Final, Step

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["AnswerUpdate", "answer", "cited_evidence", "final_answer", "grounded_evidence"]

_CITED_LEVELS = (Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)
_MOST_EVIDENCE = 8
_PER_SPAN = 4
_OPEN_SHARE = 0.5
"""Share of an open answer's words an entry must hold for the agent to cite it."""


class AnswerUpdate(TypedDict):
    """What answer writes."""

    final: Final
    steps: list[Step]


def answer(state: AgentState, runtime: Runtime[Deps]) -> AnswerUpdate:
    """The final answer: text, option letter, confidence, status and the evidence with
    [start, end], source, text and who cited it.

    Reads ``options``, ``proposal``, ``proposed``, ``verdict``, ``belief``, ``context``,
    ``feedback``, ``step``, ``unusable``, ``exhausted``, ``steps``. Writes ``final``.
    """
    final = final_answer(state, runtime.context)
    cited = ", ".join(f"[{e.start:.1f}-{e.end:.1f} s]" for e in final.evidence[:4])
    if final.status == "answered":
        letter = f"{final.choice}: " if final.choice else ""
        summary = f"{letter}{final.answer[:120]} ({cited or 'no span'})"
    else:
        summary = f"{final.answer[:100]} ({final.error or ''})"
    return {"final": final, "steps": [Step("answer", summary=summary[:200])]}


def final_answer(state: AgentState, deps: Deps) -> Final:
    """Build the answer from the state at the end of the loop.

    The model's latest proposal is the answer (``answered``), with low confidence when
    verification rejected it. Without one the answer is a ``fallback``: its letter is a
    best guess, confidence at most 1/len(options), and `Final.error` says why.
    """
    options = state.get("options") or []
    proposal = state.get("proposal") or state.get("proposed")
    if proposal is None:
        return _fallback(state, deps)
    verdict = state.get("verdict")
    if verdict is not None and verdict.supported:
        confidence = max(min(verdict.confidence, 1.0), 0.5)
    elif verdict is not None and verdict.supported is False:
        confidence = min(proposal.confidence, 0.3)
    else:  # unverified: budget spent or unreadable check
        confidence = proposal.confidence * 0.8
    checked = verdict.evidence if verdict is not None and verdict.supported else ()
    spans = list(proposal.evidence) or list(checked)
    evidence = cited_evidence(state, deps, spans, options=options, choice=proposal.choice,
                              answer=proposal.answer)  # fmt: skip
    if not evidence:  # the model cited nothing usable: the agent grounds its answer
        evidence = grounded_evidence(state, deps, options=options, choice=proposal.choice,
                                     answer=proposal.answer)  # fmt: skip
    return Final(proposal.answer, proposal.choice, round(confidence, 3), tuple(evidence),
                 reply=proposal.reply or proposal.answer)  # fmt: skip


def _fallback(state: AgentState, deps: Deps) -> Final:
    """No proposal from the model: say so, and guess from its hypothesis or the evidence.
    The model's own last attempt at an answer, if it made one, stays its reply."""
    options = state.get("options") or []
    hypothesis = state["belief"].hypothesis.strip()
    why = _why_unanswered(state, deps)
    reply = state.get("attempt", "")
    if not options:
        said = f"; its last hypothesis: {hypothesis}" if hypothesis else ""
        return Final(f"No answer from the model{said}.", None, 0.0, (), "fallback", why, reply)
    letters = option_letters(options)
    guess, source = None, "its last hypothesis"
    if hypothesis:
        guess = extract_choice(hypothesis, letters) or closest_option(hypothesis, options)
    if guess is None:
        source = "the evidence"
        guess = closest_option([e.text for e in _candidates(state, deps)], options)
    if guess is None:
        text = "No answer from the model, and the evidence favours no option."
        return Final(text, None, 0.0, (), "fallback", why, reply)
    chosen = option_text(options[letters.index(guess)])
    text = f"No answer from the model; best guess from {source}: {guess}. {chosen}"
    evidence = grounded_evidence(state, deps, options=options, choice=guess, answer="")
    return Final(text, guess, round(1 / len(options), 3), tuple(evidence), "fallback", why, reply)


def _why_unanswered(state: AgentState, deps: Deps) -> str:
    """One line: the model's replies were all unusable, or it ran out of budget."""
    model = deps.meter.llm.model_name
    steps, unusable = state.get("step", 0), state.get("unusable", 0)
    if steps and unusable >= steps:
        reasons = [s.summary for s in state.get("steps", []) if s.node == "reason"]
        last = " ".join((reasons[-1] if reasons else "").split())
        return f"the model {model} answered {steps} reasoning calls but no reply was usable" + (
            f" ({last.removeprefix('unusable reply: ')[:200]})" if last else ""
        )
    why = state.get("exhausted") or "the budget ran out"
    return f"the model {model} gave no answer within the budget ({why})"


def cited_evidence(
    state: AgentState,
    deps: Deps,
    spans: Sequence[tuple[float, float]],
    *,
    options: Sequence[str] = (),
    choice: str | None = None,
    answer: str = "",
) -> list[CitedEvidence]:
    """What the observations and the memory hold inside the spans the model cited.

    Inside a span, the items that support the answer (`grounded_evidence`'s test) come
    first and, when there are any, alone: a model citing a whole summary's span gets the
    scene that says it. Every cited span is represented, even when nothing in memory falls
    inside it.
    """
    found: list[CitedEvidence] = []
    notes = [*state.get("context", []), *state.get("feedback", [])]
    for lo, hi in spans:
        inside = [
            e
            for n in reversed(notes)
            if n.kind == "observation"
            for e in n.evidence
            if e.start <= hi and lo <= e.end and e.text
        ]
        inside += [
            Evidence(e.start, e.end, e.level.value, e.text)
            for e in deps.memory.window(lo, hi, levels=_CITED_LEVELS)
            if e.source != "uncaptioned"
        ]
        relevant = _supporting(inside, options, choice, answer, open_share=1e-9)
        chosen = (relevant or inside)[:_PER_SPAN] or [Evidence(lo, hi, "cited", "")]
        found += [_cited(e, "model") for e in chosen]
    return list(dict.fromkeys(found))[:_MOST_EVIDENCE]


def grounded_evidence(
    state: AgentState,
    deps: Deps,
    *,
    options: Sequence[str] = (),
    choice: str | None = None,
    answer: str = "",
) -> list[CitedEvidence]:
    """The agent's own grounding of an answer the model cited nothing for: the memory entries
    and observations that support the chosen option's text (and the answer's words), best
    first, never one that supports another option better. Empty when nothing supports it.
    """
    found = _supporting(_candidates(state, deps), options, choice, answer)
    return list(dict.fromkeys(_cited(e, "agent") for e in found))[:_PER_SPAN]


def _candidates(state: AgentState, deps: Deps) -> list[Evidence]:
    """Everything an answer could rest on: what tools observed, newest first, then the
    memory's scene captions, transcript, subtitles and on-screen text in time order."""
    notes = [*state.get("context", []), *state.get("feedback", [])]
    seen = [e for n in reversed(notes) if n.kind == "observation" for e in n.evidence if e.text]
    entries = [e for e in deps.memory.entries if e.level in _CITED_LEVELS]
    return seen + [
        Evidence(e.start, e.end, e.level.value, e.text)
        for e in sorted(entries, key=lambda e: (e.start, e.end))
        if e.source != "uncaptioned"
    ]


def _supporting(
    pool: Sequence[Evidence],
    options: Sequence[str],
    choice: str | None,
    answer: str,
    *,
    open_share: float = _OPEN_SHARE,
) -> list[Evidence]:
    """The items of `pool` that support the answer, best first (stable for equals).

    With options: items holding some of the chosen option's distinctive words and no other
    option's more, ranked by that share, then by the share of the answer's other words.
    Without: items holding at least `open_share` of the answer's words.
    """
    words = distinctive_words(options) if options and choice else {}
    mine = words.get(choice or "", set())
    extra = content_words(answer) - mine
    scored: list[tuple[float, float, Evidence]] = []
    for item in pool:
        said = covered(extra, item.text)
        if words:
            share = covered(mine, item.text)
            if share == 0 or any(covered(w, item.text) > share for w in words.values()):
                continue
            scored.append((share, said, item))
        elif said >= open_share and said > 0:
            scored.append((said, 0.0, item))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    return [item for _, _, item in scored]


def _cited(item: Evidence, by: CitedBy) -> CitedEvidence:
    return CitedEvidence(item.start, item.end, item.source, item.text, by)
