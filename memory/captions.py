"""Scene captions and segment/video summaries, written by a `Captioner` and resumable.

Every finished caption is appended to a JSON-lines log at once, so an interrupted run
(Ctrl-C, a dead server) loses nothing and the next run asks only for what is missing.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcr_agent.errors import ModelReplyError, ModelServerError

from .protocols import Captioner, SceneCaptionRequest, SummaryRequest
from .records import Entry, Scene
from .store import read_jsonl

__all__ = ["CaptionLog", "CaptionOutcome", "caption_scenes", "group_segments", "summarize_all"]

logger = logging.getLogger(__name__)


class CaptionLog:
    """Append-only log of captions and summaries in a memory folder.

    With a captioner, only texts written by the same model with the same prompt version
    count, so changing either re-captions; without one (server down), the newest text of
    each key is used.

    Args:
        path: The ``captions.jsonl`` file.
        captioner: Whose texts count, or None for any.
    """

    def __init__(self, path: Path, captioner: Captioner | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._model = captioner.name if captioner is not None else None
        self._versions = dict(captioner.prompt_versions) if captioner is not None else {}
        self._rows: dict[str, dict[str, object]] = {}
        for row in read_jsonl(path):
            if "text" in row and "key" in row and self._counts(row):
                self._rows[str(row["key"])] = row

    def _version(self, key: str) -> str:
        return self._versions.get(key.split(":", 1)[0], "")

    def _counts(self, row: dict[str, object]) -> bool:
        if self._model is None:
            return True
        key = str(row["key"])
        return row.get("model") == self._model and row.get("prompt", "") == self._version(key)

    def get(self, key: str) -> str | None:
        row = self._rows.get(key)
        return None if row is None else str(row["text"])

    def add(self, key: str, text: str, **extra: object) -> None:
        row: dict[str, object] = {
            "key": key,
            "text": text,
            "model": self._model,
            "prompt": self._version(key),
        }
        line = json.dumps({**row, **extra}, ensure_ascii=False) + "\n"
        with self._lock:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
            self._rows[key] = row


@dataclass
class CaptionOutcome:
    """How a captioning pass went.

    Attributes:
        written: Captions written.
        error: Why the pass stopped (the server is unreachable or failing), if it did.
        refused: Scenes the server refused or the model gave no usable caption for, by
            index, with why (one line each); a later run asks for them again.
    """

    written: int = 0
    error: str | None = None
    refused: dict[int, str] = field(default_factory=dict)


def scene_key(scene: Scene) -> str:
    return f"scene:{scene.index}:{scene.start:.3f}-{scene.end:.3f}"


def caption_scenes(
    scenes: Sequence[Scene],
    make_request: Callable[[Scene], SceneCaptionRequest],
    captioner: Captioner,
    log: CaptionLog,
    *,
    concurrency: int,
    on_done: Callable[[int], None] | None = None,
) -> CaptionOutcome:
    """Caption every scene the log lacks, `concurrency` requests at a time.

    A request the server refuses (a 4xx such as a frame it cannot read) or a reply that is
    empty or unusable skips that scene, noted in `CaptionOutcome.refused`; an unreachable
    or failing server stops the pass. A later run asks for every scene left.
    """
    todo = [s for s in scenes if log.get(scene_key(s)) is None]
    outcome = CaptionOutcome()
    if not todo:
        return outcome
    jobs: queue.Queue[Scene] = queue.Queue()
    for scene in todo:
        jobs.put(scene)
    results: queue.Queue[tuple[Scene, BaseException | None]] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                scene = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                text = captioner.caption_scene(make_request(scene))
                log.add(scene_key(scene), text, start=scene.start, end=scene.end)
                results.put((scene, None))
            except BaseException as exc:  # every outcome reaches the main thread
                results.put((scene, exc))

    # Daemon threads, not an executor: Ctrl-C must not wait for requests in flight.
    workers = [
        threading.Thread(target=work, name=f"mcr-caption-{i}", daemon=True)
        for i in range(max(1, min(concurrency, len(todo))))
    ]
    for w in workers:
        w.start()
    try:
        for _ in range(len(todo)):
            scene, exc = results.get()
            if exc is None:
                outcome.written += 1
            elif isinstance(exc, ModelReplyError):
                logger.info("scene %d not captioned: %s", scene.index, exc)
                outcome.refused[scene.index] = " ".join(str(exc).split())
            elif isinstance(exc, ModelServerError):
                outcome.error = str(exc)
                stop.set()
                break
            else:
                stop.set()
                raise exc
            if on_done is not None:
                on_done(outcome.written)
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        stop.set()
    # Requests already in flight finish (bounded by the client's timeout) before the caller
    # reads the log and releases the memory's lock.
    for w in workers:
        w.join()
    return outcome


def group_segments(scenes: Sequence[Scene], target_seconds: float) -> list[list[Scene]]:
    """Group consecutive scenes into segments of about `target_seconds`."""
    groups: list[list[Scene]] = []
    for scene in scenes:
        if groups and scene.end - groups[-1][0].start <= target_seconds * 1.25:
            groups[-1].append(scene)
        else:
            groups.append([scene])
    return groups


def summarize_all(
    scenes: Sequence[Scene],
    captioner: Captioner,
    log: CaptionLog,
    *,
    segment_seconds: float,
    duration: float,
) -> tuple[list[Entry], str | None]:
    """Write segment summaries from scene captions, then one video summary.

    Returns:
        The segment and video entries, and an error message if the server failed.
    """
    from .records import Level

    entries: list[Entry] = []
    try:
        for group in group_segments(scenes, segment_seconds):
            start, end = group[0].start, group[-1].end
            key = f"segment:{start:.3f}-{end:.3f}"
            text = log.get(key)
            if text is None:
                items = tuple((s.start, s.end, log.get(scene_key(s)) or "") for s in group)
                text = captioner.summarize(SummaryRequest("segment", start, end, items))
                log.add(key, text)
            frames = tuple(k.path for s in group for k in s.keyframes[:1])
            entries.append(Entry(start, end, Level.SEGMENT, "summary", text, frames))
        key = f"video:0.000-{duration:.3f}"
        text = log.get(key)
        if text is None:
            items = tuple((e.start, e.end, e.text) for e in entries)
            text = captioner.summarize(SummaryRequest("video", 0.0, duration, items))
            log.add(key, text)
        entries.append(Entry(0.0, duration, Level.VIDEO, "summary", text))
    except ModelServerError as exc:
        return entries, str(exc)
    return entries, None
