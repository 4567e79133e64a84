"""report.items: per-item values read back from hand-built run folders in the shapes the pipeline writes
(judgment rows as JudgeOutcome.row() writes them, records and scores from the real scoring functions).

The builders here are shared with tests/test_gate.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from starling_eval.adapters.mtbench import score as mtbench_score
from starling_eval.adapters.multiple_choice.benchmark import MMLU, TruthfulQA, records_from_samples
from starling_eval.adapters.preference.benchmark import pair_record, score_pairs
from starling_eval.adapters.preference.pairs import Pair
from starling_eval.adapters.safe_rlhf import score_safety
from starling_eval.report.items import ItemError, item_values, read_items
from starling_eval.spec import JudgeSpec, Message, ModelSpec, RewardSpec, RunSpec

MTBENCH_FILES = {"mt_bench/question.jsonl": "a" * 64, "mt_bench/judge_prompts.jsonl": "b" * 64,
                 "mt_bench/reference_answer/gpt-4.jsonl": "c" * 64}


def write_run(results: Path, run_id: str, spec: RunSpec, data_files: dict[str, str], scores: dict[str, Any] | None,
              *, judgments: list[dict] | None = None, records: list[dict] | None = None) -> Path:
    """A finished run folder as the pipeline leaves it: manifest.json, scores.json, judgments/records."""
    path = results / "runs" / run_id
    path.mkdir(parents=True)
    manifest = {"schema_version": 1, "run_id": run_id, "spec_hash": spec.spec_hash(), "created": "2025-01-01T00:00:00+0000",
                "status": "complete" if scores is not None else "running", "kind": "run",
                "spec": spec.model_dump(mode="json"), "data_files": data_files, "n_samples": 0,
                "finished": "2025-01-01T01:00:00+0000", "summary": {"model": spec.label}}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if scores is not None:
        judge = {"judge": spec.judge.model_dump(mode="json", exclude={"api_key_env"})} if spec.judge else {}
        doc = {"schema_version": 1, "run_id": run_id, "benchmark": spec.benchmark, **judge, **scores}
        (path / "scores.json").write_text(json.dumps(doc, indent=2))
    for name, rows in (("judgments.jsonl", judgments), ("records.jsonl", records)):
        if rows is not None:
            (path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _judgment_row(rid: str, meta: dict[str, Any], verdict: Any, failure: str | None) -> dict[str, Any]:
    """JudgeOutcome.row()'s shape."""
    return {"id": rid, **meta, "judgment": f"... [[{verdict}]]", "verdict": verdict, "failure": failure, "attempt": 0,
            "cached": False, "prompt_tokens": 400, "completion_tokens": 120, "cache_key": f"key-{rid}"}


def mtbench_single_run(results: Path, run_id: str, ratings: dict[tuple[int, int], float | None], *,
                       model: str = "ckpt", judge: str = "gpt-4", limit: int | None = None) -> Path:
    """An MT-Bench single-grading run; a rating of None is a failed (unparsable) judgment."""
    rows = []
    for (qid, turn), rating in ratings.items():
        meta = {"kind": "single", "question_id": qid, "item_id": str(qid), "turn": turn, "category": "writing",
                "prompt": "single-v1" if turn == 1 else "single-v1-multi-turn", "judge_model": judge, "model": model}
        rows.append(_judgment_row(f"single|{model}|{qid}|{turn}", meta, rating,
                                  None if rating is not None else "unparsable: no [[rating]]"))
    spec = RunSpec(benchmark="mtbench", model=ModelSpec(name_or_path=model), judge=JudgeSpec(model=judge),
                   data_dir="/data", limit=limit)
    return write_run(results, run_id, spec, MTBENCH_FILES, mtbench_score.score_single(rows), judgments=rows)


def mmlu_run(results: Path, run_id: str, correct: dict[tuple[str, int], bool], *, model: str = "ckpt",
             limit: int | None = None) -> Path:
    """An MMLU run: records from lm-eval-shaped logged samples, scores from MMLU.score."""
    samples: dict[str, list[dict]] = {}
    for (subject, doc_id), right in correct.items():
        lls = [-2.0, -1.0, -3.0, -4.0] if right else [-1.0, -2.0, -3.0, -4.0]  # target is choice 1
        samples.setdefault(f"mmlu_{subject}", []).append({
            "doc_id": doc_id, "doc": {"question": f"{subject} {doc_id}?", "subject": subject,
                                      "choices": ["a", "b", "c", "d"], "answer": 1},
            "filtered_resps": [[ll, False] for ll in lls], "target": 1, "acc": float(right),
            "doc_hash": f"h{subject}{doc_id}", "prompt_hash": "p"})
    records = records_from_samples(samples, model, {s.split("_", 1)[1]: "stem" for s in samples})
    spec = RunSpec(benchmark="mmlu", model=ModelSpec(name_or_path=model), data_dir="/data", limit=limit)
    files = {f"mmlu/test/{s.split('_', 1)[1]}_test.csv": "d" * 64 for s in samples}
    return write_run(results, run_id, spec, files, MMLU().score(records), records=records)


def rm_run(results: Path, run_id: str, outcomes: dict[str, bool], *, benchmark: str = "hh", label: str = "rm",
           tracks: tuple[str, ...] | None = None) -> Path:
    """A reward-model pairs run: records as pair_record writes them (pair id -> chosen scored higher)."""
    records = []
    for track in tracks or (benchmark,):
        for pair_id, right in outcomes.items():
            pair = Pair(id=pair_id, chosen=(Message(role="user", content="q"), Message(role="assistant", content="good")),
                        rejected=(Message(role="user", content="q"), Message(role="assistant", content="bad!")),
                        subset="s")
            records.append({"model": label, **pair_record(track, pair, 1.0 if right else -1.0, 0.0)})
    spec = RunSpec(benchmark=benchmark, reward_model=RewardSpec(name_or_path=label), data_dir="/data")
    return write_run(results, run_id, spec, {f"{benchmark}/test.jsonl": "e" * 64}, score_pairs(records, label),
                     records=records)


# -- MT-Bench ---------------------------------------------------------------------------------------


def test_mtbench_single_keys_turns_by_question_and_counts_failures(tmp_path):
    ratings = {(81, 1): 8.0, (81, 2): 6.0, (82, 1): 9.0, (82, 2): None, (83, 1): 3.0, (83, 2): 5.0}
    run = mtbench_single_run(tmp_path, "r1", ratings)
    items = read_items(run)
    assert (items.kind, items.model) == ("mtbench-single", "ckpt")
    overall = items.metrics["mtbench.overall"]
    assert overall.values == {"81|1": 8.0, "81|2": 6.0, "82|1": 9.0, "83|1": 3.0, "83|2": 5.0}
    assert overall.clusters == {"81|1": "81", "81|2": "81", "82|1": "82", "83|1": "83", "83|2": "83"}
    assert (overall.n_failed, overall.unit, overall.binary) == (1, "score", False)
    scores = json.loads((run / "scores.json").read_text())["models"][0]
    assert overall.mean == pytest.approx(scores["overall"])
    assert items.metrics["mtbench.turn1"].mean == pytest.approx(scores["turn1"])
    assert items.metrics["mtbench.turn2"].values == {"81|2": 6.0, "83|2": 5.0}
    assert items.metrics["mtbench.turn2"].n_failed == 1 and items.metrics["mtbench.turn1"].n_failed == 0


def test_mtbench_single_reads_the_newest_row_of_a_request(tmp_path):
    run = mtbench_single_run(tmp_path, "r1", {(81, 1): None, (81, 2): 4.0})
    rows = [json.loads(line) for line in (run / "judgments.jsonl").read_text().splitlines()]
    retried = {**rows[0], "verdict": 7.0, "failure": None, "attempt": 1}  # an interrupted run's re-ask, appended
    with open(run / "judgments.jsonl", "a") as fh:
        fh.write(json.dumps(retried) + "\n")
    overall = item_values(run)["mtbench.overall"]
    assert overall.values == {"81|1": 7.0, "81|2": 4.0} and overall.n_failed == 0


def test_mtbench_pairwise_baseline_is_seen_from_the_model_in_percent(tmp_path):
    matches = [{"model_1": "ckpt", "model_2": "gpt-3.5-turbo", "question_id": q, "turn": t, "category": "writing",
                "g1_winner": g1, "g2_winner": g2, "failure": None}
               for q, t, g1, g2 in ((81, 1, "model_1", "model_1"), (81, 2, "model_2", "model_2"),
                                    (82, 1, "model_1", "model_2"), (82, 2, "tie", "tie"), (83, 1, "error", "model_1"))]
    scores = mtbench_score.score_pairwise(matches, "gpt-3.5-turbo")
    spec = RunSpec(benchmark="mtbench", model=ModelSpec(name_or_path="ckpt"),
                   judge=JudgeSpec(mode="pairwise-baseline"), data_dir="/data")
    run = write_run(tmp_path, "r1", spec, MTBENCH_FILES, scores, judgments=[])
    items = read_items(run)
    assert (items.kind, items.model) == ("mtbench-pairwise-baseline", "ckpt")
    win = items.metrics["mtbench.win_rate_adjusted"]
    assert win.values == {"81|1": 100.0, "81|2": 0.0, "82|1": 50.0, "82|2": 50.0}
    assert win.clusters["82|2"] == "82" and win.n_failed == 1
    assert win.mean == pytest.approx(100 * scores["models"][0]["win_rate_adjusted"])


def test_pairwise_all_and_multi_model_runs_are_refused(tmp_path):
    scores = mtbench_score.score_pairwise([], None)
    spec = RunSpec(benchmark="mtbench", model=ModelSpec(name_or_path="a"), judge=JudgeSpec(mode="pairwise-all"),
                   data_dir="/data")
    with pytest.raises(ItemError, match="pairwise-all run"):
        item_values(write_run(tmp_path, "all", spec, MTBENCH_FILES, scores, judgments=[]))
    run = mtbench_single_run(tmp_path, "two", {(81, 1): 5.0})
    rows = [json.loads(line) for line in (run / "judgments.jsonl").read_text().splitlines()]
    other = {**rows[0], "id": "single|other|81|1", "model": "other"}
    (run / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (*rows, other)))
    with pytest.raises(ItemError, match=r"scored several models \(ckpt, other\)"):
        item_values(run)


def test_an_unfinished_run_has_no_items(tmp_path):
    spec = RunSpec(benchmark="mtbench", model=ModelSpec(name_or_path="m"), judge=JudgeSpec(), data_dir="/data")
    run = write_run(tmp_path, "r1", spec, MTBENCH_FILES, None)
    with pytest.raises(ItemError, match="r1 has no scores.json"):
        item_values(run)


# -- AlpacaEval, Safe-RLHF --------------------------------------------------------------------------


def test_alpacaeval_values_are_alpaca_evals_win_rate_terms(tmp_path):
    rows = []
    for i, verdict in enumerate((1.0, 2.0, 1.5, None, 1.75, 0)):
        meta = {"kind": "alpacaeval", "item_id": f"hash{i}", "question_id": i, "dataset": "helpful_base",
                "instruction": f"do {i}", "model": "ckpt", "reference": "gpt4_1106_preview",
                "annotator": "weighted_alpaca_eval_gpt4_turbo", "judge_model": "gpt-4-1106-preview", "is_switched": False,
                "output_1": "ref", "output_2": f"out {i}"}
        rows.append(_judgment_row(f"alpacaeval|ckpt|hash{i}", meta, verdict, None if verdict is not None else "api: 500"))
    spec = RunSpec(benchmark="alpacaeval", model=ModelSpec(name_or_path="ckpt"),
                   judge=JudgeSpec(mode="pairwise-baseline", baseline="gpt4_1106_preview"), data_dir="/data")
    run = write_run(tmp_path, "r1", spec, {"alpaca_eval/x.json": "f" * 64}, {"mode": "alpacaeval", "models": []},
                    judgments=rows)
    win = item_values(run)["alpacaeval.win_rate"]
    assert win.values == {"hash0": 0.0, "hash1": 100.0, "hash2": 50.0, "hash4": 75.0, "hash5": 50.0}
    assert win.clusters["hash4"] == "hash4" and win.n_failed == 1 and win.mean == pytest.approx(55.0)


def test_safe_rlhf_policy_runs_give_harmless_rate_and_helpfulness(tmp_path):
    rows = []
    for i, verdict in enumerate(({"harmless": True, "helpfulness": 7.0}, {"harmless": False, "helpfulness": 9.0}, None)):
        meta = {"kind": "safety", "model": "ckpt", "item_id": f"p{i}", "question_id": i, "categories": ["x"],
                "judge_model": "gpt-4"}
        rows.append(_judgment_row(f"safe-rlhf|ckpt|p{i}", meta, verdict, None if verdict else "unparsable: no [[SAFE]]"))
    spec = RunSpec(benchmark="safe-rlhf", model=ModelSpec(name_or_path="ckpt"), judge=JudgeSpec(), data_dir="/data")
    run = write_run(tmp_path, "r1", spec, {"safe_rlhf/test.jsonl": "g" * 64}, score_safety(rows), judgments=rows)
    items = read_items(run)
    assert items.kind == "safe-rlhf-policy"
    harmless, helpful = items.metrics["safe-rlhf.harmless_rate"], items.metrics["safe-rlhf.helpfulness"]
    assert harmless.values == {"p0": 100.0, "p1": 0.0} and harmless.binary and harmless.n_failed == 1
    assert helpful.values == {"p0": 7.0, "p1": 9.0} and not helpful.binary and helpful.unit == "score"


# -- log-likelihood and reward-model runs -----------------------------------------------------------


def test_mmlu_records_are_binary_percent_items(tmp_path):
    correct = {("anatomy", 0): True, ("anatomy", 1): False, ("virology", 0): True, ("virology", 1): True}
    run = mmlu_run(tmp_path, "r1", correct)
    items = read_items(run)
    acc = items.metrics["mmlu.acc"]
    assert (items.kind, items.model, list(items.metrics)) == ("mmlu", "ckpt", ["mmlu.acc"])
    assert acc.values == {"mmlu_anatomy|0": 100.0, "mmlu_anatomy|1": 0.0, "mmlu_virology|0": 100.0,
                          "mmlu_virology|1": 100.0}
    assert acc.clusters["mmlu_anatomy|1"] == "mmlu_anatomy|1" and acc.binary and acc.unit == "percent"
    assert acc.mean == pytest.approx(100 * json.loads((run / "scores.json").read_text())["models"][0]["micro"])


def test_truthfulqa_mc1_is_binary_and_mc2_a_probability_mass(tmp_path):
    samples = {"truthfulqa_mc1": [{"doc_id": 0, "doc": {"question": "q0", "category": "Misc"},
                                   "filtered_resps": [[-1.0, False], [-2.0, False]], "target": 0, "acc": 1.0}],
               "truthfulqa_mc2": [{"doc_id": 0, "doc": {"question": "q0", "category": "Misc"},
                                   "filtered_resps": [[-1.0, False], [-2.0, False]], "target": 0, "acc": 0.625}]}
    records = records_from_samples(samples, "ckpt")
    spec = RunSpec(benchmark="truthfulqa", model=ModelSpec(name_or_path="ckpt"), data_dir="/data")
    run = write_run(tmp_path, "r1", spec, {"truthfulqa/mc_task.json": "h" * 64}, TruthfulQA().score(records),
                    records=records)
    items = read_items(run)
    assert items.kind == "truthfulqa-mc"
    assert items.metrics["truthfulqa.mc1"].values == {"truthfulqa_mc1|0": 100.0} and items.metrics["truthfulqa.mc1"].binary
    assert items.metrics["truthfulqa.mc2"].values == {"truthfulqa_mc2|0": 62.5}
    assert not items.metrics["truthfulqa.mc2"].binary


def test_reward_pairs_are_clustered_by_prompt(tmp_path):
    run = rm_run(tmp_path, "r1", {"7|0|1": True, "7|0|2": False, "8|1|2": True}, benchmark="truthfulqa")
    items = read_items(run)
    assert (items.kind, items.model, list(items.metrics)) == ("reward-pairs", "rm", ["truthfulqa.rm_accuracy"])
    acc = items.metrics["truthfulqa.rm_accuracy"]
    assert acc.values == {"truthfulqa|7|0|1": 100.0, "truthfulqa|7|0|2": 0.0, "truthfulqa|8|1|2": 100.0}
    assert acc.clusters == {"truthfulqa|7|0|1": "7", "truthfulqa|7|0|2": "7", "truthfulqa|8|1|2": "8"}
    assert acc.binary
    safe = read_items(rm_run(tmp_path, "r2", {"1": True}, benchmark="safe-rlhf", tracks=("helpful", "harmless")))
    assert list(safe.metrics) == ["safe-rlhf.rm_accuracy_helpful", "safe-rlhf.rm_accuracy_harmless"]
    assert safe.metrics["safe-rlhf.rm_accuracy_harmless"].values == {"harmless|1": 100.0}


def test_a_tie_is_wrong_as_in_the_accuracy(tmp_path):
    run = rm_run(tmp_path, "r1", {"1": True})
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    records[0].update(chosen_reward=0.5, rejected_reward=0.5, correct=False, tie=True)
    (run / "records.jsonl").write_text(json.dumps(records[0]) + "\n")
    assert item_values(run)["hh.rm_accuracy"].values == {"hh|1": 0.0}
