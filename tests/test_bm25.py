"""memory.bm25 against bm25s (method "lucene"): the same scores, so rankings do not move."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from memory.bm25 import BM25
from memory.index import tokenize

WORDS = ("red car station train bus stop the man woman dog runs walks left right sign blue").split()  # noqa: SIM905


def _corpus(seed: int, docs: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(WORDS) for _ in range(rng.randint(0, 12))] for _ in range(docs)]


@pytest.mark.parametrize("seed", range(6))
def test_scores_match_bm25s_lucene(seed: int) -> None:
    corpus = _corpus(seed, docs=[1, 2, 7, 40, 300, 1000][seed])
    padded = [doc or ["_"] for doc in corpus]  # bm25s needs a token; ours counts length 1
    reference = bm25s.BM25(method="lucene")
    reference.index(padded, show_progress=False)
    ours = BM25(padded)
    rng = random.Random(100 + seed)
    queries = [
        [rng.choice([*WORDS, "unknown"]) for _ in range(rng.randint(1, 5))] for _ in range(20)
    ]
    for query in [*queries, ["car", "car"], ["unknown"]]:
        expected = np.asarray(reference.get_scores(query), dtype=np.float64)
        got = ours.scores(query).astype(np.float64)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=str(query))


def test_rank_order_on_real_text_matches_bm25s() -> None:
    texts = [
        "A red car is parked near the station.",
        "The man walks his dog past the red sign.",
        "Speech: we will take the train to the station at noon.",
        "",
        "Blue bus, blue bus, stopping at every stop.",
        "On-screen text: PLATFORM 9",
    ]
    corpus = [tokenize(t) or ["_"] for t in texts]
    reference = bm25s.BM25()  # bm25s's default method is lucene
    reference.index(corpus, show_progress=False)
    query = tokenize("Where is the red car parked, near which station?")
    expected = np.asarray(reference.get_scores(query))
    got = BM25(corpus).scores(query)
    assert list(np.argsort(-got, kind="stable")) == list(np.argsort(-expected, kind="stable"))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got[3] == 0.0  # the empty entry matches nothing
    # memory.index gives the entries as they are: an empty one scores as a padded one does.
    np.testing.assert_array_equal(BM25([tokenize(t) for t in texts]).scores(query), got)


def test_no_documents() -> None:
    assert BM25([]).scores(["car"]).shape == (0,)
