"""`run <benchmark> --reward-model ...` end to end on the real data with tiny RMs built here: the stored
accuracy is what the RM's own rewards imply, rewards are cached per conversation, and the RewardBench-style
file gathers a model's sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_eval.adapters.preference.benchmark import reply_length
from starling_eval.adapters.preference.hh import hh_pairs
from starling_eval.backends.reward import HFRewardModel
from starling_eval.spec import RewardSpec
from starling_eval.testing.tiny_model import build_tiny_llama, build_tiny_reward_classifier, build_tiny_starling_rm
from tests.conftest import cli_env, run_cli


@pytest.fixture(scope="module")
def rms(tmp_path_factory):
    root = tmp_path_factory.mktemp("rms")
    backbone = build_tiny_llama(root / "backbone")
    return {"cls": build_tiny_reward_classifier(root / "cls"), "backbone": backbone,
            "starling": build_tiny_starling_rm(root / "starling", backbone)}


def _run(results: Path, data_dir: Path, *args: str):
    res = run_cli("--results", str(results), "run", *args, "--dtype", "float32", "--device", "cpu", "--json",
                  env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


def test_hh_accuracy_is_what_the_rms_own_rewards_imply_and_reruns_compute_nothing(tmp_path, data_dir, rms):
    out = _run(tmp_path, data_dir, "hh", "--reward-model", str(rms["cls"]), "--limit", "40")
    row = out["models"][0]
    assert (row["track"], row["n"]) == ("hh", 40) and out["counts"]["rewards_computed"] == 80
    pairs = hh_pairs(data_dir / "hh_rlhf" / "harmless-base" / "test.jsonl.gz").pairs[:40]
    rm = HFRewardModel(RewardSpec(name_or_path=str(rms["cls"]), dtype="float32", device="cpu", batch_size=1))
    chosen, rejected = rm.reward([p.chosen for p in pairs]), rm.reward([p.rejected for p in pairs])
    expected = sum(c > r for c, r in zip(chosen, rejected, strict=True)) / 40
    assert row["accuracy"] == pytest.approx(expected)
    assert row["length_baseline"] == sum(reply_length(p.chosen) > reply_length(p.rejected) for p in pairs) / 40
    records = [json.loads(line) for line in (Path(out["path"]) / "records.jsonl").read_text().splitlines()]
    assert [r["chosen_reward"] for r in records] == pytest.approx(chosen, abs=1e-5)
    manifest = json.loads((Path(out["path"]) / "manifest.json").read_text())
    assert manifest["reward_model"]["truncation_side"] == "left" and manifest["reward_model"]["padding_side"] == "right"
    assert manifest["data_files"] == {"hh_rlhf/harmless-base/test.jsonl.gz": manifest["data_files"][
        "hh_rlhf/harmless-base/test.jsonl.gz"]}
    shown = run_cli("--results", str(tmp_path), "show", out["run_id"], env=cli_env(data_dir))
    assert shown.returncode == 0 and "reward model" in shown.stdout and "truncation left" in shown.stdout
    # a re-run reads every reward from the cache; a longer run computes only the new pairs' rewards
    again = _run(tmp_path, data_dir, "hh", "--reward-model", str(rms["cls"]), "--limit", "40", "--batch-size", "3")
    assert again["counts"]["rewards_computed"] == 0 and again["models"] == out["models"]
    more = _run(tmp_path, data_dir, "hh", "--reward-model", str(rms["cls"]), "--limit", "50")
    assert more["counts"]["rewards_computed"] == 20 and more["counts"]["rewards_from_cache"] == 80


def test_safe_rlhf_two_tracks_with_the_starling_layout_and_a_rewardbench_file(tmp_path, data_dir, rms):
    starling = ("--reward-model", str(rms["starling"]), "--rm-kind", "value-head", "--rm-backbone",
                str(rms["backbone"]), "--rm-format", "starling-rm-7b", "--model-name", "tiny-starling-rm")
    file = tmp_path / "rewardbench.json"
    out = _run(tmp_path, data_dir, "safe-rlhf", *starling, "--limit", "30", "--rewardbench-json", str(file))
    assert [(r["track"], r["n"]) for r in out["models"]] == [("helpful", 30), ("harmless", 30)]
    _run(tmp_path, data_dir, "truthfulqa", *starling, "--limit", "12", "--rewardbench-json", str(file))
    results = json.loads(file.read_text())
    assert list(results) == sorted(results)
    assert results["model"] == "tiny-starling-rm" and results["chat_template"] == "starling-rm-7b"
    assert results["pku_better"] == out["models"][0]["accuracy"] and results["pku_safer"] == out["models"][1]["accuracy"]
    assert 0 <= results["truthfulqa"] <= 1


def test_reward_model_runs_refuse_what_they_cannot_do(tmp_path, data_dir, rms):
    def run(*args: str):
        return run_cli("--results", str(tmp_path), "run", *args, env=cli_env(data_dir))

    res = run("hh", "--model", "m")
    assert res.returncode == 2 and "hh scores reward models on preference pairs: give --reward-model" in res.stderr
    res = run("mtbench", "--rm-kind", "value-head", "--model", "m")
    assert res.returncode == 2 and "--rm-kind: mtbench does not use it" in res.stderr
    res = run("nectar", "--reward-model", str(rms["cls"]))
    assert res.returncode == 2 and "nectar: no data in" in res.stderr and "data pull" in res.stderr
    res = run("mmlu", "--reward-model", str(rms["cls"]))
    assert res.returncode == 2 and "unknown reward-model benchmark 'mmlu'" in res.stderr
    res = run("hh", "--reward-model", str(rms["cls"]), "--rm-head-file", str(rms["cls"] / "config.json"))
    assert res.returncode == 2 and "--rm-head-file: --rm-kind seq-cls does not use it" in res.stderr
    res = run("hh", "--reward-model", str(rms["cls"]), "--judge-model", "gpt-4")
    assert res.returncode == 2 and "--judge-model: hh does not use it" in res.stderr
