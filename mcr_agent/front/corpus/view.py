"""What the driver of a corpus run shows: one bar over the corpus, a line per video, a table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .jobs import IndexJob, Outcome, Runner

__all__ = ["CorpusSummary", "header_duration", "print_summary", "run_corpus"]


@dataclass
class CorpusSummary:
    """The outcomes of a corpus run, in the order they finished.

    Attributes:
        outcomes: One per video.
        wall_s: Wall seconds of the whole run.
    """

    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def indexed_seconds(self) -> float:
        """Seconds of video indexed by this run (reused memories not counted)."""
        return sum(o.duration for o in self.outcomes if o.status == "indexed")


def header_duration(path: Path) -> float:
    """Seconds of video as the container header says (no decoding); 0 if unreadable."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if container.duration:
                return max(0.0, container.duration / 1_000_000)
            stream = container.streams.video[0]
            return float((stream.duration or 0) * (stream.time_base or 0))
    except Exception:  # the worker reports why; here it only sizes the progress bar
        return 0.0


def run_corpus(
    console: Console, runner: Runner, jobs: Sequence[IndexJob], *, where: str
) -> CorpusSummary:
    """Run the jobs, drawing one progress bar and printing a line per finished video.

    Args:
        console: Where to draw (bars only on a terminal; lines everywhere).
        runner: Where the videos are indexed.
        jobs: The videos.
        where: What runs them, for the first line (e.g. "2 worker processes").
    """
    with ThreadPoolExecutor(8) as pool:  # headers are reads: parallel on a shared folder
        expected = dict(
            zip(
                [j.video for j in jobs],
                pool.map(header_duration, (j.video for j in jobs)),
                strict=True,
            )
        )
    total = sum(expected.values())
    console.print(f"{_videos(len(jobs))} ({_clock(total)} of video) on {where}", highlight=False)
    summary = CorpusSummary()
    started = time.perf_counter()
    with _CorpusBar(console, len(jobs), total) as bar:
        for outcome in runner.run(jobs):
            summary.outcomes.append(outcome)
            bar.advance(outcome, expected.get(outcome.video, 0.0), time.perf_counter() - started)
            console.print(_line(outcome), highlight=False, soft_wrap=True)
    summary.wall_s = time.perf_counter() - started
    return summary


class _CorpusBar:
    """Videos done, hours of video done, the speed (x real time) and the time left.

    The bar advances by each video's length as its header gave it (so a failed video
    completes its share); the speed counts the video indexed by this run, per wall second.
    """

    def __init__(self, console: Console, videos: int, seconds: float) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.fields[videos]}"), BarColumn(bar_width=30),
            TextColumn("{task.fields[hours]}"), TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), console=console, disable=not console.is_terminal,
        )  # fmt: skip
        self._videos, self._total, self._left = videos, seconds, seconds
        self._done, self._covered, self._indexed = 0, 0.0, 0.0
        self._task = self._progress.add_task(
            "corpus", total=seconds or videos, videos=f"0/{videos} videos", hours="", rate=""
        )

    def __enter__(self) -> _CorpusBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, outcome: Outcome, expected: float, elapsed: float) -> None:
        self._done += 1
        self._left = max(0.0, self._left - expected)
        self._covered += outcome.duration
        if outcome.status == "indexed":
            self._indexed += outcome.duration
        rate = ""
        if self._indexed and elapsed > 0:
            speed = self._indexed / elapsed
            rate = f"{speed:.1f}x real time, ~{_clock(self._left / speed)} left"
        self._progress.update(
            self._task,
            advance=expected if self._total else 1,
            videos=f"{self._done}/{self._videos} videos",
            hours=f"{self._covered / 3600:.2f}/{self._total / 3600:.2f} h",
            rate=rate,
        )


def _line(o: Outcome) -> str:
    name = escape(str(o.video))
    if o.status == "failed":
        return f"[red]failed[/]   {name}: {escape(o.error or '')}"
    why = f": {escape(o.caption_error)}" if o.caption_error else ""
    extra = f", {o.missing_captions} scenes lack captions{why}" if o.missing_captions else ""
    warn = "".join(f"; [yellow]warning:[/] {escape(w)}" for w in o.warnings)
    if o.status == "reused":
        return f"[dim]reused[/]   {name}  ({_clock(o.duration)} of video{extra}){warn}"
    return (
        f"[green]indexed[/]  {name}  ({_clock(o.duration)} of video, {o.scenes} scenes, "
        f"{o.seconds:.1f} s{extra}){warn}"
    )


def _videos(n: int) -> str:
    return f"{n} video" if n == 1 else f"{n} videos"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def print_summary(console: Console, summary: CorpusSummary, *, base_url: str) -> None:
    """The closing table (indexed, reused, failed, hours, time), then each failure."""
    table = Table(show_header=True, header_style="bold", box=None)
    for name in ("indexed", "reused", "failed", "hours", "time", "speed"):
        table.add_column(name, justify="right")
    hours = sum(o.duration for o in summary.outcomes) / 3600
    speed = summary.indexed_seconds / summary.wall_s if summary.wall_s else 0.0
    table.add_row(
        str(summary.count("indexed")), str(summary.count("reused")),
        str(summary.count("failed")), f"{hours:.2f}", _clock(summary.wall_s),
        f"{speed:.1f}x real time" if summary.indexed_seconds else "-",
    )  # fmt: skip
    console.print(table)
    if summary.failed:
        failures = Table(show_header=True, header_style="bold red", box=None)
        failures.add_column("failed video", overflow="fold")
        failures.add_column("error", overflow="fold")
        for o in summary.failed:
            failures.add_row(escape(str(o.video)), escape(o.error or ""))
        console.print(failures)
    uncaptioned = [o for o in summary.outcomes if o.missing_captions]
    if uncaptioned:
        reasons = {o.caption_error for o in uncaptioned if o.caption_error}
        if len(reasons) == 1:
            why = escape(reasons.pop())
        else:
            why = (
                f"the model server at {base_url} did not answer, failed or refused; see each video"
            )
        console.print(
            f"[yellow]{_videos(len(uncaptioned))} with scenes without captions[/] ({why}): "
            "run the same command once the server answers to complete them; everything else "
            "is saved.",
            highlight=False,
        )
