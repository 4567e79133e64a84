"""Arena-Hard-Auto scores from judgment rows, equal to arena-hard-auto's ``show_result.py`` (commit 196f6b8).

Every question is judged twice against one baseline: game 1 shows the baseline as assistant A and the model as
B, game 2 the other way round. A verdict becomes scores from the model's side (1 win, 0.5 tie, 0 loss), a
strong verdict (``>>``/``<<``) repeated ``weight`` times (3 upstream), game 2's before game 1's. A row whose game
or verdict is missing is dropped, as upstream does, and counted here (:func:`battles`).

Two scores, as upstream computes them:

* plain (``show_result.py`` without ``--control-features``): per model, the mean of its battle scores in each of
  ``rounds`` bootstrap resamples (rows resampled within each model, models in name order, like
  ``groupby("model").sample(frac=1, replace=True)``); the score is the mean of those means, the interval their
  5%-95% quantiles; the baseline is added at 50%;
* style-controlled (``--control-features length markdown``): a Bradley-Terry model (logistic regression
  without intercept, fitted with L-BFGS) on one-hot model columns (+1 the model, -1 the baseline) and four
  normalized style differences between the model's and the baseline's answer (length in tokens; header, list
  and bold density), refitted on ``rounds`` bootstrap resamples of the battles; each fit's coefficients are
  turned into the win probability against the baseline, and the score is their median, the interval the
  5%-95% quantiles.

Upstream's single-feature modes (``-f length`` or ``-f markdown`` alone) slice the wrong columns of its feature
matrix and cannot produce a leaderboard, so style control here is always length and markdown together.

Random numbers: upstream draws from numpy's global RandomState (pandas' ``sample`` without ``random_state``,
``np.random.randint`` for the BT resamples); here each call draws from its own ``RandomState(seed)``, the same
stream as ``np.random.seed(seed)`` followed by upstream's calls, so equal seeds give equal intervals without
touching global state. Upstream reads judgment files in ``glob`` order (the file system's); we read them sorted
by name. The order matters to the BT resamples (they index rows), and to the plain ones only where one model's
judgments span several files; with the files in the same order the numbers agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from starling_eval.adapters.arena_hard.style import METADATA_KEYS
from starling_eval.data import DataError, iter_jsonl_objects, require_keys

# P(assistant A wins) for each verdict spelling upstream accepts, and whether it is a strong verdict
VERDICTS: dict[str, tuple[float, bool]] = {
    "A>B": (1, False), "A>>B": (1, True), "A=B": (0.5, False), "A<<B": (0, True), "A<B": (0, False),
    "B>A": (0, False), "B>>A": (0, True), "B=A": (0.5, False), "B<<A": (1, True), "B<A": (1, False),
}
QUANTILES = (0.05, 0.95)


def read_judgment_dir(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an upstream ``model_judgment/<judge>/`` folder: every ``*.jsonl``, files in name order, lines
    in file order. A missing folder, an empty one or a bad line is a DataError naming it."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such judgment folder")
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise DataError(f"{folder}: no *.jsonl judgment files")
    rows = []
    for file in files:
        for lineno, row in iter_jsonl_objects(file):
            require_keys(row, ("uid", "model", "games"), f"{file} line {lineno}")
            rows.append(row)
    return rows


def _is_null(games: Any) -> bool:
    return any(game is None or game.get("score") is None for game in games)


def _scores(label: str, weight: int, row: Mapping[str, Any]) -> list[float]:
    try:
        a_wins, strong = VERDICTS[label]
    except (KeyError, TypeError):
        raise DataError(f"judgment {row.get('model')!r} {row.get('uid')!r}: unknown verdict {label!r} "
                        f"(expected one of {', '.join(VERDICTS)})") from None
    return [a_wins] * (weight if strong else 1)


def battles(rows: Iterable[Mapping[str, Any]], weight: int = 3) -> tuple[pd.DataFrame, int]:
    """(battles, null count): one row per score (uid, model, category, scores), scores from the model's side,
    game 2's (model as A) first, then game 1's (baseline as A, so 1 - P(A wins)); the number of rows dropped for
    a missing game or verdict."""
    out: list[tuple[Any, Any, Any, float]] = []
    nulls = 0
    for row in rows:
        games = row["games"]
        if not isinstance(games, list | tuple) or len(games) != 2 \
                or any(g is not None and not isinstance(g, Mapping) for g in games):
            raise DataError(f"judgment {row.get('model')!r} {row.get('uid')!r}: games must be a pair of games")
        if _is_null(games):
            nulls += 1
            continue
        scores = _scores(games[1]["score"], weight, row) + [1 - s for s in _scores(games[0]["score"], weight, row)]
        out.extend((row["uid"], row["model"], row.get("category"), float(s)) for s in scores)
    frame = pd.DataFrame(out, columns=["uid", "model", "category", "scores"])
    return frame.astype({"scores": "float64"}), nulls


def display_name(model: str) -> str:
    """Upstream shows a model by the last part of its path."""
    return model.split("/")[-1]


# -- plain scores: bootstrap of per-model means ------------------------------------------------------------------

def bootstrap_means(frame: pd.DataFrame, *, rounds: int = 100, seed: int = 0) -> pd.DataFrame:
    """A (rounds x models) table of per-model mean scores over resampled battles, models in name order, each
    model's rows resampled with replacement to its own count (upstream's grouped ``sample``)."""
    rng = np.random.RandomState(seed)
    groups = {model: part["scores"].to_numpy(dtype=float) for model, part in frame.groupby("model", sort=True)}
    means = np.empty((rounds, len(groups)))
    for r in range(rounds):
        for j, values in enumerate(groups.values()):
            means[r, j] = values[rng.choice(len(values), size=len(values), replace=True)].mean()
    return pd.DataFrame(means, columns=list(groups))


def _summary(samples: pd.DataFrame, center: str) -> pd.DataFrame:
    """model, score, lower, upper (fractions) from bootstrap samples, one column per model."""
    values = samples.to_numpy(dtype=float)
    score = values.mean(axis=0) if center == "mean" else np.quantile(values, 0.5, axis=0)
    lower, upper = (np.quantile(values, q, axis=0) for q in QUANTILES)
    return pd.DataFrame({"model": samples.columns, "score": score, "lower": lower, "upper": upper})


def format_table(summary: pd.DataFrame) -> pd.DataFrame:
    """show_result's table (Model, Scores (%), CI (%)), rounded as it rounds, best first, with the unrounded
    fractions beside it (score, lower, upper) and the rounded interval ends in percent (minus, plus)."""
    table = summary.rename(columns={"model": "Model"}).copy()
    table["Scores (%)"] = [round(s * 100, 1) for s in table["score"]]
    table["minus"] = [round((s - lo) * 100, 1) for s, lo in zip(table["score"], table["lower"], strict=True)]
    table["plus"] = [round((up - s) * 100, 1) for s, up in zip(table["score"], table["upper"], strict=True)]
    table["CI (%)"] = [f"(-{m} / +{p})" for m, p in zip(table["minus"], table["plus"], strict=True)]
    table = table[["Model", "Scores (%)", "CI (%)", "score", "lower", "upper", "minus", "plus"]]
    return table.sort_values(by="Scores (%)", ascending=False).reset_index(drop=True)


def plain_scores(frame: pd.DataFrame, baseline: str, *, rounds: int = 100, seed: int = 0) -> pd.DataFrame:
    """Upstream's leaderboard without style control, the baseline at 50% with an empty interval."""
    named = frame.assign(model=frame["model"].map(display_name))
    summary = _summary(bootstrap_means(named, rounds=rounds, seed=seed), "mean")
    base = pd.DataFrame({"model": [baseline], "score": [0.5], "lower": [0.5], "upper": [0.5]})
    return format_table(pd.concat([summary, base], ignore_index=True))


# -- Bradley-Terry -----------------------------------------------------------------------------------------------

def one_hot(models: Sequence[str], baseline: str) -> tuple[Any, list[str]]:
    """(battles x models) float32 matrix, +1 in the battle's model column and -1 in the baseline's, and the
    column names (every model and the baseline, sorted)."""
    import torch

    names = sorted(set(models) | {baseline})
    column = {name: i for i, name in enumerate(names)}
    matrix = torch.zeros((len(models), len(names)), dtype=torch.float32)
    rows = torch.arange(len(models))
    matrix[rows, torch.tensor([column[m] for m in models], dtype=torch.long)] = 1
    matrix[:, column[baseline]] = -1
    return matrix, names


def fit_bt(features: Any, outcomes: Any, indices: Any = None, *, lr: float = 0.1, tol: float = 1e-9,
           max_iter: int = 50) -> Any:
    """Coefficients of P(outcome = 1) = sigmoid(features @ w), by upstream's recipe: w starts at 0.5 everywhere,
    one L-BFGS step of at most ``max_iter`` iterations on the summed binary cross-entropy (float32)."""
    import torch
    import torch.nn.functional as F

    if indices is not None:
        index = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        features, outcomes = features[index], outcomes[index]
    if features.isnan().any():
        raise ValueError("Bradley-Terry features contain NaN")
    targets = outcomes.float()
    weights = torch.full((features.shape[1],), 0.5, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], lr=lr, max_iter=max_iter, tolerance_grad=tol, tolerance_change=tol)

    def closure() -> Any:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(features @ weights, targets, reduction="sum")
        loss.backward()
        return loss

    optimizer.step(closure)
    return weights.detach()


def bootstrap_bt(features: Any, outcomes: Any, *, rounds: int = 100, seed: int = 0) -> Any:
    """(rounds x features) coefficients, one fit per resample of the battles; the resamples are drawn at once,
    as upstream draws them (``randint(0, n, size=(rounds, n))``)."""
    import torch

    samples = np.random.RandomState(seed).randint(low=0, high=features.shape[0], size=(rounds, features.shape[0]))
    return torch.stack([fit_bt(features, outcomes, samples[r]) for r in range(rounds)])


def to_winrate_probabilities(coefs: Any, models: Sequence[str], baseline: str) -> Any:
    """Each model's probability of beating the baseline, per row of coefficients (the baseline's own is 0.5)."""
    import torch

    strength = torch.exp(coefs)
    base = strength[:, list(models).index(baseline)].unsqueeze(1)
    return (strength / (strength + base)).to(torch.float32)


# -- style control ----------------------------------------------------------------------------------------------

def style_vector(metadata: Mapping[str, Any]) -> list[float]:
    """token_len and the header, list and bold totals of one answer's metadata (``style.answer_metadata``)."""
    out = []
    for key in METADATA_KEYS:
        value = metadata[key]
        out.append(float(value if isinstance(value, int | float) else sum(value.values())))
    return out


def style_features(model_meta: Sequence[Mapping[str, Any]], baseline_meta: Sequence[Mapping[str, Any]]) -> Any:
    """(battles x 4) normalized style differences, upstream's construction: length as (m - b) / (m + b);
    header/list/bold as densities (count / (tokens + 1)) compared as (m - b) / (m + b + 1); each column then
    standardized (mean 0, sample standard deviation 1), all in float32."""
    import torch

    model = torch.tensor([style_vector(m) for m in model_meta], dtype=torch.float32)
    base = torch.tensor([style_vector(m) for m in baseline_meta], dtype=torch.float32)
    diff = torch.zeros_like(model)
    diff[:, 0] = (model[:, 0] - base[:, 0]) / (model[:, 0] + base[:, 0])
    model_density = model[:, 1:] / (model[:, :1] + 1)
    base_density = base[:, 1:] / (base[:, :1] + 1)
    diff[:, 1:] = (model_density - base_density) / (model_density + base_density + 1)
    normalized = (diff - torch.mean(diff, dim=0)) / torch.std(diff, dim=0)
    if normalized.isnan().any():
        raise ValueError("style features are undefined: an answer pair of zero tokens, or a style column that "
                         "never varies across battles (e.g. no markdown anywhere)")
    return normalized


def _metadata(answers_metadata: Mapping[str, Mapping[Any, Mapping[str, Any]]], model: str, uid: Any) -> Any:
    try:
        return answers_metadata[model][uid]
    except KeyError:
        raise DataError(f"no style metadata for {model!r} answer {uid!r} (style control needs every answer's "
                        f"token length and markdown counts)") from None


def style_controlled_scores(frame: pd.DataFrame, baseline: str,
                            answers_metadata: Mapping[str, Mapping[Any, Mapping[str, Any]]], *,
                            rounds: int = 100, seed: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Upstream's style-controlled leaderboard and the median coefficient of each style feature."""
    import torch

    model_meta = [_metadata(answers_metadata, m, u) for m, u in zip(frame["model"], frame["uid"], strict=True)]
    base_meta = [_metadata(answers_metadata, baseline, u) for u in frame["uid"]]
    style = style_features(model_meta, base_meta)
    columns, names = one_hot([display_name(m) for m in frame["model"]], baseline)
    features = torch.cat([columns, style], dim=1)
    outcomes = torch.tensor(frame["scores"].to_numpy(dtype=float), dtype=torch.float32)
    coefs = bootstrap_bt(features, outcomes, rounds=rounds, seed=seed)
    probabilities = to_winrate_probabilities(coefs[:, : len(names)], names, baseline)
    samples = pd.DataFrame(probabilities.double().numpy(), columns=names)
    medians = torch.quantile(coefs[:, len(names):], 0.5, dim=0).tolist()
    return format_table(_summary(samples, "median")), dict(zip(METADATA_KEYS, medians, strict=True))


# -- the leaderboard ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leaderboard:
    """``table``: show_result's columns (Model, Scores (%), CI (%)) plus the unrounded ``score``/``lower``/
    ``upper`` fractions and the rounded ``minus``/``plus`` percents, best first. ``null_judgments``: judgment
    rows dropped for a missing game or verdict. ``style_coefficients``: median coefficient of each style
    feature (style control only)."""

    table: pd.DataFrame
    null_judgments: int
    battles: int
    style_coefficients: dict[str, float] | None = None


def leaderboard(rows: Iterable[Mapping[str, Any]], baseline: str, *, style_control: bool = False,
                answers_metadata: Mapping[str, Mapping[Any, Mapping[str, Any]]] | None = None,
                rounds: int = 100, seed: int = 0, weight: int = 3, category: str | None = None) -> Leaderboard:
    """Upstream's leaderboard of judgment ``rows`` against ``baseline``, only ``category``'s rows if given.
    Style control needs ``answers_metadata``: {model: {uid: metadata}} for every judged model and the baseline
    (``style.answers_metadata`` reads or computes it)."""
    frame, nulls = battles(rows, weight)
    if category is not None:
        frame = frame[frame["category"] == category].reset_index(drop=True)
    if frame.empty:
        raise DataError("no judged battles to score" + (f" in category {category!r}" if category else ""))
    if not style_control:
        return Leaderboard(plain_scores(frame, baseline, rounds=rounds, seed=seed), nulls, len(frame))
    if answers_metadata is None:
        raise ValueError("style control needs answers_metadata (token length and markdown counts per answer)")
    table, coefs = style_controlled_scores(frame, baseline, answers_metadata, rounds=rounds, seed=seed)
    return Leaderboard(table, nulls, len(frame), coefs)
