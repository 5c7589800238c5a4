"""The Video-MME evaluation: ``mcr-agent eval videomme`` (or ``python -m evals.videomme``).

Questions of one video share its memory, built once; questions run concurrently against the
model server; every finished question is appended to ``<out>/<mode>.jsonl`` at once, so a
killed run resumes where it stopped and never scores a question twice. At the end the scores
(official and strict denominators), the official results JSON, a summary, a Markdown report
and a chart are written next to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mcr_agent import Agent, AgentConfig, ConfigError, MCRAgentError, ModelServerError
from mcr_agent.front.answer import Answer
from mcr_agent.front.corpus.jobs import IndexJob, Runner
from mcr_agent.model.meter import Usage

from .mme_data import Question, find_subtitles, find_video
from .mme_log import ResultLog

__all__ = ["EvalSettings", "Plan", "plan_run", "run_eval"]

logger = logging.getLogger(__name__)
Record = dict[str, Any]
_COUNTS = ("model_calls", "prompt_tokens", "completion_tokens", "frames_sent", "requests",
           "retries")  # fmt: skip
"""The usage counts a question's share of its video's indexing holds."""


@dataclass(frozen=True)
class EvalSettings:
    """What a run is configured by; the fields in `comparable` must match to resume.

    Attributes:
        mode: ``agent`` or ``direct``.
        subtitles: Whether the videos' .srt files are used.
        frames: The frame budget of a question, the same in both modes for a fair comparison.
        concurrency: Questions in flight at once.
        max_steps: Reasoning steps of the agent.
    """

    mode: str = "agent"
    subtitles: bool = False
    frames: int = 64
    concurrency: int = 4
    max_steps: int = 6

    def agent_config(self, base: AgentConfig) -> AgentConfig:
        """The agent configuration for this run: frame budgets shared by both modes."""
        budget = dataclasses.replace(
            base.budget,
            max_frames=self.frames,
            direct_frames=self.frames,
            max_steps=self.max_steps,
        )
        return base.replace(
            budget=budget, max_concurrency=max(base.max_concurrency, self.concurrency)
        )

    def comparable(self, model: str) -> dict[str, Any]:
        import prompts

        return {
            "mode": self.mode,
            "model": model,
            "subtitles": self.subtitles,
            "frames": self.frames,
            "max_steps": self.max_steps if self.mode == "agent" else None,
            "prompts": {
                n: prompts.version(n)
                for n in (("reason", "verify_answer") if self.mode == "agent" else ("direct_mcq",))
            },
            "mcr_agent": metadata.version("mcr-agent"),
        }


@dataclass
class Plan:
    """What a run will do, known before any model call.

    Attributes:
        todo: Questions to answer, grouped by video in order, with their files.
        done: Question ids answered by earlier runs of the same configuration.
        missing_videos: videoIDs whose file was not found (their questions are skipped).
        invalid: One line per question that is not valid Video-MME (skipped).
        missing_subtitles: videoIDs whose subtitle file was not found when subtitles are
            asked for (their questions are skipped, never run without them).
        skipped: The questions of `missing_videos` and `missing_subtitles`.
    """

    todo: list[tuple[Path, Path | None, list[Question]]]
    done: set[str]
    missing_videos: list[str]
    invalid: list[str]
    missing_subtitles: list[str] = dataclasses.field(default_factory=list)
    skipped: list[Question] = dataclasses.field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(qs) for _, _, qs in self.todo)


def plan_run(
    questions: Sequence[Question],
    log: ResultLog,
    *,
    videos: Path,
    subtitle_dir: Path | None,
) -> Plan:
    """Split the questions into those to run, already done, without video (or without
    subtitles, when `subtitle_dir` is given: subtitles are asked for), and invalid."""
    done = set(log.records())
    invalid = [p for q in questions if (p := q.problem())]
    bad = {line.split(":", 1)[0] for line in invalid}
    groups: dict[str, list[Question]] = {}
    for q in questions:
        if q.question_id not in done and q.question_id not in bad:
            groups.setdefault(q.videoID, []).append(q)
    plan = Plan([], done & {q.question_id for q in questions}, [], invalid)
    for name, group in groups.items():
        video = find_video(videos, name)
        subs = find_subtitles(subtitle_dir, name) if subtitle_dir else None
        if video is None or (subtitle_dir is not None and subs is None):
            (plan.missing_videos if video is None else plan.missing_subtitles).append(name)
            plan.skipped += group
            continue
        plan.todo.append((video, subs, group))
    return plan


def run_eval(
    plan: Plan,
    agent: Agent,
    settings: EvalSettings,
    log: ResultLog,
    *,
    on_record: Callable[[Record], None] | None = None,
    builder: Runner | None = None,
) -> int:
    """Answer the planned questions; returns how many were recorded.

    Args:
        builder: Builds the memories of the videos elsewhere (Ray tasks) while questions of
            finished videos run here; by default they are built here, one by one.

    Raises:
        ModelServerError: The server stopped answering; what finished is saved, and the same
            command resumes.
    """
    stop = threading.Event()
    failure: list[ModelServerError] = []
    recorded = [0]
    lock = threading.Lock()
    config = settings.comparable(agent.llm.model_name)

    def finished(record: Record) -> None:
        log.append(record)
        with lock:
            recorded[0] += 1
        if on_record is not None:
            on_record(record)

    def answer(video: Path, subs: Path | None, q: Question, share: dict[str, float]) -> None:
        if stop.is_set():
            return
        try:
            result = agent.run(video, q.question, list(q.options), subtitles=subs,
                               mode=settings.mode)  # type: ignore[arg-type]  # fmt: skip
        except ModelServerError as exc:
            failure.append(exc)
            stop.set()
            return
        except MCRAgentError as exc:
            finished(_record(q, settings, config, error=str(exc), index_usage=share))
            return
        finished(_record(q, settings, config, answer=result, index_usage=share))

    pool = ThreadPoolExecutor(max(1, settings.concurrency), thread_name_prefix="videomme")
    futures: list[Future[None]] = []
    try:
        with contextlib.closing(_memories(plan, agent, settings, builder)) as ready:
            for video, subs, group, error, built in ready:
                share = _share(built, len(group))
                if error is not None:  # a bad file: its questions are recorded as failed
                    for q in group:
                        finished(_record(q, settings, config, error=error, index_usage=share))
                    continue
                futures += [pool.submit(answer, video, subs, q, share) for q in group]
                if stop.is_set():
                    break
        for future in futures:
            future.result()
    except ModelServerError as exc:
        failure.append(exc)
        stop.set()
    finally:
        pool.shutdown(wait=not stop.is_set(), cancel_futures=True)
    if failure:
        raise ModelServerError(
            f"{failure[0]} ({recorded[0]} questions saved in {log.path}; "
            "run the same command to resume)"
        )
    return recorded[0]


def _memories(
    plan: Plan, agent: Agent, settings: EvalSettings, builder: Runner | None
) -> Generator[tuple[Path, Path | None, list[Question], str | None, Usage | None], None, None]:
    """The planned videos, each once its memory is built (agent mode), with the one-line
    error of a video that could not be indexed and the model use of building it here (None
    when built elsewhere: not counted).

    Without `builder` the memories are built here, one after another; with one (Ray tasks,
    worker processes) they are built there, all at once, and come back as they finish.

    Raises:
        ModelServerError: The server stopped answering while captions were built.
    """
    todo = [(v, s if settings.subtitles else None, g) for v, s, g in plan.todo]
    if settings.mode != "agent":  # the direct baseline reads frames, not a memory
        yield from ((v, s, g, None, Usage()) for v, s, g in todo)
        return
    if builder is None:
        for video, subs, group in todo:
            usage = Usage()
            try:
                agent.index(video, subtitles=subs, usage=usage)
            except ModelServerError:
                raise
            except MCRAgentError as exc:
                yield video, subs, group, str(exc), usage
                continue
            yield video, subs, group, None, usage
        return
    groups = {v: (s, g) for v, s, g in todo}
    for outcome in builder.run([IndexJob(v, s) for v, s, _ in todo]):
        if outcome.error_type in ("ModelServerError", "ModelReplyError"):
            raise ModelServerError(outcome.error or "the model server stopped answering")
        subs, group = groups[outcome.video]
        yield outcome.video, subs, group, outcome.error, None


def _share(built: Usage | None, questions: int) -> dict[str, float]:
    """One question's share of building its video's memory: each count / `questions`."""
    if built is None or not questions:
        return {}
    counts = built.counts()
    return {k: counts[k] / questions for k in _COUNTS}


def _record(
    q: Question,
    settings: EvalSettings,
    config: dict[str, Any],
    *,
    answer: Answer | None = None,
    error: str | None = None,
    index_usage: dict[str, float] | None = None,
) -> Record:
    """One question's JSON line: the model's own final ``reply``, our ``response`` text and
    letter, and ``index_usage``: its share of its video's indexing plus what building the
    memory cost during the question (captions completed then)."""
    base = {f.name: getattr(q, f.name) for f in dataclasses.fields(q)}
    base["options"] = list(q.options)
    indexing = dict(index_usage or {})
    for key, value in (answer.index_usage if answer else {}).items():
        if key in _COUNTS:
            indexing[key] = indexing.get(key, 0) + value
    return {
        **base,
        "mode": settings.mode,
        "reply": answer.reply if answer else "",
        "response": answer.answer if answer else "",
        "choice": answer.choice if answer else None,
        "status": answer.status if answer else "failed",
        "confidence": answer.confidence if answer else 0.0,
        "evidence": [e.to_dict() for e in answer.evidence] if answer else [],
        "usage": dict(answer.usage) if answer else {},
        "index_usage": indexing,
        "error": answer.error if answer else error,
        "config": config,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def check_resumable(log: ResultLog, config: dict[str, Any]) -> None:
    """Refuse to mix configurations in one results file."""
    for record in log.records().values():
        theirs = {k: v for k, v in record.get("config", {}).items() if k != "mcr_agent"}
        ours = {k: v for k, v in config.items() if k != "mcr_agent"}
        if theirs != ours:
            changed = sorted(k for k in ours if theirs.get(k) != ours[k])
            raise ConfigError(
                f"{log.path} holds results of another configuration ({', '.join(changed)} "
                "differ): use another --out, or the same settings to resume"
            )
        return


if __name__ == "__main__":
    import sys

    from mcr_agent.front.cli import main

    main(["eval", "videomme", *sys.argv[1:]])
