"""Scores equal FastChat's show_result.py on the same judgments; failures are counted, not hidden."""

import json
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
    assert [m["model"] for m in ours["models"]] == list(table.sort_values("win_rate_adjusted", ascending=False).index)


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
