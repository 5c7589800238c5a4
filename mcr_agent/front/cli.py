"""The `mcr-agent` command: parse, configure, call the library, print. No logic here."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from memory import Level
from memory.settings import DEFAULT_ASR_MODEL

from ..config import AgentConfig
from ..errors import MCRAgentError, ModelServerError
from ..serve import ServeOptions
from .console import make_console
from .corpus.cli import corpus_options, is_corpus, run_corpus_command
from .mcp.server import mcp_command
from .startup import ResumingProgress, exit_on_second_interrupt, settle, start_up
from .ui.command import ui as ui_command

if TYPE_CHECKING:
    from .api import Mode

__all__ = ["main"]

_out = make_console()
_err = make_console(stderr=True)


class _Group(click.Group):
    """Maps library errors to one line and exit code 1, Ctrl-C to a resume hint."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The process's entry (the console script, ``python -m mcr_agent``; tests call
        `main` instead): when it returns or exits, the process ends."""
        try:
            result = super().__call__(*args, **kwargs)
        except SystemExit as exc:
            if exc.code in (0, None):
                settle()
            elif exc.code == 130:
                exit_on_second_interrupt()
            raise
        settle()
        return result

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MCRAgentError as exc:
            _err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
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
    handler.setLevel(logging.WARNING)  # libraries may log at DEBUG on their own loggers
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])


def _server_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option("--model", help="Model id (default: $MCR_MODEL or the server's first).")(fn)
    return click.option(
        "--base-url", help="OpenAI-compatible URL (default: $MCR_BASE_URL or :8000/v1)."
    )(fn)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--subtitles", type=click.Path(path_type=Path), help="A subtitle file (.srt, .vtt, .ass)."
)
@click.option(
    "--subtitle-track",
    type=click.IntRange(min=0),
    help="Read the video's subtitle track N (from 0, as ffmpeg's 0:s:N) [default: the "
    "default text track].",
)
@click.option("--no-subtitles", is_flag=True, help="Do not read the video's subtitle tracks.")
@click.option("--ocr/--no-ocr", default=False, show_default=True, help="Read on-screen text.")
@click.option(
    "--asr-model",
    default=DEFAULT_ASR_MODEL,
    show_default=True,
    help="faster-whisper model name or folder (tiny.en ships offline; small, medium and "
    "large-v3 are multilingual).",
)
@click.option(
    "--language",
    help="Language code of the speech (de, zh) for a multilingual ASR model [default: detect].",
)
@click.option("--no-asr", is_flag=True, help="Skip speech recognition.")
@click.option("--force", is_flag=True, help="Rebuild the memory from scratch.")
@click.option("--concurrency", type=int, help="Caption requests in flight (default 4).")
@_server_options
@corpus_options
def index(
    paths: tuple[str, ...],
    subtitles: Path | None,
    subtitle_track: int | None,
    no_subtitles: bool,
    ocr: bool,
    asr_model: str,
    language: str | None,
    no_asr: bool,
    force: bool,
    concurrency: int | None,
    base_url: str | None,
    model: str | None,
    workers: int | None,
    ray: str | None,
) -> None:
    """Build the memory of each video (scenes, speech, on-screen text, captions, FAISS).

    PATH is a video file, a folder (searched recursively) or a glob; several videos are
    indexed at once by worker processes, or by Ray tasks with --ray.
    """
    from .api import Agent
    from .progress import RichProgress
    from .report import print_build

    if subtitles and (no_subtitles or subtitle_track is not None):
        raise click.UsageError("--subtitles replaces the video's tracks: drop the other option")
    if no_subtitles and subtitle_track is not None:
        raise click.UsageError("--no-subtitles and --subtitle-track exclude each other")
    config = AgentConfig.from_env(base_url=base_url, model=model, max_concurrency=concurrency)
    settings = dataclasses.replace(
        config.index,
        ocr=ocr,
        asr=not no_asr,
        asr_model=asr_model,
        asr_language=language,
        embedded_subtitles=not no_subtitles,
        subtitle_track=subtitle_track,
    )
    config = config.replace(index=settings)
    if is_corpus(paths, workers, ray):
        run_corpus_command(_out, paths, config, subtitles=subtitles, force=force,
                           workers=workers, ray=ray)  # fmt: skip
        return
    agent = Agent(config)
    with RichProgress(_out) as progress:
        memory, report = agent.build(paths[0], subtitles=subtitles, force=force, progress=progress)
    print_build(_out, memory, report, config.base_url)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.argument("question")
@click.option(
    "--option", "options", multiple=True, help='A multiple-choice option, e.g. "A. red" (repeat).'
)
@click.option("--subtitles", type=click.Path(path_type=Path), help="An .srt or .vtt file.")
@click.option(
    "--mode",
    type=click.Choice(["agent", "direct"]),
    default="agent",
    show_default=True,
    help="The MCR loop, or one call on uniformly sampled frames (the baseline).",
)
@click.option("--max-steps", type=click.IntRange(1, 50), help="Reasoning steps (default 6).")
@_server_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.option(
    "--trace",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a trace: FILE.html (a page to open) or FILE.json.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show each tool's feedback and debug logs.")
def ask(
    video: Path,
    question: str,
    options: tuple[str, ...],
    subtitles: Path | None,
    mode: Mode,
    max_steps: int | None,
    base_url: str | None,
    model: str | None,
    as_json: bool,
    trace: Path | None,
    verbose: bool,
) -> None:
    """Answer QUESTION about VIDEO, citing the timestamps the answer rests on."""
    from .api import Agent
    from .progress import RichProgress
    from .report import print_answer, print_step

    if trace is not None and trace.suffix.lower() not in (".html", ".htm", ".json"):
        raise click.BadParameter("the trace file must end in .html or .json", param_hint="--trace")
    if verbose:
        for name in ("mcr_agent", "tools", "memory"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.DEBUG)
    config = AgentConfig.from_env(base_url=base_url, model=model)
    if max_steps is not None:
        config = config.replace(budget=dataclasses.replace(config.budget, max_steps=max_steps))
    indexed = None
    if subtitles is None and video.is_file():
        from memory.build import indexed_settings

        # The memory `index` built (with its options: --ocr, --asr-model, ...) is the one
        # asked about; a video never indexed is indexed with the defaults.
        indexed = indexed_settings(video, config.cache_dir)
        config = config.replace(index=indexed) if indexed is not None else config
    agent = Agent(config)
    console = _err if as_json else _out
    answer = None
    with RichProgress(console) as progress, start_up(paused=indexed is not None) as started:
        for event in agent.stream(
            video,
            question,
            options,
            subtitles=subtitles,
            mode=mode,
            progress=ResumingProgress(progress, started),
        ):
            started()
            for step in event.steps:
                print_step(console, step)
                if verbose and step.feedback:
                    console.print(step.feedback[:2000], style="dim", highlight=False, markup=False)
            answer = event.answer or answer
    assert answer is not None
    if answer.status == "failed":  # the server failed: one line (and the object with --json)
        if as_json:
            click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, allow_nan=False))
        raise ModelServerError(answer.error or "the model server failed")
    if trace is not None:
        written = agent.save_trace(answer, trace)
        console.print(f"trace: {written}", highlight=False)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, allow_nan=False))
    else:
        print_answer(_out, answer)


class _Plugins(click.Group):
    """Commands registered by name under the ``mcr_agent.eval`` entry-point group, loaded
    only when used (the evaluations live in a layer above this package)."""

    def _found(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group="mcr_agent.eval")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._found())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self._found().get(cmd_name)
        return entry.load() if entry is not None else None


@main.group(cls=_Plugins, name="eval")
def eval_() -> None:
    """Run a benchmark evaluation (videomme)."""


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
    from memory import open_memory, probe_or_recall

    # The memory alone: no model client, tools or loop to load for a search.
    cache = AgentConfig.from_env().cache_dir
    mem = open_memory(probe_or_recall(video, cache).path, cache)
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


@main.command(context_settings={"show_default": True})
@click.argument("model_id")
@click.argument("engine_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--host", default=ServeOptions.host, help="Address to listen on (0.0.0.0: all).")
@click.option("--port", default=ServeOptions.port, type=click.IntRange(1, 65535))
@click.option(
    "--engine",
    type=click.Choice(["transformers", "vllm"]),
    default="transformers",
    help="transformers serves InternVideo3; vllm serves stock Qwen3-VL (needs vLLM + CUDA).",
)
@click.option("--dtype", type=click.Choice(["auto", "bf16", "fp16", "fp32"]), default="auto")
@click.option("--device", default="auto", help="cuda, cuda:1, cpu; auto picks cuda if present.")
@click.option(
    "--max-frames",
    type=click.IntRange(1),
    default=ServeOptions.max_frames,
    help="Images plus video frames per request.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1024),
    default=ServeOptions.max_pixels,
    help="Pixels per image (over: HTTP 400) or video frame (over: scaled down).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(1),
    default=ServeOptions.max_batch,
    help="Requests per batch.",
)
@click.option(
    "--max-model-len",
    type=click.IntRange(256),
    default=ServeOptions.max_model_len,
    help="Context tokens per request.",
)
@click.option(
    "--media-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder whose files requests may name by path (default: paths are refused).",
)
@click.option("--served-model-name", help="Id in /v1/models (default: the folder name or id).")
@click.option("--api-key", envvar="MCR_SERVE_API_KEY", help="Require this bearer key.")
@click.option(
    "--trust-remote-code/--no-trust-remote-code",
    default=True,
    help="Run the model's own code (InternVideo3 needs it).",
)
def serve(model_id: str, engine_args: tuple[str, ...], **options: object) -> None:
    """Serve MODEL_ID (a folder or hub id) behind the OpenAI API for `ask` and `eval`.

    Arguments after `--` go to vLLM with --engine vllm.
    """
    from ..serve import serve as run

    if engine_args and options["engine"] != "vllm":
        raise click.UsageError(f"unexpected arguments {' '.join(engine_args)} (only for vllm)")
    opts = ServeOptions(model=model_id, extra=engine_args, **options)  # type: ignore[arg-type]
    try:
        run(opts, announce=lambda line: _err.print(line, highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        _err.print("stopped")


main.add_command(mcp_command)  # `mcr-agent mcp`, defined beside its server
main.add_command(ui_command)  # `mcr-agent ui`, the web app (mcr_agent/front/ui)
