"""Terminal progress for memory building (rich), fed through `memory.ProgressSink`."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["RichProgress"]


class RichProgress:
    """One bar per stage; finished stages stay on screen with what they produced."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<16}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()  # stages are reported from worker threads too
        self._units: dict[str, str] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def stage(self, name: str, total: float | None) -> None:
        with self._lock:
            self._stage(name, total)

    def _stage(self, name: str, total: float | None) -> None:
        if name in self._tasks:
            self._progress.update(self._tasks[name], total=total)
            return
        self._tasks[name] = self._progress.add_task(name, total=total, info="")
        if not self.console.is_terminal:
            self.console.print(f"{name}…")

    def update(self, name: str, done: float) -> None:
        if name not in self._tasks:
            self.stage(name, None)
        task = self._tasks[name]
        total = self._progress.tasks[task].total
        info = f"{done:.0f}/{total:.0f}" if total else f"{done:.0f}"
        self._progress.update(task, completed=done, info=info)

    def done(self, name: str, summary: str) -> None:
        if name not in self._tasks:
            self.stage(name, None)
        task = self._tasks[name]
        total = self._progress.tasks[task].total or 1
        self._progress.update(task, total=total, completed=total, info=summary)
        if not self.console.is_terminal:
            self.console.print(f"  {name}: {summary}")
