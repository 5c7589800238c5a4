"""Search over memory entries: FAISS per level by meaning, BM25 by words, fused by rank."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import BM25
from .protocols import Embedder
from .records import Entry, Level
from .store import atomic_path, read_json, write_json

__all__ = ["EntryIndex", "tokenize", "write_index"]

_WORD = re.compile(r"[0-9a-z]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "he",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "does",
        "did",
        "do",
        "there",
        "their",
        "they",
        "them",
        "we",
        "you",
        "i",
    ]
)
RRF_K = 60
"""Rank-fusion constant of Cormack et al. (2009)."""


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


class EntryIndex:
    """Vector and lexical indexes over a fixed list of entries.

    Args:
        entries: The entries, in storage order.
        indexes: One FAISS inner-product index per level, rows in the entries' order.
    """

    def __init__(self, entries: Sequence[Entry], indexes: dict[Level, Any]) -> None:
        self.entries = list(entries)
        self._faiss = dict(indexes)
        self._rows = {
            level: np.array([i for i, e in enumerate(self.entries) if e.level is level], np.int64)
            for level in self._faiss
        }
        for level, rows in self._rows.items():
            if rows.size != self._faiss[level].ntotal:
                raise ValueError(f"index of level {level.value} does not match the entries")
        self._bm25: BM25 | None = None  # built on the first lexical query

    @classmethod
    def build(cls, entries: Sequence[Entry], vectors: np.ndarray) -> EntryIndex:
        """Index entries whose embeddings are the rows of `vectors` (unit length)."""
        import faiss

        indexes = {}
        for level in Level:
            rows = [i for i, e in enumerate(entries) if e.level is level]
            if rows:
                index = faiss.IndexFlatIP(int(vectors.shape[1]))
                index.add(np.ascontiguousarray(vectors[rows], dtype=np.float32))
                indexes[level] = index
        return cls(entries, indexes)

    @classmethod
    def load(cls, folder: Path, entries: Sequence[Entry]) -> EntryIndex:
        """Read the indexes `save` wrote for these entries."""
        import faiss

        indexes = {}
        for level in {e.level for e in entries}:
            indexes[level] = faiss.read_index(str(folder / "index" / f"{level.value}.faiss"))
        return cls(entries, indexes)

    def semantic(
        self, query_vector: np.ndarray, k: int, levels: Iterable[Level]
    ) -> list[tuple[int, float]]:
        """Entries nearest to `query_vector` (cosine), best first, as (row, score)."""
        found: list[tuple[int, float]] = []
        q = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
        for level in levels:
            if level not in self._faiss:
                continue
            n = min(k, len(self._rows[level]))
            scores, ids = self._faiss[level].search(q, n)
            found += [
                (int(self._rows[level][i]), float(s))
                for i, s in zip(ids[0], scores[0], strict=True)
                if i >= 0
            ]
        return sorted(found, key=lambda x: -x[1])[:k]

    @property
    def lexical_ready(self) -> bool:
        """True once the lexical index is built (it is built on the first lexical query)."""
        return self._bm25 is not None

    def build_lexical(self) -> BM25:
        """Build the lexical index now rather than on the first lexical query; returns it.
        An entry without words scores 0 for every query."""
        if self._bm25 is None:
            self._bm25 = BM25([tokenize(e.text) for e in self.entries])
        return self._bm25

    def lexical(self, query: str, k: int, levels: Iterable[Level]) -> list[tuple[int, float]]:
        """Entries ranked by BM25 for the query's words, best first, as (row, score)."""
        words = tokenize(query)
        bm25 = self.build_lexical()
        if not words:
            return []
        scores = bm25.scores(words).astype(np.float64)
        allowed = set(levels)
        rows = [
            i for i in np.argsort(-scores) if scores[i] > 0 and self.entries[i].level in allowed
        ]
        return [(int(i), float(scores[i])) for i in rows[:k]]

    def hybrid(
        self, query: str, query_vector: np.ndarray, k: int, levels: Iterable[Level]
    ) -> list[tuple[int, float]]:
        """Reciprocal-rank fusion of the semantic and lexical rankings, best first."""
        levels = list(levels)
        depth = max(4 * k, 20)
        fused: dict[int, float] = {}
        for ranking in (
            self.semantic(query_vector, depth, levels),
            self.lexical(query, depth, levels),
        ):
            for rank, (row, _score) in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        return sorted(fused.items(), key=lambda x: -x[1])[:k]

    def save(self, folder: Path) -> None:
        """Write each level's FAISS index as ``index/<level>.faiss`` (atomically)."""
        import faiss

        (folder / "index").mkdir(parents=True, exist_ok=True)
        for level, index in self._faiss.items():
            with atomic_path(folder / "index" / f"{level.value}.faiss") as tmp:
                faiss.write_index(index, str(tmp))


def write_index(folder: Path, entries: Sequence[Entry], embedder: Embedder) -> None:
    """Embed entries and write ``entries.json``, ``vectors.npy`` and ``index/*.faiss``.

    Vectors of texts an earlier build in `folder` embedded with the same model are kept, so
    completing captions re-embeds only the new texts.
    """
    vectors = _vectors(folder, entries, embedder)
    EntryIndex.build(entries, vectors).save(folder)
    # vectors.json is written before entries.json: a crash in between leaves a pair that
    # _vectors() rejects (counts differ) rather than one it trusts wrongly.
    write_json(folder / "vectors.json", {"model": embedder.name, "count": len(entries)})
    with atomic_path(folder / "vectors.npy") as tmp, tmp.open("wb") as f:
        np.save(f, vectors)
    write_json(folder / "entries.json", [e.to_dict() for e in entries])


def _vectors(folder: Path, entries: Sequence[Entry], embedder: Embedder) -> np.ndarray:
    old: dict[tuple[str, str], np.ndarray] = {}
    meta = read_json(folder / "vectors.json") or {}
    saved = read_json(folder / "entries.json") if meta.get("model") == embedder.name else None
    if saved and (folder / "vectors.npy").exists():
        vectors = np.load(folder / "vectors.npy")
        if len(saved) == len(vectors) == meta.get("count"):
            old = {(e["level"], e["text"]): v for e, v in zip(saved, vectors, strict=True)}
    todo = sorted({e.text for e in entries if (e.level.value, e.text) not in old})
    fresh = dict(zip(todo, embedder.embed(todo), strict=True)) if todo else {}
    rows = [old.get((e.level.value, e.text), fresh.get(e.text)) for e in entries]
    if any(r is None for r in rows):
        raise RuntimeError("an entry was left without an embedding")
    if not rows:
        return np.zeros((0, 1), np.float32)
    return np.stack(rows).astype(np.float32)  # type: ignore[arg-type]
