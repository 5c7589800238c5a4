"""The model behind the server: loading, and micro-batched generation on one thread.

Requests that arrive while the model is busy wait in a queue; the worker takes as many as
fit (same sampling settings, `max_batch` requests, `max_batch_tokens` padded prompt tokens)
and runs them as one left-padded ``generate`` call, images and videos included. Each row
stops on its own (end of turn, its `max_tokens`, a stop string, or its client leaving), and
every new token goes to its request as it is made, so streaming and batching mix.

transformers' continuous-batching manager takes token ids only (no pixels, no M-RoPE
positions), and ``transformers serve`` runs vision models one request at a time, so this
batches whole ``generate`` calls instead: a batch runs to its longest row, and requests
arriving meanwhile form the next one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .inputs import InputBuilder, Limits, Prepared, RequestError

__all__ = ["Engine", "Job", "Sampling"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """How one request samples; requests batch together only when these match."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        if self.temperature <= 1e-5:
            return ("greedy",)
        if self.seed is not None:  # one generator per call: a seeded request runs alone
            return ("seeded", id(self))
        return ("sample", self.temperature, self.top_p, self.top_k)


@dataclass(eq=False)
class Job:
    """One request in the engine.

    `emit` is called from the worker thread with ("token", id) per token, then once with
    ("done", finish_reason) as soon as the row ends (not when its batch ends) or
    ("error", RequestError).
    """

    prepared: Prepared
    sampling: Sampling
    emit: Callable[[str, Any], None]
    streaming: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)
    tokens: list[int] = field(default_factory=list)
    finish: str | None = None
    reported: bool = False  # "done" or "error" was emitted

    @property
    def done(self) -> bool:
        return self.finish is not None

    def end(self, finish: str) -> None:
        """Mark the row finished and tell its request, once."""
        self.finish = finish
        if not self.reported:
            self.reported = True
            self.emit("done", finish)

    def fail(self, error: RequestError) -> None:
        """End the request with an error, once."""
        self.finish = self.finish or "error"
        if not self.reported:
            self.reported = True
            self.emit("error", error)

    def restart(self) -> None:
        """Forget a half-made reply nobody has seen (non-streaming), to run it again."""
        self.tokens.clear()
        self.finish = None


class Engine:
    """Runs jobs on the model in micro-batches on one worker thread.

    Args:
        model: A loaded Qwen3-VL-style model (``generate`` with pixel inputs).
        tokenizer: Its tokenizer.
        builder: Turns messages into `Prepared` inputs.
        name: The id `/v1/models` lists.
        max_batch: Most requests in one ``generate`` call.
        max_batch_tokens: Most padded prompt tokens in one call (rows times longest prompt).
        batch_window: Seconds the worker waits for company when a request arrives alone.
        max_queue: Requests waiting beyond this get HTTP 429 (default 16 batches).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        builder: InputBuilder,
        *,
        name: str,
        max_batch: int = 8,
        max_batch_tokens: int | None = None,
        batch_window: float = 0.005,
        max_queue: int | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.builder = builder
        self.name = name
        self.max_batch = max_batch
        self.max_batch_tokens = max_batch_tokens or builder.limits.max_model_len
        self.batch_window = batch_window
        config = model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
        self.eos = {eos} if isinstance(eos, int) else set(eos or ())
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos)
        self.batches = 0  # generate calls run
        self.largest_batch = 0
        self.served = 0
        self.max_queue = max_queue or 16 * max_batch
        forward = getattr(model, "forward", None)
        self._token_types = forward is not None and "mm_token_type_ids" in _parameters(forward)
        self._pending: deque[Job] = deque()
        self._running: list[Job] = []  # the batch on the model now
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="mcr-serve-model", daemon=True)
        self._thread.start()

    @property
    def limits(self) -> Limits:
        return self.builder.limits

    def stats(self) -> dict[str, int]:
        """Queue and batch counters, for `/health`."""
        with self._cond:
            queued, running = len(self._pending), len(self._running)
        return {
            "queued": queued,
            "running": running,
            "served": self.served,
            "batches": self.batches,
            "largest_batch": self.largest_batch,
        }

    def submit(self, job: Job) -> None:
        """Queue a job; its results arrive through ``job.emit``.

        Raises:
            RequestError: The server is shutting down (503) or its queue is full (429).
        """
        with self._cond:
            if self._closed:
                raise RequestError("the server is shutting down; retry on another", status=503)
            if len(self._pending) >= self.max_queue:
                raise RequestError(
                    f"the server is busy ({len(self._pending)} requests queued): retry later, "
                    "or add a replica to MCR_BASE_URL",
                    status=429,
                )
            self._pending.append(job)
            self._cond.notify()

    def alive(self) -> bool:
        """The worker thread is running (False after `close` or a crash)."""
        return self._thread.is_alive() and not self._closed

    def close(self) -> None:
        """Stop: queued and running requests end with a 503 at once (running rows stop at
        their next token); the worker ends after the batch in progress."""
        error = RequestError("the server is shutting down; retry on another", status=503)
        with self._cond:
            self._closed = True
            left = list(self._pending) + list(self._running)
            self._pending.clear()
            self._cond.notify()
        for job in left:
            job.cancelled.set()
            job.fail(error)

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the worker to end after `close`."""
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch:
                self._run(batch)

    def _next_batch(self) -> list[Job] | None:
        """The next batch: the oldest job and every queued one that runs the same way and
        fits; an empty list when every queued job had been cancelled; None once closed."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            deadline = time.monotonic() + self.batch_window
            while (
                not self._closed
                and len(self._pending) < self.max_batch
                and (wait := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(wait)
            if self._closed:
                return None
            for job in [j for j in self._pending if j.cancelled.is_set()]:
                self._pending.remove(job)
            if not self._pending:
                return []
            batch: list[Job] = []
            longest = 0
            key = self._pending[0].sampling.key
            for job in list(self._pending):
                size = max(longest, len(job.prepared.ids))
                fits = not batch or (len(batch) + 1) * size <= self.max_batch_tokens
                if job.sampling.key == key and fits and len(batch) < self.max_batch:
                    batch.append(job)
                    longest = size
                    self._pending.remove(job)
            # `key` makes a seeded job run alone (one random generator per call).
            self._running = batch
            return batch

    def _run(self, batch: list[Job]) -> None:
        with self._cond:
            self._running = list(batch)  # set here too: out-of-memory retries run row by row
        out_of_memory = False
        try:
            self._generate(batch)
        except Exception as exc:  # one bad batch must not stop the server
            if _out_of_memory_error(exc):
                out_of_memory = True  # handled below, once the failed call's memory is free
            else:
                logger.exception("generation failed")
                self._fail(batch, RequestError(f"generation failed: {exc}", status=500))
        finally:
            with self._cond:
                self._running = []
        if out_of_memory:
            self._out_of_memory(batch)
            return
        for job in batch:
            job.end(job.finish or "length")

    def _out_of_memory(self, batch: list[Job]) -> None:
        """Free the memory, then run the rows one at a time; a single row that does not fit
        gets a 400 naming what to lower. A streaming row that already sent tokens cannot be
        run again and gets a 503."""
        import gc

        import torch

        gc.collect()
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()
        again = []
        for job in batch:
            if job.reported:
                continue
            if job.tokens and job.streaming:
                job.fail(_oom_error(self.limits, streaming=True))
            else:
                job.restart()
                again.append(job)
        if len(batch) == 1:
            for job in again:
                job.fail(_oom_error(self.limits, streaming=False))
            return
        logger.warning("out of memory on a batch of %d; running them one by one", len(batch))
        for job in again:
            self._run([job])

    def _fail(self, jobs: Sequence[Job], error: RequestError) -> None:
        for job in jobs:
            job.fail(error)

    def _generate(self, batch: list[Job]) -> None:
        import torch

        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        self.served += len(batch)
        longest = max(len(job.prepared.ids) for job in batch)
        ids = torch.full((len(batch), longest), self.pad, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, job in enumerate(batch):
            n = len(job.prepared.ids)
            ids[row, longest - n :] = torch.tensor(job.prepared.ids)
            mask[row, longest - n :] = 1
        device = self.model.device
        inputs: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
        if self._token_types:
            # transformers >= 5 places vision tokens in 3-D (M-RoPE) only when told which
            # tokens are image (1) and video (2) patches; older remote code reads input_ids.
            types = torch.zeros_like(ids)
            types[ids == self.builder.image_id] = 1
            types[ids == self.builder.video_id] = 2
            inputs["mm_token_type_ids"] = types.to(device)
        for group in ("images", "videos"):
            parts = [getattr(job.prepared, group) for job in batch if getattr(job.prepared, group)]
            for key in parts[0] if parts else ():
                value = torch.cat([p[key] for p in parts])
                inputs[key] = value.to(
                    device, self.model.dtype if value.is_floating_point() else None
                )
        sampling = batch[0].sampling
        options: dict[str, Any] = {"do_sample": False}
        if sampling.temperature > 1e-5:
            options = {
                "do_sample": True,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
            }
            options["top_k"] = sampling.top_k or 0
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
        rows = _Rows(batch, self.eos, self.tokenizer)
        with torch.inference_mode():
            self.model.generate(
                **inputs,
                **options,
                max_new_tokens=max(job.sampling.max_tokens for job in batch),
                pad_token_id=self.pad,
                eos_token_id=sorted(self.eos),
                streamer=rows,
                stopping_criteria=[rows],
            )


class _Rows:
    """Streamer and stopping criterion at once: hands each row its tokens and stops a row
    at its end of turn, its own token limit, a stop string or a cancelled request."""

    def __init__(self, batch: list[Job], eos: set[int], tokenizer: Any) -> None:
        self.batch = batch
        self.eos = eos
        self.tokenizer = tokenizer
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate first pushes the prompt
            self.prompt_seen = True
            return
        for job, token in zip(self.batch, value.reshape(-1).tolist(), strict=True):
            if job.done:
                continue
            job.tokens.append(token)
            if token in self.eos:
                job.end("stop")
                continue
            job.emit("token", token)
            if job.sampling.stop and self._hits_stop(job):
                job.end("stop")
            elif job.cancelled.is_set():
                job.end("cancelled")
            elif len(job.tokens) >= job.sampling.max_tokens:
                job.end("length")

    def _hits_stop(self, job: Job) -> bool:
        longest = max(len(s) for s in job.sampling.stop)
        tail = self.tokenizer.decode(job.tokens[-(longest + 4) :], skip_special_tokens=True)
        return any(s in tail for s in job.sampling.stop)

    def end(self) -> None:
        pass

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.tensor([job.done for job in self.batch], device=input_ids.device)


def _parameters(function: Callable[..., Any]) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def _out_of_memory_error(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    message = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in message or "can't allocate memory" in message
    )


def _oom_error(limits: Limits, *, streaming: bool) -> RequestError:
    detail = (
        "the batch ran out of memory while this reply streamed; send it again"
        if streaming
        else ("this request does not fit in the model's memory")
    )
    return RequestError(
        f"{detail}: send fewer or smaller frames, or restart the server with a lower "
        f"--max-frames ({limits.max_frames}), --max-pixels ({limits.max_pixels:,}) or "
        "--max-batch",
        status=503 if streaming else 400,
    )
