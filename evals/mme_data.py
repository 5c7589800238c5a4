"""Video-MME questions: the Hugging Face parquet (or a JSON list in the same fields), filters,
and where each video and subtitle file is."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcr_agent.errors import ConfigError

__all__ = [
    "COLUMNS",
    "Question",
    "find_subtitles",
    "find_video",
    "load_questions",
    "select",
]

COLUMNS = (
    "video_id",
    "videoID",
    "duration",
    "domain",
    "sub_category",
    "task_type",
    "question_id",
    "question",
    "options",
    "answer",
)
_VIDEO_SUFFIXES = (".mp4", ".MP4", ".mkv", ".webm", ".mov", ".avi")
_OPTION = re.compile(r"^([A-D])\. \S")


@dataclass(frozen=True)
class Question:
    """One Video-MME question (the parquet's columns)."""

    video_id: str
    videoID: str
    duration: str
    domain: str
    sub_category: str
    task_type: str
    question_id: str
    question: str
    options: tuple[str, ...]
    answer: str

    def problem(self) -> str | None:
        """Why the question cannot be scored as Video-MME, or None."""
        letters = [m.group(1) for o in self.options if (m := _OPTION.match(o))]
        if len(letters) != len(self.options) or letters != list("ABCD"[: len(letters)]):
            return f"{self.question_id}: options are not 'A. ...' to 'D. ...' ({self.options!r})"
        if self.answer not in letters:
            return f"{self.question_id}: answer {self.answer!r} is not one of {letters}"
        return None


def load_questions(data: Path) -> list[Question]:
    """Questions from a parquet file, a JSON list, or a folder holding either (the Hugging
    Face snapshot layout ``videomme/test-*.parquet`` included).

    Raises:
        ConfigError: Nothing readable, or columns missing (named in the message).
    """
    path = _data_file(data)
    if path.suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path} as JSON ({exc}): fix or replace it") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ConfigError(f"{path} must hold a JSON list of question objects")
    else:
        rows = _parquet_rows(path)
    missing = sorted({c for r in rows for c in COLUMNS if c not in r} or set())
    if not rows or missing:
        what = f"lacks the columns {', '.join(missing)}" if missing else "holds no question"
        raise ConfigError(f"{path} {what}: use the lmms-lab/Video-MME parquet or its fields")
    return [_question(r) for r in rows]


def _data_file(data: Path) -> Path:
    if data.is_file():
        return data
    if not data.is_dir():
        raise ConfigError(
            f"no Video-MME data at {data}: pass the parquet, a JSON list, or its folder"
        )
    found = sorted(data.glob("videomme/*.parquet")) or sorted(data.rglob("*.parquet"))
    found = found or sorted(p for p in data.glob("*.json") if p.is_file())
    if not found:
        raise ConfigError(f"no .parquet or .json question file under {data}")
    return found[0]


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    import pandas as pd  # type: ignore[import-untyped]

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise ConfigError(f"cannot read {path} as parquet ({type(exc).__name__}): {exc}") from exc
    return list(frame.to_dict(orient="records"))


def _question(row: dict[str, Any]) -> Question:
    options = row["options"]
    if isinstance(options, str):
        options = json.loads(options) if options.strip().startswith("[") else options.split("\n")
    return Question(
        str(row["video_id"]),
        str(row["videoID"]),
        str(row["duration"]),
        str(row["domain"]),
        str(row["sub_category"]),
        str(row["task_type"]),
        str(row["question_id"]),
        str(row["question"]),
        tuple(str(o).strip() for o in options),
        str(row["answer"]).strip().upper(),
    )


def select(
    questions: Iterable[Question],
    *,
    durations: Sequence[str] = (),
    domains: Sequence[str] = (),
    task_types: Sequence[str] = (),
    ids: Sequence[str] = (),
    limit: int | None = None,
) -> list[Question]:
    """Questions passing every given filter (case-insensitive), in question_id order."""

    def wanted(value: str, allowed: Sequence[str]) -> bool:
        return not allowed or value.lower() in {a.lower() for a in allowed}

    kept = [
        q
        for q in questions
        if wanted(q.duration, durations)
        and wanted(q.domain, domains)
        and wanted(q.task_type, task_types)
        and (not ids or q.question_id in ids or q.video_id in ids)
    ]
    kept.sort(key=lambda q: (q.video_id, q.question_id))
    return kept[:limit] if limit is not None else kept


def find_video(folder: Path, video_name: str) -> Path | None:
    """The file of a video (``<videoID>.mp4`` or another container), also under ``data/``."""
    for base in (folder, folder / "data", folder / "videos"):
        for suffix in _VIDEO_SUFFIXES:
            path = base / f"{video_name}{suffix}"
            if path.is_file():
                return path
    return None


def find_subtitles(folder: Path, video_name: str) -> Path | None:
    """``<videoID>.srt`` in the folder, its ``subtitle/`` subfolder, or the ``subtitle/``
    folder beside it: the published dataset unpacks to ``DIR/data/*.mp4`` and
    ``DIR/subtitle/*.srt``, so ``--videos DIR/data`` finds both."""
    bases = (folder, folder / "subtitle", folder / "subtitles")
    for base in (*bases, folder.parent / "subtitle", folder.parent / "subtitles"):
        path = base / f"{video_name}.srt"
        if path.is_file():
            return path
    return None
