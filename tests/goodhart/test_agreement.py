"""Judge–human agreement: Zheng et al. 2023 Table 5 on the real votes, FastChat's own function as the
reference on random votes, and small hand-computed cases for each rule."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from starling_eval.data import DataError
from starling_eval.goodhart.agreement import (
    Vote,
    agreement,
    agreement_table,
    cohen_kappa,
    human_agreement,
    read_votes,
    winner_spellings,
)

# Zheng et al. 2023, Table 5 (MT-Bench): (turn, setup) -> (agreement in %, number of compared votes)
GPT4_VS_HUMAN = {(1, "S1"): (65.97, 1343), (1, "S2"): (84.63, 859), (2, "S1"): (65.74, 1325), (2, "S2"): (84.61, 864)}
HUMAN_VS_HUMAN = {(1, "S1"): (62.97, 721), (1, "S2"): (81.00, 479), (2, "S1"): (66.62, 707), (2, "S2"): (81.86, 474)}


@pytest.fixture(scope="module")
def mt_bench_votes(data_dir: Path) -> tuple[list[Vote], list[Vote]]:
    folder = data_dir / "mt_bench_human"
    return read_votes(folder / "gpt4_pair.jsonl"), read_votes(folder / "human.jsonl")


def v(winner: str, judge: str = "expert_1", qid: int = 1, turn: int = 1, a: str = "m1", b: str = "m2") -> Vote:
    return Vote(qid, turn, a, b, winner, judge)  # type: ignore[arg-type]


def test_table5_is_reproduced(mt_bench_votes):
    gpt4, human = mt_bench_votes
    assert len(human) == 3355
    rows = agreement_table(gpt4, human, judge_name="gpt4_pair")
    got = {(r["judge"], r["turn"], r["setup"]): (round(100 * r["agreement"], 2), r["n"]) for r in rows}
    assert got == {**{("gpt4_pair", *k): x for k, x in GPT4_VS_HUMAN.items()},
                   **{("human", *k): x for k, x in HUMAN_VS_HUMAN.items()}}
    assert [(r["judge"], r["turn"], r["setup"]) for r in rows][:4] == [
        ("gpt4_pair", 1, "S1"), ("gpt4_pair", 1, "S2"), ("gpt4_pair", 2, "S1"), ("gpt4_pair", 2, "S2")]
    for r in rows:
        assert r["ci_low"] < r["agreement"] < r["ci_high"]
        assert 0.3 < r["kappa"] < r["agreement"]
        assert r["n_questions"] >= 77
    assert rows[0]["n_judge_votes"] == 910 and rows[0]["n_matched_keys"] == 821
    assert winner_spellings(gpt4)["tie (inconsistent)"] == 290


def test_authors_included_match_the_published_recomputation(mt_bench_votes):
    """SOURCES.md: with the authors, 3,355 votes against GPT-4 agree 66.17%, and 2,367 pairs of votes by
    different judges agree 65.53% (author_v18's double vote on one key is not paired with itself)."""
    gpt4, human = mt_bench_votes
    judge = [agreement(gpt4, human, judge="g", turn=t, setup="S1", experts_only=False) for t in (1, 2)]
    assert sum(r["n"] for r in judge) == 3355
    assert round(100 * sum(r["n_agree"] for r in judge) / 3355, 2) == 66.17
    humans = [human_agreement(human, turn=t, setup="S1", experts_only=False) for t in (1, 2)]
    assert sum(r["n"] for r in humans) == 2367
    assert round(100 * sum(r["n_agree"] for r in humans) / 2367, 2) == 65.53


def _fastchat(judge_rows: list[dict], human_rows: list[dict], turn: int, ban: list[str]) -> tuple[tuple, tuple]:
    from fastchat.llm_judge import compute_agreement as ca

    gpt4 = [{**r, "judge": ["gpt-4", "pair-v2"]} for r in judge_rows]  # FastChat's name for a GPT-4 pair judge
    data = ca.get_mt_bench_votes_data([gpt4, human_rows])[turn - 1]
    return (ca.get_mt_bench_agreement(data, "gpt4-pair", "human", ban),
            ca.get_mt_bench_agreement(data, "human", "human", ban))


def test_random_votes_agree_with_fastchats_function(tmp_path):
    rng = random.Random(7)
    models = ["gpt-4", "claude-v1", "llama-13b", "alpaca-13b"]
    judge_rows, human_rows = [], []
    for qid in range(1, 13):
        for turn in (1, 2):
            for i, a in enumerate(models):
                for b in models[i + 1:]:
                    pair = [a, b] if rng.random() < 0.5 else [b, a]
                    winners = ["model_a", "model_b", "tie", "tie (inconsistent)"]
                    judge_rows.append({"question_id": qid, "model_a": pair[0], "model_b": pair[1], "turn": turn,
                                       "winner": rng.choice(winners), "judge": "some_new_judge"})
                    for who in rng.sample(["expert_a", "expert_b", "expert_c", "author_x"], rng.randint(0, 4)):
                        pair = [a, b] if rng.random() < 0.5 else [b, a]
                        human_rows.append({"question_id": qid, "model_a": pair[0], "model_b": pair[1],
                                           "turn": turn, "winner": rng.choice(winners[:3]), "judge": who})
    for name, rows in (("judge.jsonl", judge_rows), ("human.jsonl", human_rows)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge, human = read_votes(tmp_path / "judge.jsonl"), read_votes(tmp_path / "human.jsonl")
    for turn in (1, 2):
        for setup, ban in (("S1", []), ("S2", ["tie"])):
            want_judge, want_human = _fastchat(judge_rows, human_rows, turn, ban)
            got = agreement(judge, human, judge="new", turn=turn, setup=setup)
            assert (got["n_agree"], got["n"]) == want_judge
            got = human_agreement(human, turn=turn, setup=setup)
            assert (got["n_agree"], got["n"]) == want_human


def test_hand_computed_agreement_and_s2_dropping():
    judge = [v("model_a", "j", qid=1), v("tie", "j", qid=2), v("model_b", "j", qid=3)]
    human = [
        v("model_a", "expert_1", qid=1), v("model_b", "expert_2", qid=1), v("tie", "expert_3", qid=1),  # 1 of 3
        v("tie", "expert_1", qid=2), v("model_a", "expert_2", qid=2),  # tie == tie: 1 of 2
        v("model_b", "expert_1", qid=3),  # 1 of 1
    ]
    s1 = agreement(judge, human, judge="j", turn=1, setup="S1")
    assert (s1["n_agree"], s1["n"], s1["n_questions"]) == (3, 6, 3)
    assert s1["agreement"] == pytest.approx(0.5)
    s2 = agreement(judge, human, judge="j", turn=1, setup="S2")  # q2 gone (judge tie), q1's human tie gone
    assert (s2["n_agree"], s2["n"], s2["n_questions"]) == (2, 3, 2)
    hh = human_agreement(human, turn=1, setup="S1")  # q1: 3 pairs none agree; q2: 1 pair disagrees
    assert (hh["n_agree"], hh["n"], hh["n_matched_keys"]) == (0, 4, 2)
    assert human_agreement(human, turn=1, setup="S2")["n"] == 1  # q1's model_a vs model_b only


def test_swapped_pair_still_agrees_and_unvoted_keys_are_not_compared():
    human = [v("model_a", a="claude-v1", b="gpt-4")]  # claude-v1 wins
    judge = [
        v("model_b", "j", a="gpt-4", b="claude-v1"),  # claude-v1 wins, shown the other way round
        v("model_a", "j", a="gpt-4", b="llama-13b"),  # nobody voted on this pair
        v("model_a", "j", turn=2, a="claude-v1", b="gpt-4"),  # nor on this turn
    ]
    row = agreement(judge, human, judge="j", turn=1, setup="S1")
    assert (row["agreement"], row["n"], row["n_judge_votes"], row["n_matched_keys"]) == (1.0, 1, 2, 1)
    swapped = agreement([v("model_a", "j", a="gpt-4", b="claude-v1")], human, judge="j", turn=1, setup="S1")
    assert swapped["agreement"] == 0.0


def test_kappa_hand_checked():
    assert cohen_kappa([("model_a", "model_a"), ("model_b", "model_b"), ("tie", "tie")]) == 1.0
    # p_o = 0.5; marginals a: 2/4 each side, b: 2/4 each side -> p_e = 0.5 -> kappa 0
    assert cohen_kappa([("model_a", "model_a"), ("model_a", "model_b"), ("model_b", "model_a"),
                        ("model_b", "model_b")]) == 0.0
    # p_o = 0.8; first rater (a 3, b 2), second (a 2, b 3) -> p_e = 12/25 -> (0.8 - 0.48) / 0.52
    pairs = [("model_a", "model_a"), ("model_a", "model_a"), ("model_a", "model_b"), ("model_b", "model_b"),
             ("model_b", "model_b")]
    assert cohen_kappa(pairs) == pytest.approx(0.32 / 0.52)
    # symmetric: pooled marginals a 5/10, b 5/10 -> p_e = 0.5 -> (0.8 - 0.5) / 0.5
    assert cohen_kappa(pairs, symmetric=True) == pytest.approx(0.6)
    assert cohen_kappa([]) is None and cohen_kappa([("tie", "tie")]) is None  # undefined, not 0 or 1
    judge = [v("model_a", "j", qid=1), v("model_b", "j", qid=2)]
    human = [v("model_a", qid=1), v("model_b", qid=2)]
    row = agreement(judge, human, judge="j", turn=1, setup="S1")
    assert row["kappa"] == 1.0 and row["agreement"] == 1.0


def test_experts_only_filters_authors():
    judge = [v("model_a", "j")]
    human = [v("model_a", "expert_1"), v("model_b", "author_1"), v("model_b", "author_1")]
    assert agreement(judge, human, judge="j", turn=1, setup="S1")["n"] == 1
    both = agreement(judge, human, judge="j", turn=1, setup="S1", experts_only=False)
    assert (both["n_agree"], both["n"]) == (1, 3)
    assert human_agreement(human, turn=1, setup="S1")["n"] == 0
    # the author's double vote is not a pair of two humans: expert/author twice
    assert human_agreement(human, turn=1, setup="S1", experts_only=False)["n"] == 2


def test_bootstrap_interval_is_seeded_by_question():
    judge = [v("model_a", "j", qid=q) for q in range(20)]
    human = [v("model_a" if q % 3 else "model_b", f"expert_{k}", qid=q) for q in range(20) for k in range(2)]
    row = agreement(judge, human, judge="j", turn=1, setup="S1", seed=1)
    assert row == agreement(judge, human, judge="j", turn=1, setup="S1", seed=1)
    assert row["ci_low"] < row["agreement"] < row["ci_high"]
    single = agreement(judge[:1], human, judge="j", turn=1, setup="S1")
    assert single["n_questions"] == 1 and single["ci_low"] is None  # one cluster: no interval


def test_two_votes_by_the_judge_on_one_key_is_an_error():
    with pytest.raises(ValueError, match="more than one vote on question 1"):
        agreement([v("model_a", "j"), v("model_b", "j", a="m2", b="m1")], [v("tie")], judge="j", turn=1, setup="S1")
    with pytest.raises(ValueError, match="setup"):
        agreement([], [], judge="j", turn=1, setup="S3")  # type: ignore[arg-type]


def test_read_votes_normalises_ties_and_names_a_bad_line(tmp_path):
    good = {"question_id": 81, "model_a": "a", "model_b": "b", "winner": "tie (inconsistent)", "judge": "g", "turn": 1}
    path = tmp_path / "votes.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "winner": "model_a"}) + "\n")
    votes = read_votes(path)
    assert [(x.winner, x.raw_winner) for x in votes] == [("tie", "tie (inconsistent)"), ("model_a", None)]
    assert winner_spellings(votes) == {"tie (inconsistent)": 1, "model_a": 1}
    for bad, why in (("{not json", "not valid JSON"), (json.dumps({**good, "winner": "model_c"}), "winner"),
                     (json.dumps({k: x for k, x in good.items() if k != "turn"}), "missing turn"),
                     (json.dumps({**good, "question_id": "81"}), "question_id")):
        path.write_text(json.dumps(good) + "\n" + bad + "\n")
        with pytest.raises(DataError, match=f"votes.jsonl line 2: .*{why}") as err:
            read_votes(path)
        assert "\n" not in str(err.value)
