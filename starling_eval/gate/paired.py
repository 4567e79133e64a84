"""The gate's statistics on the items both runs scored: a paired cluster bootstrap of candidate − baseline,
and McNemar's test for 0/1 metrics (reported beside the bootstrap, which alone decides)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from starling_eval.gate.sides import GateError

CONFIDENCE = 0.95
N_RESAMPLES = 2000
EXACT_BELOW = 25  # McNemar: exact binomial test below this many discordant items, chi-square from there


def paired_bootstrap(base: Mapping[str, float], cand: Mapping[str, float], clusters: Mapping[str, str], *,
                     n_resamples: int = N_RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """(Δ, CI low, CI high, n shared items) for Δ = mean(cand) − mean(base) over the items both have.

    Each resample draws clusters with replacement and takes the mean per-item difference over the items of
    the drawn clusters (vectorised: ``stats.cluster_bootstrap_ci`` on the differences). Items missing from
    ``clusters`` are their own cluster. Fewer than two shared clusters give no interval: a GateError."""
    from starling_eval.stats import cluster_bootstrap_ci

    keys = [k for k in base if k in cand]
    if not keys:
        raise GateError("no items in common: the two runs share no scored item")
    deltas = [cand[k] - base[k] for k in keys]
    groups = [str(clusters.get(k, k)) for k in keys]
    interval = cluster_bootstrap_ci(deltas, groups, seed=seed, n_resamples=n_resamples, confidence=confidence)
    if interval is None:
        raise GateError(f"only {len(set(groups))} shared cluster of items: too few for a bootstrap interval")
    return math.fsum(deltas) / len(deltas), interval[0], interval[1], len(keys)


def mcnemar(base: Mapping[str, float], cand: Mapping[str, float]) -> dict[str, Any]:
    """McNemar's test on the shared items of a 0/1 metric (any non-zero value is a 1, so 0/100 works).

    b: items right in the baseline and wrong in the candidate (regressions); c: the reverse. Two-sided p:
    the exact binomial test (b ~ Bin(b + c, 1/2)) when b + c < 25, where the chi-square approximation is
    poor; from 25 on, chi-square with 1 df and Edwards' continuity correction, (|b − c| − 1)² / (b + c)."""
    b = c = 0
    for k in base:
        if k in cand:
            was, now = bool(base[k]), bool(cand[k])
            b += was and not now
            c += now and not was
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "p_value": 1.0, "method": "no discordant items"}
    if n < EXACT_BELOW:
        tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
        return {"b": b, "c": c, "p_value": min(1.0, 2 * tail / 2**n), "method": "exact binomial"}
    statistic = (abs(b - c) - 1) ** 2 / n
    return {"b": b, "c": c, "p_value": math.erfc(math.sqrt(statistic / 2)), "method": "chi-square, continuity-corrected"}
