"""Log-likelihood agreement of the hf and vllm backends on the real model, through lm-eval: MMLU and TruthfulQA.

SmolLM2-135M-Instruct (``make real-model``) in float32 (the checkpoint's dtype) on both; each benchmark is run once
per backend through ``starling-eval run`` (vllm from ``.venv-vllm``), and the stored records are compared item by
item: the prompt hash, every choice's log-likelihood, the prediction. The test suite checks MMLU the same way
(``tests/pipeline/test_loglikelihood.py``); TruthfulQA's MC1/MC2 go through the same lm-eval log-likelihood
requests, and a vLLM engine start costs about a minute on these machines, so it is measured here.

    .venv/bin/python benchmarks/bench_loglikelihood_agreement.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ITEMS = {"mmlu": ("--subject", "abstract_algebra", "--subject", "high_school_biology", "--limit", "3"),
         "truthfulqa": ("--limit", "3")}


def records(results: Path, exe: Path, model: Path, bench: str, backend: str) -> tuple[dict, dict, float]:
    """(records by (task, doc_id), the model's scores row, seconds) of one CLI run."""
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}
    extra = ("--backend", "vllm", "--enforce-eager", "--max-model-len", "2048") if backend == "vllm" else (
        "--device", "cpu")
    started = time.perf_counter()
    res = subprocess.run([str(exe), "--results", str(results), "run", bench, "--model", str(model), *ITEMS[bench],
                          "--json", *extra], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        sys.exit(f"{bench} {backend} failed: {res.stderr[-2000:]}")
    out = json.loads(res.stdout)
    rows = (Path(out["path"]) / "records.jsonl").read_text().splitlines()
    return ({(r["task"], r["doc_id"]): r for r in map(json.loads, rows)}, out["models"][0],
            time.perf_counter() - started)


def main() -> None:
    from starling_eval.testing.real_model import built_real_model

    model = built_real_model()
    vllm_exe = REPO / ".venv-vllm/bin/starling-eval"
    if model is None or not vllm_exe.exists():
        sys.exit("needs `make real-model` and `make vllm-env` first")
    with tempfile.TemporaryDirectory() as tmp:
        for bench in ITEMS:
            v, v_row, v_s = records(Path(tmp) / f"v-{bench}", vllm_exe, model, bench, "vllm")
            h, h_row, h_s = records(Path(tmp) / f"h-{bench}", REPO / ".venv/bin/starling-eval", model, bench, "hf")
            gaps, same_prompt, same_prediction = [], 0, 0
            for key, rv in v.items():
                rh = h[key]
                same_prompt += rv["prompt_hash"] == rh["prompt_hash"]
                same_prediction += rv["prediction"] == rh["prediction"]
                gaps += [abs(a - b) for a, b in zip(rv["loglikelihoods"], rh["loglikelihoods"], strict=True)]
            metrics = ("micro", "macro") if bench == "mmlu" else ("mc1", "mc2")
            print(f"{bench}: {len(v)} items, {same_prompt} same prompts, {same_prediction} same predictions, "
                  f"{len(gaps)} log-likelihoods, max |vllm - hf| {max(gaps):.2e}; "
                  + ", ".join(f"{m} vllm {v_row[m]:.4f} hf {h_row[m]:.4f}" for m in metrics)
                  + f"; vllm {v_s:.0f} s, hf {h_s:.0f} s")


if __name__ == "__main__":
    main()
