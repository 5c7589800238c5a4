"""``report.md`` of a Video-MME run: what was answered, three accuracies with their question
counts and 95 % intervals, the whole cost, breakdowns and the agent-minus-direct
differences with paired intervals."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from .mme_schema import DOMAINS, DURATIONS, SUB_CATEGORIES, TASK_TYPES
from .mme_score import Delta, Deltas, Group, Score, ordered
from .mme_stats import Interval

__all__ = ["markdown_report"]

_PAPER_LINE = (
    "Paper reference points, the InternVideo3 paper's numbers, not ours: InternVideo3-8B on "
    "Video-MME without subtitles, direct QA 73.1, agentic inference 75.8."
)
_LEGEND = (
    "Answered: the model gave the answer; fallback: it gave none within the budget (our best "
    "guess is recorded but never counted as its answer); failed: no answer at all. "
    "**Official scorer**: what the official `eval_your_results.py` reports from "
    "`official_<mode>.json`, whose `response` is the model's own final reply; its parser "
    "reads a letter in some replies we never counted as answers, and its denominator is the "
    "replies it reads. **Answered**: our letter right / questions the model answered. "
    "**Strict**: right / all questions (lmms-eval, VLMEvalKit); fallback and failed count as "
    "wrong. Each accuracy is `percent [95 % Wilson interval] right/questions`."
)
_COST = (
    "Costs per question: the question's own model calls, tokens (prompt + completion), "
    "frames and HTTP requests, averaged over the questions that did not fail; indexing "
    "(captions and summaries of the memory, built once per video) divided over the video's "
    "questions and averaged over all questions. Retries: HTTP requests sent again after a "
    "failure (openai client retries, malformed replies, another replica), totals."
)


def markdown_report(
    scores: Mapping[str, Score],
    deltas: Deltas | None,
    *,
    config: Mapping[str, object],
    missing: Mapping[str, int] | None = None,
) -> str:
    """A Markdown report: overall, cost, by duration, task type, domain and sub-category,
    agent vs direct; `missing` counts the selected questions skipped per mode (video or
    subtitle file not found)."""
    modes = list(scores)
    lines = ["# Video-MME results", "", "## Overall", "", *_overall_table(scores, modes), ""]
    lines += [_LEGEND, "", _PAPER_LINE, ""]
    for mode, count in (missing or {}).items():
        if count:
            lines += [f"{mode}: {count} selected questions not run (video or subtitles not "
                      "found; `missing` in the official JSON).", ""]  # fmt: skip
    lines += ["## Cost", "", *_cost_table(scores, modes), "", _COST, ""]
    for title, attr, canonical in (
        ("duration", "by_duration", DURATIONS),
        ("task type", "by_task_type", TASK_TYPES),
        ("domain", "by_domain", DOMAINS),
        ("sub-category", "by_sub_category", SUB_CATEGORIES),
    ):
        groups = {m: cast("dict[str, Group]", getattr(scores[m], attr)) for m in modes}
        lines += [f"## By {title}", "", *_breakdown_table(title, groups, canonical), ""]
    if deltas is not None:
        lines += ["## Agent minus direct (percentage points)", "", *_delta_table(deltas), ""]
        lines += [
            "Paired: the strict difference over the questions both modes ran, with Newcombe's "
            "95 % interval for paired proportions; the other columns subtract the two modes' "
            "accuracies as they are.",
            "",
        ]
    for mode in modes:
        if dups := scores[mode].duplicates:
            shown = ", ".join(dups[:10]) + (" ..." if len(dups) > 10 else "")
            lines += [f"Duplicate question_ids in {mode} (last record kept): {shown}", ""]
    config_text = json.dumps(config, indent=2, sort_keys=True, default=str)
    lines += ["## Config", "", "```json", config_text, "```", ""]
    return "\n".join(lines)


def accuracy_cell(interval: Interval) -> str:
    """``52.6 [31.7, 72.7] 10/19``; ``n/a 0/0`` with no question."""
    if not interval.n:
        return "n/a 0/0"
    return (f"{100 * interval.value:.1f} [{100 * interval.low:.1f}, {100 * interval.high:.1f}]"
            f" {interval.k}/{interval.n}")  # fmt: skip


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _overall_table(scores: Mapping[str, Score], modes: Sequence[str]) -> list[str]:
    header = ["mode", "questions", "answered", "fallback", "failed", "official scorer",
              "answered (ours)", "strict", "unparsed"]  # fmt: skip
    rows = [
        [m, s.questions, s.answered, s.fallback, s.failed, accuracy_cell(s.ci_official),
         accuracy_cell(s.ci_answered), accuracy_cell(s.ci_strict), s.unparsed]
        for m, s in ((m, scores[m]) for m in modes)
    ]  # fmt: skip
    return _table(header, rows)


def _cost_table(scores: Mapping[str, Score], modes: Sequence[str]) -> list[str]:
    header = ["mode", "calls/q", "tokens/q", "frames/q", "requests/q", "index calls/q",
              "index tokens/q", "index frames/q", "index requests/q", "retries",
              "index retries", "wall/q (s)"]  # fmt: skip
    rows = []
    for m in modes:
        u = scores[m].usage
        rows.append([
            m, f"{u.model_calls:.2f}", f"{u.prompt_tokens + u.completion_tokens:.0f}",
            f"{u.frames_sent:.1f}", f"{u.requests:.2f}", f"{u.index_calls:.2f}",
            f"{u.index_tokens:.0f}", f"{u.index_frames:.1f}", f"{u.index_requests:.2f}",
            u.retries, u.index_retries, f"{u.wall_s:.1f}",
        ])  # fmt: skip
    return _table(header, rows)


def _breakdown_table(
    title: str, groups: Mapping[str, Mapping[str, Group]], canonical: Sequence[str]
) -> list[str]:
    header = [title]
    for m in groups:
        header += [f"{m} answered/fallback/failed", f"{m} official scorer", f"{m} answered",
                   f"{m} strict"]  # fmt: skip
    rows = []
    for name in ordered([n for g in groups.values() for n in g], canonical):
        row: list[object] = [name]
        for g in groups.values():
            if name in g:
                found = g[name]
                row += [f"{found.answered}/{found.fallback}/{found.failed}"]
                row += [accuracy_cell(i) for i in
                        (found.ci_official, found.ci_answered, found.ci_strict)]  # fmt: skip
            else:
                row += ["-", "-", "-", "-"]
        rows.append(row)
    return _table(header, rows)


def _delta_table(deltas: Deltas) -> list[str]:
    rows: list[list[object]] = [["overall", *_delta_cells(deltas["overall"])]]
    rows += [[f"duration: {k}", *_delta_cells(d)] for k, d in deltas["by_duration"].items()]
    rows += [[f"task: {k}", *_delta_cells(d)] for k, d in deltas["by_task_type"].items()]
    header = ["category", "Δ official scorer", "Δ answered", "Δ strict", "paired Δ strict [95 %]",
              "pairs", "only agent right", "only direct right"]  # fmt: skip
    return _table(header, rows)


def _delta_cells(delta: Delta) -> list[object]:
    return [
        f"{delta['accuracy_official']:+.1f}",
        f"{delta['accuracy_answered']:+.1f}",
        f"{delta['accuracy_strict']:+.1f}",
        f"{delta['paired_strict']:+.1f} [{delta['paired_low']:+.1f}, {delta['paired_high']:+.1f}]",
        delta["pairs"],
        delta["only_agent"],
        delta["only_direct"],
    ]
