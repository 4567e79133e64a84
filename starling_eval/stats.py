"""Statistics as pure functions: means and bootstrap confidence intervals over benchmark items.

The bootstrap resamples *items* (clusters), not rows: an MT-Bench question contributes both its turns
together, because the two turns of one question are not independent draws. Seeded, so the same
judgments always print the same interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence

Cluster = Sequence[float]


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def pooled_mean(clusters: Sequence[Cluster]) -> float | None:
    """Mean of all values of all clusters (MT-Bench's overall score is this, not the mean of turn means)."""
    return mean([v for cluster in clusters for v in cluster])


def bootstrap_ci(
    clusters: Mapping[str, Cluster] | Sequence[Cluster],
    statistic: Callable[[Sequence[Cluster]], float | None] = pooled_mean,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``statistic`` over clusters resampled with replacement."""
    groups = [list(c) for c in (clusters.values() if isinstance(clusters, Mapping) else clusters) if len(c)]
    if len(groups) < 2:
        return None
    rng = random.Random(seed)
    n = len(groups)
    estimates = []
    for _ in range(n_resamples):
        value = statistic([groups[rng.randrange(n)] for _ in range(n)])
        if value is not None:
            estimates.append(value)
    if not estimates:
        return None
    estimates.sort()
    alpha = (1.0 - confidence) / 2.0
    return _quantile(estimates, alpha), _quantile(estimates, 1.0 - alpha)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def cluster_bootstrap_ci(values: Sequence[float], clusters: Sequence[str] | None = None, *, seed: int = 0,
                         n_resamples: int = 1000, confidence: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of ``values``, resampling whole clusters (numpy, vectorised:
    MMLU has 14,042 items and a preference set can have millions of pairs). Pairs built from one prompt
    (TruthfulQA's answers, Nectar's ranking) are one cluster: they are not independent draws. Without
    ``clusters`` every value is its own."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if clusters is None:
        sums, counts = data, np.ones_like(data)
    else:
        _, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
        sums, counts = np.bincount(inverse, weights=data), np.bincount(inverse).astype(float)
    n = len(sums)
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    estimates = np.empty(n_resamples)
    step = max(1, min(n_resamples, 20_000_000 // n))  # bounded memory per block of resamples
    for start in range(0, n_resamples, step):
        stop = min(n_resamples, start + step)
        picks = rng.integers(0, n, (stop - start, n))
        estimates[start:stop] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(estimates, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)
