"""AlpacaEval: published annotations re-score to the published leaderboards; LC is alpaca_eval's own GLM,
keyed on instruction text; generation writes alpaca_eval's model_outputs.json."""

from __future__ import annotations

import json
import math
import random
import shutil

import pandas as pd
import pytest

from starling_eval.adapters.alpacaeval.score import (
    LC_FILES,
    REFERENCE_OUTPUTS,
    length_controlled,
    read_annotations,
)
from starling_eval.data import DataDir, DataError
from tests.conftest import cli_env, run_cli

VERSIONS = {
    2: ("weighted_alpaca_eval_gpt4_turbo", "data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv", 18),
    1: ("alpaca_eval_gpt4", "data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv", 12),
}


@pytest.mark.parametrize("version", [2, 1])
def test_published_annotations_rescore_to_the_leaderboard(data_dir, version):
    annotator, board_file, n_models = VERSIONS[version]
    files = sorted((data_dir / "alpaca_eval" / "results").glob(f"*/{annotator}/annotations.json"))
    assert len(files) == n_models
    args = [a for f in files for a in ("--annotations", str(f))]
    res = run_cli("score", "alpacaeval", *args, "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    board = pd.read_csv(data_dir / "alpaca_eval" / "leaderboards" / board_file, index_col=0)
    assert len(rows) == n_models
    for row in rows:
        published = board.loc[row["model"]]
        for key in ("win_rate", "standard_error", "discrete_win_rate"):
            assert row[key] == pytest.approx(published[key], abs=1e-4), (row["model"], key)
        for key in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
            assert row[key] == published[key], (row["model"], key)
        assert row["n_failed"] == 805 - row["n_total"]  # alpaca_eval drops unparsed annotations; we count them
        # the LC inputs are not in the shared data: said, not guessed
        assert row["length_controlled_winrate"] is None and "starling-eval data pull alpaca_eval/df_gamed.csv" in row["lc_unavailable"]
    assert "length-controlled win rate unavailable" in res.stderr
    assert [r["win_rate"] for r in rows] == sorted((r["win_rate"] for r in rows), reverse=True)
    # style control from the annotations' own outputs: every row has it; terse answers gain, verbose ones lose
    by_model = {r["model"]: r for r in rows}
    for row in rows:
        low, high = row["style_controlled_ci"]
        assert low <= row["style_controlled_winrate"] <= high and row["style_unavailable"] is None
        assert row["style_control"]["raw"] * 100 == pytest.approx(row["win_rate"], abs=1e-9)
    if version == 2:
        short, long = by_model["gpt-3.5-turbo-1106"], by_model["FuseChat-Llama-3.1-8B-Instruct"]
        assert short["style_controlled_ci"][0] > short["win_rate"] + 10 and short["style_coefficients"]["length"] > 0
        assert long["style_controlled_winrate"] < long["win_rate"] - 3


def _lc_data(tmp_path, data_dir):
    """A data folder with the reference outputs and LC input files written by the test (same columns as upstream's)."""
    root = tmp_path / "data"
    (root / REFERENCE_OUTPUTS).parent.mkdir(parents=True)
    shutil.copy(data_dir / REFERENCE_OUTPUTS, root / REFERENCE_OUTPUTS)
    rng = random.Random(0)
    difficulty = [rng.gauss(0, 1) for _ in range(805)]
    rows = []
    for model in ("gpt4_1106_preview_verbose", "gpt4_1106_preview_concise"):
        for i in range(805):
            delta = rng.gauss(0, 1)
            p = 1 / (1 + math.exp(-(0.8 * math.tanh(delta) + difficulty[i] - 0.3)))
            rows.append({"index": i, "model": model, "preference": p, "std_delta_len": delta,
                         "instruction_difficulty": difficulty[i], "not_gamed_baseline": False})
    pd.DataFrame(rows).to_csv(root / LC_FILES["df_gamed.csv"], index=False)
    pd.Series(difficulty, name="instruction_difficulty").to_csv(root / LC_FILES["instruction_difficulty.csv"])
    return DataDir(root, verify=False)


def _upstream_lc(annotations, data, monkeypatch):
    from alpaca_eval.metrics import glm_winrate

    local = {name: str(data.path(rel)) for name, rel in LC_FILES.items()}
    monkeypatch.setattr(glm_winrate, "hf_hub_download", lambda **kw: local[kw["filename"]])
    return glm_winrate.get_length_controlled_winrate(pd.DataFrame(annotations), save_weights_dir=None,
                                                     is_warn_extreme_changes=False)


def test_length_controlled_is_alpaca_evals_own_and_keyed_on_instructions(tmp_path, data_dir, monkeypatch):
    data = _lc_data(tmp_path, data_dir)
    annotations = read_annotations(data_dir / "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json")
    ours = length_controlled(annotations, data)
    upstream = _upstream_lc(annotations, data, monkeypatch)  # canonical order: upstream aligns rows by position
    assert ours["length_controlled_winrate"] == pytest.approx(upstream["length_controlled_winrate"], abs=1e-12)
    assert ours["lc_standard_error"] == pytest.approx(upstream["lc_standard_error"], abs=1e-12)
    assert 0 < ours["length_controlled_winrate"] < 100
    # reordered rows: upstream would featurize by position; ours keys on the instruction and is unchanged
    shuffled = annotations[:]
    random.Random(1).shuffle(shuffled)
    assert length_controlled(shuffled, data)["length_controlled_winrate"] == pytest.approx(
        ours["length_controlled_winrate"], abs=1e-9)


def test_lc_appears_in_the_score_command_when_its_files_are_there(tmp_path, data_dir):
    data = _lc_data(tmp_path, data_dir)
    path = data_dir / "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json"
    res = run_cli("score", "alpacaeval", "--annotations", str(path), "--data-dir", str(data.root), "--json",
                  env=cli_env(None, STARLING_EVAL_NO_VERIFY="1"))
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(res.stdout)
    assert row["model"] == "claude-2" and row["lc_unavailable"] is None and row["length_controlled_winrate"] > 0


def test_bad_annotations_are_exit_2_naming_the_row(tmp_path, data_dir):
    bad = tmp_path / "annotations.json"
    bad.write_text(json.dumps([{"instruction": "x", "output_1": "a", "output_2": "b", "generator_2": "m",
                                "preference": 2}, {"instruction": "y"}]))
    res = run_cli("score", "alpacaeval", "--annotations", str(bad), env=cli_env(data_dir))
    assert res.returncode == 2 and "annotations.json row 1: missing output_1" in res.stderr
    with pytest.raises(DataError, match="not valid JSON"):
        (tmp_path / "broken.json").write_text("[{")
        read_annotations(tmp_path / "broken.json")


def test_generate_writes_alpaca_evals_model_outputs(tmp_path, data_dir, tiny_model):
    res = run_cli("--results", str(tmp_path), "generate", "alpacaeval", "--model", str(tiny_model), "--limit", "3",
                  "--max-new-tokens", "8", "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    outputs = json.loads((tmp_path / "runs" / out["run_id"] / "model_outputs.json").read_text())
    reference = json.loads((data_dir / REFERENCE_OUTPUTS).read_text())
    assert [o["instruction"] for o in outputs] == [r["instruction"] for r in reference[:3]]
    assert all(o["generator"] == tiny_model.name and o["dataset"] for o in outputs)
