"""Scores equal FastChat's show_result.py on the same judgments; failures are counted, not hidden."""

import json
import math
import random

import pytest

from starling_eval.adapters.mtbench.benchmark import MTBench
from starling_eval.data import DataDir
from tests.conftest import cli_env, run_cli
from tests.fastchat_reference import fastchat_tables

GOLDEN = "mt_bench/model_judgment/gpt-4_single.5models_scores_only.reconstructed.jsonl"
# FastChat README (MT-Bench leaderboard, 2023-06) and LMSYS blog 2023-06-22 Table 2, as printed
PUBLISHED = {
    "gpt-4": ("8.956250", "9.025000", "8.990625"),
    "gpt-3.5-turbo": ("8.075000", "7.812500", "7.943750"),
    "claude-v1": ("8.150000", "7.650000", "7.900000"),
    "alpaca-13b": ("4.975000", "4.087500", "4.531250"),
    "llama-13b": ("3.262500", "1.950000", "2.606250"),
}


def test_rescoring_published_judgments_gives_the_leaderboard_to_every_digit(data_dir):
    res = run_cli("score", "mtbench", "--judgments", str(data_dir / GOLDEN), "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["model"] for r in rows] == list(PUBLISHED)  # FastChat's order: by overall, descending
    for row in rows:
        assert tuple(f"{row[k]:.6f}" for k in ("turn1", "turn2", "overall")) == PUBLISHED[row["model"]]
        assert row["n_valid"] == 160 and row["n_failed"] == 0
        assert row["ci95"]["overall"][0] < row["overall"] < row["ci95"]["overall"][1]
    assert rows[0]["categories"]["math"] == pytest.approx(6.8)


def test_single_with_failures_matches_fastchat_and_counts_them(tmp_path, data_dir):
    rows = [json.loads(line) for line in open(data_dir / GOLDEN)]
    rng = random.Random(5)
    for row in rng.sample(rows, 40):
        row["score"] = -1  # what FastChat writes when a verdict does not parse
    path = tmp_path / "gpt-4_single.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    turn1, turn2, overall = fastchat_tables("display_result_single", input_file=str(path))
    ours = MTBench().score_judgment_files([path], DataDir(data_dir), baseline=None)
    assert ours["n_failed"] == 40 == sum(m["n_failed"] for m in ours["models"])
    for m in ours["models"]:
        assert m["overall"] == pytest.approx(overall.loc[m["model"], "score"], abs=1e-12)
        assert m["turn1"] == pytest.approx(turn1.loc[(m["model"], 1), "score"], abs=1e-12)
        assert m["turn2"] == pytest.approx(turn2.loc[(m["model"], 2), "score"], abs=1e-12)
    assert [m["model"] for m in ours["models"]] == list(overall.sort_values("score", ascending=False).index)


def _pair_file(tmp_path, models, baseline=None, seed=0):
    rng = random.Random(seed)
    vocab = ["model_1", "model_2", "tie", "error"]
    rows = []
    pairs = [(m, baseline) for m in models] if baseline else [(a, b) for i, a in enumerate(models) for b in models[i + 1:]]
    for m1, m2 in pairs:
        for qid in range(81, 161):
            for turn in (1, 2):
                g1 = rng.choices(vocab, weights=[4, 4, 2, 1])[0]
                g2 = g1 if rng.random() < 0.6 else rng.choices(vocab, weights=[4, 4, 2, 1])[0]
                rows.append({"question_id": qid, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
                             "judge": ["gpt-4", "pair-v2"], "turn": turn})
    path = tmp_path / f"pair-{seed}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("baseline", ["gpt-3.5-turbo", None])
def test_pairwise_matchesfastchat_tables(tmp_path, baseline):
    path = _pair_file(tmp_path, ["alpaca-13b", "vicuna-13b-v1.3", "llama-13b"], baseline)
    (table,) = fastchat_tables("display_result_pairwise", input_file=str(path), baseline_model=baseline)
    ours = MTBench().score_judgment_files([path], None, baseline=baseline)
    assert ours["mode"] == ("pairwise-baseline" if baseline else "pairwise-all")
    assert {m["model"] for m in ours["models"]} == set(table.index)
    for m in ours["models"]:
        for col in ("win", "loss", "tie"):
            assert m[col] == table.loc[m["model"], col]
        for col in ("win_rate", "loss_rate", "win_rate_adjusted"):
            assert m[col] == pytest.approx(table.loc[m["model"], col], abs=1e-12)
        assert m["n_failed"] > 0 and 0 < m["position_consistency"] < 1
        assert m["win_rate_style_controlled"] is None  # FastChat's files carry no answers
    assert "record no answer style" in ours["style_unavailable"] and ours["style_control"] is None
    assert [m["model"] for m in ours["models"]] == list(table.sort_values("win_rate_adjusted", ascending=False).index)


def _styled_rows(judge, n_questions=60, seed=0):
    """Both games of every (question, turn) of model "m" against "base"; m's answers are sometimes longer and
    sometimes shorter; ``judge(len_shown_first, len_shown_second)`` gives the verdict in the positions shown."""
    rng = random.Random(seed)
    rows = []
    for qid in range(n_questions):
        for turn in (1, 2):
            tokens = {1: rng.randint(50, 1500), 2: rng.randint(50, 700)}
            for game, (first, second) in ((1, (1, 2)), (2, (2, 1))):
                rows.append({"kind": "pair", "question_id": qid, "turn": turn, "model_1": "m", "model_2": "base",
                             "game": game, "verdict": judge(tokens[first], tokens[second]), "failure": None,
                             **{f"style_{i}": {"token_len": tokens[i], "header_count": 0, "list_count": i % 2 * (qid % 3),
                                               "bold_count": 0} for i in (1, 2)}})
    return rows


def test_pairwise_style_control_discounts_a_length_loving_judge():
    from starling_eval.adapters.mtbench.score import pair_matches, score_pairwise

    rng = random.Random(0)

    def length_loving(a, b):  # the longer answer wins, the more surely the larger the difference
        return "A" if rng.random() < 1 / (1 + math.exp(-5 * (a - b) / (a + b))) else "B"

    longer_wins = score_pairwise(pair_matches(_styled_rows(length_loving)), "base")
    (row,) = longer_wins["models"]
    assert row["win_rate_adjusted"] > 0.65 and row["style_control"]["raw"] == pytest.approx(row["win_rate_adjusted"])
    low, high = row["ci95"]["win_rate_style_controlled"]
    assert low < 0.5 < high and high < row["win_rate_adjusted"] and row["style_control"]["gap_ci95"][0] > 0.1
    assert longer_wins["style_control"]["coefficients"]["length"] > 1 and longer_wins["style_unavailable"] is None
    coin = random.Random(3)  # a judge that flips a coin: the gap's interval covers 0 (as on 95% of draws)
    neutral = score_pairwise(pair_matches(_styled_rows(lambda a, b: coin.choice("AB"), seed=3)), "base")
    (row,) = neutral["models"]
    low, high = row["style_control"]["gap_ci95"]
    assert low < 0 < high


def test_baseline_is_found_when_every_match_has_it(tmp_path):
    path = _pair_file(tmp_path, ["a", "b"], "base")
    assert MTBench().score_judgment_files([path], None, baseline=None)["baseline"] == "base"


def test_bad_judgment_file_is_exit_2_naming_the_line(tmp_path, data_dir):
    bad = tmp_path / "j.jsonl"
    bad.write_text('{"question_id": 81, "model": "m", "score": 5, "turn": 1}\n{"question_id": 82, "model": "m"}\n')
    res = run_cli("score", "mtbench", "--judgments", str(bad), env=cli_env(data_dir))
    assert res.returncode == 2 and "j.jsonl line 2: missing score, turn" in res.stderr
    res = run_cli("score", "mtbench", "--judgments", str(tmp_path / "nope.jsonl"), env=cli_env(data_dir))
    assert res.returncode == 2 and "nope.jsonl: no such file" in res.stderr
