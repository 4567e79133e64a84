"""Throughput of generation through the openai backend, side by side in one run.

Against the local OpenAI-compatible server with a fixed per-request latency, for several concurrencies:
  bound   N x latency / concurrency (what perfect overlap would give),
  bare    a bare AsyncOpenAI client with a semaphore (what Python + this server reach here),
  harness `pipeline.generate` (cache lookups, durable writes, retries, bookkeeping included).
Server and client share the machine's cores, so read harness/bare as the harness's overhead, and
bare/bound only where the bare client reaches the bound.
"""

from __future__ import annotations

import asyncio
import os
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
LIMIT = 40  # MT-Bench questions -> 2 x LIMIT requests


async def bare_client(base_url: str, n: int, concurrency: int) -> None:
    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q {i}"}],
                                                 max_tokens=64, temperature=0)

    await asyncio.gather(*(one(i) for i in range(n)))
    await client.close()


def main() -> int:
    data_dir = os.environ.get("STARLING_EVAL_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    server = serve(behaviour=Behaviour(latency_ms=LATENCY_MS))
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    n = 2 * LIMIT
    print(f"{n} requests, server latency {LATENCY_MS:.0f} ms")
    print(f"{'concurrency':>11} {'bound s':>8} {'bare s':>8} {'harness s':>10} {'harness/bare':>13} {'bare/bound':>11}")
    for conc in CONCURRENCIES:
        bound = n * LATENCY_MS / 1000 / conc
        t = time.perf_counter()
        asyncio.run(bare_client(base_url, n, conc))
        bare = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as results:
            spec = RunSpec(benchmark="mtbench", data_dir=data_dir, limit=LIMIT, max_new_tokens=64,
                           model=ModelSpec(backend="openai", name_or_path="m", base_url=base_url, concurrency=conc))
            t = time.perf_counter()
            result = pipeline.generate(spec, Path(results))
            harness = time.perf_counter() - t
            assert result.counts["generated"] == n, result.counts
        print(f"{conc:>11} {bound:8.2f} {bare:8.2f} {harness:10.2f} {harness / bare:13.2f} {bare / bound:11.2f}")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
