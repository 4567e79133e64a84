"""Warm re-runs: repeating a finished MT-Bench or AlpacaEval run must cost no judge call and finish within a second.

Three scenarios, each run once cold (empty results folder) and then ``--warm`` more times (5) with the same
command, timing the wall clock of the whole ``starling-eval`` subprocess (interpreter start-up, imports,
cache lookups, scoring and writing the run included):

  generate+judge  ``run mtbench --model TINY --limit 10 --max-new-tokens 16``: a tiny random Llama built
                  here, answers generated locally, 20 single-grading judgments;
  --answers       ``run mtbench --answers alpaca-13b.jsonl --answers llama-13b.jsonl``: re-scoring two
                  published answer files, all 80 questions, 320 judgments.
  alpacaeval      ``run alpacaeval --answers claude-2/model_outputs.json``: AlpacaEval 2 on a published
                  model's 805 outputs, 804 logprob judgments (one output equals the reference's: no call),
                  then the leaderboard row by alpaca_eval's metric code.

The judge is the local OpenAI-compatible server in its own process, answering after ``--latency-ms``:
"Rating: [[7]]" to MT-Bench prompts, the token "m" with top logprobs m/M to AlpacaEval's. Judge calls on a warm run are counted twice: by the run itself (``judging.counts.called``
in its ``--json`` output) and by the server (the change in ``/stats`` ``served`` across the run). Both
must be 0 (the script exits 1 otherwise); the goal is a median warm wall of at most 1 s, plus, for
AlpacaEval, the time ``import alpaca_eval`` takes on its own (measured here: its metrics and parsers are
the reference, and its package import pulls in scipy.stats).

Data come from ``$STARLING_EVAL_DATA`` (default ``../shared/data`` next to the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starling_eval.testing.server import server_process

SCRIPT = [{"match": "Best Model Identifier", "top_logprobs": {"m": -0.5, "M": -0.9}},
          {"match": ".", "reply": "Rating: [[7]]"}]
GOAL_S = 1.0
ANSWER_MODELS = ("alpaca-13b", "llama-13b")


@contextmanager
def judge_server(latency_ms: float, tmpdir: Path) -> Iterator[str]:
    """The local judge in its own process; yields its base url."""
    script = tmpdir / "judge-script.json"
    script.write_text(json.dumps(SCRIPT))
    with server_process("--latency-ms", str(latency_ms), "--script", str(script)) as base_url:
        yield base_url


def served(base_url: str) -> int:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=10) as response:
        return int(json.load(response)["served"])


def run_once(cmd: list[str], env: dict[str, str], base_url: str) -> dict[str, Any]:
    """One CLI run: its wall, the judge calls it reports, and the completions the server served meanwhile."""
    before = served(base_url)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout)
    counts = out["judging"]["counts"]
    return {"wall_s": wall, "called": counts["called"], "served": served(base_url) - before,
            "requested": counts["requested"], "shared": counts["shared"], "from_cache": counts["from_cache"], "status": out["status"],
            "generated": (out.get("generation") or {}).get("generated")}


def import_seconds(module: str, repeats: int = 3) -> float:
    """Median wall of a fresh interpreter importing ``module`` (warnings off, as the harness imports it)."""
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import warnings; warnings.simplefilter('ignore'); import {module}"],
                       check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def scenario(name: str, cmd: list[str], env: dict[str, str], base_url: str, warm: int,
             goal_s: float = GOAL_S) -> dict[str, Any]:
    cold = run_once(cmd, env, base_url)
    warms = [run_once(cmd, env, base_url) for _ in range(warm)]
    walls = [w["wall_s"] for w in warms]
    median = statistics.median(walls)
    return {
        "scenario": name, "judgments": cold["requested"], "shared": cold["shared"], "cold_s": round(cold["wall_s"], 3), "cold_called": cold["called"],
        "cold_served": cold["served"], "warm_median_s": round(median, 3), "warm_min_s": round(min(walls), 3),
        "warm_max_s": round(max(walls), 3), "warm_called": sum(w["called"] for w in warms),
        "warm_served": sum(w["served"] for w in warms), "warm_generated": sum(w["generated"] or 0 for w in warms),
        "warm_from_cache": warms[-1]["from_cache"], "status": warms[-1]["status"], "goal_s": round(goal_s, 3),
        "within_goal": median <= goal_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=5, help="warm re-runs after the cold one")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the judge server's latency per request")
    args = parser.parse_args(argv)

    data_dir = Path(os.environ.get("STARLING_EVAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    env = {**os.environ, "STARLING_EVAL_DATA": str(data_dir)}
    cli = str(Path(sys.executable).with_name("starling-eval"))
    answers = [data_dir / "mt_bench" / "model_answer" / f"{m}.jsonl" for m in ANSWER_MODELS]

    rows = []
    with tempfile.TemporaryDirectory() as tmp, judge_server(args.latency_ms, Path(tmp)) as base_url:
        tmpdir = Path(tmp)
        tiny = tmpdir / "tiny"  # built in a child process: the build writes progress bars to the terminal
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from starling_eval.testing."
                        "tiny_model import build_tiny_llama; build_tiny_llama(Path(sys.argv[1]))", str(tiny)],
                       check=True, capture_output=True)
        judge = ["--judge-base-url", base_url, "--json"]
        rows.append(scenario(
            "generate+judge", [cli, "--results", str(tmpdir / "R-tiny"), "run", "mtbench", "--model", str(tiny),
                               "--limit", "10", "--max-new-tokens", "16", *judge],
            env, base_url, args.warm))
        rows.append(scenario(
            "--answers", [cli, "--results", str(tmpdir / "R-answers"), "run", "mtbench",
                          *(x for a in answers for x in ("--answers", str(a))), *judge],
            env, base_url, args.warm))
        alpaca_eval_import_s = import_seconds("alpaca_eval")
        rows.append(scenario(
            "alpacaeval", [cli, "--results", str(tmpdir / "R-alpacaeval"), "run", "alpacaeval", "--answers",
                           str(data_dir / "alpaca_eval" / "results" / "claude-2" / "model_outputs.json"), *judge],
            env, base_url, args.warm, goal_s=GOAL_S + alpaca_eval_import_s))

    print(f"cold run, then {args.warm} warm re-runs each; judge latency {args.latency_ms:g} ms; "
          f"wall of the whole CLI subprocess")
    print(f"{'scenario':15} {'judgments':>9} {'cold s':>7} {'calls':>6} {'warm med s':>10} {'min':>6} {'max':>6} "
          f"{'calls':>6} {'served':>7} {'cold/warm':>9} {'goal s':>6} {'met':>4}")
    for r in rows:
        print(f"{r['scenario']:15} {r['judgments']:9d} {r['cold_s']:7.2f} {r['cold_called']:6d} "
              f"{r['warm_median_s']:10.3f} {r['warm_min_s']:6.3f} {r['warm_max_s']:6.3f} {r['warm_called']:6d} "
              f"{r['warm_served']:7d} {r['cold_s'] / r['warm_median_s']:9.1f} {r['goal_s']:6.2f} "
              f"{'yes' if r['within_goal'] else 'NO':>4}")
    print(f"(goal: 1 s; for alpacaeval 1 s + {alpaca_eval_import_s:.2f} s, the time `import alpaca_eval` takes alone)")
    print("(cold calls: judge calls the cold run made, identical requests sharing one; warm calls: summed over "
          "the warm runs' own counts; served: the server's count of completions during the warm runs)")
    no_calls = all(r["warm_called"] == 0 and r["warm_served"] == 0 and r["warm_generated"] == 0 for r in rows)
    print(f"warm re-runs made no judge call (run's count and server's count) and generated nothing: "
          f"{'yes' if no_calls else 'NO'}")
    print(json.dumps({"bench": "warm_rerun", "warm": args.warm, "latency_ms": args.latency_ms, "results": rows}))
    return 0 if no_calls else 1


if __name__ == "__main__":
    sys.exit(main())
