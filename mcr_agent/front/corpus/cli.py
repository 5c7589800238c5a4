"""The corpus side of ``mcr-agent index`` (many videos, a worker pool or Ray), kept out of
cli.py. Importing it is cheap: the runners load when a run needs them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from ...config import AgentConfig
from ...errors import ConfigError, MCRAgentError

if TYPE_CHECKING:
    from .jobs import Runner

__all__ = ["corpus_options", "is_corpus", "make_runner", "ray_option", "run_corpus_command"]


def ray_option(fn: click.decorators.FC) -> click.decorators.FC:
    """``--ray [ADDRESS]``: a bare ``--ray`` gives "" (resolved by `ray_address`)."""
    return click.option(
        "--ray",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[ADDRESS]",
        callback=_not_a_path,
        help="Run each video as a Ray task: auto (this machine's cluster), local (start one "
        "here) or HOST:PORT (default: $MCR_RAY_ADDRESS, else auto).",
    )(fn)


def _not_a_path(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An address or nothing: ``--ray DIR`` takes DIR for the address, so say that."""
    if value and value not in ("auto", "local") and ":" not in value:
        what = (
            "a path, not a Ray address" if Path(value).exists() else "not auto, local or HOST:PORT"
        )
        raise click.BadParameter(
            f"{value!r} is {what}: write the paths first (`index PATH... --ray`) or the "
            "address right after --ray (`--ray auto PATH...`)"
        )
    return value


def corpus_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = ray_option(fn)
    return click.option(
        "--workers",
        type=click.IntRange(1),
        help="Videos indexed at once by worker processes (default: as many as the CPUs "
        "and memory allow).",
    )(fn)


def is_corpus(paths: Sequence[str], workers: int | None, ray: str | None) -> bool:
    """Whether `index` runs over a corpus; one plain video path keeps the one-video output."""
    if len(paths) != 1 or workers is not None or ray is not None:
        return True
    if os.environ.get("MCR_RAY_ADDRESS"):
        return True
    path = Path(paths[0]).expanduser()
    return path.is_dir() or (not path.exists() and any(c in paths[0] for c in "*?["))


def make_runner(
    config: AgentConfig, *, force: bool = False, workers: int | None, ray: str | None, videos: int
) -> tuple[Runner, str]:
    """The runner of a corpus run and a description of where it runs.

    Raises:
        click.BadParameter: ``--ray`` got a value that is not an address.
        click.UsageError: Both ``--ray`` and ``--workers``.
    """
    from .jobs import BuildOptions, PoolRunner, default_workers
    from .ray_runner import RayRunner, ray_address

    options = BuildOptions(config=config, force=force)
    try:
        address = ray_address(ray) if workers is None or ray is not None else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--ray") from None
    if address is not None:
        if workers is not None:
            raise click.UsageError("--workers is for local worker processes: drop it with --ray")
        ray_runner = RayRunner(options, address=address)
        return ray_runner, ray_runner.describe()
    width = workers or default_workers(videos)
    pool = PoolRunner(options, workers=width)
    threads = f"{pool.threads} thread{'s' if pool.threads > 1 else ''}"
    return pool, f"{width} worker process{'es' if width > 1 else ''} ({threads} each)"


def run_corpus_command(
    console: Console,
    paths: Sequence[str],
    config: AgentConfig,
    *,
    subtitles: Path | None,
    force: bool,
    workers: int | None,
    ray: str | None,
) -> None:
    """Index every video the paths name; print a line per video and the closing table.

    Raises:
        MCRAgentError: Some videos failed (exit 1); the others are done.
    """
    from .jobs import IndexJob, find_videos
    from .view import print_summary, run_corpus

    videos = find_videos(paths)
    if subtitles is not None and len(videos) > 1:
        raise click.UsageError(f"--subtitles names one file for {len(videos)} videos: "
                               "index the video it belongs to on its own")  # fmt: skip
    runner, where = make_runner(config, force=force, workers=workers, ray=ray, videos=len(videos))
    jobs = [IndexJob(v, subtitles) for v in videos]
    summary = run_corpus(console, runner, jobs, where=where)
    print_summary(console, summary, base_url=config.base_url)
    failed = len(summary.failed)
    if failed:
        raise MCRAgentError(
            f"{failed} of {len(jobs)} videos failed (listed above): fix or remove them and "
            "run the same command; finished memories are reused, only the rest is retried"
        )
