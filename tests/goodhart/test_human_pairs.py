"""Any judge or RM on the MT-Bench pairs the experts voted on: the pairs are the voted ones whose answers the
voters read, two games make one vote (FastChat's rule), and the report puts the judge beside GPT-4 and the
humans on the same pairs."""

from __future__ import annotations

import json

import pytest

from starling_eval.adapters.mtbench.judge import read_answer_file
from starling_eval.data import DataDir
from starling_eval.goodhart.agreement import agreement_table, read_votes
from starling_eval.goodhart.human_pairs import AS_SEEN, judge_human_pairs, votes_from_games
from starling_eval.spec import JudgeSpec, RewardSpec
from starling_eval.testing.length_reward import LengthRewardModel
from tests.conftest import cli_env, run_cli


def _game(g, verdict, qid=81, turn=1):
    return {"kind": "pair", "question_id": qid, "turn": turn, "model_1": "x", "model_2": "y", "game": g,
            "verdict": verdict, "chars_1": 10, "chars_2": 20}


def test_two_games_make_one_vote_as_fastchat_counts_them():
    cases = {("A", "B"): "model_a", ("B", "A"): "model_b", ("A", "A"): "tie (inconsistent)",
             ("tie", "tie"): "tie", ("tie", "A"): "tie (inconsistent)"}
    for (g1, g2), expected in cases.items():
        votes, judgments, failed = votes_from_games([_game(1, g1), _game(2, g2)], "j")
        (vote,) = votes
        assert (vote.raw_winner or vote.winner) == expected and failed == 0
        assert (judgments[0].verdict_ab, judgments[0].verdict_ba, judgments[0].len_b) == (g1, g2, 20)
    votes, _, failed = votes_from_games([_game(1, "A"), _game(2, None)], "j")
    assert votes == [] and failed == 1


def test_a_reward_model_on_the_voted_pairs_beside_gpt4_and_the_humans(tmp_path, data_dir):
    rm = LengthRewardModel()
    judge = JudgeSpec(model="length-rm", reward_model=RewardSpec(name_or_path="length-rm"))
    report = judge_human_pairs(judge, DataDir(str(data_dir)), tmp_path, judge_client=rm)
    humans = read_votes(data_dir / "mt_bench_human" / "human.jsonl")
    keys = {v.oriented()[0] for v in humans if v.judge.startswith("expert") and {v.model_a, v.model_b} <= set(AS_SEEN)}
    counts = report["counts"]
    assert counts["judged_keys"] == len(keys) == counts["votes"] and counts["requests"] == 2 * len(keys)
    assert counts["voted_keys"] == len({v.oriented()[0] for v in humans if v.judge.startswith("expert")})
    # one reward per distinct conversation (question, turn, the model's answers so far), shared by every pair
    # and game it appears in (some models answered some questions identically: one reward)
    answers = {m: read_answer_file(data_dir / "mt_bench" / "model_answer" / f"{m}.jsonl") for m in AS_SEEN}
    conversations = {(k[0], tuple(answers[m][str(k[0])][: k[1]])) for k in keys for m in k[2:]}
    assert rm.scored == len(conversations)
    rows = {(r["judge"], r["turn"], r["setup"]): r for r in report["agreement"]}
    assert {j for j, _, _ in rows} == {"length-rm", "gpt-4 (same pairs)", "human"}
    # the written votes are the judge's: re-reading them gives the same agreement
    votes = read_votes(report["votes_file"])
    on_keys = [v for v in humans if v.oriented()[0] in keys]
    again = agreement_table(votes, on_keys, judge_name="length-rm")
    assert again[0]["agreement"] == pytest.approx(rows[("length-rm", 1, "S1")]["agreement"])
    assert rows[("length-rm", 1, "S1")]["n"] == sum(1 for v in on_keys if v.turn == 1 and v.judge.startswith("expert"))
    # a length-only judge is consistent in both orders and flagged for length bias
    assert report["bias"]["position"]["consistency"] == 1.0
    assert any("longer answer" in f for f in report["bias"]["flags"])
    again = judge_human_pairs(judge, DataDir(str(data_dir)), tmp_path, judge_client=(fresh := LengthRewardModel()))
    assert fresh.scored == 0 and again["judging"]["counts"]["called"] == 0


def test_cli_runs_an_api_judge_on_the_voted_pairs(tmp_path, data_dir, server_factory):
    server = server_factory("--random-verdicts", "pair")
    res = run_cli("--results", str(tmp_path), "goodhart", "judge", "--judge-model", "judge", "--judge-base-url",
                  server.base_url, "--limit", "3", "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["judging"]["counts"]["called"] == report["counts"]["requests"] == server.stats()["served"]
    assert report["counts"]["questions"] == 3 and report["votes_file"].endswith("votes.jsonl")
    table = run_cli("--results", str(tmp_path), "goodhart", "agreement", "--judge-votes", report["votes_file"], "--json",
                    env=cli_env(data_dir))
    assert table.returncode == 0 and json.loads(table.stdout)[0]["judge"] == "votes"
    both = run_cli("goodhart", "judge", "--judge-model", "a", "--judge-reward-model", "b", env=cli_env(data_dir))
    assert both.returncode == 2 and "exactly one" in both.stderr


def test_verbosity_probe_catches_a_judge_that_rewards_padding(tmp_path, data_dir):
    from starling_eval.goodhart.verbosity_probe import probe_verbosity

    answers = data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl"
    judge = JudgeSpec(model="length-rm", reward_model=RewardSpec(name_or_path="length-rm"))
    report = probe_verbosity(judge, DataDir(str(data_dir)), tmp_path, answers, limit=5, judge_client=LengthRewardModel())
    pad = report["shift"]["pad"]
    # a length-rewarding judge always prefers the padded answer, in both orders
    assert pad["n"] == 10 and pad["prefers_transformed"] == 1.0 and pad["n_failed"] == 0
    assert report["shift"]["listify"]["n"] <= 10


def test_cli_verbosity_probe_with_an_api_judge(tmp_path, data_dir, server_factory):
    server = server_factory("--reply", "Both are fine. [[C]]")
    answers = str(data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl")
    res = run_cli("--results", str(tmp_path), "goodhart", "verbosity", "--answers", answers, "--judge-model", "j",
                  "--judge-base-url", server.base_url, "--limit", "2", "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    shift = json.loads(res.stdout)["shift"]
    assert shift["pad"]["prefers_transformed"] == 0.5 and shift["pad"]["n_ties"] == shift["pad"]["n"] == 4
