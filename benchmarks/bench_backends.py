"""The local backends on the real model, side by side in one run: the harness against a bare loop.

SmolLM2-135M-Instruct (``make real-model``), the first N MT-Bench questions (turn 1), greedy, the same
max_new_tokens and batch size on both sides:
  bare     transformers' own ``model.generate`` on the chat-template prompts, left-padded batches
           (with vLLM's python: ``vllm.LLM.generate`` on the same token ids);
           (``server``: vLLM's own OpenAI server on the model, the openai SDK's async client sending every
           prompt at once, BATCH in flight);
  harness  ``pipeline.generate`` with a fresh results root (prompt rendering, the cache, durable writes and
           bookkeeping included), backend hf (or vllm; or openai against the same server, concurrency BATCH).
The two alternate, ROUNDS times each; the medians and their ratio are printed. Absolute times on a 2-core
machine move with load: read the ratio.

    .venv/bin/python benchmarks/bench_backends.py            # hf
    .venv-vllm/bin/python benchmarks/bench_backends.py vllm  # vllm offline (VLLM_CPU_KVCACHE_SPACE set for you)
    .venv/bin/python benchmarks/bench_backends.py server     # vLLM's server (started from .venv-vllm)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

N_QUESTIONS = 8
MAX_NEW_TOKENS = 48
BATCH = 8
ROUNDS = 3


def questions(data_dir: str) -> list[str]:
    import json

    rows = [json.loads(line) for line in Path(data_dir, "mt_bench", "question.jsonl").read_text().splitlines()]
    return [r["turns"][0] for r in rows[:N_QUESTIONS]]


def bare_hf(model: object, prompts: list[str]) -> float:
    """transformers alone: chat-template prompts, left-padded batches, ``model.generate`` (greedy)."""
    import torch

    tok, net = model.tokenizer, model.model  # the same loaded weights and tokenizer the harness uses
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in prompts]
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), BATCH):
            batch = tok(texts[i : i + BATCH], return_tensors="pt", padding=True, add_special_tokens=False)
            net.generate(**batch, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, pad_token_id=tok.pad_token_id)
    return time.perf_counter() - started


def bare_vllm(model: object, prompts: list[str]) -> float:
    """vLLM alone: ``LLM.generate`` on the chat-template token ids, one submission."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    tok = model.tokenizer
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in prompts]
    ids = [tok(text, add_special_tokens=False)["input_ids"] for text in texts]
    started = time.perf_counter()
    model.llm.generate([TokensPrompt(prompt_token_ids=list(i)) for i in ids],
                       SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS), use_tqdm=False)
    return time.perf_counter() - started


def bare_server(model: object, prompts: list[str]) -> float:
    """The openai SDK alone against the server: every prompt sent at once, BATCH in flight, greedy."""
    import asyncio

    from openai import AsyncOpenAI

    async def ask_all() -> None:
        client = AsyncOpenAI(base_url=model.spec.base_url, api_key="none", max_retries=0)
        gate = asyncio.Semaphore(BATCH)

        async def ask(prompt: str) -> None:
            async with gate:
                await client.chat.completions.create(model=model.spec.name_or_path, max_tokens=MAX_NEW_TOKENS,
                                                      temperature=0.0, messages=[{"role": "user", "content": prompt}])

        await asyncio.gather(*(ask(p) for p in prompts))
        await client.close()

    started = time.perf_counter()
    asyncio.run(ask_all())
    return time.perf_counter() - started


class TurnOneDone(Exception):
    """Raised from the progress callback once every turn-1 answer is stored: turn 2 is not compared."""


def harness(model: object, data_dir: str) -> float:
    """``pipeline.generate`` on a fresh results root, timed until the turn-1 answers are stored."""
    from starling_eval import pipeline
    from starling_eval.spec import RunSpec

    spec = RunSpec(benchmark="mtbench", data_dir=data_dir, limit=N_QUESTIONS, max_new_tokens=MAX_NEW_TOKENS,
                   temperature=0.0, model=model.spec)

    def report(stage: str, done: int, total: int) -> None:
        if done >= N_QUESTIONS:
            raise TurnOneDone

    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        try:
            pipeline.generate(spec, Path(root), model=model, progress=report)
        except TurnOneDone:
            pass
        return time.perf_counter() - started


def main() -> int:
    from starling_eval.testing.real_model import built_real_model

    backend = sys.argv[1] if len(sys.argv) > 1 else "hf"
    folder = built_real_model()
    if folder is None:
        print("SmolLM2 is not built: run `make real-model` first", file=sys.stderr)
        return 2
    data_dir = os.environ.get("STARLING_EVAL_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    prompts = questions(data_dir)
    from starling_eval.spec import ModelSpec

    if backend == "server":
        return compare_with_server(folder, data_dir, prompts)
    if backend == "vllm":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from starling_eval.backends.vllm import VLLMChatModel

        model = VLLMChatModel(ModelSpec(backend="vllm", name_or_path=str(folder), max_model_len=2048))
        model._start_engine()  # one engine serves both sides: its start is not what is measured
        bare_side = bare_vllm
    else:
        from starling_eval.backends.hf import HFChatModel

        model = HFChatModel(ModelSpec(backend="hf", name_or_path=str(folder), batch_size=BATCH, device="cpu"))
        model._load_weights()  # one copy of the weights serves both sides
        bare_side = bare_hf
    return side_by_side(backend, model, data_dir, prompts, bare_side)


def compare_with_server(folder: Path, data_dir: str, prompts: list[str]) -> int:
    """vLLM's server from the vLLM environment beside this one; the openai backend against the SDK alone."""
    from starling_eval.backends.openai_compat import OpenAIChatModel
    from starling_eval.spec import ModelSpec
    from starling_eval.testing.vllm_server import vllm_server

    python = Path(__file__).resolve().parents[1] / ".venv-vllm" / "bin" / "python"
    if not python.exists():
        print("no vLLM environment: run `make vllm-env` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as logs, vllm_server(python, folder, Path(logs) / "server.log") as url:
        model = OpenAIChatModel(ModelSpec(backend="openai", name_or_path="smollm2", base_url=url,
                                          concurrency=BATCH, api_key_env="STARLING_EVAL_BENCH_NO_KEY"))
        bare_server(model, prompts)  # warm: the first requests (and prefix caching) are not what is measured
        return side_by_side("server", model, data_dir, prompts, bare_server)


def side_by_side(backend: str, model: object, data_dir: str, prompts: list[str], bare_side: object) -> int:
    bare_times, harness_times = [], []
    for _ in range(ROUNDS):
        bare_times.append(bare_side(model, prompts))
        harness_times.append(harness(model, data_dir))
    bare, ours = statistics.median(bare_times), statistics.median(harness_times)
    print(f"{backend}: {N_QUESTIONS} MT-Bench prompts (turn 1), greedy, {MAX_NEW_TOKENS} new tokens, batch {BATCH}, "
          f"median of {ROUNDS}")
    print(f"{'bare s':>8} {'harness s':>10} {'harness/bare':>13}")
    print(f"{bare:8.2f} {ours:10.2f} {ours / bare:13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
