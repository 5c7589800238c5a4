"""Index runs and questions as jobs: run in worker threads, their events streamed to pages.

A job records every event it publishes, so a page that subscribes late (or reconnects with
``Last-Event-ID``) gets the whole story from where it left off. Questions wait for one of
``concurrency`` slots (the queue); index runs do not, and two runs on one video take turns
through the memory's file lock, the second reporting that it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...errors import MCRAgentError, ModelServerError
from ..answer import Answer
from ..api import Agent, Mode

__all__ = ["Job", "JobBoard", "JobProgress", "Question"]

logger = logging.getLogger(__name__)

Kind = Literal["index", "ask"]
_KEPT_JOBS = 500
_PROGRESS_STEP = 0.01  # of a stage's total: finer updates are not sent to pages


@dataclass(frozen=True)
class Question:
    """A question as a page asked it."""

    text: str
    options: tuple[str, ...] = ()
    mode: Mode = "agent"


class Job:
    """One index run or question, and everything it reported so far.

    Attributes:
        id: Its id in URLs.
        kind: ``index`` or ``ask``.
        video_id: The video it is about.
        answer: The answer, once a question is answered.
        finished: True after the last event.
    """

    def __init__(self, job_id: str, kind: Kind, video_id: str) -> None:
        self.id = job_id
        self.kind = kind
        self.video_id = video_id
        self.answer: Answer | None = None
        self.finished = False
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def publish(self, kind: str, *, last: bool = False, **data: Any) -> None:
        """Record an event and wake the pages following this job."""
        with self._lock:
            if self.finished:
                return
            self._events.append({"id": len(self._events), "type": kind, **data})
            self.finished = last
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that page's loop has closed
                loop.call_soon_threadsafe(_wake, future)

    def events(self) -> list[dict[str, Any]]:
        """The events published so far."""
        with self._lock:
            return list(self._events)

    async def follow(self, start: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Every event from number `start` on, as they come, until the last one."""
        loop = asyncio.get_running_loop()
        cursor = start
        while True:
            with self._lock:
                new = self._events[cursor:]
                done = self.finished
                future: asyncio.Future[None] = loop.create_future()
                if not new and not done:
                    self._waiters.add((loop, future))
            for event in new:
                yield event
            cursor += len(new)
            if done and not new:
                return
            if not new:
                try:
                    await future
                finally:  # woken, or the page went away
                    with self._lock:
                        self._waiters.discard((loop, future))


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class JobProgress:
    """A `memory.ProgressSink` that publishes stage progress as job events."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._totals: dict[str, float | None] = {}
        self._sent: dict[str, float] = {}

    def stage(self, name: str, total: float | None) -> None:
        self._totals[name] = total
        self._job.publish("stage", name=name, total=total)

    def update(self, name: str, done: float) -> None:
        total = self._totals.get(name)
        if total and abs(done - self._sent.get(name, -total)) < total * _PROGRESS_STEP:
            return
        self._sent[name] = done
        self._job.publish("progress", name=name, done=done, total=total)

    def done(self, name: str, summary: str) -> None:
        self._job.publish("stage_done", name=name, summary=summary)


class JobBoard:
    """Starts jobs and finds them by id.

    Each job runs in a daemon thread (stopping the app never waits for one: every stage of
    a memory build is saved atomically). Questions take one of `concurrency` slots first;
    the others wait in line.

    Args:
        agent: The agent every job uses.
        concurrency: Questions answered at once.
    """

    def __init__(self, agent: Agent, *, concurrency: int) -> None:
        self.agent = agent
        self.concurrency = concurrency
        self._slots = threading.Semaphore(concurrency)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._asking = 0

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _start(self, kind: Kind, video_id: str, work: Callable[[Job], None]) -> Job:
        with self._lock:
            job = Job(f"{kind}-{next(self._ids)}", kind, video_id)
            self._jobs[job.id] = job
            while len(self._jobs) > _KEPT_JOBS:
                self._jobs.popitem(last=False)
        thread = threading.Thread(
            target=self._run, args=(job, work), name=f"mcr-ui-{job.id}", daemon=True
        )
        thread.start()
        return job

    def index(self, video_id: str, path: Path, subtitles: Path | None) -> Job:
        """Build (or complete) the memory of a video."""

        def work(job: Job) -> None:
            job.publish("status", text="indexing")
            _, report = self.agent.build(path, subtitles=subtitles, progress=JobProgress(job))
            job.publish(
                "indexed",
                last=True,
                reused=report.reused,
                counts=report.counts,
                missing_captions=report.missing_captions,
                caption_error=report.caption_error  # else why the server refused scenes
                or "; ".join(dict.fromkeys(report.refused_captions.values()))
                or None,
                warnings=report.warnings,
            )

        return self._start("index", video_id, work)

    def ask(self, video_id: str, path: Path, subtitles: Path | None, question: Question) -> Job:
        """Answer a question; its steps are published as the loop runs them."""
        with self._lock:
            ahead = self._asking
            self._asking += 1

        def work(job: Job) -> None:
            try:
                if ahead >= self.concurrency:
                    job.publish(
                        "status",
                        text=f"queued: {ahead} question(s) before this one, "
                        f"{self.concurrency} answered at once",
                    )
                with self._slots:
                    self._answer(job, path, subtitles, question)
            finally:
                with self._lock:
                    self._asking -= 1

        return self._start("ask", video_id, work)

    def _answer(self, job: Job, path: Path, subtitles: Path | None, question: Question) -> None:
        job.publish("status", text="running")
        events = self.agent.stream(
            path,
            question.text,
            question.options,
            subtitles=subtitles,
            mode=question.mode,
            progress=JobProgress(job),
        )
        answer = None
        for event in events:
            for step in event.steps:
                job.publish("step", **step.to_dict())
            answer = event.answer or answer
        assert answer is not None  # the last event of a stream carries the answer
        if answer.status == "failed":  # the server failed: the job fails, with its one line
            raise ModelServerError(answer.error or "the model server failed")
        job.answer = answer
        job.publish("answer", last=True, **answer.to_dict())

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        try:
            work(job)
        except MCRAgentError as exc:
            job.publish("failed", last=True, message=str(exc))
        except Exception as exc:
            logger.exception("%s failed", job.id)
            job.publish(
                "failed",
                last=True,
                message=f"internal error ({type(exc).__name__}): see the terminal running the app",
            )
        finally:
            job.publish("failed", last=True, message="stopped without a result")
