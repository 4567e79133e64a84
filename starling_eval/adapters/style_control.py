"""Style-controlled win rates of pairwise judgments: the win rate a model would have had if each of its answers
had looked like its opponent's (as long in GPT-4o tokens, as dense in headers, list items and bold text).

A judge that likes long or heavily formatted answers rewards a model for its style as much as for its content;
AlpacaEval's LC win rate and Arena-Hard's style control both subtract that. This module applies Arena-Hard's
style features to any set of battles (MT-Bench pairwise matches, AlpacaEval annotations), so a raw win rate can
be shown beside a style-controlled one.

The model is a Bradley-Terry fit with style terms::

    logit P(model beats opponent) = θ_model − θ_opponent + Σ_k γ_k · d_k

``d_k`` are Arena-Hard's four style differences (``arena_hard.score.style_features``): length as
(m − o) / (m + o), and header, list and bold densities (count / (tokens + 1)) as (m − o) / (m + o + 1). Each is
divided by its standard deviation over the battles so that γ is "per standard deviation", but, unlike Arena-Hard,
*not centred*: d = 0 means "both answers alike", so θ_model − θ_opponent is the log-odds at equal style. Arena-Hard
centres the features over a leaderboard of many models, which puts its reference point at that leaderboard's average
style difference; with one model against one baseline, centring would put it at the model's own average difference
and undo the control. A style column that never varies (no markdown anywhere) is left out and its γ reported as
None.

Outcomes are soft (1 win, 0.5 tie, 0 loss; AlpacaEval's preference − 1), fitted by Newton's method on the binary
cross-entropy with a tiny ridge penalty (``RIDGE``), which keeps the fit finite when a model wins every battle and
moves nothing measurable otherwise. The **style-controlled win rate** of a model is the mean, over its battles, of
sigmoid(θ_model − θ_opponent): the same battles with the style terms set to zero. Its **raw win rate** is the mean
outcome of those battles, which the fit reproduces (the score equations of the model columns), so the gap between
the two is what style accounts for. Intervals are percentile bootstraps over clusters (questions, instructions), the
fit redone on every resample; the gap gets its own interval from the same resamples (an interval of the
style-controlled rate that leaves out the raw one is not the same statement as a gap whose interval leaves out 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from starling_eval.adapters.arena_hard.score import style_vector

FEATURES = ("length", "header_density", "list_density", "bold_density")
RIDGE = 1e-3
ROUNDS = 1000
UNIT = "o200k_base tokens (GPT-4o's tokenizer), markdown counted outside code blocks as Arena-Hard-Auto does"
_MAX_ITER = 100
_TOL = 1e-10


@dataclass(frozen=True)
class Battle:
    """One judged comparison from ``model``'s side: ``outcome`` 1 (won), 0.5 (tie) or 0 (lost), or anything
    between (a soft preference); the two answers' style metadata (``style.answer_metadata`` or its totals);
    ``cluster``: what the bootstrap resamples (a question, an instruction)."""

    model: str
    opponent: str
    outcome: float
    model_style: Mapping[str, Any]
    opponent_style: Mapping[str, Any]
    cluster: str


def style_totals(metadata: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Several answers' metadata summed into one (token_len and the three markdown totals): what a model wrote
    over the turns a judge was shown."""
    totals = dict.fromkeys(("token_len", "header_count", "list_count", "bold_count"), 0)
    for item in metadata:
        for key, value in zip(totals, style_vector(item), strict=True):
            totals[key] += int(value)
    return totals


def style_differences(model_style: Mapping[str, Any], opponent_style: Mapping[str, Any]) -> list[float]:
    """Arena-Hard's four raw style differences of one battle (before scaling); two empty answers differ by 0."""
    m, o = style_vector(model_style), style_vector(opponent_style)
    length = (m[0] - o[0]) / (m[0] + o[0]) if m[0] + o[0] else 0.0
    densities = []
    for mk, ok in zip(m[1:], o[1:], strict=True):
        md, od = mk / (m[0] + 1), ok / (o[0] + 1)
        densities.append((md - od) / (md + od + 1))
    return [length, *densities]


def fit_logistic(design: np.ndarray, target: np.ndarray, *, ridge: float = RIDGE) -> np.ndarray:
    """Coefficients maximizing Σ [y·η − log(1 + e^η)] − ridge/2·|β|² (η = design @ β), by Newton's method; the
    penalty keeps the Hessian positive definite, so every step is defined."""
    beta = np.zeros(design.shape[1])
    penalty = ridge * np.eye(design.shape[1])
    for _ in range(_MAX_ITER):
        p = np.exp(-np.logaddexp(0.0, -(design @ beta)))
        gradient = design.T @ (target - p) - ridge * beta
        hessian = design.T @ (design * (p * (1.0 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < _TOL:
            break
    return beta


@dataclass(frozen=True)
class _Problem:
    """The battles as matrices: model columns (+1 model, −1 opponent; the reference model has none), then the
    scaled style columns that vary; ``sides[name]`` is +1 / −1 / 0 per battle: the model's side in it, if any;
    ``lengths``: each battle's unscaled length difference (> 0: the model's answer was the longer)."""

    design: np.ndarray
    target: np.ndarray
    models: list[str]
    kept: list[int]
    sides: dict[str, np.ndarray]
    lengths: np.ndarray

    def resample(self, picks: np.ndarray) -> _Problem:
        return _Problem(self.design[picks], self.target[picks], self.models, self.kept,
                        {name: side[picks] for name, side in self.sides.items()}, self.lengths[picks])


def _problem(battles: Sequence[Battle], baseline: str | None) -> _Problem:
    names = sorted({b.model for b in battles} | {b.opponent for b in battles})
    reference = baseline if baseline in names else names[0]
    columns = {name: i for i, name in enumerate(n for n in names if n != reference)}
    sides = {name: np.zeros(len(battles)) for name in names}
    for row, battle in enumerate(battles):
        sides[battle.model][row] = 1.0
        sides[battle.opponent][row] = -1.0
    models = np.column_stack([sides[name] for name in columns]) if columns else np.zeros((len(battles), 0))
    style = np.array([style_differences(b.model_style, b.opponent_style) for b in battles], dtype=float)
    spread = style.std(axis=0, ddof=1) if len(battles) > 1 else np.zeros(style.shape[1])
    kept = [k for k in range(style.shape[1]) if spread[k] > 1e-12]
    design = np.hstack([models, style[:, kept] / spread[kept]])
    target = np.array([b.outcome for b in battles], dtype=float)
    return _Problem(design, target, list(columns), kept, sides, style[:, 0])


def _controlled(problem: _Problem, beta: np.ndarray) -> dict[str, tuple[float, float]]:
    """Each model's (style-controlled, raw) win rate over the battles it is in: its mean probability of beating
    its opponents at equal style, and its mean outcome."""
    strength = problem.design[:, : len(problem.models)] @ beta[: len(problem.models)]  # θ_model − θ_opponent
    out = {}
    for name, side in problem.sides.items():
        mine = side != 0
        if mine.any():
            won = np.where(side[mine] > 0, problem.target[mine], 1.0 - problem.target[mine])
            out[name] = (float(np.mean(1.0 / (1.0 + np.exp(-side[mine] * strength[mine])))), float(won.mean()))
    return out


def style_controlled_win_rates(battles: Sequence[Battle], *, baseline: str | None = None, rounds: int = ROUNDS,
                               seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """Raw and style-controlled win rates (fractions) of every model but ``baseline``, with bootstrap intervals.

    Returns ``models`` ({model: raw, style_controlled, ci95, gap_ci95, n_battles, n_longer, n_shorter}:
    ``gap_ci95`` is the interval of raw − style-controlled over the same resamples; the last two count
    the battles in which the model's answer was the longer or the shorter in tokens; where one of them is 0, equal
    length was never observed and the style-controlled rate is an extrapolation), ``coefficients`` (γ per feature, per
    standard deviation of its difference; None for a feature that never varies), ``features``, ``n_battles``,
    ``rounds``, ``unit``. Raises ValueError on no battles."""
    if not battles:
        raise ValueError("no battles to fit")
    problem = _problem(battles, baseline)
    beta = fit_logistic(problem.design, problem.target)
    point = _controlled(problem, beta)
    clusters: dict[str, list[int]] = {}
    for row, battle in enumerate(battles):
        clusters.setdefault(battle.cluster, []).append(row)
    groups = [np.array(rows) for rows in clusters.values()]
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in point}
    rng = np.random.default_rng(seed)
    if len(groups) >= 2:
        for _ in range(rounds):
            picks = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
            sub = problem.resample(picks)
            for name, value in _controlled(sub, fit_logistic(sub.design, sub.target)).items():
                samples[name].append(value)
    alpha = 100 * (1 - confidence) / 2
    n_models = len(problem.models)
    style_beta = dict(zip(problem.kept, beta[n_models:], strict=True))
    models = {}
    for name in sorted(point):
        if name == baseline:
            continue
        side = problem.sides[name]
        longer = side[side != 0] * problem.lengths[side != 0]  # > 0: this model's answer was the longer
        drawn = np.array(samples[name]).reshape(-1, 2)
        interval = gap = None
        if len(drawn):
            interval = np.percentile(drawn[:, 0], [alpha, 100 - alpha]).tolist()
            gap = np.percentile(drawn[:, 1] - drawn[:, 0], [alpha, 100 - alpha]).tolist()
        models[name] = {"raw": point[name][1], "style_controlled": point[name][0], "ci95": interval,
                        "gap_ci95": gap, "n_battles": len(longer), "n_longer": int((longer > 0).sum()),
                        "n_shorter": int((longer < 0).sum())}
    return {"models": models, "features": list(FEATURES), "n_battles": len(battles), "rounds": rounds,
            "coefficients": {f: (float(style_beta[k]) if k in style_beta else None) for k, f in enumerate(FEATURES)},
            "unit": UNIT}

