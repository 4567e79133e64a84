"""The RewardBench results file (``--rewardbench-json``): v1 runs add the leaderboard's columns beside the
subset keys, v2 runs are scored from their records, and the two versions never share a file."""

from __future__ import annotations

import json

import pytest

from starling_eval.data import DataError
from starling_eval.report.rewardbench import rewardbench_results, update_results_file

MANIFEST = {"reward_model": {"format": "tokenizer"},
            "spec": {"reward_model": {"display_name": "rm", "name_or_path": "/models/rm"}}}


def _scores(benchmark: str, accuracy: dict[str, float]) -> dict:
    return {"benchmark": benchmark, "models": [{"track": t, "accuracy": a} for t, a in accuracy.items()]}


def test_v1_writes_subsets_sections_and_score_beside_what_the_file_holds():
    existing = {"model": "rm", "pku_safer": 0.5}
    out = rewardbench_results(MANIFEST, _scores("rewardbench", {"alpacaeval-easy": 0.75, "shp": 0.25}), existing)
    assert out == {"model": "rm", "model_type": "Seq. Classifier", "chat_template": "tokenizer", "pku_safer": 0.5,
                   "alpacaeval-easy": 0.75, "shp": 0.25, "Chat": 0.75, "Prior Sets (0.5 weight)": 0.25,
                   "Score": pytest.approx((2 * 0.75 + 0.25) / 3)}
    assert list(out) == sorted(out)
    hh = rewardbench_results(MANIFEST, _scores("hh", {"hh": 0.5}))  # other sets: accuracies only, as before
    assert hh["anthropic_harmless"] == 0.5 and "Score" not in hh


def test_v2_is_scored_from_the_records_not_the_pairwise_accuracies():
    records = [{"track": "Math", "id": f"0|0|{k}|1/4", "chosen_reward": 1.0, "rejected_reward": r}
               for k, r in ((1, 0.0), (2, 1.0), (3, 0.5))]  # chosen tied with one rejected on top: 1/2
    scores = _scores("rewardbench-2", {"Math": 1 / 3})
    assert rewardbench_results(MANIFEST, scores, records=records)["Math"] == 0.5
    with pytest.raises(DataError, match="computed from the run's records"):
        rewardbench_results(MANIFEST, scores)


def test_the_two_versions_keep_to_their_own_files(tmp_path):
    records = [{"track": "Focus", "id": "0|0|1|1/2", "chosen_reward": 1.0, "rejected_reward": 0.0}]
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    v2_file, v1_file = tmp_path / "v2.json", tmp_path / "v1.json"
    update_results_file(v2_file, MANIFEST, _scores("rewardbench-2", {"Focus": 1.0}), run)
    update_results_file(v2_file, MANIFEST, _scores("rewardbench-2", {"Focus": 1.0}), run)  # the same run again
    assert json.loads(v2_file.read_text()) == {"model": "rm", "model_type": "Seq. Classifier",
                                               "chat_template": "tokenizer", "Focus": 1.0, "Score": 1.0}
    with pytest.raises(DataError, match="holds RewardBench 2 results"):
        update_results_file(v2_file, MANIFEST, _scores("rewardbench", {"donotanswer": 1.0}), run)
    with pytest.raises(DataError, match="holds RewardBench 2 results"):
        update_results_file(v2_file, MANIFEST, _scores("hh", {"hh": 1.0}), run)
    update_results_file(v1_file, MANIFEST, _scores("rewardbench", {"donotanswer": 1.0}), run)
    with pytest.raises(DataError, match=r"holds results of other sets \(donotanswer\)"):
        update_results_file(v1_file, MANIFEST, _scores("rewardbench-2", {"Focus": 1.0}), run)
