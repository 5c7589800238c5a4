"""Helpers for model-server tests: `mcr-agent serve` in a subprocess, an app on a thread,
and a model whose replies are scripted from its prompt."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.fake_openai import HANG_GUARD_S, free_port, wait_for

__all__ = [
    "data_url",
    "free_port",
    "make_video",
    "png_url",
    "scripted_engine",
    "serve_app",
    "serve_process",
    "until_cancelled",
]


@contextlib.contextmanager
def serve_process(
    model: Path,
    *args: str,
    started: list[subprocess.Popen[bytes]] | None = None,
    output: io.BytesIO | None = None,
) -> Iterator[str]:
    """`python -m mcr_agent serve MODEL ARGS` on a free port; yields its /v1 URL (the
    process goes into `started`, what it prints into `output`)."""
    port = free_port()
    command = [sys.executable, "-m", "mcr_agent", "serve", str(model), "--port", str(port), *args]
    log = output if output is not None else io.BytesIO()
    # One torch thread: the tests check behaviour, and OpenMP threads spinning against a busy
    # neighbour on a small machine make every generate many times slower.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    if started is not None:
        started.append(proc)
    reader = threading.Thread(target=lambda: log.write(proc.stdout.read() or b""), daemon=True)  # type: ignore[union-attr]
    reader.start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            reader.join(HANG_GUARD_S)
            raise AssertionError(f"server exited {proc.returncode}: {log.getvalue().decode()}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/health", timeout=HANG_GUARD_S).status_code == 200
        return False

    try:
        assert wait_for(up, poll=0.2), f"server not up: {log.getvalue().decode()}"
        yield f"{url}/v1"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(HANG_GUARD_S)  # all it printed, before the caller reads `output`


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """A FastAPI app on a real 127.0.0.1 socket, served by uvicorn on a thread."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_for(lambda: bool(server.started) or not thread.is_alive(), poll=0.02)
    assert server.started, "the in-process server did not start"
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(HANG_GUARD_S)
        sock.close()


def png_url(width: int, height: int, seed: int = 0) -> str:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def make_video(path: Path, *, seconds: float = 3, size: str = "96x64", rate: int = 8) -> Path:
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc=size={size}:rate={rate}", "-t", str(seconds),
            "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def data_url(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


class ScriptedModel:
    """Stands in for the network in `Engine`: each row's reply is `reply(prompt_text)`,
    pushed token by token through the real streamer and stopping criteria.

    Args:
        tokenizer: The tiny model's tokenizer.
        reply: Maps a row's decoded prompt to the text it answers.
        fail: Called with the batch size before generating; may raise (e.g. out of memory).
        pace: Called as ``pace(rows, step)`` before each token step of a batch of ``rows``;
            a test holds the model there by waiting on an event (never on a sleep).
    """

    def __init__(
        self,
        tokenizer: Any,
        reply: Callable[[str], str],
        fail: Callable[[int], None] | None = None,
        pace: Callable[[int, int], None] | None = None,
    ) -> None:
        import torch
        from transformers import GenerationConfig

        self.tokenizer = tokenizer
        self.reply = reply
        self.fail = fail
        end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.generation_config = GenerationConfig(eos_token_id=[end], pad_token_id=0)
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.calls: list[int] = []
        self.pace = pace
        self.steps = 0

    def generate(
        self,
        input_ids: Any,
        attention_mask: Any,
        streamer: Any,
        stopping_criteria: Any,
        max_new_tokens: int,
        **_: Any,
    ) -> Any:
        import torch

        self.calls.append(len(input_ids))
        if self.fail:
            self.fail(len(input_ids))
        end = self.generation_config.eos_token_id[0]
        rows = []
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True):
            prompt = self.tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
            text = self.reply(prompt)
            rows.append(self.tokenizer(text, add_special_tokens=False)["input_ids"] + [end])
        streamer.put(input_ids)
        sequence = input_ids
        done = torch.zeros(len(rows), dtype=torch.bool)
        for step in range(max_new_tokens):
            tokens = [
                0 if done[i] else (row[step] if step < len(row) else end)
                for i, row in enumerate(rows)
            ]
            if self.pace:
                self.pace(len(rows), step)
            self.steps += 1
            column = torch.tensor(tokens)
            sequence = torch.cat([sequence, column[:, None]], dim=1)
            streamer.put(column)
            done |= column == end
            for criterion in stopping_criteria:
                done |= criterion(sequence, None)
            if bool(done.all()):
                break
        streamer.end()
        return sequence


def scripted_engine(model_dir: Path, reply: Callable[[str], str], **kwargs: Any) -> Any:
    """An `Engine` over the tiny model's tokenizer and image processor with scripted replies."""
    from transformers import AutoImageProcessor, AutoTokenizer

    from mcr_agent.serve.engine import Engine
    from mcr_agent.serve.inputs import InputBuilder, Limits

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    fail = kwargs.pop("fail", None)
    pace = kwargs.pop("pace", None)
    limits = kwargs.pop("limits", Limits(max_model_len=4096))
    builder = InputBuilder(tokenizer, AutoImageProcessor.from_pretrained(model_dir), None, limits)
    model = ScriptedModel(tokenizer, reply, fail, pace)
    return Engine(model, tokenizer, builder, name="scripted", **kwargs)


def until_cancelled(engine: Any) -> None:
    """Wait until every request on `engine`'s model now has been cancelled (its client
    left); for a `ScriptedModel` pace that holds a batch until then."""
    with engine._cond:
        jobs = list(engine._running)
    for job in jobs:
        assert job.cancelled.wait(HANG_GUARD_S), "the request was never cancelled"


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
