"""Confidence intervals and paired tests for accuracies and ratings: Wilson, exact McNemar, bootstrap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # the normal quantile of 0.975


@dataclass(frozen=True)
class Interval:
    """An estimate with the bounds of its confidence interval."""

    estimate: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """The Wilson score interval of a binomial proportion (95% by default); None for no trials.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n successes.
    """
    if trials == 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, {trials}], got {successes}")
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs.

    ``only_first`` pairs are right for the first method only, ``only_second`` for the second only;
    under the null hypothesis each discordant pair goes either way with probability 1/2.
    """
    n = only_first + only_second
    if n == 0:
        return 1.0
    k = min(only_first, only_second)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap_difference(
    first: Sequence[float], second: Sequence[float], *, resamples: int = 2000, seed: int = 0, z: float = Z_95
) -> Interval | None:
    """Mean of ``first`` minus ``second`` on the same items (accuracies as booleans, or ratings), with a
    percentile bootstrap CI.

    Items are resampled as pairs, so the interval reflects that both methods saw the same questions.
    The level follows ``z`` (95% by default); the seed makes the interval reproducible.
    """
    if len(first) != len(second):
        raise ValueError("paired samples must have the same length")
    return bootstrap_mean(np.asarray(first, dtype=float) - np.asarray(second, dtype=float),
                          resamples=resamples, seed=seed, z=z)


def bootstrap_mean(values: Sequence[float], *, resamples: int = 2000, seed: int = 0, z: float = Z_95) -> Interval | None:
    """The mean of ``values`` with a percentile bootstrap CI (95% by default); None for no values."""
    if not len(values):
        return None
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    alpha = math.erfc(z / math.sqrt(2))  # two-sided level outside the interval
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(data.mean()), float(low), float(high))


def median(values: Sequence[float]) -> float | None:
    """The median, None for no values."""
    return float(np.median(values)) if len(values) else None
