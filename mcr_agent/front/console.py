"""Rich consoles for the CLI: wrapped on a terminal, whole lines everywhere else."""

from __future__ import annotations

from rich.console import Console

__all__ = ["make_console"]

_PIPE_WIDTH = 1000
"""Columns assumed when output goes to a file or a pipe: whole lines, never wrapped."""


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr.

    On a terminal it wraps at the terminal's width. Elsewhere (logs, CI, pipes) Rich would
    hard-wrap at 80 columns, tearing one-line errors and paths apart: there lines are
    written whole.
    """
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, soft_wrap=True, width=_PIPE_WIDTH)
    return console
