"""Throughput of generation through the openai backend, side by side in one run.

Against the local OpenAI-compatible server with a fixed per-request latency, for several concurrencies:
  bound   N x latency / concurrency (what perfect overlap would give),
  bare    a bare AsyncOpenAI client with a semaphore, each MT-Bench question's two turns chained (turn 2 sent
          when its own turn 1 is back, as a chat needs), the questions concurrent (what Python + this server
          reach here),
  harness `pipeline.generate` (cache lookups, durable writes, retries, bookkeeping included).
Server and client share the machine's cores, so read harness/bare as the harness's overhead, and
bare/bound only where the bare client reaches the bound.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openai import AsyncOpenAI

from starling_eval import pipeline
from starling_eval.spec import ModelSpec, RunSpec
from starling_eval.testing.server import Behaviour, serve

LATENCY_MS = 50.0
CONCURRENCIES = (1, 8, 32)
LIMIT = 80  # MT-Bench questions (all of them) -> 2 x LIMIT requests
ROUNDS = 3  # each side, alternating; medians


async def bare_client(base_url: str, questions: int, concurrency: int) -> None:
    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def chat(i: int) -> None:
        messages = [{"role": "user", "content": f"q {i}"}]
        for turn in (1, 2):
            async with sem:
                reply = await client.chat.completions.create(model="m", messages=messages, max_tokens=64,
                                                             temperature=0)
            messages += [{"role": "assistant", "content": reply.choices[0].message.content},
                         {"role": "user", "content": f"q {i} turn {turn + 1}"}]

    await asyncio.gather(*(chat(i) for i in range(questions)))
    await client.close()


def main() -> int:
    data_dir = os.environ.get("STARLING_EVAL_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    server = serve(behaviour=Behaviour(latency_ms=LATENCY_MS))
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    n = 2 * LIMIT
    print(f"{n} requests ({LIMIT} MT-Bench questions x 2 turns), server latency {LATENCY_MS:.0f} ms, "
          f"median of {ROUNDS}")
    print(f"{'concurrency':>11} {'bound s':>8} {'bare s':>8} {'harness s':>10} {'harness/bare':>13} {'bare/bound':>11}")
    for conc in CONCURRENCIES:
        bound = n * LATENCY_MS / 1000 / conc
        bare_times, harness_times = [], []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            asyncio.run(bare_client(base_url, LIMIT, conc))
            bare_times.append(time.perf_counter() - t)
            with tempfile.TemporaryDirectory() as results:
                spec = RunSpec(benchmark="mtbench", data_dir=data_dir, limit=LIMIT, max_new_tokens=64,
                               model=ModelSpec(backend="openai", name_or_path="m", base_url=base_url, concurrency=conc))
                t = time.perf_counter()
                result = pipeline.generate(spec, Path(results))
                harness_times.append(time.perf_counter() - t)
                assert result.counts["generated"] == n, result.counts
        bare, harness = statistics.median(bare_times), statistics.median(harness_times)
        print(f"{conc:>11} {bound:8.2f} {bare:8.2f} {harness:10.2f} {harness / bare:13.2f} {bare / bound:11.2f}")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
