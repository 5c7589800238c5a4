"""The ``mcr-agent`` command's entry point (the console script and ``python -m mcr_agent``).

It imports only the standard library before the CLI: a Ctrl-C while the CLI's own modules
load (click, rich, the first 0.2 s of every command) then exits 130 with one line, where
it would print a KeyboardInterrupt traceback from inside an import.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Load the CLI, then run it.

    Raises:
        SystemExit: 130 after a Ctrl-C while the CLI loads; otherwise as the CLI exits.
    """
    try:
        from .cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("interrupted before the command started: nothing was done\n")
        raise SystemExit(130) from None
    cli()
