"""A judge against Chatbot Arena's human winners, on battles written in the upstream parquet layout."""

from __future__ import annotations

import json
import shutil

import pytest

from starling_eval.data import DataDir
from starling_eval.goodhart.arena_agreement import judge_arena
from starling_eval.spec import JudgeSpec, RewardSpec
from starling_eval.testing.length_reward import LengthRewardModel
from tests.adapters.preference.test_pairs import write_arena
from tests.conftest import cli_env, run_cli


@pytest.fixture()
def arena_data(tmp_path, data_dir):
    root = tmp_path / "data"
    write_arena(root / "chatbot_arena_conversations")
    (root / "mt_bench").mkdir(parents=True)
    shutil.copy(data_dir / "mt_bench" / "judge_prompts.jsonl", root / "mt_bench" / "judge_prompts.jsonl")
    return root


def test_a_length_judge_against_the_human_winners(tmp_path, arena_data):
    judge = JudgeSpec(model="length-rm", reward_model=RewardSpec(name_or_path="length-rm"))
    report = judge_arena(judge, DataDir(arena_data, verify=False), tmp_path / "res", judge_client=LengthRewardModel())
    rows = {(r["turn"], r["setup"]): r for r in report["agreement"]}
    # one-turn battles: the longer reply wins 1 (human: b) ✓, 2 (tie) ✗, 4 (tie, bothbad) ✗, 5 (human: a) ✗
    assert (rows[(1, "S1")]["n_agree"], rows[(1, "S1")]["n"]) == (1, 4)
    assert (rows[(1, "S2")]["n_agree"], rows[(1, "S2")]["n"]) == (1, 2)  # the two human ties dropped
    assert (rows[(2, "S1")]["n_agree"], rows[(2, "S1")]["n"]) == (1, 1)  # the two-turn battle, both exchanges shown
    assert report["judged"] == report["battles"] == 5 and report["skipped"] == {"longer than two turns": 0}


def test_cli_arena_with_an_api_judge_and_without_data(tmp_path, arena_data, server_factory):
    server = server_factory("--reply", "A is better. [[A]]")
    env = cli_env(arena_data, STARLING_EVAL_NO_VERIFY="1")
    res = run_cli("--results", str(tmp_path / "res"), "goodhart", "arena", "--judge-model", "j", "--judge-base-url",
                  server.base_url, "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    # "[[A]]" in both orders is inconsistent: a tie every time, which S2 drops
    assert report["bias"]["position"]["biased_first"] == 1.0 and server.stats()["served"] == 10
    assert [r["n"] for r in report["agreement"] if r["setup"] == "S2"] == [0, 0]
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_cli("goodhart", "arena", "--judge-model", "j", "--judge-base-url", server.base_url,
                  env=cli_env(empty))
    assert res.returncode == 2 and "no Chatbot Arena data" in res.stderr
