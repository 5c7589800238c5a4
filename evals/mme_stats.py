"""Confidence intervals of the Video-MME accuracies: Wilson's score interval for one
accuracy, Newcombe's interval for the difference of two accuracies on the same questions.

Both are closed forms (no scipy): the formulas and their sources are in the docstrings.
Proportions are fractions in [0, 1]; the reports print them as percentages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Z95", "Interval", "PairedDifference", "paired_difference", "wilson"]

Z95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95 % interval."""


@dataclass(frozen=True)
class Interval:
    """A proportion and its confidence interval, all fractions in [0, 1].

    Attributes:
        k: Successes (correct answers).
        n: Trials (questions in the denominator).
        low: Lower bound.
        high: Upper bound.
    """

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        """k / n; 0.0 when n is 0."""
        return self.k / self.n if self.n else 0.0


def wilson(k: int, n: int, *, z: float = Z95) -> Interval:
    """Wilson's score interval of k successes in n trials (Wilson 1927, JASA 22:209-212).

    center = (p + z²/2n) / (1 + z²/n), half width = z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²)
    with p = k / n. Unlike the normal ("Wald") interval it stays inside [0, 1] and is not
    empty at k = 0 or k = n, which small Video-MME subsets hit often. n = 0 gives [0, 1].

    Raises:
        ValueError: k < 0, n < 0 or k > n.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Interval(0, 0, 0.0, 1.0)
    p = k / n
    scale = 1 + z * z / n
    center = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(k, n, max(0.0, center - half), min(1.0, center + half))


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of A minus accuracy of B on the same questions, with its interval.

    Attributes:
        n: Questions answered by both (the pairs).
        only_a: Questions A got right and B wrong.
        only_b: Questions B got right and A wrong.
        difference: (only_a - only_b) / n.
        low: Lower bound of the difference.
        high: Upper bound.
    """

    n: int
    only_a: int
    only_b: int
    difference: float
    low: float
    high: float


def paired_difference(pairs: Iterable[tuple[bool, bool]], *, z: float = Z95) -> PairedDifference:
    """The difference of two accuracies measured on the same questions, with Newcombe's
    hybrid score interval for paired proportions (Newcombe 1998, Statistics in Medicine
    17:2635-2650, method 10).

    With a = both right, b = only A right, c = only B right, d = both wrong, p1 = (a+b)/n,
    p2 = (a+c)/n, Wilson intervals (l1, u1) and (l2, u2) and the correlation
    phi = (ad - bc) / sqrt((a+b)(c+d)(a+c)(b+d)), ad - bc lowered by n/2 (not below 0) when
    it is positive, as Newcombe corrects it, so that no disagreement at all does not shrink
    the interval to a point (phi = 0 when a margin is empty):
    low = D - sqrt((p1-l1)² - 2 phi (p1-l1)(u2-p2) + (u2-p2)²),
    high = D + sqrt((u1-p1)² - 2 phi (u1-p1)(p2-l2) + (p2-l2)²), D = p1 - p2.

    Args:
        pairs: (A right, B right) per question.

    Returns:
        The difference; with no pairs, 0 and the interval [-1, 1].
    """
    a = b = c = d = 0
    for right_a, right_b in pairs:
        if right_a and right_b:
            a += 1
        elif right_a:
            b += 1
        elif right_b:
            c += 1
        else:
            d += 1
    n = a + b + c + d
    if n == 0:
        return PairedDifference(0, 0, 0, 0.0, -1.0, 1.0)
    one, two = wilson(a + b, n, z=z), wilson(a + c, n, z=z)
    p1, p2 = one.value, two.value
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross: float = a * d - b * c
    cross = max(cross - n / 2, 0.0) if cross > 0 else cross
    phi = cross / math.sqrt(margins) if margins else 0.0
    down = math.sqrt(max(0.0, (p1 - one.low) ** 2 - 2 * phi * (p1 - one.low) * (two.high - p2)
                         + (two.high - p2) ** 2))  # fmt: skip
    up = math.sqrt(max(0.0, (one.high - p1) ** 2 - 2 * phi * (one.high - p1) * (p2 - two.low)
                       + (p2 - two.low) ** 2))  # fmt: skip
    diff = p1 - p2
    return PairedDifference(n, b, c, diff, max(-1.0, diff - down), min(1.0, diff + up))
