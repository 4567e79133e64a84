"""Judge throughput: the harness's judging engine against a bare client and a FastChat-style thread pool.

N distinct MT-Bench-like single-grading requests (FastChat's ``single-v1`` prompt, a unique question and
answer each) go to the local OpenAI-compatible server, which waits ``--latency-ms`` and answers
"Rating: [[7]]". Side by side in one run, each method against a fresh server (fresh counters) and, for the
harness, a fresh cache in a temp folder:

  bound    N x latency / concurrency: perfect overlap, zero overhead;
  bare     ``AsyncOpenAI(max_retries=0)`` + ``asyncio.Semaphore(C)``, no cache: what Python and this server
           reach here;
  harness  ``judge_all`` with a ``JudgeClient(JudgeSpec(concurrency=C))`` and a ``CallCache`` in a temp folder
           (cache lookup, adaptive limit, retries wrapper, verdict parsing, a group commit to SQLite per
           batch of finished calls); outcomes go nowhere;
  threads  ``ThreadPoolExecutor(max_workers=C)``, each thread calling the sync ``openai.OpenAI`` client:
           how FastChat's ``gen_judgment.py --parallel C`` judges.

Columns: wall seconds, requests/s, fraction of the bound (bound / wall) and throughput relative to the bare
client (bare wall / wall). ``served`` is the server's count of paid completions: it must be exactly N for
every method (no duplicate paid calls, none lost); the script exits 1 otherwise.

Caveat (DESIGN, "Measuring"): the server shares the machine's two cores with the client, so at high
concurrency the server, not the client, can cap throughput, and the fraction of the bound stops meaning
much. The harness/bare ratio is the overhead number at every concurrency; the fraction-of-bound goal
(>= 0.95) is checked at ``--low-concurrency`` (default 16), where the bare client reaches the bound.

The server runs in a separate process by default (``--server process``): in-process, its handler threads
would share the client's GIL and each request's server-side work (JSON parsing, counting, reply building)
would be charged to whichever client method is being measured, penalising the thread pool and the event
loop alike. Measured on the 2-core machine, the two placements give the same bare numbers at C <= 16 and
the separate process is a few percent faster at C = 64; ``--server thread`` is kept to compare.

Reading it: below the bound, each request costs ~100 ms plus ~5 ms of round trip through Python on both
sides, so about 0.95 of the bound is the ceiling for any client here. At C = 64 the client process is
CPU-bound (the openai SDK spends ~1.6 ms of CPU per request), so whatever CPU the harness adds per
judgment (cache keys, ``asyncio.wait`` over every pending task, the adaptive limit's condition, verdict
parsing, commits) shows up one for one in the wall.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import openai

from starling_eval.adapters.mtbench import verdicts
from starling_eval.judges.client import JudgeClient, judge_identity
from starling_eval.judges.runner import judge_all
from starling_eval.spec import JudgeRequest, JudgeSpec, Message
from starling_eval.store.cache import CallCache
from starling_eval.testing.server import Behaviour, serve, server_process

REPLY = "Rating: [[7]]"
JUDGE_MODEL = "gpt-4"
GOAL = 0.95  # harness fraction of the bound, where the bare client reaches the bound
SYSTEM = "You are a helpful assistant."
TEMPLATE = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your "
    "evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, "
    "you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for "
    "example: \"Rating: [[5]]\".\n\n[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n"
    "[The End of Assistant's Answer]"
)
ANSWER = ("Here is a careful answer. First, consider the main constraint and what it implies for the result. "
          "Second, work through an example step by step, checking each intermediate value. Finally, summarise "
          "the trade-offs and note where the approach would not apply. ") * 4


def make_requests(n: int) -> list[JudgeRequest]:
    """N single-grading requests, each with its own question (so no two share a cache key)."""
    return [
        JudgeRequest(
            id=f"single|bench-model|{i}|1",
            messages=(Message(role="system", content=SYSTEM),
                      Message(role="user", content=TEMPLATE.format(
                          question=f"Question {i}: explain, with an example, how topic number {i} works.",
                          answer=f"(answer {i}) {ANSWER}"))),
            output_format="[[rating]]", verdict_reader=verdicts.__name__, max_tokens=2048, temperature=0.0,
            meta={"kind": "single", "item_id": str(i), "turn": 1, "model": "bench-model", "prompt": "single-v1"},
        )
        for i in range(n)
    ]


def body(request: JudgeRequest) -> dict[str, Any]:
    """The same request body the harness's JudgeClient sends."""
    return {"model": JUDGE_MODEL, "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature, "max_tokens": request.max_tokens, "n": 1}


# -- the server ---------------------------------------------------------------------------------------------


@contextmanager
def local_server(placement: str, latency_ms: float) -> Iterator[str]:
    """A fresh server (counters at zero); yields its base url."""
    if placement == "thread":
        server = serve(behaviour=Behaviour(latency_ms=latency_ms, reply=REPLY))
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()
        return
    with server_process("--latency-ms", str(latency_ms), "--reply", REPLY) as base_url:
        yield base_url


def served(base_url: str) -> tuple[int, int]:
    """(requests, served) from the server's /stats."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=10) as response:
        stats = json.load(response)
    return stats["requests"], stats["served"]


# -- the methods ----------------------------------------------------------------------------------------------


def run_bare(base_url: str, requests: list[JudgeRequest], concurrency: int) -> None:
    async def go() -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
        sem = asyncio.Semaphore(concurrency)

        async def one(request: JudgeRequest) -> None:
            async with sem:
                response = await client.chat.completions.create(**body(request))
            assert response.choices[0].message.content == REPLY

        await asyncio.gather(*(one(r) for r in requests))
        await client.close()

    asyncio.run(go())


def run_harness(base_url: str, requests: list[JudgeRequest], concurrency: int) -> None:
    spec = JudgeSpec(model=JUDGE_MODEL, base_url=base_url, concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        cache = CallCache(Path(tmp) / "cache.sqlite")
        tally = asyncio.run(judge_all(requests, judge_identity(spec), lambda: JudgeClient(spec), cache,
                                      on_outcomes=lambda batch: None))
        assert tally.called == len(requests) and not tally.api_failures and not tally.unparsable, tally
        assert cache.count("judgment") == len(requests)


def run_threads(base_url: str, requests: list[JudgeRequest], concurrency: int) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)

    def one(request: JudgeRequest) -> None:
        response = client.chat.completions.create(**body(request))
        assert response.choices[0].message.content == REPLY

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, requests))
    client.close()


METHODS: dict[str, Callable[[str, list[JudgeRequest], int], None]] = {
    "bare": run_bare, "harness": run_harness, "threads": run_threads,
}


@dataclass
class Row:
    concurrency: int
    method: str
    wall_s: float
    requests_per_s: float
    fraction_of_bound: float
    vs_bare: float | None
    requests: int | None  # seen by the server
    served: int | None  # paid completions


def measure(args: argparse.Namespace, requests: list[JudgeRequest], concurrency: int) -> list[Row]:
    n = len(requests)
    bound = n * args.latency_ms / 1000 / concurrency
    walls: dict[str, float] = {}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(args.repeat):  # interleaved, best of --repeat
        for name, method in METHODS.items():
            with local_server(args.server, args.latency_ms) as base_url:
                t = time.perf_counter()
                method(base_url, requests, concurrency)
                wall = time.perf_counter() - t
                seen = served(base_url)
            walls[name] = min(wall, walls.get(name, wall))
            if seen != counts.get(name, seen):
                counts[name] = (-1, -1)  # not the same in every repetition: reported as a mismatch
            else:
                counts[name] = seen
    rows = [Row(concurrency, "bound", bound, n / bound, 1.0, None, None, None)]
    for name, wall in walls.items():
        rows.append(Row(concurrency, name, wall, n / wall, bound / wall, walls["bare"] / wall, *counts[name]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=2000, help="judge requests (distinct prompts)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="server latency per request")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (the main measurement)")
    parser.add_argument("--low-concurrency", type=int, default=16,
                        help="also measure here, where the bare client reaches the bound (0: skip)")
    parser.add_argument("--server", choices=("process", "thread"), default="process",
                        help="the local server in its own process, or in a thread of this one")
    parser.add_argument("--repeat", type=int, default=None,
                        help="interleaved repetitions, the best wall kept [default: 2, --quick 1]")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=400, one repetition")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 400
    if args.repeat is None:
        args.repeat = 1 if args.quick else 2
    requests = make_requests(args.requests)
    concurrencies = [c for c in dict.fromkeys((args.low_concurrency, args.concurrency)) if c > 0]

    print(f"{args.requests} judge requests, server latency {args.latency_ms:g} ms, server in a "
          f"{args.server}, best of {args.repeat}")
    rows: list[Row] = []
    for concurrency in concurrencies:
        rows += measure(args, requests, concurrency)
    print(f"{'C':>3} {'method':8} {'wall s':>7} {'req/s':>7} {'bound/wall':>10} {'x bare':>7} {'served':>7}")
    for row in rows:
        vs_bare = f"{row.vs_bare:7.2f}" if row.vs_bare is not None else f"{'':7}"
        paid = f"{row.served:7d}" if row.served is not None else f"{'':7}"
        print(f"{row.concurrency:>3} {row.method:8} {row.wall_s:7.2f} {row.requests_per_s:7.0f} "
              f"{row.fraction_of_bound:10.2f} {vs_bare} {paid}")

    exact = all(r.served == args.requests and r.requests == args.requests for r in rows if r.served is not None)
    print(f"server served exactly N={args.requests} completions for every method: {'yes' if exact else 'NO'}")
    checks: dict[str, Any] = {"served_exactly_n": exact}
    if args.low_concurrency > 0:
        low = {r.method: r for r in rows if r.concurrency == args.low_concurrency}
        bare_frac, harness_frac = low["bare"].fraction_of_bound, low["harness"].fraction_of_bound
        checks.update(goal_concurrency=args.low_concurrency, bare_fraction=round(bare_frac, 3),
                      harness_fraction=round(harness_frac, 3), harness_meets_goal=harness_frac >= GOAL)
        print(f"at C={args.low_concurrency}: the bare client reaches {bare_frac:.2f} of the bound, the harness "
              f"{harness_frac:.2f} (goal >= {GOAL}: {'met' if harness_frac >= GOAL else 'MISSED'}"
              f"{'' if bare_frac >= GOAL else '; the bare client misses it too'})")
    print(json.dumps({"bench": "judge_throughput", "n": args.requests, "latency_ms": args.latency_ms,
                      "server": args.server, "repeat": args.repeat, "checks": checks,
                      "results": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(r).items()}
                                  for r in rows]}))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
