"""Human-readable summaries printed by the CLI."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from memory import BuildReport, VideoMemory

__all__ = ["print_build"]


def print_build(console: Console, memory: VideoMemory, report: BuildReport, base_url: str) -> None:
    """Print what an index run produced, its time per stage, and what is missing."""
    info = memory.info
    console.print(
        f"[bold]{info.path}[/]  {info.duration:.1f} s, {info.width}x{info.height}, "
        f"{info.fps:g} fps{', audio' if info.has_audio else ', no audio'}",
        highlight=False,
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
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    missing = report.missing_captions
    if missing:
        why = report.caption_error or f"no model server answers at {base_url}"
        console.print(
            f"[yellow]{len(missing)} of {counts.get('scenes', 0)} scenes lack captions[/] "
            f"({_ranges(missing)}): {why}. Run `mcr-agent index` again once the server is up "
            "to complete them; everything else is saved.",
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
