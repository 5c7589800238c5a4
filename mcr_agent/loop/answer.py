"""The answer node: the verified proposal, or the best hypothesis when the budget ran out,
always with an option letter when options exist and the evidence it rests on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypedDict

from langgraph.runtime import Runtime

from memory import Level
from tools import Evidence

from .options import closest_option, extract_choice, option_letters, option_text
from .runtime import Deps
from .state import AgentState, Final, Proposal, Step

__all__ = ["AnswerUpdate", "answer", "cited_evidence", "final_answer"]

_CITED_LEVELS = (Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)
_MOST_EVIDENCE = 8
_STOP = frozenset(
    [
        "the",
        "and",
        "that",
        "this",
        "with",
        "from",
        "for",
        "are",
        "was",
        "were",
        "its",
        "it",
        "is",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
    ]
)


class AnswerUpdate(TypedDict):
    """What answer writes."""

    final: Final
    steps: list[Step]


def answer(state: AgentState, runtime: Runtime[Deps]) -> AnswerUpdate:
    """The final answer: text, option letter (always one when options exist), confidence and
    the evidence with [start, end], source and text.

    Reads ``options``, ``proposal``, ``verdict``, ``belief``, ``context``, ``feedback``.
    Writes ``final``.
    """
    final = final_answer(state, runtime.context)
    cited = ", ".join(f"[{e.start:.1f}-{e.end:.1f} s]" for e in final.evidence[:4])
    letter = f"{final.choice}: " if final.choice else ""
    return {
        "final": final,
        "steps": [Step("answer", summary=f"{letter}{final.answer[:120]} ({cited or 'no span'})")],
    }


def final_answer(state: AgentState, deps: Deps) -> Final:
    """Build the answer from the state at the end of the loop."""
    options = state.get("options") or []
    proposal = state.get("proposal")
    verdict = state.get("verdict")
    belief = state["belief"]
    if proposal is None:
        text = belief.hypothesis or _last_reasoning(state) or "No answer could be established."
        proposal = Proposal(text, None, (), 0.2)
    if verdict is not None and verdict.supported:
        confidence = max(min(verdict.confidence, 1.0), 0.5)
    elif verdict is not None and verdict.supported is False:
        confidence = min(proposal.confidence, 0.3)
    else:  # unverified: budget spent or unreadable check
        confidence = proposal.confidence * 0.8
    spans = (
        list(proposal.evidence)
        or list(verdict.evidence if verdict else ())
        or list(belief.candidates[:2])
    )
    choice = _choice(proposal, options, state, deps) if options else None
    about = proposal.answer
    if choice is not None:
        about += " " + option_text(options[option_letters(options).index(choice)])
    evidence = cited_evidence(state, deps, spans, about=about)
    return Final(proposal.answer, choice, round(confidence, 3), tuple(evidence))


def _choice(proposal: Proposal, options: list[str], state: AgentState, deps: Deps) -> str:
    letters = option_letters(options)
    if proposal.choice in letters:
        return str(proposal.choice)
    found = extract_choice(proposal.answer, letters) or closest_option(proposal.answer, options)
    if found:
        return found
    seen = " ".join(n.text for n in state.get("context", []))
    found = closest_option(seen, options)
    if found:
        return found
    # Nothing to go on: the option the memory matches best, so the choice is still a letter.
    scores = []
    for letter, option in zip(letters, options, strict=True):
        hits = deps.memory.search(option_text(option) or option, k=1, mode="lexical")
        scores.append((hits[0].score if hits else 0.0, letter))
    return max(scores, key=lambda s: s[0])[1] if max(scores)[0] > 0 else letters[0]


def _last_reasoning(state: AgentState) -> str:
    for note in reversed([*state.get("context", []), *state.get("feedback", [])]):
        if note.kind == "reasoning":
            return note.text
    return ""


def cited_evidence(
    state: AgentState, deps: Deps, spans: Sequence[tuple[float, float]], *, about: str = ""
) -> list[Evidence]:
    """What the observations and the memory hold inside the cited spans.

    Inside a span, items that share words with the answer (`about`) come first and, when
    there are any, alone: a model citing a whole summary's span gets the scene that says it.
    Every cited span is represented, even when nothing in memory falls inside it.
    """
    found: list[Evidence] = []
    notes = [*state.get("context", []), *state.get("feedback", [])]
    for lo, hi in spans:
        inside = [
            e
            for n in reversed(notes)
            if n.kind == "observation"
            for e in n.evidence
            if e.start <= hi and lo <= e.end and e.text
        ]
        entries = deps.memory.window(lo, hi, levels=_CITED_LEVELS)
        inside += [
            Evidence(e.start, e.end, e.level.value, e.text)
            for e in entries
            if e.source != "uncaptioned"
        ]
        relevant = [e for e in inside if _shares_words(e.text, about)]
        found += (relevant or inside)[:4] or [Evidence(lo, hi, "cited", "")]
    return list(dict.fromkeys(found))[:_MOST_EVIDENCE]


def _shares_words(text: str, about: str) -> bool:
    squash = re.compile(r"[^a-z0-9]")
    words = {squash.sub("", w) for w in about.lower().split()} - {""}
    hay = squash.sub("", text.lower())
    return any(len(w) > 1 and w in hay for w in words - _STOP)
