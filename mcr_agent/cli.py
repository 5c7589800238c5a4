"""The `mcr-agent` command: parse, configure, call the library, print. No logic here."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from memory import Level
from memory.settings import DEFAULT_ASR_MODEL

from .config import AgentConfig
from .errors import MCRAgentError

__all__ = ["main"]

_out = Console()
_err = Console(stderr=True)


class _Group(click.Group):
    """Maps library errors to one line and exit code 1, Ctrl-C to a resume hint."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MCRAgentError as exc:
            _err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            _err.print("interrupted: finished stages are saved; run the same command to resume")
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="mcr-agent")
def main() -> None:
    """Answer questions about videos with a Multimodal Contextual Reasoning agent."""
    from rich.logging import RichHandler

    # Library warnings go to stderr, drawn by rich so they do not tear the progress bars.
    handler = RichHandler(console=_err, show_time=False, show_path=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])


def _server_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option("--model", help="Model id (default: $MCR_MODEL or the server's first).")(fn)
    return click.option(
        "--base-url", help="OpenAI-compatible URL (default: $MCR_BASE_URL or :8000/v1)."
    )(fn)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--subtitles", type=click.Path(path_type=Path), help="An .srt or .vtt file.")
@click.option("--ocr/--no-ocr", default=False, show_default=True, help="Read on-screen text.")
@click.option(
    "--asr-model",
    default=DEFAULT_ASR_MODEL,
    show_default=True,
    help="faster-whisper model name or folder (tiny.en ships offline).",
)
@click.option("--no-asr", is_flag=True, help="Skip speech recognition.")
@click.option("--force", is_flag=True, help="Rebuild the memory from scratch.")
@click.option("--concurrency", type=int, help="Caption requests in flight (default 4).")
@_server_options
def index(
    video: Path,
    subtitles: Path | None,
    ocr: bool,
    asr_model: str,
    no_asr: bool,
    force: bool,
    concurrency: int | None,
    base_url: str | None,
    model: str | None,
) -> None:
    """Build the memory of VIDEO (scenes, speech, on-screen text, captions, FAISS)."""
    from .api import Agent
    from .progress import RichProgress
    from .report import print_build

    config = AgentConfig.from_env(base_url=base_url, model=model, max_concurrency=concurrency)
    config = config.replace(
        index=dataclasses.replace(config.index, ocr=ocr, asr=not no_asr, asr_model=asr_model)
    )
    agent = Agent(config)
    with RichProgress(_out) as progress:
        memory, report = agent.build(video, subtitles=subtitles, force=force, progress=progress)
    print_build(_out, memory, report, config.base_url)


@main.group()
def memory() -> None:
    """Inspect video memories."""


@memory.command("search")
@click.argument("video", type=click.Path(path_type=Path))
@click.argument("query")
@click.option(
    "--level",
    "levels",
    multiple=True,
    type=click.Choice([lv.value for lv in Level]),
    help="Only this level (repeatable).",
)
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "semantic", "lexical"]),
    default="hybrid",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print hits as a JSON list.")
def memory_search(
    video: Path, query: str, levels: tuple[str, ...], k: int, mode: str, as_json: bool
) -> None:
    """Search the memory of VIDEO for QUERY; prints hits with timestamps."""
    from .api import Agent

    agent = Agent(AgentConfig.from_env())
    mem = agent.open_memory(video)
    if mem is None:
        raise MCRAgentError(f"{video} has no memory yet: run `mcr-agent index {video}` first")
    hits = mem.search(query, k=k, levels=levels or None, mode=mode)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("time", "level", "score", "text"):
        table.add_column(col, overflow="fold")
    for h in hits:
        e = h.entry
        table.add_row(f"{e.start:7.1f}-{e.end:.1f}s", e.level.value, f"{h.score:.3f}", e.text)
    _out.print(table if hits else "no hit")


@main.command()
@_server_options
def doctor(base_url: str | None, model: str | None) -> None:
    """Check ffmpeg, the ASR/embedding/OCR models, the cache folder and the model server."""
    from .doctor import run_checks

    config = AgentConfig.from_env(base_url=base_url, model=model)
    ok = True
    for check in run_checks(config):
        mark = (
            "[green]ok[/]"
            if check.ok
            else ("[yellow]warn[/]" if check.optional else "[red]FAIL[/]")
        )
        _out.print(f"{mark:>16}  {check.name}: {check.detail}", highlight=False)
        ok = ok and (check.ok or check.optional)
    sys.exit(0 if ok else 1)


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("mcr-demo"),
    show_default=True,
    help="Folder for the sample video.",
)
@_server_options
def demo(out: Path, base_url: str | None, model: str | None) -> None:
    """Make a sample video, index it offline, search it, and ask the model server about it."""
    from .demo import run_demo

    run_demo(_out, AgentConfig.from_env(base_url=base_url, model=model), out)
