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

from memory.store import atomic_path, read_jsonl

from .mme_chart import chart
from .mme_markdown import markdown_report
from .mme_schema import Record
from .mme_score import (
    Deltas,
    Group,
    Score,
    compare,
    dedupe,
    official_response,
    record_status,
    score,
)
from .mme_stats import Interval

__all__ = [
    "MODES",
    "PAPER_REFERENCE",
    "chart",
    "load_records",
    "markdown_report",
    "missing_path",
    "official_results",
    "summary_json",
    "write_json",
    "write_reports",
]

log = logging.getLogger(__name__)

MODES = ("agent", "direct")
PAPER_REFERENCE = {"model": "InternVideo3-8B", "subtitles": False, "direct": 73.1, "agentic": 75.8}
_DIGITS = re.compile(r"(\d+)")

JSONValue = object  # anything json.dumps accepts


def official_results(
    records: Iterable[Record], missing: Iterable[Record] = ()
) -> list[dict[str, JSONValue]]:
    """Records in the official results layout (BradyFU/Video-MME
    ``evaluation/output_test_template.json``), read by the official scorer as they are.

    One object per video, ordered by video_id: ``video_id``, ``duration``, ``domain``,
    ``sub_category``, ``missing`` (true for the videos of `missing`: questions selected but
    not run because their video or subtitle file was not found; the scorer's
    ``skip_missing`` skips them) and ``questions``, each ordered by question_id with
    ``question_id``, ``task_type``, ``question``, ``options``, ``answer``, ``response`` (the
    model's own final reply, `official_response`), then keys the scorer ignores: ``choice``
    (our letter: the model's when ``status`` is ``answered``, our guess on ``fallback``),
    ``status`` (``answered``, ``fallback``, ``failed``, ``missing``) and ``evidence``.
    A question_id seen twice keeps its last record.
    """
    unique, _ = dedupe(records)
    videos: dict[str, list[Record]] = defaultdict(list)
    for record in unique:
        videos[record["video_id"]].append(record)
    absent: dict[str, list[Record]] = defaultdict(list)
    for question in missing:
        if question["video_id"] not in videos:
            absent[question["video_id"]].append(question)
    results: list[dict[str, JSONValue]] = []
    for video_id in sorted({*videos, *absent}, key=_natural):
        missing_video = video_id not in videos
        questions = sorted(absent[video_id] if missing_video else videos[video_id],
                           key=lambda r: _natural(r["question_id"]))  # fmt: skip
        first = questions[0]
        results.append({
            "video_id": video_id, "duration": first["duration"], "domain": first["domain"],
            "sub_category": first["sub_category"], "missing": missing_video,
            "questions": [_official_question(r, missing_video) for r in questions],
        })  # fmt: skip
    return results


def _official_question(record: Record, missing: bool) -> dict[str, JSONValue]:
    return {
        "question_id": record["question_id"],
        "task_type": record["task_type"],
        "question": record["question"],
        "options": list(record["options"]),
        "answer": record["answer"],
        "response": "" if missing else official_response(record),
        "choice": None if missing else record.get("choice"),
        "status": "missing" if missing else record_status(record),
        "evidence": [] if missing else list(record.get("evidence") or []),
    }


def missing_path(out: str | os.PathLike[str], mode: str) -> Path:
    """``<out>/missing_<mode>.json``: the questions the last run of `mode` selected but could
    not run (video or subtitle file not found), a JSON list of question objects."""
    return Path(out) / f"missing_{mode}.json"


def write_json(path: str | os.PathLike[str], data: JSONValue) -> None:
    """Write strict JSON (no NaN or Infinity), UTF-8, indented by 2, atomically."""
    text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def load_records(path: str | os.PathLike[str]) -> list[Record]:
    """The records of one JSONL file; a last line cut short by a crash is skipped."""
    return cast("list[Record]", read_jsonl(Path(path)))


def summary_json(
    scores: Mapping[str, Score], deltas: Deltas | None, *, missing: Mapping[str, int] | None = None
) -> dict[str, JSONValue]:
    """Scores per mode (every accuracy in every group with its question count and 95 %
    Wilson interval, in percent), the questions not run (`missing`), deltas with paired
    intervals and the paper's reference points, ready for `write_json`."""
    return {
        "modes": {
            mode: {**_score_json(s), "missing": (missing or {}).get(mode, 0)}
            for mode, s in scores.items()
        },
        "deltas_agent_minus_direct_pp": dict(deltas) if deltas is not None else None,
        "paper_reference": dict(PAPER_REFERENCE),
    }


def write_reports(
    out: str | os.PathLike[str], *, config: Mapping[str, object] | None = None
) -> dict[str, Score]:
    """Score ``out/<mode>.jsonl`` for each mode present and write every report beside it.

    Args:
        out: The run folder; ``missing_<mode>.json`` in it (`missing_path`), when present,
            lists the questions selected but not run.
        config: What the report shows as the run's config; by default each mode's
            ``config`` from its last record.
    """
    folder = Path(out)
    scores: dict[str, Score] = {}
    configs: dict[str, object] = {}
    missing: dict[str, int] = {}
    for mode in MODES:
        records = load_records(folder / f"{mode}.jsonl")
        if not records:
            continue
        absent = _load_missing(missing_path(folder, mode))
        scores[mode] = score(records)
        configs[mode] = records[-1].get("config")
        missing[mode] = len(absent)
        write_json(folder / f"official_{mode}.json", official_results(records, absent))
    if config is None:
        config = configs
    deltas = compare(scores["agent"], scores["direct"]) if len(scores) == 2 else None
    write_json(folder / "summary.json", summary_json(scores, deltas, missing=missing))
    with atomic_path(folder / "report.md") as tmp:
        report = markdown_report(scores, deltas, config=config, missing=missing)
        tmp.write_text(report, encoding="utf-8")
    if scores:
        chart(scores, folder / "accuracy.png", modes=list(scores))
    return scores


def _load_missing(path: Path) -> list[Record]:
    if not path.exists():
        return []
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("%s is unreadable: the official JSON lists no missing videos", path)
        return []
    return cast("list[Record]", [q for q in found if isinstance(q, dict)])


def _natural(text: str) -> list[int | str]:
    """A sort key reading digit runs as numbers: "9-2" before "10-1"."""
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(text)]


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
        "accuracy_official": _accuracy_json(group.ci_official),
        "accuracy_answered": _accuracy_json(group.ci_answered),
        "accuracy_strict": _accuracy_json(group.ci_strict),
    }


def _accuracy_json(interval: Interval) -> dict[str, JSONValue]:
    """``{"percent", "right", "questions", "ci95": [low, high]}``, percentages."""
    return {
        "percent": 100 * interval.value,
        "right": interval.k,
        "questions": interval.n,
        "ci95": [100 * interval.low, 100 * interval.high],
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
            f"{mode}: {s.questions} questions, official scorer {s.accuracy_official:.1f}, "
            f"answered {s.accuracy_answered:.1f}, strict {s.accuracy_strict:.1f}; "
            f"answered {s.answered}, fallback {s.fallback}, failed {s.failed}"
        )
    print(f"reports in {args.out}")


if __name__ == "__main__":
    main()
