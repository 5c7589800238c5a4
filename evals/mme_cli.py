"""``mcr-agent eval videomme``: parse, plan, run with a progress bar, write the reports."""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mcr_agent import Agent, AgentConfig, ConfigError
from mcr_agent.front.console import make_console
from mcr_agent.front.corpus.cli import make_runner, ray_option
from mcr_agent.front.corpus.jobs import Runner
from mcr_agent.front.corpus.ray_runner import RAY_ADDRESS_ENV

from .mme_data import Question, load_questions, select
from .mme_log import ResultLog
from .mme_score import record_letter, record_status
from .videomme import EvalSettings, Plan, check_resumable, plan_run, run_eval

__all__ = ["videomme"]

_out = make_console()


@click.command("videomme")
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="The Video-MME parquet (or a JSON list), or the folder holding it.")  # fmt: skip
@click.option("--videos", type=click.Path(path_type=Path),
              help="Folder of <videoID>.mp4 files (default: the --data folder).")  # fmt: skip
@click.option("--subtitles", is_flag=True, help="Use <videoID>.srt subtitles.")
@click.option("--subtitle-dir", type=click.Path(path_type=Path),
              help="Folder of the .srt files (default: --videos, then its subtitle/).")  # fmt: skip
@click.option("--mode", type=click.Choice(["agent", "direct"]), default="agent", show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 256),
              help="Questions in flight (default: 4 per model server in --base-url).")  # fmt: skip
@click.option("--limit", type=click.IntRange(1), help="At most this many questions.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("videomme-out"),
              show_default=True, help="Results folder (a run resumes from it).")  # fmt: skip
@click.option("--duration", "durations", multiple=True, help="short, medium or long (repeat).")
@click.option("--domain", "domains", multiple=True, help="Only this domain (repeat).")
@click.option("--task-type", "task_types", multiple=True, help="Only this task type (repeat).")
@click.option("--ids", multiple=True, help="Only these question or video ids (repeat).")
@click.option("--frames", type=click.IntRange(1, 1024), default=64, show_default=True,
              help="Frame budget per question, the same in both modes.")  # fmt: skip
@click.option("--max-steps", type=click.IntRange(1, 50), default=6, show_default=True)
@click.option("--base-url", help="OpenAI-compatible URL (default: $MCR_BASE_URL).")
@click.option("--model", help="Model id (default: $MCR_MODEL or the server's first).")
@ray_option
def videomme(
    data: Path,
    videos: Path | None,
    subtitles: bool,
    subtitle_dir: Path | None,
    mode: str,
    concurrency: int | None,
    limit: int | None,
    out: Path,
    durations: tuple[str, ...],
    domains: tuple[str, ...],
    task_types: tuple[str, ...],
    ids: tuple[str, ...],
    frames: int,
    max_steps: int,
    base_url: str | None,
    model: str | None,
    ray: str | None,
) -> None:
    """Run the Video-MME evaluation (official format, resumable, agent or direct).

    With --ray the memories of the selected videos are built as Ray tasks while questions
    of the videos already built run here; the results are written here alone.
    """
    from .mme_markdown import accuracy_cell
    from .mme_report import write_reports

    base = AgentConfig.from_env(base_url=base_url, model=model)
    concurrency = concurrency or 4 * len(base.base_urls)  # fill every server
    settings = EvalSettings(mode, subtitles, frames, concurrency, max_steps)
    agent = Agent(settings.agent_config(base))
    problem = agent.server_status()
    if problem is not None:
        raise ConfigError(problem)
    folder = videos or (data if data.is_dir() else data.parent)
    questions = select(
        load_questions(data), durations=durations, domains=domains, task_types=task_types,
        ids=ids, limit=limit,
    )  # fmt: skip
    log = ResultLog(out / f"{mode}.jsonl")
    check_resumable(log, settings.comparable(agent.llm.model_name))
    subs_dir = (subtitle_dir or folder) if subtitles else None
    plan = plan_run(questions, log, videos=folder, subtitle_dir=subs_dir)
    _print_plan(len(questions), plan, folder, subs_dir)
    write_missing(out, mode, plan.skipped)
    builder = None
    if plan.count and mode == "agent" and (ray is not None or os.environ.get(RAY_ADDRESS_ENV)):
        builder, where = make_runner(agent.config, workers=None, ray=ray, videos=len(plan.todo))
        _out.print(f"memories built by {where}", highlight=False)
    if plan.count:
        _run(plan, agent, settings, log, builder)
    scores = write_reports(out)
    for name, s in scores.items():
        _out.print(
            f"[bold]{name}[/]: {s.questions} questions: {s.answered} answered, {s.fallback} "
            f"fallback, {s.failed} failed; accuracy % [95 % interval] right/questions: "
            f"answered {accuracy_cell(s.ci_answered)}, official scorer "
            f"{accuracy_cell(s.ci_official)}, strict {accuracy_cell(s.ci_strict)}",
            highlight=False,
        )
    _out.print(f"reports: {escape(str(out))}/report.md, summary.json, official_*.json, "
               "accuracy.png", highlight=False)  # fmt: skip


def write_missing(out: Path, mode: str, questions: list[Question]) -> None:
    """Record the questions this run skips for the official JSON's ``missing`` videos."""
    from .mme_report import missing_path, write_json

    write_json(missing_path(out, mode), [dataclasses.asdict(q) for q in questions])


def _print_plan(selected: int, plan: Plan, folder: Path, subs_dir: Path | None) -> None:
    _out.print(
        f"{selected} questions selected: {plan.count} to run, {len(plan.done)} done earlier",
        highlight=False,
    )
    for names, what, where in (
        (plan.missing_videos, "videos not found", folder),
        (
            plan.missing_subtitles,
            "subtitle files (.srt) not found",
            f"{subs_dir}, its subtitle/ or the subtitle/ beside it",
        ),
    ):
        if not names:
            continue
        shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        _out.print(
            f"[yellow]{len(names)} {what} in {escape(str(where))}[/] "
            f"(their questions are skipped): {escape(shown)}",
            highlight=False,
        )
    for line in plan.invalid[:10]:
        _out.print(f"[yellow]skipped[/] {escape(line)}", highlight=False)
    if len(plan.invalid) > 10:
        _out.print(f"[yellow]... and {len(plan.invalid) - 10} more invalid questions[/]")


def _run(
    plan: Plan, agent: Agent, settings: EvalSettings, log: ResultLog, builder: Runner | None
) -> None:
    right = [0, 0]
    seen: Counter[str] = Counter()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[acc]}"), TimeRemainingColumn(), console=_out,
        disable=not _out.is_terminal,  # a log gets one line per question instead
    )  # fmt: skip
    task = progress.add_task(settings.mode, total=plan.count, acc="")
    started = time.perf_counter()

    def on_record(record: dict[str, object]) -> None:
        right[0] += int(record_letter(record) == record["answer"])  # type: ignore[arg-type]
        right[1] += 1
        status = record_status(record)  # type: ignore[arg-type]
        seen[status] += 1
        counts = ", ".join(f"{seen[k]} {k}" for k in ("answered", "fallback", "failed"))
        progress.update(task, advance=1, acc=f"acc {100 * right[0] / right[1]:.1f}% · {counts}")
        if not _out.is_terminal:
            _out.print(f"{right[1]}/{plan.count} {record['question_id']}: {status} "
                       f"{record.get('choice')} (answer {record['answer']})",
                       highlight=False)  # fmt: skip

    with progress:
        done = run_eval(plan, agent, settings, log, on_record=on_record, builder=builder)
    _out.print(f"{done} questions in {time.perf_counter() - started:.0f} s", highlight=False)
