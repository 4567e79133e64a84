"""Style-controlled win rates: the fit against scikit-learn's logistic regression as an oracle, and planted judges
(one that rewards length only, one that rewards the model only) on synthetic battles."""

from __future__ import annotations

import random

import numpy as np
import pytest

from starling_eval.adapters.style_control import (
    Battle,
    fit_logistic,
    style_controlled_win_rates,
    style_differences,
    style_totals,
)


def meta(tokens: int, headers: int = 0, lists: int = 0, bold: int = 0) -> dict[str, int]:
    return {"token_len": tokens, "header_count": headers, "list_count": lists, "bold_count": bold}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def planted(n: int, *, content: float, length: float, seed: int = 0, model: str = "m",
            opponent: str = "base", longest: int = 900) -> list[Battle]:
    """Battles whose outcome is drawn from logit = content + length * (m - o) / (m + o), the model's answers up to
    ``longest`` tokens and the opponent's up to 900: the model's answer is longer in some battles and shorter in
    others (equal style is observed, not extrapolated)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        m, o = rng.randint(50, longest), rng.randint(50, 900)
        p = _sigmoid(content + length * (m - o) / (m + o))
        out.append(Battle(model, opponent, 1.0 if rng.random() < p else 0.0,
                          meta(m, lists=rng.randint(0, 5)), meta(o, lists=rng.randint(0, 5)), str(i)))
    return out


def test_the_fit_is_scikit_learns_penalized_logistic_regression():
    """Soft targets as two weighted rows each; sklearn's C is 1 / ridge (its objective is C·loss + |w|²/2)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    design = np.column_stack([np.ones(300), rng.normal(size=(300, 3))])
    target = rng.choice([0.0, 0.5, 1.0, 0.8], size=300)
    ours = fit_logistic(design, target, ridge=0.5)
    oracle = LogisticRegression(C=1 / 0.5, fit_intercept=False, tol=1e-12, max_iter=10_000)
    oracle.fit(np.vstack([design, design]), np.r_[np.ones(300), np.zeros(300)], sample_weight=np.r_[target, 1 - target])
    assert ours == pytest.approx(oracle.coef_[0], abs=1e-6)


def test_a_length_loving_judge_is_controlled_back_to_even():
    battles = planted(800, content=0.0, length=3.0, longest=3000)  # the model writes longer; the judge likes length
    fit = style_controlled_win_rates(battles, baseline="base", rounds=200)
    row = fit["models"]["m"]
    assert row["raw"] > 0.58  # the raw win rate is carried by length
    low, high = row["ci95"]
    assert low < 0.5 < high and abs(row["style_controlled"] - 0.5) < 0.06
    assert fit["coefficients"]["length"] > 0.5 and row["n_longer"] > 0 and row["n_shorter"] > 0
    assert set(fit["coefficients"]) == {"length", "header_density", "list_density", "bold_density"}


def test_a_judge_that_ignores_style_leaves_the_win_rate_as_it_is():
    fit = style_controlled_win_rates(planted(600, content=1.0, length=0.0, seed=1), baseline="base", rounds=200)
    row = fit["models"]["m"]
    assert abs(row["style_controlled"] - row["raw"]) < 0.03 and row["raw"] == pytest.approx(0.71, abs=0.04)
    assert abs(fit["coefficients"]["length"]) < 0.2


def test_the_fit_reproduces_every_models_raw_win_rate_with_style_free():
    """Score equations of the model columns: with the style terms at their fitted values the mean predicted win
    equals the mean outcome; three models in a round robin, each reported (no baseline)."""
    battles = planted(200, content=0.8, length=1.0, model="a", opponent="b", seed=2)
    battles += planted(200, content=-0.3, length=1.0, model="b", opponent="c", seed=3)
    battles += planted(200, content=0.2, length=1.0, model="c", opponent="a", seed=4)
    fit = style_controlled_win_rates(battles, rounds=50)
    assert set(fit["models"]) == {"a", "b", "c"}
    for name, row in fit["models"].items():
        mine = [b.outcome if b.model == name else 1 - b.outcome for b in battles if name in (b.model, b.opponent)]
        assert row["raw"] == pytest.approx(np.mean(mine)) and row["n_battles"] == 400
    assert fit["models"]["a"]["style_controlled"] > fit["models"]["b"]["style_controlled"]


def test_a_style_that_never_varies_has_no_coefficient_and_a_sweep_stays_finite():
    battles = [Battle("m", "base", 1.0, meta(100 + 10 * i), meta(300), str(i)) for i in range(40)]  # wins all
    fit = style_controlled_win_rates(battles, baseline="base", rounds=20)
    assert fit["coefficients"]["header_density"] is None and fit["coefficients"]["bold_density"] is None
    row = fit["models"]["m"]
    assert row["raw"] == 1.0 and 0.9 < row["style_controlled"] < 1.0 and (row["n_longer"], row["n_shorter"]) == (19, 20)
    always_shorter = [Battle("m", "base", 1.0, meta(100 + i), meta(300), str(i)) for i in range(40)]
    row = style_controlled_win_rates(always_shorter, baseline="base", rounds=20)["models"]["m"]
    assert (row["n_longer"], row["n_shorter"]) == (0, 40)  # equal length never seen: an extrapolation


def test_style_differences_and_totals_follow_arena_hards_construction():
    a, b = meta(300, headers=3, lists=6, bold=0), meta(100, headers=0, lists=1, bold=0)
    length, header, lists, bold = style_differences(a, b)
    assert length == pytest.approx(0.5)
    assert header == pytest.approx((3 / 301) / (3 / 301 + 1))
    assert lists == pytest.approx((6 / 301 - 1 / 101) / (6 / 301 + 1 / 101 + 1)) and bold == 0
    assert style_differences(meta(0), meta(0))[0] == 0.0
    nested = {"token_len": 5, "header_count": {"h1": 1, "h2": 2}, "list_count": {"ordered": 1, "unordered": 0},
              "bold_count": {"**": 2, "__": 1}}
    assert style_totals([nested, meta(7, 1, 1, 1)]) == {"token_len": 12, "header_count": 4, "list_count": 2,
                                                        "bold_count": 4}


def test_no_battles_is_an_error():
    with pytest.raises(ValueError):
        style_controlled_win_rates([])
