"""`run mmlu|truthfulqa`: per item, the same log-likelihoods, predictions and accuracies as calling
lm_eval.simple_evaluate directly on lm-eval's stock tasks, fed the same data through the `datasets` loaders.

Both sides run at batch size 1: with padding, a float32 log-likelihood moves in the 7th digit with the
company a request keeps in its batch, and the two runs batch different sets of tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from starling_eval.adapters.multiple_choice.lm_eval_tasks import read_truthfulqa, tasks_root
from starling_eval.adapters.multiple_choice.mmlu_data import read_split
from tests.adapters.multiple_choice.test_mmlu_data import write_hendrycks, write_parquet
from tests.conftest import VLLM_ENV, cli_env, run_cli

SUBJECTS = ("abstract_algebra", "virology")
LIMIT = 3


def _reference(tmp_path: Path, model: Path, configs: dict[str, dict], num_fewshot: int,
               **chat: bool) -> dict[str, list[dict]]:
    """lm-eval on its own stock task YAMLs (included by path), datasets from files the test writes."""
    import yaml
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    folder = tmp_path / "ref_tasks"
    folder.mkdir(parents=True)
    for name, cfg in configs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    out = simple_evaluate(model="hf", model_args={"pretrained": str(model), "dtype": "float32", "device": "cpu"},
                          tasks=list(configs), num_fewshot=num_fewshot, batch_size=1, limit=LIMIT,
                          task_manager=TaskManager(include_path=str(folder), include_defaults=False),
                          log_samples=True, bootstrap_iters=0, **{"fewshot_as_multiturn": False, **chat})
    return out["samples"]


def _ours(tmp_path: Path, data_dir: Path, model: Path, benchmark: str, *extra: str,
          limit: int = LIMIT) -> tuple[dict, list[dict]]:
    res = run_cli("--results", str(tmp_path / "res"), "run", benchmark, "--model", str(model), "--limit", str(limit),
                  "--dtype", "float32", "--device", "cpu", "--batch-size", "1", "--json", *extra,
                  env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    return out, _records(out)


def _records(out: dict) -> list[dict]:
    return [json.loads(line) for line in (Path(out["path"]) / "records.jsonl").read_text().splitlines()]


def _mmlu_configs(tmp_path: Path, data_dir: Path) -> dict[str, dict]:
    """lm-eval's stock MMLU task YAMLs over cais/mmlu parquet files written here from the same questions."""
    configs = {}
    for subject in SUBJECTS:
        files = {}
        for split in ("test", "dev"):
            path = tmp_path / "cais" / subject / f"{split}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(read_split(data_dir / "mmlu", subject, split)).to_parquet(path)
            files[split] = str(path)
        configs[f"mmlu_{subject}"] = {"include": str(tasks_root() / "mmlu" / "default" / f"mmlu_{subject}.yaml"),
                                      "dataset_path": "parquet", "dataset_name": None,
                                      "dataset_kwargs": {"data_files": files}}
    return configs


def _assert_same(records: list[dict], reference: dict[str, list[dict]]) -> int:
    checked = 0
    for task, samples in reference.items():
        mine = {r["doc_id"]: r for r in records if r["task"] == task}
        assert len(mine) == len(samples) == LIMIT, task
        for s in samples:
            r = mine[s["doc_id"]]
            assert r["loglikelihoods"] == [float(x[0]) for x in s["filtered_resps"]], (task, s["doc_id"])
            assert r["acc"] == pytest.approx(float(s["acc"]), abs=0)
            assert r["prompt_hash"] == s["prompt_hash"] and r["target"] == s["target"]
            checked += 1
    return checked


@pytest.mark.slow
def test_mmlu_records_equal_lm_evals_own_run_item_by_item(tmp_path, data_dir, tiny_model):
    out, records = _ours(tmp_path, data_dir, tiny_model, "mmlu")
    row = out["models"][0]
    assert row["n"] == 57 * LIMIT and row["n_subjects"] == 57 and set(row["groups"]) == {
        "humanities", "other", "social_sciences", "stem"}
    assert row["micro"] == pytest.approx(sum(r["acc"] for r in records) / len(records))
    assert all(r["prediction"] == max(range(4), key=r["loglikelihoods"].__getitem__) for r in records)
    assert all(r["correct"] == (r["prediction"] == r["target"]) == bool(r["acc"]) for r in records)
    reference = _reference(tmp_path, tiny_model, _mmlu_configs(tmp_path, data_dir), num_fewshot=5)
    assert _assert_same([r for r in records if r["subject"] in SUBJECTS], reference) == len(SUBJECTS) * LIMIT


@pytest.mark.slow
@pytest.mark.parametrize("multiturn", [True, False])
def test_chat_template_prompts_equal_lm_evals_own(tmp_path, data_dir, tiny_model, multiturn):
    """--apply-chat-template (few-shot as turns by default, as lm-eval's CLI) renders lm-eval's chat prompts."""
    extra = ["--apply-chat-template"] + ([] if multiturn else ["--no-fewshot-as-multiturn"])
    subjects = [a for s in SUBJECTS for a in ("--subject", s)]
    out, records = _ours(tmp_path, data_dir, tiny_model, "mmlu", *extra, *subjects)
    assert out["models"][0]["n_subjects"] == len(SUBJECTS)
    lm_eval_args = json.loads((Path(out["path"]) / "manifest.json").read_text())["lm_eval"]
    assert (lm_eval_args["apply_chat_template"], lm_eval_args["fewshot_as_multiturn"]) == (True, multiturn)
    reference = _reference(tmp_path, tiny_model, _mmlu_configs(tmp_path, data_dir), num_fewshot=5,
                           apply_chat_template=True, fewshot_as_multiturn=multiturn)
    assert _assert_same(records, reference) == len(SUBJECTS) * LIMIT
    plain = _reference(tmp_path / "plain", tiny_model, _mmlu_configs(tmp_path, data_dir), num_fewshot=5)
    assert all(s["prompt_hash"] != p["prompt_hash"] for s, p in zip(reference["mmlu_virology"],
                                                                    plain["mmlu_virology"], strict=True))


@pytest.mark.slow
def test_mmlu_dir_reads_hendrycks_csvs_and_cais_parquet_as_the_data_directory(tmp_path, data_dir, tiny_model):
    hendrycks, parquet = tmp_path / "hendrycks", tmp_path / "cais"
    write_hendrycks(hendrycks, data_dir, SUBJECTS)
    write_parquet(parquet, data_dir, SUBJECTS, by_subject=True)
    subjects = [a for s in SUBJECTS for a in ("--subject", s)]
    runs = {name: _ours(tmp_path, data_dir, tiny_model, "mmlu", *subjects, *extra)
            for name, extra in [("data", []), ("hendrycks", ["--mmlu-dir", str(hendrycks)]),
                                ("parquet", ["--mmlu-dir", str(parquet)])]}
    keyed = {name: {(r["task"], r["doc_id"]): (r["loglikelihoods"], r["target"], r["prompt_hash"]) for r in records}
             for name, (_, records) in runs.items()}
    assert len(keyed["data"]) == len(SUBJECTS) * LIMIT and keyed["data"] == keyed["hendrycks"] == keyed["parquet"]
    manifests = {name: json.loads((Path(out["path"]) / "manifest.json").read_text()) for name, (out, _) in runs.items()}
    assert sorted(manifests["data"]["data_files"]) == sorted(f"mmlu/{split}/{s}_{split}.csv" for s in SUBJECTS
                                                             for split in ("dev", "test"))
    assert sorted(manifests["parquet"]["data_files"]) == [str(parquet / s / f"{split}-00000-of-00001.parquet")
                                                          for s in SUBJECTS for split in ("dev", "test")]
    assert manifests["hendrycks"]["spec"]["source"]["path"] == str(hendrycks.resolve())
    assert len({m["spec_hash"] for m in manifests.values()}) == 3  # different files, different runs
    # the content, not the place, is the identity: a moved copy is the same spec
    moved = tmp_path / "moved"
    hendrycks.rename(moved)
    again, _ = _ours(tmp_path, data_dir, tiny_model, "mmlu", *subjects, "--mmlu-dir", str(moved))
    assert json.loads((Path(again["path"]) / "manifest.json").read_text())["spec_hash"] == \
        manifests["hendrycks"]["spec_hash"]


def test_mmlu_options_are_checked(tmp_path, data_dir):
    def run(*args: str):
        return run_cli("--results", str(tmp_path), "run", *args, "--model", "m", env=cli_env(data_dir))

    res = run("mmlu", "--mmlu-dir", str(tmp_path))
    assert res.returncode == 2 and f"{tmp_path}: no MMLU files" in res.stderr
    res = run("mmlu", "--subject", "astrology")
    assert res.returncode == 2 and "--subject astrology: not an MMLU subject" in res.stderr
    res = run("truthfulqa", "--subject", "virology")
    assert res.returncode == 2 and "--subject: truthfulqa does not use it (it is for mmlu)" in res.stderr
    res = run("mmlu", "--judge-model", "gpt-4")
    assert res.returncode == 2 and "--judge-model: mmlu does not use it" in res.stderr
    res = run("mtbench", "--apply-chat-template")
    assert res.returncode == 2 and "--apply-chat-template: mtbench does not use it" in res.stderr


@pytest.mark.slow
def test_truthfulqa_mc1_mc2_equal_lm_evals_own_run_item_by_item(tmp_path, data_dir, tiny_model):
    out, records = _ours(tmp_path, data_dir, tiny_model, "truthfulqa")
    row = out["models"][0]
    assert (row["n_mc1"], row["n_mc2"]) == (LIMIT, LIMIT) and 0 <= row["mc2"] <= 1
    assert all(r["category"] for r in records)  # joined from the CSV (BOM and all) on the question text
    # lm-eval's stock tasks on the truthful_qa multiple_choice layout, as JSON lines written here
    docs = read_truthfulqa(data_dir / "truthfulqa" / "mc_task.json", None)
    path = tmp_path / "truthful_qa.jsonl"
    path.write_text("".join(json.dumps({k: d[k] for k in ("question", "mc1_targets", "mc2_targets")}) + "\n"
                            for d in docs))
    configs = {f"truthfulqa_{m}": {"include": str(tasks_root() / "truthfulqa" / f"truthfulqa_{m}.yaml"),
                                   "dataset_path": "json", "dataset_name": None,
                                   "dataset_kwargs": {"data_files": {"validation": str(path)}}}
               for m in ("mc1", "mc2")}
    for cfg in configs.values():
        cfg["tag"] = []
    reference = _reference(tmp_path, tiny_model, configs, num_fewshot=0)
    assert _assert_same(records, reference) == 2 * LIMIT


# TruthfulQA goes through the same lm-eval log-likelihood requests; a vLLM engine start costs about a minute here,
# so its agreement is measured in benchmarks/bench_loglikelihood_agreement.py rather than on every test run
REAL_ITEMS = {"mmlu": ("--subject", "abstract_algebra", "--subject", "high_school_biology", "--limit", "3")}


@pytest.mark.vllm
@pytest.mark.real_model
@pytest.mark.parametrize("bench", sorted(REAL_ITEMS))
def test_lm_evals_vllm_model_agrees_with_hf_item_by_item_on_smollm2(tmp_path, data_dir, real_model, vllm_cli, bench):
    """The same prompts (prompt_hash), the same per-choice log-likelihoods to float32 kernels' precision, the same
    predictions and accuracy, on a real model (float32, the checkpoint's dtype, on both: vLLM's "auto" alone would
    be bfloat16). What was measured is in the README (backend agreement)."""
    args = ("run", bench, "--model", str(real_model), *REAL_ITEMS[bench], "--json")
    res_v = run_cli("--results", str(tmp_path / "v"), *args, "--backend", "vllm", "--enforce-eager",
                    "--max-model-len", "2048", env=cli_env(data_dir, **VLLM_ENV), exe=vllm_cli)
    assert res_v.returncode == 0, res_v.stderr[-3000:]
    out_v = json.loads(res_v.stdout)  # vLLM's logs must not leak into --json output
    res_h = run_cli("--results", str(tmp_path / "h"), *args, "--device", "cpu", env=cli_env(data_dir))
    assert res_h.returncode == 0, res_h.stderr[-3000:]
    out_h = json.loads(res_h.stdout)

    def records(out: dict) -> dict:
        rows = (Path(out["path"]) / "records.jsonl").read_text().splitlines()
        return {(r["task"], r["doc_id"]): r for r in map(json.loads, rows)}

    v, h = records(out_v), records(out_h)
    assert sorted(v) == sorted(h) and len(v) == 6
    manifest = json.loads((Path(out_v["path"]) / "manifest.json").read_text())
    assert manifest["lm_eval"]["model"] == "vllm" and manifest["lm_eval"]["model_args"]["dtype"] == "float32"
    gaps = []
    for key, rv in v.items():
        rh = h[key]
        assert rv["prompt_hash"] == rh["prompt_hash"] and len(rv["loglikelihoods"]) == len(rh["loglikelihoods"])
        gaps += [abs(a - b) for a, b in zip(rv["loglikelihoods"], rh["loglikelihoods"], strict=True)]
        assert (rv["prediction"], rv["acc"]) == (rh["prediction"], pytest.approx(rh["acc"], abs=1e-3)), key
    assert max(gaps) < 1e-3, max(gaps)  # measured 2.1e-05 on MMLU (README, backend agreement)
    metrics = ("micro", "macro") if bench == "mmlu" else ("mc1", "mc2")
    assert [out_v["models"][0][m] for m in metrics] == pytest.approx([out_h["models"][0][m] for m in metrics], abs=1e-3)
    print(f"{bench}: {len(gaps)} log-likelihoods, max |vllm - hf| {max(gaps):.2e}")


def test_log_likelihood_runs_refuse_what_they_cannot_do(tmp_path, data_dir):
    res = run_cli("--results", str(tmp_path), "run", "mmlu", "--model", "http://localhost:1/v1", "--model-name", "x",
                  env=cli_env(data_dir))
    assert res.returncode == 2 and "--backend openai: log-likelihood benchmarks need the model's weights" in res.stderr
    res = run_cli("--results", str(tmp_path), "run", "truthfulqa", "--model", "m", "--fewshot-as-multiturn",
                  env=cli_env(data_dir))
    assert res.returncode == 2 and "--fewshot-as-multiturn needs --apply-chat-template" in res.stderr


def _cached_requests(results: Path, *, read_only: bool = True) -> int:
    """Rows in lm-eval's request cache (a sqlitedict table) under a results root; 0 before it exists. After
    the writer was killed, open it ``read_only=False``: a hot rollback journal left by the kill can only be
    rolled back by a connection that may write, and a read-only one fails to open it."""
    import sqlite3

    files = list(results.glob("lm_eval_cache/*.db"))
    if not files:
        return 0
    try:
        with sqlite3.connect(f"file:{files[0]}?mode={'ro' if read_only else 'rw'}", uri=True, timeout=1 if read_only else 5) as db:
            return db.execute("SELECT COUNT(*) FROM unnamed").fetchone()[0]
    except sqlite3.OperationalError:  # the table not made yet, or locked for a write
        return 0


@pytest.mark.slow
def test_a_killed_mmlu_run_resumes_from_lm_evals_request_cache(tmp_path, data_dir, tiny_model):
    """kill -9 part-way through scoring; the re-run takes up the same run, keeps the requests already scored,
    and ends with the records of an uninterrupted run (batch size 1: a cached and a recomputed value agree)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["run", "mmlu", "--model", str(tiny_model), "--subject", "abstract_algebra",
            "--dtype", "float32", "--device", "cpu", "--batch-size", "1", "--json"]
    total = 4 * 100  # the subject's test questions, four choices each
    results = tmp_path / "killed"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("starling-eval")), "--results", str(results), *args],
                            env=cli_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and _cached_requests(results) < 40:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _cached_requests(results, read_only=False)
    assert 40 <= kept < total
    killed_run = next(results.glob("runs/*/manifest.json"))
    assert json.loads(killed_run.read_text())["status"] == "running"

    res = run_cli("--results", str(results), *args, env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    resumed = json.loads(res.stdout)
    manifest = json.loads((Path(resumed["path"]) / "manifest.json").read_text())
    assert Path(resumed["path"]) == killed_run.parent and manifest["resumed"] == 1
    assert _cached_requests(results) == total

    res = run_cli("--results", str(tmp_path / "whole"), *args, env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    whole = json.loads(res.stdout)
    assert _records(resumed) == _records(whole) and resumed["models"] == whole["models"]


def test_cpu_batches_are_cut_to_keep_full_vocabulary_logits_in_budget(tmp_path):
    """lm-eval's hf model holds batch x length x vocab float32 logits (and their log-softmax) at once: a large
    vocabulary at batch 8 took 9.6 GB on MMLU; the CPU batch is cut to a 2 GiB budget instead."""
    from starling_eval.pipeline.loglikelihood import loglikelihood_batch_size
    from starling_eval.spec import ModelSpec

    big, small = tmp_path / "big", tmp_path / "small"
    for folder, vocab in ((big, 49152), (small, 512)):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"vocab_size": vocab}))
    size, note = loglikelihood_batch_size(ModelSpec(name_or_path=str(big), batch_size=8), "cpu")
    assert size == 1 and note.startswith("--batch-size 8 cut to 1 on the CPU: a 49,152-token vocabulary")
    assert loglikelihood_batch_size(ModelSpec(name_or_path=str(small), batch_size=8), "cpu") == (8, None)
    assert loglikelihood_batch_size(ModelSpec(name_or_path=str(big), batch_size=8), "cuda") == (8, None)
