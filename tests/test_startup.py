"""A fresh process's start and end (`mcr_agent.front.startup`): the collector's pause ends
with the first step or the first indexing stage, a Ctrl-C during the graph's import is
kept for its end, and a second Ctrl-C ends the process at once."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest

from mcr_agent.front.startup import ResumingProgress, interrupts_deferred, start_up
from tests.fake_openai import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[1]


class _Sink:
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def stage(self, name: str, total: float | None) -> None:
        self.seen.append(("stage", name))

    def update(self, name: str, done: float) -> None:
        self.seen.append(("update", done))

    def done(self, name: str, summary: str) -> None:
        self.seen.append(("done", summary))


def test_the_pause_ends_at_the_first_indexing_stage() -> None:
    assert gc.isenabled()
    sink = _Sink()
    with start_up(paused=True) as started:
        assert not gc.isenabled()
        progress = ResumingProgress(sink, started)
        progress.stage("captions", 3)  # a memory to complete: minutes of work
        assert gc.isenabled()
        progress.update("captions", 1)
        progress.done("captions", "3 scenes")
    assert gc.isenabled()
    assert sink.seen == [("stage", "captions"), ("update", 1), ("done", "3 scenes")]
    with start_up(paused=False):
        assert gc.isenabled()


def test_a_ctrl_c_during_the_block_is_raised_at_its_end() -> None:
    class Owner:
        pass

    reached = []
    owner = Owner()
    cache = weakref.WeakValueDictionary({"key": owner})
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        signal.raise_signal(signal.SIGINT)
        # A weakref callback runs here (the dictionary drops its entry): an interrupt
        # raised inside it would only be printed by CPython, and lost.
        del owner
        reached.append(len(cache))
    assert reached == [0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_the_block_runs_as_is() -> None:
    seen = []

    def run() -> None:
        with interrupts_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert seen == [signal.default_int_handler]


def test_a_second_ctrl_c_exits_at_once() -> None:
    """The first Ctrl-C waits for non-daemon threads at exit; the second does not."""
    code = (
        "import os, signal, threading\n"
        "from mcr_agent.front.startup import exit_on_second_interrupt\n"
        "threading.Thread(target=threading.Event().wait).start()  # never ends by itself\n"
        "exit_on_second_interrupt()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "threading.Event().wait()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=HANG_GUARD_S, check=False)  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr


def test_a_ctrl_c_while_the_cli_loads_is_one_line(tmp_path: Path) -> None:
    """The CLI's first import (click) is interrupted, as a Ctrl-C in a command's first
    0.2 s interrupts it."""
    (tmp_path / "click").mkdir()
    (tmp_path / "click" / "__init__.py").write_text("raise KeyboardInterrupt\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    for command in (["-m", "mcr_agent", "--help"], ["-c", _ENTRY]):
        done = subprocess.run(
            [sys.executable, *command], env=env, cwd=ROOT, capture_output=True, text=True,
            timeout=HANG_GUARD_S, check=False,
        )  # fmt: skip
        assert done.returncode == 130, done.stderr
        assert done.stderr == "interrupted before the command started: nothing was done\n"


# What the console script runs: the entry point pyproject.toml names.
_ENTRY = """
import tomllib
target = tomllib.load(open("pyproject.toml", "rb"))["project"]["scripts"]["mcr-agent"]
module, name = target.split(":")
getattr(__import__(module, fromlist=[name]), name)()
"""
