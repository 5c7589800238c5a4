"""The append-only results file of an evaluation run: one JSON object per finished question."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from mcr_agent.errors import CacheError

__all__ = ["ResultLog"]


class ResultLog:
    """``<out>/<mode>.jsonl``: appended and flushed to disk as each question finishes.

    A run killed mid-write leaves at most a torn last line; it is cut off before the next
    append, and reading skips it, so no result is half-counted and none is counted twice
    (the last record of a question wins).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._repaired = False

    def records(self) -> dict[str, dict[str, Any]]:
        """Finished questions by question_id (last record wins), in file order."""
        found: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return found
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CacheError(
                f"cannot read {self.path} ({exc.strerror}): check the --out folder"
            ) from exc
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn last line from a killed run
            if isinstance(record, dict) and "question_id" in record:
                found[str(record["question_id"])] = record
        return found

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (flushed and fsynced before returning)."""
        line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self._repaired:
                    self._cut_torn_tail()
                    self._repaired = True
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                raise CacheError(
                    f"cannot write {self.path} ({exc.strerror}): choose a writable --out"
                ) from exc

    def _cut_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as f:
                f.truncate(keep)
