"""Where two backends' greedy answers part, on the real model: hf against vllm offline, token for token.

SmolLM2-135M-Instruct (``make real-model``), the first N MT-Bench questions, greedy, at each dtype: both
backends answer through ``starling-eval generate`` (the CLI a user runs; vllm from ``.venv-vllm``), and their
stored token ids are compared turn by turn (turn 2 only where turn 1 agreed, so both saw the same prompt). Where
they part, the first differing token is found and hf is asked, at that dtype, for its logits after the prompt and
the shared prefix: the gap between its own pick and vLLM's pick says whether the two kernels broke a near-tie
(a gap near zero) or disagree outright.

    .venv/bin/python benchmarks/bench_backend_agreement.py           # float32 and bfloat16
    .venv/bin/python benchmarks/bench_backend_agreement.py bfloat16  # one dtype
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

N_QUESTIONS = 10
MAX_NEW_TOKENS = 64
REPO = Path(__file__).resolve().parents[1]


def answers(results: Path, exe: Path, model: Path, backend: str, dtype: str) -> dict[tuple[str, int], dict]:
    """The stored generations of one CLI run, by (question, turn)."""
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}
    extra = ("--max-model-len", "2048") if backend == "vllm" else ("--device", "cpu")
    res = subprocess.run([str(exe), "--results", str(results), "generate", "mtbench", "--json", "--model", str(model),
                          "--backend", backend, "--dtype", dtype, "--limit", str(N_QUESTIONS), "--temperature", "0",
                          "--max-new-tokens", str(MAX_NEW_TOKENS), *extra], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        sys.exit(f"{backend} {dtype} failed: {res.stderr[-2000:]}")
    rows = (Path(json.loads(res.stdout)["path"]) / "generations.jsonl").read_text().splitlines()
    return {(r["item_id"], r["turn"]): r for r in map(json.loads, rows)}


def first_difference(a: list[int], b: list[int]) -> int | None:
    """The first position where two id lists differ (the shorter one's end counts), None when equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def logit_gap(model: object, chat: list, prefix: list[int], hf_token: int, vllm_token: int) -> float:
    """hf's logit for its own next token minus its logit for vLLM's, after the prompt and the shared prefix."""
    import torch

    from starling_eval.backends.hf import encode_prompts

    ids = encode_prompts(model.tokenizer, model.template, [chat])[0] + prefix
    with torch.inference_mode():
        logits = model.model(torch.tensor([ids])).logits[0, -1].float()
    return (logits[hf_token] - logits[vllm_token]).item()


def compare(dtype: str, model_folder: Path, work: Path) -> None:
    from starling_eval.backends.hf import HFChatModel
    from starling_eval.spec import Message, ModelSpec

    hf = answers(work / f"hf-{dtype}", REPO / ".venv/bin/starling-eval", model_folder, "hf", dtype)
    vl = answers(work / f"vllm-{dtype}", REPO / ".venv-vllm/bin/starling-eval", model_folder, "vllm", dtype)
    model = HFChatModel(ModelSpec(backend="hf", name_or_path=str(model_folder), dtype=dtype, device="cpu"))
    model._load_weights()
    equal, compared, parts = 0, 0, []
    for (item, turn), h in sorted(hf.items()):
        v = vl[(item, turn)]
        if turn == 2 and first_difference(hf[(item, 1)]["token_ids"], vl[(item, 1)]["token_ids"]) is not None:
            continue  # different turn-1 answers: the turn-2 prompts differ
        compared += 1
        at = first_difference(h["token_ids"], v["token_ids"])
        if at is None:
            equal += 1
            continue
        if at >= min(len(h["token_ids"]), len(v["token_ids"])):
            parts.append((item, turn, at, None))  # one stopped where the other went on
            continue
        chat = [Message(role="user", content=hf[(item, 1)]["question"])]
        if turn == 2:
            chat += [Message(role="assistant", content=hf[(item, 1)]["text"]), Message(role="user", content=h["question"])]
        parts.append((item, turn, at, logit_gap(model, chat, h["token_ids"][:at], h["token_ids"][at], v["token_ids"][at])))
    print(f"{dtype}: {equal}/{compared} turns equal token for token ({N_QUESTIONS} MT-Bench questions, greedy, "
          f"{MAX_NEW_TOKENS} new tokens)")
    for item, turn, at, gap in parts:
        shown = "one side stopped" if gap is None else f"hf logit gap {gap:.4f}"
        print(f"  question {item} turn {turn}: first differing token {at}, {shown}")
    gaps = [abs(g) for *_, g in parts if g is not None]
    if gaps:
        print(f"  median |gap| {statistics.median(gaps):.4f}, max {max(gaps):.4f}")


def main() -> int:
    from starling_eval.testing.real_model import built_real_model

    folder = built_real_model()
    if folder is None:
        print("SmolLM2 is not built: run `make real-model` first", file=sys.stderr)
        return 2
    if not (REPO / ".venv-vllm/bin/starling-eval").exists():
        print("no vLLM environment: run `make vllm-env` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        for dtype in sys.argv[1:] or ["float32", "bfloat16"]:
            compare(dtype, folder, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
