"""Human-readable summaries printed by the CLI."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from memory import BuildReport, VideoMemory

from ..loop.state import Step
from .answer import Answer

__all__ = ["print_answer", "print_build", "print_step"]


def print_step(console: Console, step: Step) -> None:
    """One line per node run: node, tool, what happened."""
    tool = f" [cyan]{escape(step.tool)}[/]" if step.tool else ""
    console.print(
        f"  [dim]{step.duration_s:5.1f}s[/] [bold]{step.node:<7}[/]{tool} {escape(step.summary)}",
        highlight=False,
        soft_wrap=False,
        overflow="ellipsis",
        no_wrap=True,
    )


def print_answer(console: Console, answer: Answer) -> None:
    """The answer, its option, confidence, cited timestamps (and who cited them) and the
    usage of the question. A fallback says in words that the letter is a guess, and why."""
    if answer.status == "answered":
        head = f"[bold green]{answer.choice}[/]  " if answer.choice else ""
        console.print(f"\n{head}[bold]{escape(answer.answer)}[/]", highlight=False)
    else:
        console.print(f"\n[bold yellow]{escape(answer.answer)}[/]", highlight=False)
        console.print(f"[yellow]why:[/] {escape(answer.error or 'unknown')}", highlight=False)
    console.print(
        f"{answer.status} · confidence {answer.confidence:.2f} · route {answer.route}",
        highlight=False,
        style="dim",
    )
    for e in answer.evidence:
        text = " ".join(e.text.split())
        text = text if len(text) <= 100 else text[:99] + "…"
        where = f"  [{_clock(e.start)}-{_clock(e.end)}] {e.source} (cited by {e.cited_by})"
        console.print(escape(f"{where}: {text}".rstrip(": ")), highlight=False)
    u = answer.usage
    console.print(
        f"{u['model_calls']} model calls, {u['prompt_tokens']} + {u['completion_tokens']} "
        f"tokens, {u['frames_sent']} frames, {u['wall_s']:.1f} s",
        highlight=False,
        style="dim",
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def print_build(console: Console, memory: VideoMemory, report: BuildReport, base_url: str) -> None:
    """Print what an index run produced, its time per stage, and what is missing."""
    info = memory.info
    console.print(
        f"[bold]{info.path}[/]  {info.duration:.1f} s, {info.width}x{info.height}, "
        f"{info.fps:g} fps{', audio' if info.has_audio else ', no audio'}",
        highlight=False,
    )
    if info.start_time:
        console.print(
            f"times are the player's: 0 s is {info.start_time:.3f} s on the file's own clock",
            highlight=False,
            style="dim",
        )
    console.print(
        f"memory: {memory.folder}" + ("  (reused from cache)" if report.reused else ""),
        highlight=False,
    )
    counts = report.counts or dict(memory.manifest.get("counts", {}))
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("scenes", justify="right")
    table.add_column("transcript", justify="right")
    table.add_column("subtitles", justify="right")
    table.add_column("on-screen text", justify="right")
    table.add_column("captions", justify="right")
    table.add_column("entries", justify="right")
    table.add_row(
        *(
            str(counts.get(k, 0))
            for k in ("scenes", "asr", "subtitle", "ocr", "captions", "entries")
        )
    )
    console.print(table)
    if report.seconds:
        times = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
        console.print(f"time: {times}", highlight=False)
    for note in report.notes:
        console.print(note, highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    missing = report.missing_captions
    refused = {i: why for i, why in report.refused_captions.items() if i in missing}
    if refused:
        _print_refused(console, refused, report, counts.get("scenes", 0))
    rest = [i for i in missing if i not in refused]
    if rest:
        why = report.caption_error or f"no model server answers at {base_url}"
        console.print(
            f"[yellow]{len(rest)} of {counts.get('scenes', 0)} scenes lack captions[/] "
            f"({_ranges(rest)}): {escape(why)}. Run `mcr-agent index` again once the server "
            "is up to complete them; everything else is saved.",
            highlight=False,
        )


def _print_refused(
    console: Console, refused: dict[int, str], report: BuildReport, scenes: int
) -> None:
    """Scenes the server refused or gave unusable captions for, grouped by the reason."""
    if len(refused) == scenes and report.counts.get("captions", 0) == 0:
        console.print(
            f"[yellow]the model {escape(report.caption_model or '?')} answered but gave no "
            f"usable caption for any of the {scenes} scenes[/]",
            highlight=False,
        )
    reasons: dict[str, list[int]] = {}
    for index, why in sorted(refused.items()):
        reasons.setdefault(why, []).append(index)
    for number, (why, indexes) in enumerate(reasons.items()):
        if number == 3:
            console.print(f"  ... and {len(reasons) - 3} more reasons", highlight=False)
            break
        console.print(
            f"[yellow]{_ranges(indexes)} not captioned[/]: {escape(why)}", highlight=False
        )
    console.print(
        "Run `mcr-agent index` again to ask for them again; everything else is saved.",
        highlight=False,
    )


def _ranges(indexes: list[int]) -> str:
    parts: list[str] = []
    start = prev = indexes[0]
    for i in [*indexes[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(f"scene {start}" if start == prev else f"scenes {start}-{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)
