"""A built memory loaded from its folder: entries, scenes and search."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mcr_agent.errors import CacheError

from .embed import SentenceEmbedder
from .index import EntryIndex
from .protocols import Embedder
from .records import Entry, Hit, Keyframe, Level, Scene, VideoInfo
from .store import read_json

__all__ = ["SearchMode", "VideoMemory"]

SearchMode = Literal["hybrid", "semantic", "lexical"]


class VideoMemory:
    """The hierarchical memory of one video.

    Loading reads JSON and FAISS files only; the embedding model loads on the first search
    by meaning, so opening a memory stays fast.
    """

    def __init__(
        self,
        folder: Path,
        manifest: dict[str, Any],
        scenes: Sequence[Scene],
        entries: Sequence[Entry],
        index: EntryIndex,
        embedder: Embedder,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.info = VideoInfo.from_dict(manifest["video"])
        self.scenes = list(scenes)
        self.entries = list(entries)
        self._index = index
        self._embedder = embedder

    @classmethod
    def load(cls, folder: Path, *, embedder: Embedder | None = None) -> VideoMemory:
        """Open a memory folder written by `build_memory`.

        Raises:
            CacheError: The folder holds no complete memory.
        """
        start = time.perf_counter()
        manifest = read_json(folder / "manifest.json")
        if not manifest or not manifest.get("complete"):
            raise CacheError(f"no complete memory in {folder}: run `mcr-agent index VIDEO`")
        try:
            VideoInfo.from_dict(manifest["video"])
            model = str(manifest["settings"]["embed_model"])
            if not (folder / "entries.json").exists():
                raise FileNotFoundError(folder / "entries.json")
            scenes = [Scene.from_dict(s) for s in read_json(folder / "scenes.json") or []]
            entries = [Entry.from_dict(e) for e in read_json(folder / "entries.json") or []]
            index = EntryIndex.load(folder, entries)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise CacheError(
                f"the memory in {folder} is damaged ({type(exc).__name__}): "
                "rebuild it with `mcr-agent index VIDEO --force`"
            ) from exc
        memory = cls(
            folder,
            manifest,
            scenes,
            entries,
            index,
            # The memory's cache folder holds the embedding model's ONNX export.
            embedder or SentenceEmbedder(model, cache=folder.parent),
        )
        memory.load_seconds = time.perf_counter() - start
        return memory

    load_seconds: float = 0.0

    @property
    def fingerprint(self) -> str:
        return str(self.manifest["fingerprint"])

    @property
    def duration(self) -> float:
        return self.info.duration

    @property
    def missing_captions(self) -> list[int]:
        """Indexes of scenes that still lack a caption (the server was down)."""
        return [int(i) for i in self.manifest.get("missing_captions", [])]

    @property
    def summary(self) -> Entry | None:
        """The video-level summary, if captioning has run."""
        found = self.level(Level.VIDEO)
        return found[0] if found else None

    def level(self, level: Level | str) -> list[Entry]:
        """All entries of one level, in time order."""
        lv = Level(level)
        return sorted((e for e in self.entries if e.level is lv), key=lambda e: e.start)

    def window(
        self, start: float, end: float, *, levels: Iterable[Level | str] | None = None
    ) -> list[Entry]:
        """Entries overlapping [start, end] seconds, in time order."""
        allowed = _levels(levels)
        found = [e for e in self.entries if e.level in allowed and e.overlaps(start, end)]
        return sorted(found, key=lambda e: (e.start, e.end))

    def keyframes(self, start: float, end: float) -> list[Keyframe]:
        """Keyframes inside [start, end], with absolute paths."""
        return [
            Keyframe(k.time, str(self.folder / k.path))
            for s in self.scenes
            for k in s.keyframes
            if start <= k.time <= end
        ]

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        levels: Iterable[Level | str] | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """Find the entries that best match a query.

        Args:
            query: Free text.
            k: Most hits returned.
            levels: Restrict to these levels (default: all).
            mode: ``hybrid`` (meaning and words, rank-fused), ``semantic`` or ``lexical``.

        Returns:
            Hits, best first.
        """
        allowed = _levels(levels)
        if mode == "lexical":
            ranked = self._index.lexical(query, k, allowed)
        else:
            vector = self._query_vector(query, lexical=mode == "hybrid")
            if mode == "semantic":
                ranked = self._index.semantic(vector, k, allowed)
            else:
                ranked = self._index.hybrid(query, vector, k, allowed)
        return [Hit(self.entries[row], score) for row, score in ranked]

    def _query_vector(self, query: str, *, lexical: bool) -> np.ndarray:
        if not lexical or self._index.lexical_ready:
            return self._embedder.embed([query])[0]
        # The first search of a memory: loading the embedding model (the first search of a
        # process) and embedding run mostly outside the GIL, beside building the lexical
        # index (tokenizing every entry).
        return _embed_beside(self._embedder, query, self._index.build_lexical)


def _embed_beside(embedder: Embedder, query: str, work: Callable[[], object]) -> np.ndarray:
    """Embed `query` in a worker thread while `work` runs in this one; the query's vector."""
    done: Future[np.ndarray] = Future()

    def embed() -> None:
        try:
            done.set_result(embedder.embed([query])[0])
        except BaseException as exc:  # raised again by done.result() below
            done.set_exception(exc)

    threading.Thread(target=embed, name="mcr-embed-query", daemon=True).start()
    work()
    return done.result()


def _levels(levels: Iterable[Level | str] | None) -> set[Level]:
    return set(Level) if levels is None else {Level(lv) for lv in levels}
