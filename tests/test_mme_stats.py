"""Confidence intervals of the Video-MME accuracies on known values."""

from __future__ import annotations

import math

import pytest

from evals.mme_stats import Z95, paired_difference, wilson


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872, Table I, method 3 (Wilson's score interval without correction).
@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
     (1, 29, 0.0061, 0.1718), (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634),
     (10, 10, 0.7225, 1.0)],
)  # fmt: skip
def test_wilson_on_published_values(k: int, n: int, low: float, high: float) -> None:
    interval = wilson(k, n)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)
    assert interval.value == k / n


@pytest.mark.parametrize(("k", "n"), [(1, 3), (7, 19), (300, 900), (2699, 2700)])
def test_wilson_bounds_solve_the_score_equation(k: int, n: int) -> None:
    """Each bound p (inside (0, 1)) solves (k/n - p)^2 = z^2 p (1 - p) / n."""
    interval = wilson(k, n)
    for p in (interval.low, interval.high):
        assert (k / n - p) ** 2 == pytest.approx(Z95**2 * p * (1 - p) / n, rel=1e-9)
    assert interval.low < k / n < interval.high


def test_wilson_edges() -> None:
    empty = wilson(0, 0)
    assert (empty.value, empty.low, empty.high) == (0.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(3, 2)
    with pytest.raises(ValueError):
        wilson(-1, 2)


def test_paired_difference() -> None:
    # a=12 both right, b=9 only A, c=2 only B, d=21 both wrong
    pairs = [(True, True)] * 12 + [(True, False)] * 9 + [(False, True)] * 2 + [(False, False)] * 21
    d = paired_difference(pairs)
    assert (d.n, d.only_a, d.only_b) == (44, 9, 2)
    assert d.difference == pytest.approx(7 / 44)
    one, two = wilson(21, 44), wilson(14, 44)
    phi = (12 * 21 - 9 * 2 - 44 / 2) / math.sqrt(21 * 23 * 14 * 30)
    p1, p2 = 21 / 44, 14 / 44
    down = math.sqrt((p1 - one.low) ** 2 - 2 * phi * (p1 - one.low) * (two.high - p2)
                     + (two.high - p2) ** 2)  # fmt: skip
    assert d.low == pytest.approx(7 / 44 - down)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0112, 0.2954)
    # Pairing narrows the interval: correlated answers leave less room than independent ones.
    unpaired = math.hypot(p1 - one.low, two.high - p2)
    assert d.difference - d.low < unpaired
    swapped = paired_difference([(b, a) for a, b in pairs])
    assert (swapped.low, swapped.high) == pytest.approx((-d.high, -d.low))


def test_paired_difference_edges() -> None:
    none = paired_difference([])
    assert (none.n, none.difference, none.low, none.high) == (0, 0.0, -1.0, 1.0)
    same = paired_difference([(True, True), (False, False)] * 5)
    assert same.difference == 0.0 and same.low < 0 < same.high
    all_a = paired_difference([(True, False)] * 10)
    assert all_a.difference == 1.0 and all_a.high == 1.0 and 0.5 < all_a.low < 1.0
