"""Pairwise RM scoring by hand: strict wins only (a tie is wrong, as RewardBench), the longer-reply
baseline on the same pairs, prompts resampled together, per-subset rows."""

from __future__ import annotations

import pytest

from starling_eval.adapters.preference.benchmark import pair_record, prompt_cluster, reply_length, score_pairs
from starling_eval.adapters.preference.pairs import Pair
from starling_eval.spec import Message


def _pair(pid: str, chosen: str, rejected: str, subset: str = "") -> Pair:
    user = Message(role="user", content="Which?")
    return Pair(id=pid, chosen=(user, Message(role="assistant", content=chosen)),
                rejected=(user, Message(role="assistant", content=rejected)), subset=subset)


def test_accuracy_counts_strict_wins_and_the_length_baseline_by_hand():
    rows = [pair_record("t", _pair("q1|0|1", "long answer", "short", "a"), 2.0, 1.0),   # right, longer chosen
            pair_record("t", _pair("q1|0|2", "tiny", "much longer", "a"), 1.0, 2.0),    # wrong, longer rejected
            pair_record("t", _pair("q2|0|1", "same", "size", "b"), 1.5, 1.5),          # tie: wrong; equal length
            pair_record("t", _pair("q3|0|1", "longer one", "x", "b"), 3.0, -1.0)]      # right, longer chosen
    row = score_pairs(rows, "rm", seed=0)["models"][0]
    assert (row["accuracy"], row["ties"], row["n"], row["n_prompts"]) == (0.5, 1, 4, 3)
    assert row["length_baseline"] == 0.5 and row["equal_length"] == 1
    assert row["subsets"] == {"a": {"accuracy": 0.5, "length_baseline": 0.5, "n": 2},
                              "b": {"accuracy": 0.5, "length_baseline": 0.5, "n": 2}}
    low, high = row["ci95"]
    assert 0 <= low <= 0.5 <= high <= 1
    assert score_pairs(rows, "rm", seed=0)["models"][0]["ci95"] == row["ci95"]  # seeded


def test_reply_length_counts_every_assistant_turn_and_clusters_by_prompt():
    chat = (Message(role="user", content="abc"), Message(role="assistant", content="12"),
            Message(role="user", content="d"), Message(role="assistant", content="345"))
    assert reply_length(chat) == 5
    assert prompt_cluster("7|a|b") == "7" and prompt_cluster("12") == "12"


def test_tracks_get_their_own_rows():
    rows = [pair_record("helpful", _pair("1", "a", "b"), 1.0, 0.0),
            pair_record("harmless", _pair("1", "a", "b"), 0.0, 1.0)]
    scores = score_pairs(rows, "rm", skipped={"helpful": {"tie": 3}})
    assert [(r["track"], r["accuracy"], r["skipped"]) for r in scores["models"]] == [
        ("helpful", 1.0, {"tie": 3}), ("harmless", 0.0, {})]
    assert [i["key"] for i in scores["items"]] == ["helpful|1", "harmless|1"]
    assert pytest.approx(sum(i["value"] for i in scores["items"])) == 1.0
