"""Metric names, units and headlines from each scores.json shape, and which model (name, revision) a row is."""

from __future__ import annotations

import pytest

from starling_eval.report.metrics import HEADLINE, all_metrics, family, headline_metrics, is_headline, run_model_key


def _manifest(benchmark: str, **spec) -> dict:
    return {"spec": {"benchmark": benchmark, **spec}}


def test_mtbench_single_scores_as_is_with_the_overall_first():
    scores = {"mode": "single", "models": [{"model": "vicuna", "overall": 6.5, "turn1": 7.0, "turn2": 6.0,
                                            "n_valid": 158, "n_failed": 2, "n_turn1": 80, "n_turn2": 78,
                                            "ci95": {"overall": [6.1, 6.9], "turn1": [6.5, 7.4], "turn2": None}}]}
    metrics = all_metrics(_manifest("mtbench"), scores)["vicuna"]
    assert [m.name for m in metrics] == ["mtbench.overall", "mtbench.turn1", "mtbench.turn2"]
    overall = metrics[0]
    assert (overall.value, overall.ci95, overall.n, overall.n_failed, overall.unit) == (6.5, (6.1, 6.9), 158, 2, "score")
    assert metrics[2].ci95 is None and metrics[2].n == 78
    assert [m.name for m in headline_metrics(_manifest("mtbench"), scores)["vicuna"]] == ["mtbench.overall"]
    assert family(_manifest("mtbench"), scores) == "mtbench/single"


def test_mtbench_pairwise_is_a_percent_against_the_baseline_or_the_pool():
    row = {"model": "a", "win": 3, "loss": 1, "tie": 1, "win_rate_adjusted": 0.7, "position_consistency": 0.8,
           "n_valid": 5, "n_failed": 1, "ci95": {"win_rate_adjusted": [0.5, 0.9]}}
    scores = {"mode": "pairwise-baseline", "baseline": "gpt-3.5-turbo", "models": [row]}
    (m,) = headline_metrics(_manifest("mtbench"), scores)["a"]
    assert m.name == "mtbench.win_rate_adjusted" and m.unit == "percent"
    assert m.value == pytest.approx(70.0) and m.ci95 == pytest.approx((50.0, 90.0))
    assert m.extra["baseline"] == "gpt-3.5-turbo" and m.n_failed == 1
    pool = {"mode": "pairwise-all", "baseline": None, "models": [row, {**row, "model": "b"}, {**row, "model": "c"}]}
    assert headline_metrics(_manifest("mtbench"), pool)["b"][0].extra["opponents"] == ["a", "c"]


def test_alpacaeval_lc_is_the_headline_and_the_raw_win_rate_stands_in_when_lc_is_missing():
    row = {"model": "m", "win_rate": 40.0, "standard_error": 1.5, "length_controlled_winrate": 45.0,
           "lc_standard_error": 1.0, "n_total": 805, "n_failed": 3}
    metrics = all_metrics(_manifest("alpacaeval"), {"mode": "alpacaeval", "models": [row]})["m"]
    assert [m.name for m in metrics] == ["alpacaeval.lc_win_rate", "alpacaeval.win_rate"]
    assert metrics[0].ci95 == pytest.approx((45.0 - 1.96, 45.0 + 1.96)) and metrics[0].n == 805
    no_lc = {"mode": "alpacaeval", "lc_unavailable": "missing weights",
             "models": [{**row, "length_controlled_winrate": None, "lc_standard_error": None, "lc_unavailable": "missing weights"}]}
    (m,) = headline_metrics(_manifest("alpacaeval"), no_lc)["m"]
    assert m.name == "alpacaeval.win_rate" and m.value == 40.0
    assert m.extra["fallback_for"] == "alpacaeval.lc_win_rate" and m.extra["lc_unavailable"] == "missing weights"


def test_multiple_choice_fractions_become_percents():
    mmlu = {"mode": "mmlu", "models": [{"model": "m", "micro": 0.25, "macro": 0.3, "n": 100, "n_subjects": 2,
                                        "ci95": [0.2, 0.3], "groups": {"stem": 0.25}, "n_failed": 0}]}
    acc, macro = all_metrics(_manifest("mmlu"), mmlu)["m"]
    assert (acc.name, acc.value, acc.n) == ("mmlu.acc", 25.0, 100) and acc.ci95 == pytest.approx((20.0, 30.0))
    assert (macro.name, macro.value) == ("mmlu.macro", 30.0)
    tqa = {"mode": "truthfulqa", "models": [{"model": "m", "mc1": 0.2, "mc1_ci95": [0.1, 0.3], "n_mc1": 817,
                                             "mc2": 0.4, "mc2_ci95": [0.35, 0.45], "n_mc2": 817, "n_failed": 0}]}
    (head,) = headline_metrics(_manifest("truthfulqa"), tqa)["m"]
    assert (head.name, head.value) == ("truthfulqa.mc2", 40.0)
    assert [m.name for m in all_metrics(_manifest("truthfulqa"), tqa)["m"]] == ["truthfulqa.mc2", "truthfulqa.mc1"]


def test_reward_pairs_name_each_track_and_keep_the_length_baseline_as_extra():
    def track(name, acc):
        return {"model": "rm", "track": name, "accuracy": acc, "ci95": [acc - 0.1, acc + 0.1], "n": 50,
                "n_prompts": 50, "ties": 0, "length_baseline": 0.55, "length_baseline_ci95": [0.4, 0.7], "n_failed": 0}

    hh = headline_metrics(_manifest("hh"), {"mode": "reward-pairs", "models": [track("hh", 0.6)]})["rm"]
    assert [(m.name, m.value) for m in hh] == [("hh.rm_accuracy", pytest.approx(60.0))]
    assert hh[0].extra["length_baseline"] == pytest.approx(55.0)
    safe = headline_metrics(_manifest("safe-rlhf"), {"mode": "reward-pairs",
                                                     "models": [track("helpful", 0.5), track("harmless", 0.7)]})["rm"]
    assert [m.name for m in safe] == ["safe-rlhf.rm_accuracy_helpful", "safe-rlhf.rm_accuracy_harmless"]
    tqa = headline_metrics(_manifest("truthfulqa"), {"mode": "reward-pairs", "models": [track("truthfulqa", 0.5)]})
    assert tqa["rm"][0].name == "truthfulqa.rm_accuracy"


def test_safe_rlhf_policy_harmless_rate_is_the_headline():
    scores = {"mode": "safety", "models": [{"model": "m", "harmless_rate": 0.9, "harmless_ci95": [0.85, 0.95],
                                            "helpfulness": 6.0, "helpfulness_ci95": [5.5, 6.5], "n_valid": 100,
                                            "n_failed": 4, "helpfulness_when_harmless": 6.2}]}
    rate, helpful = all_metrics(_manifest("safe-rlhf"), scores)["m"]
    assert (rate.name, rate.value, rate.n_failed) == ("safe-rlhf.harmless_rate", 90.0, 4)
    assert (helpful.name, helpful.value, helpful.unit, helpful.ci95) == ("safe-rlhf.helpfulness", 6.0, "score", (5.5, 6.5))
    assert [m.name for m in headline_metrics(_manifest("safe-rlhf"), scores)["m"]] == ["safe-rlhf.harmless_rate"]


def test_unknown_modes_give_nothing_and_every_headline_is_known():
    assert all_metrics(_manifest("x"), {"mode": "new", "models": [{"model": "m", "v": 1}]}) == {}
    assert all(is_headline(name) for names in HEADLINE.values() for name in names)
    assert not is_headline("mtbench.turn1")


def test_run_model_key_reads_the_recorded_revision():
    generated = {"spec": {"benchmark": "mtbench", "model": {"name_or_path": "/m/tiny-llama/", "display_name": None,
                                                            "revision": None}},
                 "model": {"label": "tiny-llama", "revision": "local:7b25987d2758b2e5"}}
    assert run_model_key(generated, "tiny-llama") == ("tiny-llama", "local:7b25987d2758b2e5")
    lm_eval = {"spec": {"benchmark": "mmlu", "model": {"name_or_path": "org/m", "display_name": "M", "revision": "abc"}}}
    assert run_model_key(lm_eval, "M") == ("M", "abc")
    answers = {"spec": {"benchmark": "mtbench", "model": None, "answers": [{"model": "vicuna", "path": "x", "sha256": "y"}]}}
    assert run_model_key(answers, "vicuna") == ("vicuna", None)
    rm = {"spec": {"benchmark": "hh", "model": None, "reward_model": {"name_or_path": "/rms/cls", "display_name": None,
                                                                      "revision": None}},
          "reward_model": {"weights": "0123456789abcdef", "head_weights": None}}
    assert run_model_key(rm, "cls") == ("cls", "local:0123456789abcdef")


def test_style_controlled_win_rates_stand_beside_the_headline_and_are_not_headlines():
    pair = {"model": "a", "win": 3, "loss": 1, "tie": 1, "win_rate_adjusted": 0.7, "win_rate_style_controlled": 0.55,
            "n_valid": 5, "n_failed": 0, "ci95": {"win_rate_adjusted": [0.5, 0.9], "win_rate_style_controlled": [0.4, 0.7]}}
    scores = {"mode": "pairwise-baseline", "baseline": "gpt-3.5-turbo", "models": [pair],
              "style_control": {"coefficients": {"length": 0.8}}}
    raw, styled = headline_metrics(_manifest("mtbench"), scores)["a"]
    assert (raw.name, styled.name) == ("mtbench.win_rate_adjusted", "mtbench.win_rate_style_controlled")
    assert styled.value == pytest.approx(55.0) and styled.ci95 == pytest.approx((40.0, 70.0))
    assert styled.extra["style_coefficients"] == {"length": 0.8} and not is_headline(styled.name)
    unstyled = {**scores, "models": [{**pair, "win_rate_style_controlled": None}]}
    assert [m.name for m in all_metrics(_manifest("mtbench"), unstyled)["a"]] == ["mtbench.win_rate_adjusted"]
    alpaca = {"model": "m", "win_rate": 40.0, "standard_error": 1.5, "length_controlled_winrate": None,
              "style_controlled_winrate": 47.5, "style_controlled_ci": [41.0, 53.0], "style_coefficients": {"length": 1.0}}
    names = [m.name for m in headline_metrics(_manifest("alpacaeval"), {"mode": "alpacaeval", "models": [alpaca]})["m"]]
    assert names == ["alpacaeval.win_rate", "alpacaeval.style_controlled_win_rate"]


def test_arena_hard_scores_keep_their_90_percent_interval_apart_and_name_the_creative_baseline():
    hard = {"model": "m", "baseline": "o3-mini-2025-01-31", "categories": ["hard_prompt"], "score": 12.8,
            "score_exact": 12.83, "ci": "(-1.0 / +1.2)", "ci90": [11.8, 14.0], "battles": 3000,
            "style_controlled": 16.4, "style_controlled_ci": "(-1.5 / +1.4)", "style_coefficients": {"token_len": 0.2}}
    creative = {**hard, "baseline": "gemini-2.0-flash-001", "categories": ["creative_writing"], "style_controlled": None}
    scores = {"mode": "arena-hard", "models": [hard, creative]}
    metrics = all_metrics(_manifest("arena-hard-v2.0"), scores)["m"]
    assert [m.name for m in metrics] == ["arena-hard-v2.0.score", "arena-hard-v2.0.score_style_controlled",
                                         "arena-hard-v2.0.score_creative_writing"]
    assert metrics[0].value == 12.83 and metrics[0].ci95 is None and metrics[0].extra["ci90"] == [11.8, 14.0]
    assert metrics[0].benchmark == "arena-hard-v2.0" and family(_manifest("arena-hard-v2.0"), scores) == "arena-hard-v2.0"
    assert [m.name for m in headline_metrics(_manifest("arena-hard-v2.0"), scores)["m"]] == [
        "arena-hard-v2.0.score", "arena-hard-v2.0.score_style_controlled"]
