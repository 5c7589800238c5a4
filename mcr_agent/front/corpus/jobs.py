"""Index many videos at once: find them, build each in a worker process, report each outcome.

The work of one video is `index_video`, the same function whether it runs in a local worker
process (`PoolRunner`, here) or as a Ray task (`ray_runner`). It never raises:
a video that cannot be indexed comes back as a failed `Outcome` with its one-line error, so
the run goes on. Memories are written by the workers into the cache folder, whose atomic
writes and per-video lock make concurrent builders safe; running the same command again
reuses every finished memory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from ...config import AgentConfig
from ...errors import ConfigError, MCRAgentError

__all__ = [
    "MEMORY_PER_WORKER",
    "VIDEO_EXTENSIONS",
    "BuildOptions",
    "IndexJob",
    "Outcome",
    "PoolRunner",
    "Runner",
    "default_workers",
    "find_videos",
    "index_video",
    "machine_cpus",
]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
     ".flv", ".wmv", ".3gp", ".ogv")
)  # fmt: skip
"""File name endings taken as videos when a folder or a glob is searched."""

MEMORY_PER_WORKER = 2 << 30
"""Bytes of memory one build may need (declared to Ray; bounds the default pool width).

Measured: 0.95 GB peak resident on a 1-minute 720p video with speech and on-screen text
(models loaded: faster-whisper tiny.en, all-MiniLM-L6-v2, RapidOCR); an hour of audio adds
about 0.25 GB (16 kHz float32, decoded whole by faster-whisper).
"""

Status = Literal["indexed", "reused", "failed"]


@dataclass(frozen=True)
class IndexJob:
    """One video to index.

    Attributes:
        video: The video file.
        subtitles: An .srt/.vtt file to import with it.
    """

    video: Path
    subtitles: Path | None = None


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """What every video of a run is built with: the same as ``mcr-agent index VIDEO`` takes.

    Options that change how a memory is built go into ``config.index`` (`IndexSettings`);
    options of the build call itself get a field here.

    Attributes:
        config: The configuration (index settings, cache folder, model server for captions).
        force: Rebuild each memory from scratch.
    """

    config: AgentConfig
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What became of one video.

    Attributes:
        video: The video file.
        status: ``indexed`` (built or completed now), ``reused`` (complete already) or
            ``failed``.
        duration: Seconds of video (0 when the file could not be read).
        seconds: Wall seconds the worker spent on it.
        folder: The memory folder, unless it failed.
        error: The one-line reason it failed.
        error_type: The class of that error (e.g. ``VideoError``, ``ModelServerError``).
        scenes: Scenes in the memory.
        missing_captions: Scenes left without a caption (model server down or failing).
        caption_error: Why they lack one, as the build said (the server's error, or the
            reason it refused a scene); None when it does not know.
        warnings: What the build warned about (damaged packets, truncated files).
    """

    video: Path
    status: Status
    duration: float = 0.0
    seconds: float = 0.0
    folder: Path | None = None
    error: str | None = None
    error_type: str | None = None
    scenes: int = 0
    missing_captions: int = 0
    caption_error: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def failure(cls, video: Path, error: str, error_type: str, seconds: float = 0.0) -> Outcome:
        return cls(video=video, status="failed", error=error, error_type=error_type,
                   seconds=seconds)  # fmt: skip


class Runner(Protocol):
    """Runs `index_video` for each job somewhere; yields outcomes as they finish."""

    def run(self, jobs: Sequence[IndexJob]) -> Iterator[Outcome]: ...


def index_video(job: IndexJob, options: BuildOptions, threads: int | None = None) -> Outcome:
    """Build (or reuse) one video's memory; every failure becomes a failed `Outcome`.

    Args:
        job: The video.
        options: How to build it.
        threads: CPU threads each library may use in this process (None: no limit).
    """
    import time

    from ..api import Agent

    if threads is not None:
        from memory.threads import limit_threads

        limit_threads(threads)
    started = time.perf_counter()
    try:
        memory, report = Agent(options.config).build(
            job.video, subtitles=job.subtitles, force=options.force
        )
    except Exception as exc:  # a bad video must not stop the others
        elapsed = time.perf_counter() - started
        return Outcome.failure(job.video, _one_line(exc), type(exc).__name__, elapsed)
    return Outcome(
        video=job.video,
        status="reused" if report.reused else "indexed",
        duration=memory.duration,
        seconds=time.perf_counter() - started,
        folder=memory.folder,
        scenes=len(memory.scenes),
        missing_captions=len(report.missing_captions),
        caption_error=report.caption_error or _refusal(report.refused_captions),
        warnings=tuple(report.warnings),
    )


def _refusal(refused: dict[int, str]) -> str | None:
    """The first scene the server refused, with its reason, and how many more."""
    if not refused:
        return None
    scene, why = min(refused.items())
    more = f" (and {len(refused) - 1} more scenes)" if len(refused) > 1 else ""
    return f"the server refused scene {scene}: {' '.join(why.split())}{more}"


def _one_line(exc: Exception) -> str:
    if isinstance(exc, MCRAgentError):
        return " ".join(str(exc).split())
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text} (a bug: please report it)"


def find_videos(paths: Sequence[str | Path]) -> list[Path]:
    """The video files that paths name, in the order given, each once.

    A file is taken as given, whatever its name; a folder is searched recursively for
    files ending in `VIDEO_EXTENSIONS` (hidden files and folders are skipped); a pattern
    with ``*``, ``?`` or ``[`` is expanded as a glob (``**`` spans folders), keeping video
    files and searching the folders it matches.

    Raises:
        ConfigError: A path names nothing, or a folder or glob holds no video.
    """
    import glob

    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            hits = [path]
        elif path.is_dir():
            hits = _videos_under(path)
        elif any(c in str(raw) for c in "*?["):
            matched = sorted(glob.glob(os.path.expanduser(str(raw)), recursive=True))
            hits = [v for m in map(Path, matched) for v in _videos_in(m)]
        else:
            raise ConfigError(f"video not found: {path} (check the path)")
        if not hits:
            raise ConfigError(
                f"no video file in {raw} (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})"
            )
        found.update((p.resolve(), None) for p in hits)
    return list(found)


def _videos_in(path: Path) -> list[Path]:
    if path.is_dir():
        return _videos_under(path)
    return [path] if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file() else []


def _videos_under(folder: Path) -> list[Path]:
    hits = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        hits += [
            Path(root, f)
            for f in sorted(files)
            if not f.startswith(".") and Path(f).suffix.lower() in VIDEO_EXTENSIONS
        ]
    return hits


def machine_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _available_memory() -> int | None:
    """Bytes of memory available for new work (MemAvailable on Linux), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def default_workers(videos: int) -> int:
    """Worker processes for `videos` videos: one per CPU, as many as memory allows."""
    available = _available_memory()
    by_memory = machine_cpus() if available is None else available // MEMORY_PER_WORKER
    return max(1, min(machine_cpus(), by_memory, videos))


def _start_worker(threads: int) -> None:
    """Runs once in each pool worker: thread limits, and logs only for errors (the worker
    reports warnings through its outcomes; its stderr would tear the driver's progress bar)."""
    from memory.threads import limit_threads

    logging.basicConfig(level=logging.ERROR)
    limit_threads(threads)


class PoolRunner:
    """Local worker processes (spawned, each with its threads limited).

    A worker that dies (killed, out of memory) is replaced, and its video is tried again
    up to `retries` more times.

    Args:
        options: How every video is built.
        workers: Worker processes.
        threads: CPU threads per worker (default: the CPUs shared among the workers).
        retries: Attempts after the first when a worker dies under a video.
    """

    def __init__(
        self, options: BuildOptions, *, workers: int, threads: int | None = None, retries: int = 3
    ) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {workers}")
        self.options = options
        self.workers = workers
        self.threads = threads or max(1, machine_cpus() // workers)
        self.retries = retries

    def run(self, jobs: Sequence[IndexJob]) -> Iterator[Outcome]:
        import multiprocessing

        from pebble import ProcessExpired, ProcessPool

        pool = ProcessPool(
            max_workers=max(1, min(self.workers, len(jobs))),
            initializer=_start_worker,
            initargs=(self.threads,),
            context=multiprocessing.get_context("spawn"),  # no fork of a threaded driver
        )
        pending: dict[Future[Outcome], tuple[IndexJob, int]] = {}
        finished = False
        try:
            for job in jobs:
                pending[pool.schedule(index_video, (job, self.options))] = (job, 1)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job, attempt = pending.pop(future)
                    try:
                        yield future.result()
                    except ProcessExpired as exc:
                        if attempt <= self.retries:
                            retry = pool.schedule(index_video, (job, self.options))
                            pending[retry] = (job, attempt + 1)
                            continue
                        yield Outcome.failure(job.video, _died(attempt, exc.exitcode), "WorkerDied")
                    except Exception as exc:  # the pool itself broke
                        yield Outcome.failure(job.video, _one_line(exc), type(exc).__name__)
            finished = True
        finally:
            if finished:
                pool.close()  # workers exit on their own, releasing what they hold
            else:
                pool.stop()  # interrupted: end the builds in flight; finished work is on disk
            pool.join()


def _died(attempts: int, exitcode: int | None) -> str:
    how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"code {exitcode}"
    return (
        f"the worker process died under this video {attempts} times (exit {how}; out of "
        "memory?): index it alone with `mcr-agent index VIDEO` to see why"
    )
