"""Video-MME reports: the official results JSON, a JSON summary, a Markdown report, a chart.

Run from the repository root to (re)score a finished or interrupted run::

    python -m evals.mme_report OUT

It reads ``OUT/agent.jsonl`` and ``OUT/direct.jsonl`` (whichever exist) and writes
``OUT/official_<mode>.json``, ``OUT/summary.json``, ``OUT/report.md`` and ``OUT/accuracy.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import cast

from evals.mme_score import (
    DOMAINS,
    DURATIONS,
    TASK_TYPES,
    Delta,
    Deltas,
    Group,
    Record,
    Score,
    compare,
    dedupe,
    official_response,
    ordered,
    score,
)
from memory.store import atomic_path, read_jsonl

__all__ = [
    "MODES",
    "PAPER_REFERENCE",
    "chart",
    "load_records",
    "markdown_report",
    "official_results",
    "summary_json",
    "write_json",
    "write_reports",
]

log = logging.getLogger(__name__)

MODES = ("agent", "direct")
PAPER_REFERENCE = {"model": "InternVideo3-8B", "subtitles": False, "direct": 73.1, "agentic": 75.8}
_PAPER_LINE = (
    "Paper reference points, the InternVideo3 paper's numbers, not ours: InternVideo3-8B on "
    "Video-MME without subtitles, direct QA 73.1, agentic inference 75.8."
)
_DIGITS = re.compile(r"(\d+)")

JSONValue = object  # anything json.dumps accepts


def official_results(records: Iterable[Record]) -> list[dict[str, JSONValue]]:
    """Records in the official results layout (BradyFU/Video-MME
    ``evaluation/output_test_template.json``).

    One object per video, ordered by video_id: ``video_id``, ``duration``, ``domain``,
    ``sub_category`` and ``questions``, each question ordered by question_id with
    ``question_id``, ``task_type``, ``question``, ``options``, ``answer`` and ``response``
    (`official_response`). A question_id seen twice keeps its last record.
    """
    unique, _ = dedupe(records)
    videos: dict[str, list[Record]] = defaultdict(list)
    for record in unique:
        videos[record["video_id"]].append(record)
    results: list[dict[str, JSONValue]] = []
    for video_id in sorted(videos, key=_natural):
        questions = sorted(videos[video_id], key=lambda r: _natural(r["question_id"]))
        first = questions[0]
        results.append(
            {
                "video_id": video_id,
                "duration": first["duration"],
                "domain": first["domain"],
                "sub_category": first["sub_category"],
                "questions": [
                    {
                        "question_id": r["question_id"],
                        "task_type": r["task_type"],
                        "question": r["question"],
                        "options": list(r["options"]),
                        "answer": r["answer"],
                        "response": official_response(r),
                    }
                    for r in questions
                ],
            }
        )
    return results


def write_json(path: str | os.PathLike[str], data: JSONValue) -> None:
    """Write strict JSON (no NaN or Infinity), UTF-8, indented by 2, atomically."""
    text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def load_records(path: str | os.PathLike[str]) -> list[Record]:
    """The records of one JSONL file; a last line cut short by a crash is skipped."""
    return cast("list[Record]", read_jsonl(Path(path)))


def summary_json(scores: Mapping[str, Score], deltas: Deltas | None) -> dict[str, JSONValue]:
    """Scores per mode (with both accuracies in every group), deltas and the paper's
    reference points, ready for `write_json`."""
    return {
        "modes": {mode: _score_json(s) for mode, s in scores.items()},
        "deltas_agent_minus_direct_pp": dict(deltas) if deltas is not None else None,
        "paper_reference": dict(PAPER_REFERENCE),
    }


def markdown_report(
    scores: Mapping[str, Score], deltas: Deltas | None, *, config: Mapping[str, object]
) -> str:
    """A Markdown report: overall, by duration, by task type, by domain, agent vs direct."""
    modes = _modes(scores)
    lines = ["# Video-MME results", ""]
    lines += ["## Overall", "", *_overall_table(scores, modes), ""]
    lines += [
        "Answered: the model gave the answer; fallback: it gave none within the budget (our "
        "best guess is recorded but never counted as its answer); failed: no answer at all. "
        "Accuracy official: the official script's metric over the answered questions its "
        "parser can read. Accuracy strict: correct / all questions (lmms-eval, VLMEvalKit); "
        "unparsed, fallback and failed questions count as wrong. Costs are means per "
        "question that did not fail; tokens = prompt + completion.",
        "",
        _PAPER_LINE,
        "",
    ]
    for title, attr, canonical in (
        ("duration", "by_duration", DURATIONS),
        ("task type", "by_task_type", TASK_TYPES),
        ("domain", "by_domain", DOMAINS),
    ):
        groups = {m: cast("dict[str, Group]", getattr(scores[m], attr)) for m in modes}
        lines += [f"## By {title}", "", *_breakdown_table(title, groups, canonical), ""]
    if deltas is not None:
        lines += ["## Agent vs direct (percentage points)", "", *_delta_table(deltas), ""]
    for mode in modes:
        if dups := scores[mode].duplicates:
            shown = ", ".join(dups[:10]) + (" ..." if len(dups) > 10 else "")
            lines += [f"Duplicate question_ids in {mode} (last record kept): {shown}", ""]
    config_text = json.dumps(config, indent=2, sort_keys=True, default=str)
    lines += ["## Config", "", "```json", config_text, "```", ""]
    return "\n".join(lines)


def chart(scores: Mapping[str, Score], path: str | os.PathLike[str]) -> None:
    """A PNG of strict accuracy by duration and by task type, one bar per mode."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    modes = _modes(scores)
    if not modes:
        raise ValueError("no scores to chart")
    fig = Figure(figsize=(16, 6), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[1, 3])
    for ax, attr, canonical, title in (
        (left, "by_duration", DURATIONS, "By duration"),
        (right, "by_task_type", TASK_TYPES, "By task type"),
    ):
        groups = {m: cast("dict[str, Group]", getattr(scores[m], attr)) for m in modes}
        names = ordered([n for g in groups.values() for n in g], canonical)
        width = 0.8 / len(modes)
        for i, mode in enumerate(modes):
            offset = (i - (len(modes) - 1) / 2) * width
            shown = [(j, n) for j, n in enumerate(names) if n in groups[mode]]
            xs = [j + offset for j, _ in shown]
            ys = [groups[mode][n].accuracy_strict for _, n in shown]
            bars = ax.bar(xs, ys, width, label=mode)
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
        tilt = len(names) > 3
        ax.set_xticks(
            range(len(names)), names, rotation=30 if tilt else 0, ha="right" if tilt else "center"
        )
        ax.set_ylim(0, 105)
        ax.set_ylabel("strict accuracy (%)")
        ax.set_xlabel(title.removeprefix("By ").capitalize())
        ax.set_title(f"Video-MME {title.lower()}")
        ax.legend()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_reports(
    out: str | os.PathLike[str], *, config: Mapping[str, object] | None = None
) -> dict[str, Score]:
    """Score ``out/<mode>.jsonl`` for each mode present and write every report beside it.

    Args:
        out: The run folder.
        config: What the report shows as the run's config; by default each mode's
            ``config`` from its last record.
    """
    folder = Path(out)
    scores: dict[str, Score] = {}
    configs: dict[str, object] = {}
    for mode in MODES:
        records = load_records(folder / f"{mode}.jsonl")
        if not records:
            continue
        scores[mode] = score(records)
        configs[mode] = records[-1].get("config")
        write_json(folder / f"official_{mode}.json", official_results(records))
    if config is None:
        config = configs
    deltas = compare(scores["agent"], scores["direct"]) if len(scores) == 2 else None
    write_json(folder / "summary.json", summary_json(scores, deltas))
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(markdown_report(scores, deltas, config=config), encoding="utf-8")
    if scores:
        chart(scores, folder / "accuracy.png")
    return scores


def _natural(text: str) -> list[int | str]:
    """A sort key reading digit runs as numbers: "9-2" before "10-1"."""
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(text)]


def _modes(scores: Mapping[str, Score]) -> list[str]:
    return [m for m in MODES if m in scores] + sorted(set(scores) - set(MODES))


def _group_json(group: Group) -> dict[str, JSONValue]:
    return {
        "questions": group.questions,
        "answered": group.answered,
        "fallback": group.fallback,
        "failed": group.failed,
        "answered_official": group.answered_official,
        "correct_official": group.correct_official,
        "correct": group.correct,
        "unparsed": group.unparsed,
        "accuracy_official": group.accuracy_official,
        "accuracy_strict": group.accuracy_strict,
    }


def _score_json(s: Score) -> dict[str, JSONValue]:
    return {
        **_group_json(s),
        "by_duration": {k: _group_json(g) for k, g in s.by_duration.items()},
        "by_domain": {k: _group_json(g) for k, g in s.by_domain.items()},
        "by_sub_category": {k: _group_json(g) for k, g in s.by_sub_category.items()},
        "by_task_type": {k: _group_json(g) for k, g in s.by_task_type.items()},
        "usage_means": asdict(s.usage),
        "duplicates": list(s.duplicates),
    }


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _overall_table(scores: Mapping[str, Score], modes: Sequence[str]) -> list[str]:
    header = ["mode", "questions", "answered", "fallback", "failed", "accuracy official"]
    header += ["accuracy strict", "unparsed", "calls/q", "tokens/q", "frames/q", "wall/q (s)"]
    rows = []
    for m in modes:
        s, u = scores[m], scores[m].usage
        rows.append(
            [
                m,
                s.questions,
                s.answered,
                s.fallback,
                s.failed,
                _official(s),
                f"{s.accuracy_strict:.1f}",
                s.unparsed,
                f"{u.model_calls:.2f}",
                f"{u.prompt_tokens + u.completion_tokens:.0f}",
                f"{u.frames_sent:.1f}",
                f"{u.wall_s:.1f}",
            ]
        )
    return _table(header, rows)


def _breakdown_table(
    title: str, groups: Mapping[str, Mapping[str, Group]], canonical: Sequence[str]
) -> list[str]:
    header = [title]
    for m in groups:
        header += [f"{m} n", f"{m} official", f"{m} strict"]
    rows = []
    for name in ordered([n for g in groups.values() for n in g], canonical):
        row: list[object] = [name]
        for g in groups.values():
            if name in g:
                row += [g[name].questions, _official(g[name])]
                row += [f"{g[name].accuracy_strict:.1f}"]
            else:
                row += ["-", "-", "-"]
        rows.append(row)
    return _table(header, rows)


def _official(group: Group) -> str:
    """The official accuracy, or "n/a" when its parser read nothing (the script prints 0)."""
    return f"{group.accuracy_official:.1f}" if group.answered_official else "n/a"


def _delta_table(deltas: Deltas) -> list[str]:
    rows: list[list[object]] = [["overall", *_delta_cells(deltas["overall"])]]
    rows += [[f"duration: {k}", *_delta_cells(d)] for k, d in deltas["by_duration"].items()]
    rows += [[f"task: {k}", *_delta_cells(d)] for k, d in deltas["by_task_type"].items()]
    return _table(["category", "Δ official (pp)", "Δ strict (pp)"], rows)


def _delta_cells(delta: Delta) -> list[str]:
    return [f"{delta['accuracy_official']:+.1f}", f"{delta['accuracy_strict']:+.1f}"]


def main(argv: Sequence[str] | None = None) -> None:
    """Re-score a run folder and write its reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="folder holding agent.jsonl / direct.jsonl")
    args = parser.parse_args(argv)
    scores = write_reports(args.out)
    if not scores:
        raise SystemExit(f"no records in {args.out}/agent.jsonl or {args.out}/direct.jsonl")
    for mode, s in scores.items():
        print(
            f"{mode}: {s.questions} questions, official {s.accuracy_official:.1f}, "
            f"strict {s.accuracy_strict:.1f}; answered {s.answered}, fallback {s.fallback}, "
            f"failed {s.failed}, unparsed {s.unparsed}"
        )
    print(f"reports in {args.out}")


if __name__ == "__main__":
    main()
