"""Video-MME scoring: the official answer parser (bugs included), ours, and both accuracies.

The eval runner appends one `Record` per finished question to ``<out>/<mode>.jsonl``.
`score` turns a list of them into a `Score` holding two accuracies, everywhere:

- **official**: the official script's metric. Its parser (`official_extract`) reads the
  ``response`` we put in the official results JSON (`official_response`); questions it
  cannot read leave the denominator, and so do questions the model never answered
  (``fallback`` and ``failed`` records get an empty response).
- **strict**: correct / all questions, as lmms-eval and VLMEvalKit count; unparsed,
  fallback (a guess, not the model's answer) and failed questions are wrong.

Each record's ``status`` says where its answer came from (`record_status`): ``answered``
(the model's), ``fallback`` (the model gave none; the letter is our guess) or ``failed``.

Accuracies are percentages kept at full precision; round only when printing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from mcr_agent.loop.options import extract_choice, option_letters, option_text

__all__ = [
    "DOMAINS",
    "DURATIONS",
    "LETTERS",
    "SUB_CATEGORIES",
    "TASK_TYPES",
    "Delta",
    "Deltas",
    "Group",
    "Record",
    "Score",
    "UsageMeans",
    "compare",
    "dedupe",
    "official_extract",
    "official_response",
    "ordered",
    "our_extract",
    "record_letter",
    "record_status",
    "score",
]

LETTERS = "ABCD"
DURATIONS = ("short", "medium", "long")
DOMAINS = (
    "Knowledge",
    "Film & Television",
    "Sports Competition",
    "Artistic Performance",
    "Life Record",
    "Multilingual",
)
SUB_CATEGORIES = (
    "Humanity & History",
    "Literature & Art",
    "Biology & Medicine",
    "Finance & Commerce",
    "Astronomy",
    "Geography",
    "Law",
    "Life Tip",
    "Technology",
    "Animation",
    "Movie & TV Show",
    "Documentary",
    "News Report",
    "Esports",
    "Basketball",
    "Football",
    "Athletics",
    "Other Sports",
    "Stage Play",
    "Magic Show",
    "Variety Show",
    "Acrobatics",
    "Handicraft",
    "Food",
    "Fashion",
    "Daily Life",
    "Travel",
    "Pet & Animal",
    "Exercise",
    "Multilingual",
)
TASK_TYPES = (
    "Temporal Perception",
    "Spatial Perception",
    "Attribute Perception",
    "Action Recognition",
    "Object Recognition",
    "OCR Problems",
    "Counting Problem",
    "Temporal Reasoning",
    "Spatial Reasoning",
    "Action Reasoning",
    "Object Reasoning",
    "Information Synopsis",
)

# The original list, in its order. Two commas are missing in it, so Python joined four
# prefixes into two that never occur in a real reply; kept that way on purpose.
_OFFICIAL_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" + "The correct option is",
    "Best answer:" + "Best option:",
)


class Usage(TypedDict):
    """What answering one question cost."""

    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    frames_sent: int
    wall_s: float


class EvidenceItem(TypedDict):
    """One piece of evidence the answer cites."""

    start: float
    end: float
    source: str
    text: str


class Record(TypedDict):
    """One finished question, as the eval runner writes it (one JSON line)."""

    question_id: str
    video_id: str
    videoID: str
    duration: str
    domain: str
    sub_category: str
    task_type: str
    question: str
    options: list[str]
    answer: str
    mode: str
    response: str
    choice: str | None
    status: str
    confidence: float
    evidence: list[EvidenceItem]
    usage: Usage
    error: str | None
    config: dict[str, object]
    finished_at: str


@dataclass(frozen=True)
class Group:
    """Counts over a set of questions, and the two accuracies they give."""

    questions: int
    answered: int
    """Questions the model answered (status ``answered``)."""
    fallback: int
    """Questions the model gave no answer to within the budget (our guess is not counted)."""
    failed: int
    """Questions not answered at all (unreadable video, ...)."""
    answered_official: int
    """Answered questions whose official response the official parser could read."""
    correct_official: int
    """Questions the official parser reads as the right letter."""
    correct: int
    """Questions whose letter (`record_letter`) is right."""
    unparsed: int
    """Questions answered with no letter we could read."""

    @property
    def accuracy_official(self) -> float:
        """100 * correct_official / answered_official; 0.0 when nothing was answered, as in
        the official script."""
        return (
            100.0 * self.correct_official / self.answered_official
            if self.answered_official
            else 0.0
        )

    @property
    def accuracy_strict(self) -> float:
        """100 * correct / questions; 0.0 for no questions."""
        return 100.0 * self.correct / self.questions if self.questions else 0.0


@dataclass(frozen=True)
class UsageMeans:
    """Mean cost per question, over the `records` questions that did not fail."""

    records: int
    model_calls: float
    prompt_tokens: float
    completion_tokens: float
    frames_sent: float
    wall_s: float


@dataclass(frozen=True)
class Score(Group):
    """A mode's results: the overall `Group` counts plus breakdowns and costs."""

    by_duration: dict[str, Group]
    by_domain: dict[str, Group]
    by_sub_category: dict[str, Group]
    by_task_type: dict[str, Group]
    usage: UsageMeans
    duplicates: tuple[str, ...]
    """question_ids found more than once (the last record of each was kept)."""


class Delta(TypedDict):
    """Agent minus direct, in percentage points."""

    accuracy_official: float
    accuracy_strict: float


class Deltas(TypedDict):
    """Agent minus direct overall and per category present in both modes."""

    overall: Delta
    by_duration: dict[str, Delta]
    by_task_type: dict[str, Delta]


def official_extract(response: str) -> str:
    """The letter the official Video-MME script reads from a response, or "".

    A faithful copy of ``extract_characters_regex`` from the official
    ``eval_your_results.py`` (BradyFU/Video-MME ``evaluation/``, last version before commit
    49a2e67), kept bug for bug so our numbers compare with published ones:

    1. ``strip()``, then delete every occurrence (``str.replace``, case-sensitive, anywhere)
       of "The best answer is", "The correct answer is", "The answer is", "The answer",
       then two strings that never match: missing commas in the original joined
       "The best option is" + "The correct option is" and "Best answer:" + "Best option:".
       So "Best option: D" reads as "B" (from "Best") and "Answer: D" as "A".
    2. More than 10 whitespace-separated words and no capital A-D: "".
    3. Otherwise the FIRST capital A, B, C or D anywhere, even inside a word: "After ...,
       the answer is C" reads as "A", "During ..." as "D"; a lower-case "c" is never read.
       No capital A-D at all: "".
    """
    s = response.strip()
    for prefix in _OFFICIAL_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return ""
    match = re.search(r"[ABCD]", s)
    if match is None:
        return ""
    return match[0]


def our_extract(response: str) -> str | None:
    """The letter a response states, read with the agent's own parser, or None.

    Handles "The answer is (B).", "B. Berries", lower case and think blocks, and never takes
    the "A" of "After" (`mcr_agent.choice.extract_choice`).
    """
    return extract_choice(response, LETTERS)


def record_letter(record: Record) -> str | None:
    """The model's answer letter: the record's own ``choice`` when that is A-D, else the
    letter `our_extract` reads from its response; None unless the model answered (a
    fallback's letter is our guess, not the model's)."""
    if record_status(record) != "answered":
        return None
    choice = record.get("choice")
    if isinstance(choice, str) and len(choice) == 1 and choice in LETTERS:
        return choice
    return our_extract(record.get("response") or "")


def record_status(record: Record) -> str:
    """``answered``, ``fallback`` or ``failed``; records written before the field existed
    are ``failed`` when they carry an error, else ``answered``."""
    status = record.get("status")
    if status in ("answered", "fallback", "failed"):
        return str(status)
    return "failed" if record.get("error") else "answered"


def official_response(record: Record) -> str:
    """The ``response`` for the official results JSON.

    ``"C. Berries."`` when the record has the model's letter, so the official parser reads
    our clean letter first; "" when the model gave no answer (fallback, failed), which the
    official parser leaves out of its denominator; else the raw response, left to the
    official parser as it is.
    """
    if record_status(record) != "answered":
        return ""
    letter = record_letter(record)
    if letter is None:
        return record.get("response") or ""
    options = record.get("options") or []
    for option_letter, option in zip(option_letters(options), options, strict=True):
        if option_letter == letter:
            return f"{letter}. {option_text(option)}"
    return f"{letter}."


def dedupe(records: Iterable[Record]) -> tuple[list[Record], tuple[str, ...]]:
    """One record per question_id (the last one wins), and the ids found more than once."""
    latest: dict[str, Record] = {}
    duplicates: dict[str, None] = {}
    for record in records:
        qid = record["question_id"]
        if qid in latest:
            duplicates[qid] = None
        latest[qid] = record
    return list(latest.values()), tuple(duplicates)


def score(records: Iterable[Record]) -> Score:
    """Both accuracies overall and by duration, domain, sub-category and task type.

    A question_id seen more than once is counted once (its last record) and listed in
    `Score.duplicates`.
    """
    unique, duplicates = dedupe(records)
    overall = _group(unique)
    return Score(
        questions=overall.questions,
        answered=overall.answered,
        fallback=overall.fallback,
        failed=overall.failed,
        answered_official=overall.answered_official,
        correct_official=overall.correct_official,
        correct=overall.correct,
        unparsed=overall.unparsed,
        by_duration=_breakdown(unique, lambda r: r["duration"], DURATIONS),
        by_domain=_breakdown(unique, lambda r: r["domain"], DOMAINS),
        by_sub_category=_breakdown(unique, lambda r: r["sub_category"], SUB_CATEGORIES),
        by_task_type=_breakdown(unique, lambda r: r["task_type"], TASK_TYPES),
        usage=_usage_means(unique),
        duplicates=duplicates,
    )


def compare(agent: Score, direct: Score) -> Deltas:
    """Agent minus direct accuracies, in percentage points, overall and for each duration and
    task type present in both scores."""
    return Deltas(
        overall=_delta(agent, direct),
        by_duration=_deltas(agent.by_duration, direct.by_duration),
        by_task_type=_deltas(agent.by_task_type, direct.by_task_type),
    )


def ordered(names: Iterable[str], canonical: Sequence[str]) -> list[str]:
    """`names` in the benchmark's own order; names it does not list follow, sorted."""
    present = set(names)
    return [n for n in canonical if n in present] + sorted(present - set(canonical))


def _group(records: Sequence[Record]) -> Group:
    official = [official_extract(official_response(r)) for r in records]
    letters = [record_letter(r) for r in records]
    answers = [r["answer"] for r in records]
    status = [record_status(r) for r in records]
    return Group(
        questions=len(records),
        answered=status.count("answered"),
        fallback=status.count("fallback"),
        failed=status.count("failed"),
        answered_official=sum(1 for o in official if o),
        correct_official=sum(1 for o, a in zip(official, answers, strict=True) if o and o == a),
        correct=sum(1 for x, a in zip(letters, answers, strict=True) if x is not None and x == a),
        unparsed=sum(
            1 for x, s in zip(letters, status, strict=True) if x is None and s == "answered"
        ),
    )


def _breakdown(
    records: Sequence[Record], key: Callable[[Record], str], canonical: Sequence[str]
) -> dict[str, Group]:
    buckets: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        buckets[key(record)].append(record)
    return {name: _group(buckets[name]) for name in ordered(buckets, canonical)}


def _usage_means(records: Sequence[Record]) -> UsageMeans:
    ok = [r for r in records if record_status(r) != "failed"]

    def mean(key: str) -> float:
        total = sum(_number(dict(r.get("usage") or {}).get(key)) for r in ok)
        return total / len(ok) if ok else 0.0

    return UsageMeans(
        records=len(ok),
        model_calls=mean("model_calls"),
        prompt_tokens=mean("prompt_tokens"),
        completion_tokens=mean("completion_tokens"),
        frames_sent=mean("frames_sent"),
        wall_s=mean("wall_s"),
    )


def _number(value: object) -> float:
    """A usage count as a float; a missing or null one counts as 0."""
    return float(value) if isinstance(value, int | float) else 0.0


def _delta(agent: Group, direct: Group) -> Delta:
    return Delta(
        accuracy_official=agent.accuracy_official - direct.accuracy_official,
        accuracy_strict=agent.accuracy_strict - direct.accuracy_strict,
    )


def _deltas(agent: dict[str, Group], direct: dict[str, Group]) -> dict[str, Delta]:
    return {name: _delta(group, direct[name]) for name, group in agent.items() if name in direct}
