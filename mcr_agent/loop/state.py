"""The state of the MCR loop, in the paper's terms: the shared context C, the tool feedback
F of the current step, the visual evidence V, and the belief; plus the budget used.

One reasoning step i reads (Q, V_i, F_i, C_i) and picks actions A_{i+1}; the tools return
F_{i+1}; update folds them into C_{i+1} = C_i + (R_i, A_{i+1}, F_{i+1}).

Values are frozen dataclasses; `steps` accumulates (one record per node run), every other
key is replaced by the node that writes it.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from memory import Frame
from tools import Evidence, Verdict

from ..model.replies import ToolCall

__all__ = [
    "AgentState",
    "Belief",
    "CitedBy",
    "CitedEvidence",
    "Final",
    "InputState",
    "Note",
    "NoteKind",
    "Proposal",
    "Route",
    "Status",
    "Step",
]

Route = Literal["global", "speech", "knowledge", "temporal", "fine-grained"]
NoteKind = Literal["memory", "observation", "reasoning", "verification", "error"]
Status = Literal["answered", "fallback", "failed"]
"""Where an answer came from: the model gave it; the model gave none within the budget and
the letter is a best guess from the evidence; no answer at all (a server fault)."""
CitedBy = Literal["model", "agent"]


@dataclass(frozen=True)
class Note:
    """One item of the shared context C: what was retrieved, observed, reasoned or checked.

    Attributes:
        kind: What produced it.
        step: Reasoning step it belongs to (0 for what observe and route gathered).
        text: The text the model sees (video and web text already delimited as data).
        evidence: Time spans it rests on.
        tool: The tool whose feedback it is, if any.
        compressed: True once shortened to save context.
    """

    kind: NoteKind
    step: int
    text: str
    evidence: tuple[Evidence, ...] = ()
    tool: str | None = None
    compressed: bool = False


@dataclass(frozen=True)
class Belief:
    """The agent's compact belief: hypothesis, open uncertainty, candidate timestamps, and
    the spans the hypothesis rests on (kept through context compression)."""

    hypothesis: str = ""
    uncertainty: str = ""
    candidates: tuple[tuple[float, float], ...] = ()
    cited: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Proposal:
    """An answer the model proposed, waiting for verification.

    Attributes:
        answer: Its answer text.
        choice: The option letter read from it (None for an open question).
        evidence: The spans it cites.
        confidence: The model's own confidence.
        reply: The answer as the model wrote it (`Final.reply`).
    """

    answer: str
    choice: str | None
    evidence: tuple[tuple[float, float], ...]
    confidence: float
    reply: str = ""


@dataclass(frozen=True)
class CitedEvidence(Evidence):
    """Evidence an answer rests on, and who chose it: the model (spans it cited) or the agent
    (memory entries it found supporting the chosen answer when the model cited none)."""

    cited_by: CitedBy = "agent"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "cited_by": self.cited_by}


@dataclass(frozen=True)
class Final:
    """The answer node's conclusion.

    Attributes:
        answer: The model's answer text; for a fallback, a sentence saying there is none.
        choice: The option letter (the model's when answered, a best guess on fallback).
        confidence: 0 to 1; at most 1/len(options) on fallback.
        evidence: What the answer rests on.
        status: Where the answer came from.
        error: Why the model gave no usable answer (fallback, failed), else None.
        reply: The model's own final reply, as it wrote it: the letter it gave (as written)
            and its answer text, or its reply text; on fallback its last attempt at an answer
            that could not be used, or "" when it made none.
    """

    answer: str
    choice: str | None
    confidence: float
    evidence: tuple[CitedEvidence, ...]
    status: Status = "answered"
    error: str | None = None
    reply: str = ""


@dataclass(frozen=True)
class Step:
    """One node run, as listed in the answer's ``steps`` and the trace.

    Attributes:
        node: Node name.
        tool: Tool called, if any.
        args: The tool's arguments.
        summary: One line on what happened.
        duration_s: Wall time of the node.
        feedback: The tool's feedback (trace only).
        model_s: Part of the wall time spent waiting for the model (benchmarks only).
    """

    node: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    duration_s: float = 0.0
    feedback: str = ""
    model_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "tool": self.tool,
            "args": _finite(self.args),
            "summary": self.summary,
            "duration_s": round(self.duration_s, 3),
        }


class InputState(TypedDict):
    """What a caller gives: the question and its options (empty for open questions)."""

    question: str
    options: list[str]


class AgentState(InputState, total=False):
    """Everything the loop carries between nodes."""

    route: Route
    """The question's class, a soft prior over strategies."""
    tool_order: list[str]
    """Tools in the order the route suggests trying them."""
    context: list[Note]
    """The shared context C, compressed when it outgrows the token budget."""
    feedback: list[Note]
    """The feedback F of the current step: its reasoning and the tools' results, folded
    into `context` by update."""
    visual_evidence: list[Frame]
    """The visual evidence V: frames shown to the next reasoning call."""
    belief: Belief
    """Hypothesis, open uncertainty, candidate timestamps."""
    pending: list[ToolCall]
    """Tool calls waiting for act: the reasoner's, or verification's re-perception."""
    proposal: Proposal | None
    """An answer proposed and not yet verified."""
    proposed: Proposal | None
    """The model's latest proposal that verification withdrew: still the model's answer if
    the budget ends before it gives another."""
    attempt: str
    """The model's latest attempt at an answer as it wrote it, usable or not (an `answer`
    call without a valid letter, a prose reply): its final reply when no proposal stands."""
    verdict: Verdict | None
    """The last verification's conclusion."""
    problems: list[str]
    """What was wrong with the last reply, for the model to repair in the next call."""
    repairs: int
    """Consecutive replies that needed repair."""
    unusable: int
    """Reasoning replies that could not be used at all (empty, unreadable), in all."""
    step: int
    """Reasoning steps taken."""
    verifications: int
    """Verifications run."""
    exhausted: str
    """Why the loop stopped early (budget), empty otherwise."""
    final: Final
    """The answer, set by the answer node."""
    steps: Annotated[list[Step], operator.add]
    """One record per node run."""


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities (which `json.loads` accepts from a model) become
    None, so ``ask --json`` stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
