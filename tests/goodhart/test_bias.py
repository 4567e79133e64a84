import math
import random
from collections.abc import Callable

import numpy as np
import pytest

from starling_eval.goodhart.bias import (
    PairJudgment,
    debiased_verdict,
    flags,
    lc_gap,
    length_bias,
    logistic_fit,
    position_consistency,
    sign_test_p,
)

Answer = tuple[float, int]  # (hidden quality, length)
Judge = Callable[[Answer, Answer], str]


def _judged(judge: Judge, n_questions: int = 40, per_question: int = 4, seed: int = 0) -> list[PairJudgment]:
    """Answer pairs with independent random quality and length, judged in both orders by ``judge``."""
    rng = random.Random(seed)
    out = []
    for q in range(n_questions):
        for i in range(per_question):
            a = (rng.random(), rng.randint(50, 2000))
            b = (rng.random(), rng.randint(50, 2000))
            out.append(PairJudgment(f"q{q}-{i}", a[1], b[1], judge(a, b), judge(b, a), cluster=f"q{q}"))
    return out


def _better(first: Answer, second: Answer) -> str:
    return "A" if first[0] > second[0] else "B"


def _longer(first: Answer, second: Answer) -> str:
    return "A" if first[1] > second[1] else "B"


def test_hand_built_position_breakdown():
    judgments = [
        PairJudgment("1", 10, 20, "A", "B"),  # A wins in both orders
        PairJudgment("2", 10, 20, "B", "A"),  # B wins in both orders
        PairJudgment("3", 10, 20, "tie", "tie"),
        PairJudgment("4", 10, 20, "A", "A"),  # the first-shown answer both times
        PairJudgment("5", 10, 20, "A", None),  # failed swapped game
        PairJudgment("6", 10, 20, "A", swapped=False),
    ]
    r = position_consistency(judgments)
    assert (r["n"], r["n_failed"], r["n_single_order"]) == (4, 1, 1)
    assert r["consistency"] == 0.75
    assert (r["biased_first"], r["biased_second"], r["other_inconsistent"]) == (0.25, 0.0, 0.0)
    assert (r["n_consistent"], r["n_biased_first"]) == (3, 1)
    low, high = r["consistency_ci"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0


def test_position_categories_cover_every_verdict_pair():
    kinds = {}
    for ab in ("A", "B", "tie"):
        for ba in ("A", "B", "tie"):
            r = position_consistency([PairJudgment("k", 1, 1, ab, ba)])
            kinds[ab, ba] = next(k for k in ("consistent", "biased_first", "biased_second", "other_inconsistent")
                                 if r[f"n_{k}"])
    assert kinds == {("A", "B"): "consistent", ("B", "A"): "consistent", ("tie", "tie"): "consistent",
                     ("A", "A"): "biased_first", ("B", "B"): "biased_second",
                     ("A", "tie"): "other_inconsistent", ("tie", "A"): "other_inconsistent",
                     ("B", "tie"): "other_inconsistent", ("tie", "B"): "other_inconsistent"}


def test_debiased_verdict_needs_both_orders_to_agree():
    assert debiased_verdict(PairJudgment("k", 1, 2, "A", "B")) == "A"
    assert debiased_verdict(PairJudgment("k", 1, 2, "B", "A")) == "B"
    assert debiased_verdict(PairJudgment("k", 1, 2, "A", "A")) == "tie"
    assert debiased_verdict(PairJudgment("k", 1, 2, "A", None)) is None
    assert debiased_verdict(PairJudgment("k", 1, 2, "B", swapped=False)) == "B"


def test_verdicts_and_lengths_are_validated():
    with pytest.raises(ValueError, match="verdict_ab"):
        PairJudgment("k", 1, 2, "model_a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        PairJudgment("k", -1, 2, "A")


def test_hand_built_length_counts():
    judgments = [
        PairJudgment("longer A wins", 100, 50, "A", "B"),
        PairJudgment("shorter A wins", 100, 200, "A", "B"),
        PairJudgment("inconsistent is a tie", 300, 100, "A", "A"),
        PairJudgment("equal", 100, 100, "A", "B"),
        PairJudgment("failed", 100, 50, None, "B"),
        PairJudgment("one order, longer B wins", 10, 20, "B", swapped=False),
    ]
    r = length_bias(judgments)
    assert (r["n"], r["n_ties"], r["n_equal_length"], r["n_failed"]) == (3, 1, 1, 1)
    assert r["n_longer_wins"] == 2
    assert r["longer_wins"] == pytest.approx(2 / 3)
    assert r["logistic"]["n"] == 3


def test_empty_answers_stay_out_of_the_fit_only():
    r = length_bias([PairJudgment("empty", 0, 40, "B", swapped=False), PairJudgment("k", 30, 40, "B", swapped=False)])
    assert (r["n"], r["longer_wins"], r["logistic"]["n"]) == (2, 1.0, 1)
    assert length_bias([PairJudgment("empty", 0, 40, "B", swapped=False)])["logistic"] is None


def test_logistic_fit_matches_the_closed_form_of_two_groups():
    # x takes two values, so the MLE fits each group's win share exactly: intercept = logit(p0),
    # slope = (logit(p1) - logit(p0)) / x1, var(slope) = (1/(n1 p1 q1) + 1/(n0 p0 q0)) / x1^2
    x1 = math.log(2.0)
    x = [0.0] * 10 + [x1] * 10
    y = [1.0] * 3 + [0.0] * 7 + [1.0] * 7 + [0.0] * 3
    fit = logistic_fit(x, y)

    def logit(p):
        return math.log(p / (1 - p))

    assert fit["converged"]
    assert fit["intercept"] == pytest.approx(logit(0.3), abs=1e-8)
    assert fit["coefficient"] == pytest.approx((logit(0.7) - logit(0.3)) / x1, abs=1e-8)
    assert fit["se"] == pytest.approx(math.sqrt(2 / (10 * 0.3 * 0.7)) / x1, abs=1e-8)


def _grid_argmax(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The log-likelihood's maximum by zooming grid search (it is concave, so zooming cannot lose it)."""
    centre, half = np.zeros(2), 4.0
    for _ in range(14):
        a, b = np.meshgrid(np.linspace(centre[0] - half, centre[0] + half, 81),
                           np.linspace(centre[1] - half, centre[1] + half, 81), indexing="ij")
        eta = a[..., None] + b[..., None] * x
        ll = (y * eta - np.logaddexp(0.0, eta)).sum(axis=-1)
        i, j = np.unravel_index(np.argmax(ll), ll.shape)
        centre = np.array([a[i, j], b[i, j]])
        half /= 8.0
    return float(centre[0]), float(centre[1])


def test_logistic_fit_matches_a_grid_search_of_the_likelihood():
    x = np.array([-1.2, -0.7, -0.7, -0.3, 0.0, 0.1, 0.4, 0.4, 0.9, 1.3, 1.6, -0.1])
    y = np.array([0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1], dtype=float)
    fit = logistic_fit(x, y)
    intercept, slope = _grid_argmax(x, y)
    assert fit["converged"]
    assert fit["intercept"] == pytest.approx(intercept, abs=1e-4)
    assert fit["coefficient"] == pytest.approx(slope, abs=1e-4)


@pytest.mark.parametrize(("x", "y"), [
    ([-1.0, -0.5, 0.5, 1.0], [0, 0, 1, 1]),  # complete separation
    ([-1.0, 0.0, 0.0, 1.0], [0, 0, 1, 1]),  # quasi-complete
    ([0.3, -0.2, 0.8], [1, 1, 1]),  # one outcome only
    ([0.0, 0.0, 0.0, 0.0], [0, 1, 0, 1]),  # no variation in x
])
def test_logistic_fit_reports_an_infinite_mle_without_crashing(x, y):
    fit = logistic_fit(x, y)
    assert fit["converged"] is False
    assert fit["se"] is None
    assert math.isfinite(fit["coefficient"]) and math.isfinite(fit["intercept"])


def test_sign_test():
    assert sign_test_p(0, 5) == sign_test_p(5, 5) == 2 / 32
    assert sign_test_p(1, 10) == pytest.approx(2 * 11 / 1024)
    assert sign_test_p(5, 10) == 1.0
    assert sign_test_p(0, 0) == 1.0


def test_a_judge_that_always_says_a_is_flagged():
    judgments = _judged(lambda first, second: "A")
    position = position_consistency(judgments)
    length = length_bias(judgments)
    assert (position["consistency"], position["biased_first"]) == (0.0, 1.0)
    assert length["n"] == 0 and length["longer_wins"] is None and length["logistic"] is None
    [flag] = flags(position, length)
    assert "position bias toward the first answer" in flag


def test_a_judge_that_mostly_says_b_is_flagged_toward_second():
    rng = random.Random(3)
    judgments = _judged(lambda first, second: "B" if rng.random() < 0.3 else _better(first, second))
    [flag] = flags(position_consistency(judgments), None)
    assert "toward the second answer" in flag


def test_a_length_loving_judge_is_flagged():
    judgments = _judged(_longer)
    position = position_consistency(judgments)
    length = length_bias(judgments)
    assert position["consistency"] == 1.0
    assert length["longer_wins"] == 1.0 and length["longer_wins_ci"] == (1.0, 1.0)
    assert length["logistic"]["converged"] is False  # length separates the outcomes perfectly
    assert length["logistic"]["coefficient"] > 0
    [flag] = flags(position, length)
    assert "length bias toward the longer answer" in flag


def test_a_noisy_length_loving_judge_has_a_positive_significant_coefficient():
    rng = random.Random(1)

    def judge(first: Answer, second: Answer) -> str:
        p_first = 1.0 / (1.0 + math.exp(-2.0 * math.log(first[1] / second[1])))
        return "A" if rng.random() < p_first else "B"

    fit = length_bias(_judged(judge, n_questions=100))["logistic"]
    assert fit["converged"]
    assert fit["coefficient"] > 3 * fit["se"]


def test_a_balanced_judge_is_not_flagged():
    rng = random.Random(2)

    def judge(first: Answer, second: Answer) -> str:
        return rng.choice(["A", "B", "tie"]) if rng.random() < 0.2 else _better(first, second)

    judgments = _judged(judge)
    position = position_consistency(judgments)
    length = length_bias(judgments)
    assert 0.6 < position["consistency"] < 1.0
    assert position["n_biased_first"] > 0 and position["n_biased_second"] > 0
    assert length["longer_wins_ci"][0] < 0.5 < length["longer_wins_ci"][1]
    assert flags(position, length) == []


def test_lc_gap():
    row = {"model": "m", "win_rate": 30.0, "length_controlled_winrate": 22.5}
    assert lc_gap(row) == {"model": "m", "win_rate": 30.0, "length_controlled_winrate": 22.5, "gap": 7.5}
    assert lc_gap({**row, "length_controlled_winrate": None}) is None
    assert lc_gap({"model": "m", "win_rate": 30.0}) is None
