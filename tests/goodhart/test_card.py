"""The Goodhart card: the judge's win rate beside a human proxy's on the same items, flagged when they part."""

from __future__ import annotations

import json

import pytest

from starling_eval.goodhart.agreement import read_votes
from starling_eval.goodhart.card import card_rows, human_outcomes
from starling_eval.testing.tiny_model import build_tiny_reward_classifier
from tests.conftest import cli_env, run_cli


def test_rows_flag_a_judge_that_likes_a_model_more_than_the_proxy_does():
    judge = {"m": {(q, 1): 1.0 for q in range(40)}}
    proxy = {"m": {(q, 1): float(q % 2) for q in range(40)}}
    (row,) = card_rows(judge, proxy, proxy_name="humans")
    assert (row["judge_win_rate"], row["proxy_win_rate"], row["difference"]) == (1.0, 0.5, 0.5)
    assert row["difference_ci95"][0] > 0 and len(row["flags"]) == 2
    (same,) = card_rows(proxy, proxy, proxy_name="humans")
    assert same["flags"] == [] and same["difference_ci95"] == [0.0, 0.0]
    assert card_rows(judge, {"other": proxy["m"]}, proxy_name="x") == []


def test_human_outcomes_average_the_expert_votes_per_item(data_dir):
    votes = read_votes(data_dir / "mt_bench_human" / "human.jsonl")
    outcomes = human_outcomes(votes, ["alpaca-13b"], "gpt-3.5-turbo")["alpaca-13b"]
    mine = [v for v in votes if v.judge.startswith("expert") and {v.model_a, v.model_b} == {"alpaca-13b", "gpt-3.5-turbo"}]
    assert set(outcomes) == {(v.question_id, v.turn) for v in mine}
    key = next(iter(outcomes))
    on_key = [v for v in mine if (v.question_id, v.turn) == key]
    won = [0.5 if v.winner == "tie" else float(getattr(v, v.winner) == "alpaca-13b") for v in on_key]
    assert outcomes[key] == pytest.approx(sum(won) / len(won))


def test_card_of_a_pairwise_run_against_humans_and_against_a_reward_model(tmp_path, data_dir, server_factory):
    server = server_factory("--random-verdicts", "pair")
    answers = str(data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl")
    env = cli_env(data_dir)
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", answers, "--judge-mode", "pairwise-baseline",
                  "--judge-base-url", server.base_url, "--judge-model", "judge", "--limit", "90", "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    run_id = json.loads(res.stdout)["run_id"]
    card = run_cli("--results", str(tmp_path), "goodhart", "card", run_id, "--json", env=env)
    assert card.returncode in (0, 1), card.stderr
    result = json.loads(card.stdout)
    (row,) = result["rows"]
    assert result["proxy"] == "human experts" and row["model"] == "alpaca-13b" and row["n_items"] > 10
    assert card.returncode == (1 if result["flagged"] else 0)
    shown = run_cli("--results", str(tmp_path), "show", run_id, env=env)
    assert "Goodhart card" in shown.stdout
    # a reward model as the proxy re-judges the run's answers as a run of its own
    rm = build_tiny_reward_classifier(tmp_path / "rm")
    card = run_cli("--results", str(tmp_path), "goodhart", "card", run_id, "--proxy-reward-model", str(rm), "--dtype",
                   "float32", "--device", "cpu", "--json", env=env)
    assert card.returncode in (0, 1), card.stderr[-2000:]
    result = json.loads(card.stdout)
    assert result["proxy"] == "rm" and result["proxy_run_id"] != run_id and result["rows"][0]["n_items"] == 160
    # a single-grading run has no win rate to compare
    single = run_cli("--results", str(tmp_path / "s"), "run", "mtbench", "--answers", answers, "--judge-base-url",
                     server.base_url, "--limit", "1", "--json", env=env)
    single_id = json.loads(single.stdout)["run_id"]
    refused = run_cli("--results", str(tmp_path / "s"), "goodhart", "card", single_id, env=env)
    assert refused.returncode == 2 and "pairwise-baseline" in refused.stderr
