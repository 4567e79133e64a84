"""Throughput of generation through the openai backend, side by side in one run.

Against the local OpenAI-compatible server with a fixed per-request latency, for several concurrencies:
  bound   N x latency / concurrency (what perfect overlap would give),
  bare    a bare AsyncOpenAI client with a semaphore sending the same MT-Bench questions, each question's two
          turns chained (turn 2, with turn 1's answer, sent when its own turn 1 is back, as a chat needs), the
          questions concurrent (what Python + this server reach here),
  harness `pipeline.generate` (cache lookups, durable writes, retries, bookkeeping included);
  warm    the harness's run again with every answer cached: what it costs besides the calls (opening the run,
          provenance, writing the manifest, the answers and the index), paid once per run.
The server runs in its own process (sharing no GIL with the client), but server and client share the
machine's cores, so read harness/bare as the harness's overhead, and bare/bound only where the bare client
reaches the bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openai import AsyncOpenAI

from starling_eval import pipeline
from starling_eval.spec import ModelSpec, RunSpec
from starling_eval.testing.server import server_process

LATENCY_MS = 50.0
CONCURRENCIES = (1, 8, 32)
LIMIT = 80  # MT-Bench questions (all of them) -> 2 x LIMIT requests
ROUNDS = 5  # each side, alternating; medians (3 moved the ratio at 8 in flight between 1.03 and 1.09)


def mtbench_turns(data_dir: str, questions: int) -> list[list[str]]:
    """The MT-Bench questions' user turns, as the harness sends them (the same bytes on the wire both ways)."""
    rows = [json.loads(line) for line in (Path(data_dir) / "mt_bench" / "question.jsonl").read_text().splitlines()]
    return [row["turns"] for row in rows[:questions]]


async def bare_client(base_url: str, turns: list[list[str]], concurrency: int) -> None:
    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def chat(user_turns: list[str]) -> None:
        messages: list[dict[str, str]] = []
        for text in user_turns:
            messages.append({"role": "user", "content": text})
            async with sem:
                reply = await client.chat.completions.create(model="m", messages=messages, max_tokens=64,
                                                             temperature=0)
            messages.append({"role": "assistant", "content": reply.choices[0].message.content.strip()})

    await asyncio.gather(*(chat(t) for t in turns))
    await client.close()


def main() -> int:
    data_dir = os.environ.get("STARLING_EVAL_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    n = 2 * LIMIT
    print(f"{n} requests ({LIMIT} MT-Bench questions x 2 turns), server latency {LATENCY_MS:.0f} ms, "
          f"median of {ROUNDS}")
    print(f"{'concurrency':>11} {'bound s':>8} {'bare s':>8} {'harness s':>10} {'harness/bare':>13} {'bare/bound':>11} {'warm s':>7}")
    with server_process("--latency-ms", str(LATENCY_MS)) as base_url:
        for conc in CONCURRENCIES:
            measure(base_url, data_dir, n, conc)
    return 0


def measure(base_url: str, data_dir: str, n: int, conc: int) -> None:
    """One concurrency: bare and harness alternating, ROUNDS each; prints one row."""
    bound = n * LATENCY_MS / 1000 / conc
    bare_times, harness_times, warm_times = [], [], []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        asyncio.run(bare_client(base_url, mtbench_turns(data_dir, LIMIT), conc))
        bare_times.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as results:
            spec = RunSpec(benchmark="mtbench", data_dir=data_dir, limit=LIMIT, max_new_tokens=64,
                           model=ModelSpec(backend="openai", name_or_path="m", base_url=base_url, concurrency=conc))
            t = time.perf_counter()
            result = pipeline.generate(spec, Path(results))
            harness_times.append(time.perf_counter() - t)
            assert result.counts["generated"] == n, result.counts
            t = time.perf_counter()  # the same run again, every answer cached: the harness's fixed cost
            assert pipeline.generate(spec, Path(results)).counts["generated"] == 0
            warm_times.append(time.perf_counter() - t)
    bare, harness = statistics.median(bare_times), statistics.median(harness_times)
    warm = statistics.median(warm_times)
    print(f"{conc:>11} {bound:8.2f} {bare:8.2f} {harness:10.2f} {harness / bare:13.2f} {bare / bound:11.2f} "
          f"{warm:7.2f}")


if __name__ == "__main__":
    sys.exit(main())
