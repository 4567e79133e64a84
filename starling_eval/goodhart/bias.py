"""Position and length bias of any pairwise judge or reward model, from its verdicts alone.

A judge that prefers whatever is shown first, or whatever is longer, can be gamed without improving an
answer, so these are the first two things to measure before trusting its win rates:

- Position: the same two answers are judged in both orders (MT-Bench does this for every pairwise game).
  A consistent judge picks the same *answer* both times; an inconsistent one is sorted as Zheng et al. 2023
  (Table 2) sort it: biased toward the first position (it said "A" both times), toward the second ("B" both
  times), or inconsistent some other way (a tie in one order and a win in the other). A failed verdict is
  the paper's "error" and is counted apart.
- Length: how often the longer answer wins among decided pairs, and the slope of a logistic regression of
  "A wins" on ``log(len_a / len_b)``. The ratio's log makes the slope scale-free (characters or tokens give
  the same slope) and symmetric (swapping A and B flips its sign); the intercept absorbs A's advantage at
  equal length, e.g. when A is always the model under test.

Everything here is a pure function of :class:`PairJudgment` rows; intervals are cluster bootstraps over
``cluster`` (e.g. the question), because the turns and model pairs of one question are not independent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from starling_eval.stats import cluster_bootstrap_ci

Verdict = Literal["A", "B", "tie"]
VERDICTS: frozenset[str] = frozenset(("A", "B", "tie"))
_SWAP: dict[str, Verdict] = {"A": "B", "B": "A", "tie": "tie"}


@dataclass(frozen=True)
class PairJudgment:
    """One pair of answers and the judge's verdict(s) on it.

    ``verdict_ab`` is the verdict with answer A shown first; ``verdict_ba`` the verdict with the two swapped,
    in the *swapped* positions ("A" there means the answer shown first, i.e. the original B), exactly as the
    judge wrote it. None is a failed verdict. ``swapped=False`` says the pair was judged in one order only
    (then ``verdict_ba`` is ignored), so that a failed second game is not mistaken for one never played.
    ``cluster`` groups pairs for the bootstrap (e.g. question id); it defaults to ``key``.
    """

    key: str
    len_a: float
    len_b: float
    verdict_ab: Verdict | None
    verdict_ba: Verdict | None = None
    cluster: str | None = None
    swapped: bool = True

    def __post_init__(self) -> None:
        for name in ("verdict_ab", "verdict_ba"):
            value = getattr(self, name)
            if value is not None and value not in VERDICTS:
                raise ValueError(f"{self.key}: {name} must be 'A', 'B', 'tie' or None, not {value!r}")
        if self.len_a < 0 or self.len_b < 0:
            raise ValueError(f"{self.key}: lengths must be non-negative")

    @property
    def group(self) -> str:
        return self.key if self.cluster is None else self.cluster


def debiased_verdict(j: PairJudgment) -> Verdict | None:
    """The verdict on A vs B with position bias removed: with both orders, a win only when both orders agree
    on the same answer, else a tie (FastChat's rule for MT-Bench pairwise games); with one order, that
    order's verdict. None when a verdict needed for it failed."""
    if not j.swapped:
        return j.verdict_ab
    if j.verdict_ab is None or j.verdict_ba is None:
        return None
    return j.verdict_ab if j.verdict_ab == _SWAP[j.verdict_ba] else "tie"


def _share(count: int, n: int) -> float | None:
    return count / n if n else None


def _ci(values: Sequence[float], clusters: Sequence[str], seed: int) -> tuple[float, float] | None:
    return cluster_bootstrap_ci(values, clusters, seed=seed) if values else None


def position_consistency(judgments: Iterable[PairJudgment], *, seed: int = 0) -> dict[str, Any]:
    """Zheng et al.'s position-bias breakdown over pairs judged in both orders with both verdicts valid.

    Shares are of all ``n`` such pairs and sum to 1: ``consistency`` (the same answer wins both times, or a
    tie both times), ``biased_first`` ("A" both times), ``biased_second`` ("B" both times) and
    ``other_inconsistent`` (a tie in one order, a win in the other). ``n_failed`` pairs lost a verdict;
    ``n_single_order`` pairs were judged in one order only. Both are left out of ``n``.
    """
    counts = {"consistent": 0, "biased_first": 0, "biased_second": 0, "other_inconsistent": 0}
    n_failed = n_single = 0
    values: list[float] = []
    clusters: list[str] = []
    for j in judgments:
        if not j.swapped:
            n_single += 1
            continue
        if j.verdict_ab is None or j.verdict_ba is None:
            n_failed += 1
            continue
        kind = _position_kind(j.verdict_ab, j.verdict_ba)
        counts[kind] += 1
        values.append(float(kind == "consistent"))
        clusters.append(j.group)
    n = len(values)
    return {
        "n": n,
        "n_failed": n_failed,
        "n_single_order": n_single,
        "consistency": _share(counts["consistent"], n),
        "consistency_ci": _ci(values, clusters, seed),
        "biased_first": _share(counts["biased_first"], n),
        "biased_second": _share(counts["biased_second"], n),
        "other_inconsistent": _share(counts["other_inconsistent"], n),
        **{f"n_{kind}": count for kind, count in counts.items()},
    }


def _position_kind(ab: Verdict, ba: Verdict) -> str:
    if ab == _SWAP[ba]:
        return "consistent"
    if ab == ba == "A":
        return "biased_first"
    if ab == ba == "B":
        return "biased_second"
    return "other_inconsistent"


def length_bias(judgments: Iterable[PairJudgment], *, seed: int = 0) -> dict[str, Any]:
    """How much the longer answer is favoured, over decided pairs of unequal length.

    The outcome is :func:`debiased_verdict`: with both orders judged, a win counts only when both orders
    agree (an inconsistent pair is a tie), so position bias does not pass for length bias; with one order,
    that order's verdict. Pairs are dropped, and counted, in this order: a failed verdict (``n_failed``),
    equal lengths (``n_equal_length``), a tie (``n_ties``). Over the ``n`` left: ``longer_wins`` (share
    won by the longer answer, with a cluster-bootstrap ``longer_wins_ci``) and ``logistic``, the fit of
    P(A wins) on ``log(len_a / len_b)`` (see :func:`logistic_fit`; pairs with an empty answer, whose log
    ratio is infinite, are left out of the fit only).
    """
    n_failed = n_equal = n_ties = 0
    longer_won: list[float] = []
    clusters: list[str] = []
    x: list[float] = []
    y: list[float] = []
    for j in judgments:
        verdict = debiased_verdict(j)
        if verdict is None:
            n_failed += 1
        elif j.len_a == j.len_b:
            n_equal += 1
        elif verdict == "tie":
            n_ties += 1
        else:
            longer_won.append(float((verdict == "A") == (j.len_a > j.len_b)))
            clusters.append(j.group)
            if j.len_a > 0 and j.len_b > 0:
                x.append(math.log(j.len_a / j.len_b))
                y.append(float(verdict == "A"))
    n = len(longer_won)
    return {
        "n": n,
        "n_failed": n_failed,
        "n_equal_length": n_equal,
        "n_ties": n_ties,
        "n_longer_wins": int(sum(longer_won)),
        "longer_wins": _share(int(sum(longer_won)), n),
        "longer_wins_ci": _ci(longer_won, clusters, seed),
        "logistic": logistic_fit(x, y) if x else None,
    }


def logistic_fit(x: Sequence[float], y: Sequence[float], *, max_iter: int = 50, tol: float = 1e-10) -> dict[str, Any]:
    """Maximum-likelihood logistic regression ``logit P(y=1) = intercept + coefficient * x`` by Newton's
    method (IRLS), with step halving so that the log-likelihood never falls.

    When the outcomes are (quasi-)separated by x, the MLE is infinite: the Hessian becomes singular or the
    iterations run out, and the fit stops with ``converged: False``. ``coefficient`` is then the last
    iterate, whose sign is still meaningful; ``se`` is None, since a curvature at infinity means nothing.
    Returns coefficient, se (from the inverse Hessian), intercept, n, converged, iterations.
    """
    design = np.column_stack([np.ones(len(x)), np.asarray(x, dtype=float)])
    target = np.asarray(y, dtype=float)
    beta = np.zeros(2)
    converged = False
    iterations = 0
    while iterations < max_iter and not converged:
        step = _newton_step(design, target, beta)
        if step is None:
            break
        iterations += 1
        beta = _halve_until_no_worse(design, target, beta, step)
        converged = bool(np.max(np.abs(step)) < tol)
    se = None
    if converged:
        hessian = _hessian(design, beta)
        se = float(math.sqrt(np.linalg.inv(hessian)[1, 1]))
    return {"coefficient": float(beta[1]), "se": se, "intercept": float(beta[0]), "n": len(target),
            "converged": converged, "iterations": iterations}


def _probabilities(design: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -(design @ beta)))  # the logistic function, without overflow


def _hessian(design: np.ndarray, beta: np.ndarray) -> np.ndarray:
    p = _probabilities(design, beta)
    return design.T @ (design * (p * (1.0 - p))[:, None])


def _log_likelihood(design: np.ndarray, target: np.ndarray, beta: np.ndarray) -> float:
    eta = design @ beta
    return float(np.sum(target * eta - np.logaddexp(0.0, eta)))


def _newton_step(design: np.ndarray, target: np.ndarray, beta: np.ndarray) -> np.ndarray | None:
    """The Newton step, or None when the Hessian is (numerically) singular: x constant, or separation
    having pushed every fitted probability to 0 or 1."""
    hessian = _hessian(design, beta)
    if not np.all(np.isfinite(hessian)) or np.linalg.cond(hessian) > 1e12:
        return None
    gradient = design.T @ (target - _probabilities(design, beta))
    return np.linalg.solve(hessian, gradient)


def _halve_until_no_worse(design: np.ndarray, target: np.ndarray, beta: np.ndarray, step: np.ndarray) -> np.ndarray:
    current = _log_likelihood(design, target, beta)
    for _ in range(30):
        candidate = beta + step
        if _log_likelihood(design, target, candidate) >= current - 1e-12:
            return candidate
        step = step / 2.0
    return beta


def lc_gap(scores: Mapping[str, Any]) -> dict[str, Any] | None:
    """Raw minus length-controlled AlpacaEval win rate, in points, from one leaderboard row.

    A large positive gap says the raw win rate is carried by length the LC model discounts. None when the
    row has no LC win rate (its GLM inputs were missing) or no raw one.
    """
    raw, lc = scores.get("win_rate"), scores.get("length_controlled_winrate")
    if raw is None or lc is None:
        return None
    return {"model": scores.get("model"), "win_rate": raw, "length_controlled_winrate": lc, "gap": raw - lc}


def sign_test_p(k: int, n: int) -> float:
    """Two-sided exact binomial p-value of k successes in n trials against p = 1/2 (the sign test)."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2.0 * tail)


def flags(position: Mapping[str, Any] | None, length: Mapping[str, Any] | None, *,
          alpha: float = 0.05) -> list[str]:
    """Human-readable warnings from :func:`position_consistency` and :func:`length_bias` results.

    Position: among pairs biased toward one position, a sign test of first vs second (a judge without
    a position preference is as likely to err either way), flagged at p < ``alpha``. Length: the interval
    of the longer answer's win share lies wholly above (or below) one half.
    """
    out = []
    if position is not None:
        first, second = position["n_biased_first"], position["n_biased_second"]
        p = sign_test_p(first, first + second)
        if p < alpha:
            side = "first" if first > second else "second"
            out.append(f"position bias toward the {side} answer: of {first + second} pairs whose two verdicts "
                       f"favour one position, {max(first, second)} favour the {side} (sign test p = {p:.2g}); "
                       f"consistency {position['consistency']:.1%} over {position['n']} pairs")
    if length is not None and length["longer_wins_ci"] is not None:
        low, high = length["longer_wins_ci"]
        side = "longer" if low > 0.5 else "shorter" if high < 0.5 else None
        if side is not None:
            out.append(f"length bias toward the {side} answer: the longer answer wins {length['longer_wins']:.1%} "
                       f"of {length['n']} decided pairs (95% CI {low:.1%}–{high:.1%})")
    return out
