"""Video-MME scoring: the model's own replies read by the official parser, our letters, and
three accuracies with their 95 % intervals.

The eval runner appends one `Record` per finished question to ``<out>/<mode>.jsonl``.
`score` turns a list of them into a `Score` holding, everywhere:

- **official**: what the official scorer reports from our ``official_<mode>.json``. Its
  parser (`official_extract`) reads the model's own final reply (`official_response`);
  replies it cannot read leave its denominator. A fallback's reply is the model's too, so
  the scorer may read a letter in it that we never counted as an answer.
- **answered** (ours, official denominator): our letter right / questions the model
  answered (status ``answered``).
- **strict**: right / all questions, as lmms-eval and VLMEvalKit count; fallback (a
  guess, not the model's answer) and failed questions are wrong.

Each record's ``status`` says where its answer came from (`record_status`): ``answered``
(the model's), ``fallback`` (the model gave none; the letter is our guess) or ``failed``.

Accuracies are percentages kept at full precision; round only when printing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict, cast

from .mme_extract import LETTERS, official_extract, official_extract_2024, our_extract
from .mme_schema import DOMAINS, DURATIONS, SUB_CATEGORIES, TASK_TYPES, Record
from .mme_stats import Interval, paired_difference, wilson

__all__ = [
    "DOMAINS",
    "DURATIONS",
    "LETTERS",
    "SUB_CATEGORIES",
    "TASK_TYPES",
    "Delta",
    "Deltas",
    "Group",
    "Outcome",
    "Record",
    "Score",
    "UsageMeans",
    "compare",
    "dedupe",
    "official_extract",
    "official_extract_2024",
    "official_response",
    "ordered",
    "our_extract",
    "record_letter",
    "record_status",
    "score",
]


@dataclass(frozen=True)
class Group:
    """Counts over a set of questions, and the three accuracies they give."""

    questions: int
    answered: int
    """Questions the model answered (status ``answered``)."""
    fallback: int
    """Questions the model gave no answer to within the budget (our guess is not counted)."""
    failed: int
    """Questions not answered at all (unreadable video, ...)."""
    answered_official: int
    """Questions whose official response (the model's reply) the official parser reads."""
    correct_official: int
    """Questions the official parser reads as the right letter."""
    correct: int
    """Answered questions whose letter (`record_letter`) is right."""
    unparsed: int
    """Questions answered with no letter we could read."""

    @property
    def accuracy_official(self) -> float:
        """100 * correct_official / answered_official; 0.0 when the parser read nothing, as
        in the official script."""
        return 100.0 * self.ci_official.value

    @property
    def accuracy_answered(self) -> float:
        """100 * correct / answered: ours, over the questions the model answered."""
        return 100.0 * self.ci_answered.value

    @property
    def accuracy_strict(self) -> float:
        """100 * correct / questions; 0.0 for no questions."""
        return 100.0 * self.ci_strict.value

    @property
    def ci_official(self) -> Interval:
        """`accuracy_official` as a fraction with its 95 % Wilson interval."""
        return wilson(self.correct_official, self.answered_official)

    @property
    def ci_answered(self) -> Interval:
        return wilson(self.correct, self.answered)

    @property
    def ci_strict(self) -> Interval:
        return wilson(self.correct, self.questions)


@dataclass(frozen=True)
class UsageMeans:
    """Mean cost per question.

    The question's own model use (calls, tokens, frames, HTTP requests, wall time) is
    averaged over the `records` questions that did not fail; the indexing (``index_*``:
    captions and summaries, each video's build shared by its questions) over all questions.
    Retries are totals: HTTP requests sent again after a failure, questions and indexing.
    """

    records: int
    model_calls: float
    prompt_tokens: float
    completion_tokens: float
    frames_sent: float
    wall_s: float
    requests: float = 0.0
    index_calls: float = 0.0
    index_tokens: float = 0.0
    index_frames: float = 0.0
    index_requests: float = 0.0
    retries: int = 0
    index_retries: int = 0


@dataclass(frozen=True)
class Outcome:
    """One question's result, for paired comparisons between modes."""

    duration: str
    task_type: str
    right: bool
    """Strict: the model answered with the right letter."""


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
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    """Each question's outcome by question_id."""


class Delta(TypedDict):
    """Agent minus direct, in percentage points, with the paired 95 % interval of the strict
    difference over the `pairs` questions both modes ran (`mme_stats.paired_difference`)."""

    accuracy_official: float
    accuracy_answered: float
    accuracy_strict: float
    pairs: int
    only_agent: int
    """Questions only the agent got right."""
    only_direct: int
    paired_strict: float
    paired_low: float
    paired_high: float


class Deltas(TypedDict):
    """Agent minus direct overall and per category present in both modes."""

    overall: Delta
    by_duration: dict[str, Delta]
    by_task_type: dict[str, Delta]


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
    """The ``response`` for the official results JSON: the model's own final reply.

    That is the record's ``reply`` (the model's words, on fallback too: the official
    scorer decides what it reads in them); "" when the question failed. Records written
    before ``reply`` existed give their ``response`` when answered, else "".
    """
    status = record_status(record)
    if status == "failed":
        return ""
    if "reply" in record:
        return record.get("reply") or ""
    return (record.get("response") or "") if status == "answered" else ""


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
    """All accuracies overall and by duration, domain, sub-category and task type.

    A question_id seen more than once is counted once (its last record) and listed in
    `Score.duplicates`.
    """
    unique, duplicates = dedupe(records)
    overall = _group(unique)
    return Score(
        **{f: getattr(overall, f) for f in Group.__dataclass_fields__},
        by_duration=_breakdown(unique, lambda r: r["duration"], DURATIONS),
        by_domain=_breakdown(unique, lambda r: r["domain"], DOMAINS),
        by_sub_category=_breakdown(unique, lambda r: r["sub_category"], SUB_CATEGORIES),
        by_task_type=_breakdown(unique, lambda r: r["task_type"], TASK_TYPES),
        usage=_usage_means(unique),
        duplicates=duplicates,
        outcomes={
            r["question_id"]: Outcome(r["duration"], r["task_type"], _right(r)) for r in unique
        },
    )


def compare(agent: Score, direct: Score) -> Deltas:
    """Agent minus direct accuracies, in percentage points, overall and for each duration and
    task type present in both scores, each with the paired interval of the strict
    difference over the questions both modes ran."""

    def delta(a: Group, d: Group, keep: Callable[[Outcome], bool]) -> Delta:
        theirs = direct.outcomes
        pairs = [(o.right, theirs[q].right) for q, o in agent.outcomes.items()
                 if q in theirs and keep(o)]  # fmt: skip
        return _delta(a, d, pairs)

    return Deltas(
        overall=delta(agent, direct, lambda o: True),
        by_duration={
            k: delta(g, direct.by_duration[k], lambda o, k=k: o.duration == k)  # type: ignore[misc]
            for k, g in agent.by_duration.items()
            if k in direct.by_duration
        },
        by_task_type={
            k: delta(g, direct.by_task_type[k], lambda o, k=k: o.task_type == k)  # type: ignore[misc]
            for k, g in agent.by_task_type.items()
            if k in direct.by_task_type
        },
    )


def ordered(names: Iterable[str], canonical: Sequence[str]) -> list[str]:
    """`names` in the benchmark's own order; names it does not list follow, sorted."""
    present = set(names)
    return [n for n in canonical if n in present] + sorted(present - set(canonical))


def _right(record: Record) -> bool:
    letter = record_letter(record)
    return letter is not None and letter == record["answer"]


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
        correct=sum(1 for r in records if _right(r)),
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

    def mean(rows: Sequence[Record], part: str, *keys: str) -> float:
        total = sum((_number(_part(r, part).get(k)) for r in rows for k in keys), 0.0)
        return total / len(rows) if rows else 0.0

    def total(part: str) -> int:
        return round(sum((_number(_part(r, part).get("retries")) for r in records), 0.0))

    return UsageMeans(
        records=len(ok),
        model_calls=mean(ok, "usage", "model_calls"),
        prompt_tokens=mean(ok, "usage", "prompt_tokens"),
        completion_tokens=mean(ok, "usage", "completion_tokens"),
        frames_sent=mean(ok, "usage", "frames_sent"),
        wall_s=mean(ok, "usage", "wall_s"),
        requests=mean(ok, "usage", "requests"),
        index_calls=mean(records, "index_usage", "model_calls"),
        index_tokens=mean(records, "index_usage", "prompt_tokens", "completion_tokens"),
        index_frames=mean(records, "index_usage", "frames_sent"),
        index_requests=mean(records, "index_usage", "requests"),
        retries=total("usage"),
        index_retries=total("index_usage"),
    )


def _part(record: Record, key: str) -> dict[str, object]:
    """A record's ``usage`` or ``index_usage`` object; {} when absent or null."""
    value = cast("dict[str, object]", record).get(key)
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float:
    """A usage count as a float; a missing or null one counts as 0."""
    return float(value) if isinstance(value, int | float) else 0.0


def _delta(agent: Group, direct: Group, pairs: Sequence[tuple[bool, bool]]) -> Delta:
    paired = paired_difference(pairs)
    return Delta(
        accuracy_official=agent.accuracy_official - direct.accuracy_official,
        accuracy_answered=agent.accuracy_answered - direct.accuracy_answered,
        accuracy_strict=agent.accuracy_strict - direct.accuracy_strict,
        pairs=paired.n,
        only_agent=paired.only_a,
        only_direct=paired.only_b,
        paired_strict=100 * paired.difference,
        paired_low=100 * paired.low,
        paired_high=100 * paired.high,
    )
