"""The observe node: load or build the memory and seed the shared context C with what the
question retrieves from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from memory import Frame, Level
from tools import Verdict, data_block

from ..model.replies import ToolCall
from .notes import entry_lines, memory_note
from .options import option_text
from .runtime import Deps
from .spans import merge_spans
from .state import AgentState, Belief, Note, Proposal, Step

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["ObserveUpdate", "observe"]

_RETRIEVE = (Level.SEGMENT, Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)
_FINE = (Level.SCENE, Level.ASR, Level.SUBTITLE, Level.OCR)


class ObserveUpdate(TypedDict):
    """What observe writes: the whole loop state starts here."""

    context: list[Note]
    feedback: list[Note]
    visual_evidence: list[Frame]
    belief: Belief
    pending: list[ToolCall]
    proposal: Proposal | None
    verdict: Verdict | None
    problems: list[str]
    repairs: int
    step: int
    verifications: int
    exhausted: str
    steps: list[Step]


def observe(state: AgentState, runtime: Runtime[Deps]) -> ObserveUpdate:
    """Seed the context with the video summary and the entries hybrid search retrieves for
    the question and its options, with timestamps.

    Reads ``question``, ``options``. Writes every key of the loop's state to its start value:
    ``context`` (the summary and the retrieved entries), ``belief`` (candidate spans from
    the fine levels), empty ``feedback``, ``visual_evidence``, ``pending``, ``problems``,
    no ``proposal`` or ``verdict``, zero counters.
    """
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
        "feedback": [],
        "visual_evidence": [],
        "belief": Belief(candidates=tuple(candidates)),
        "pending": [],
        "proposal": None,
        "verdict": None,
        "problems": [],
        "repairs": 0,
        "step": 0,
        "verifications": 0,
        "exhausted": "",
        "steps": [Step("observe", summary=summary)],
    }
