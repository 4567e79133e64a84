"""Scale: how the harness's cost grows with work, at 1x, 10x and 100x (goal: within 1.2x of linear).

Two kinds of work, each measured at the three sizes side by side in one invocation:

  judging     ``run mtbench --answers F1 [--answers F2 ...] --judge-base-url URL``: single grading of k answer
              files, 160 judgments each (80 questions x 2 turns), so 1x = 160, 10x = 1,600 and 100x = 16,000
              judge requests. The judge is the local OpenAI-compatible server (``starling_eval.testing.server``)
              in its own process, replying "Rating: [[7]]" after ``--latency-ms`` (0 by default), with
              ``--judge-concurrency`` 64. Each size gets a fresh results folder: one cold run (every judgment a
              call), then the same command again (a warm re-run: every judgment from the cache).
  results     a results folder holding 5, 50 and 500 finished runs (real ``run mtbench --answers F --limit 1``
              runs against the same server, each of its own model, made in one process through the CLI's entry
              point so that 500 of them take seconds, not 500 interpreter start-ups), then ``list runs``,
              ``leaderboard`` (the rich table) and ``report`` (the HTML report) on it.

Times are the wall clock of the whole ``starling-eval`` subprocess (start-up and imports included), except the
indented rows, which are parts of those runs timed inside the same subprocess: ``judge_s`` is the run's own
``timings.judge_s`` (its ``--json`` output); cache store/lookup are ``CallCache.put_many``/``get_many`` and
scoring ``MTBench.score``, timed by wrapping them before the CLI runs. Subprocess walls carry a fixed start-up
(about half a second; matplotlib's import adds more to ``report``) that makes their ratios fall below 1; the
"marginal" column, the cost per unit of work from 10x to 100x over that from 1x to 10x, cancels it (1.0 linear,
about 10 for a quadratic step; noisy where 1x to 10x adds little time). Each results
command is run ``--repeat`` times (5) and its median shown. The goal (both ratios at most 1.2) is checked on
every row; the exit status is 1 when a whole command misses it (the indented rows are diagnostics: SQLite's
per-key cost grows slowly with the size of its B-trees, so the cache rows exceed 1.2 at 100x without any
quadratic step).

Answer files: the real FastChat answers under ``$STARLING_EVAL_DATA/mt_bench/model_answer`` (31 of them),
then synthetic ones derived from them in turn (another model name, and each turn's text with " (variant N of
SOURCE)" appended, so a synthetic answer repeats no other). The 1x file is the real file of median answer length.
A few real answers are the same in two files (the run shares one call between them: ``called`` in the JSON).

    STARLING_EVAL_DATA=../shared/data python benchmarks/bench_scale.py [--latency-ms 0] [--repeat 5]

Takes about 4 minutes on 2 CPU cores. Data come from ``$STARLING_EVAL_DATA`` (default ``../shared/data``).
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
from pathlib import Path
from typing import Any

from bench_warm_rerun import judge_server  # the same scripted local judge ("Rating: [[7]]" to MT-Bench prompts)

SIZES = (1, 10, 100)
FILES_PER_X = 1  # answer files per 1x of judging: 160 judgments each
RUNS_PER_X = 5  # runs per 1x of the results folder
GOAL = 1.2


# -- answer files ---------------------------------------------------------------------------------------


def _answer_chars(path: Path) -> int:
    return sum(len(t) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
               for t in json.loads(line)["choices"][0]["turns"])


def answer_files(real_dir: Path, out_dir: Path, n: int, prefix: str = "") -> list[Path]:
    """``n`` FastChat answer files: the real ones (the one of median length first), then synthetic variants of
    them in turn, each its own model (file name and ``model_id``) with distinct answer text. With ``prefix``,
    every file is a renamed variant (``prefix``0001, ...), for folders of many runs of distinct models."""
    real = sorted(real_dir.glob("*.jsonl"))
    if not real:
        raise SystemExit(f"no answer files under {real_dir}")
    by_length = sorted(real, key=_answer_chars)
    median = by_length[len(by_length) // 2]
    real = [median, *(p for p in real if p != median)]
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = [] if prefix else real[:n]
    for i in range(len(files), n):
        source = real[i % len(real)]
        variant = i // len(real) + (0 if prefix else 1)
        name = f"{prefix}{i + 1:04d}" if prefix else f"{source.stem}-v{variant}"
        rows = []
        for line in source.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            row["model_id"] = name
            for choice in row["choices"]:
                choice["turns"] = [f"{t} (variant {variant} of {source.stem})" if variant else t
                                   for t in choice["turns"]]
            rows.append(json.dumps(row, ensure_ascii=False))
        path = out_dir / f"{name}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        files.append(path)
    return files


# -- the CLI, timed -------------------------------------------------------------------------------------


def _cli() -> Any:
    """The installed ``starling-eval`` console script's entry point (what the command runs), loaded here rather
    than imported: only the command line itself imports ``starling_eval.cli``."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="starling-eval")
    return script.load()


def _timed_cli(out: str, args: list[str]) -> None:
    """Child mode: run the CLI in this process with a few functions wrapped in timers; write the sums to ``out``."""
    from starling_eval.adapters.mtbench.benchmark import MTBench
    from starling_eval.store.cache import CallCache

    spent: dict[str, float] = {}

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t

        setattr(owner, name, timed)

    wrap(CallCache, "get_many", "cache_lookup_s")
    wrap(CallCache, "put_many", "cache_store_s")
    wrap(MTBench, "score", "scoring_s")
    try:
        _cli()(args, prog_name="starling-eval")
    finally:
        Path(out).write_text(json.dumps(spent))


def _make_runs(args: list[str]) -> None:
    """Child mode: ``RESULTS BASE_URL FILE...``: one ``run mtbench --answers FILE --limit 1`` per file, in this
    process (the CLI's own entry point, so each is a real run: folder, manifest, scores, index rows)."""
    cli_main = _cli()
    results, base_url, *files = args
    for path in files:
        try:
            cli_main(["--results", results, "run", "mtbench", "--answers", path, "--limit", "1", "--judge-base-url",
                      base_url, "--json"], prog_name="starling-eval", standalone_mode=False)
        except SystemExit as stop:
            if stop.code:
                raise


def cli_run(cli_args: list[str], env: dict[str, str], tmp: Path, *, parse_json: bool = False) -> dict[str, Any]:
    """One ``starling-eval`` subprocess: its wall, the in-process timers, and its ``--json`` output."""
    timers = tmp / "timers.json"
    timers.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--timed-cli", str(timers), "--", *cli_args]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"starling-eval {' '.join(cli_args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = {"wall_s": wall, **json.loads(timers.read_text())}
    if parse_json:
        out["json"] = json.loads(proc.stdout)
    return out


# -- the two kinds of work ------------------------------------------------------------------------------


def judging(files: list[Path], base_url: str, env: dict[str, str], tmp: Path, concurrency: int) -> dict[str, dict]:
    """Per size: a cold run and a warm re-run of ``run mtbench`` over ``FILES_PER_X * size`` answer files."""
    out: dict[str, dict] = {}
    for size in SIZES:
        root = tmp / f"R-judge-{size}x"
        args = ["--results", str(root), "run", "mtbench",
                *(x for f in files[: FILES_PER_X * size] for x in ("--answers", str(f))),
                "--judge-base-url", base_url, "--judge-concurrency", str(concurrency), "--json"]
        cold = cli_run(args, env, tmp, parse_json=True)
        warm = cli_run(args, env, tmp, parse_json=True)
        for name, r in (("cold", cold), ("warm", warm)):
            counts = r["json"]["judging"]["counts"]
            if r["json"]["status"] != "complete" or counts["valid"] != counts["requested"]:
                raise SystemExit(f"{size}x {name} run: status {r['json']['status']}, counts {counts}")
        if warm["json"]["judging"]["counts"]["called"]:
            raise SystemExit(f"{size}x warm re-run called the judge: {warm['json']['judging']['counts']}")
        out[f"{size}x"] = {
            "requested": cold["json"]["judging"]["counts"]["requested"],
            "called": cold["json"]["judging"]["counts"]["called"],
            "cold_wall_s": cold["wall_s"], "cold_judge_s": cold["json"]["timings"]["judge_s"],
            "cold_cache_store_s": cold.get("cache_store_s", 0.0), "cold_scoring_s": cold.get("scoring_s", 0.0),
            "warm_wall_s": warm["wall_s"], "warm_judge_s": warm["json"]["timings"]["judge_s"],
            "warm_cache_lookup_s": warm.get("cache_lookup_s", 0.0), "warm_scoring_s": warm.get("scoring_s", 0.0),
        }
        print(f"  judging {size}x: {json.dumps({k: round(v, 3) for k, v in out[f'{size}x'].items()})}",
              file=sys.stderr)
    return out


def results_commands(files: list[Path], base_url: str, env: dict[str, str], tmp: Path,
                     repeat: int) -> dict[str, dict]:
    """One results folder grown to 5, 50, 500 runs; ``list runs``, ``leaderboard`` and ``report`` at each size."""
    root = tmp / "R-many"
    commands = {
        "list": ["--results", str(root), "list", "runs"],
        "leaderboard": ["--results", str(root), "leaderboard"],
        "report": ["--results", str(root), "report", "--out", str(tmp / "report.html")],
    }
    out: dict[str, dict] = {}
    made = 0
    for size in SIZES:
        n = RUNS_PER_X * size
        t = time.perf_counter()
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--make-runs", str(root), base_url,
                        *(str(f) for f in files[made:n])], env=env, check=True, capture_output=True)
        make_s = time.perf_counter() - t
        made = n
        runs = sum(1 for p in (root / "runs").iterdir() if (p / "manifest.json").is_file())
        if runs != n:
            raise SystemExit(f"expected {n} runs under {root}, found {runs}")
        row: dict[str, Any] = {"runs": n, "made_s": make_s}
        for name, args in commands.items():
            row[f"{name}_s"] = statistics.median(cli_run(args, env, tmp)["wall_s"] for _ in range(repeat))
        listed = json.loads(subprocess.run([sys.executable, "-m", "starling_eval", "--results", str(root), "list",
                                            "runs", "--json"], env=env, check=True, capture_output=True,
                                           text=True).stdout)["runs"]
        board = json.loads(subprocess.run([sys.executable, "-m", "starling_eval", "--results", str(root),
                                           "leaderboard", "--format", "json"], env=env, check=True,
                                          capture_output=True, text=True).stdout)
        if len(listed) != n or len(board["rows"]) != n:
            raise SystemExit(f"{n} runs: list shows {len(listed)}, the leaderboard {len(board['rows'])} models")
        out[f"{size}x"] = row
        print(f"  results {size}x: {json.dumps({k: round(v, 3) for k, v in row.items()})}", file=sys.stderr)
    return out


# -- the table ------------------------------------------------------------------------------------------


def ratios(t1: float, t10: float, t100: float) -> tuple[float, float, float]:
    """(10x / (10 * 1x), 100x / (100 * 1x), marginal: cost per unit from 10x to 100x over that from 1x to 10x)."""
    marginal = ((t100 - t10) / 90) / ((t10 - t1) / 9) if t10 > t1 else float("nan")
    return t10 / (10 * t1), t100 / (100 * t1), marginal


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--timed-cli"]:  # child modes
        _timed_cli(argv[1], argv[3:])
        return 0
    if argv[:1] == ["--make-runs"]:
        _make_runs(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the judge server's latency per request")
    parser.add_argument("--judge-concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each results command (median shown)")
    args = parser.parse_args(argv)

    data_dir = Path(os.environ.get("STARLING_EVAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "STARLING_EVAL_DATA": str(data_dir),
           "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    real_dir = data_dir / "mt_bench" / "model_answer"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, judge_server(args.latency_ms, Path(tmp)) as base_url:
        tmpdir = Path(tmp)
        judge_files = answer_files(real_dir, tmpdir / "answers", FILES_PER_X * SIZES[-1])
        print(f"1x answer file: {judge_files[0].name}", file=sys.stderr)
        run_files = answer_files(real_dir, tmpdir / "answers-runs", RUNS_PER_X * SIZES[-1], prefix="model-")
        judged = judging(judge_files, base_url, env, tmpdir, args.judge_concurrency)
        listed = results_commands(run_files, base_url, env, tmpdir, args.repeat)
    total_s = time.perf_counter() - started

    steps = [
        (f"run mtbench, cold ({judged['1x']['requested']}/{judged['10x']['requested']}/"
         f"{judged['100x']['requested']} judgments)", judged, "cold_wall_s"),
        ("  judging (timings.judge_s)", judged, "cold_judge_s"),
        ("  cache store (put_many)", judged, "cold_cache_store_s"),
        ("  scoring (MTBench.score)", judged, "cold_scoring_s"),
        ("run mtbench, warm re-run", judged, "warm_wall_s"),
        ("  judging from cache (judge_s)", judged, "warm_judge_s"),
        ("  cache lookup (get_many)", judged, "warm_cache_lookup_s"),
        ("  scoring (MTBench.score)", judged, "warm_scoring_s"),
        (f"list runs ({'/'.join(str(listed[f'{s}x']['runs']) for s in SIZES)} runs)", listed, "list_s"),
        ("leaderboard", listed, "leaderboard_s"),
        ("report (html)", listed, "report_s"),
    ]
    rows, failed = [], []
    width = max(len(s[0]) for s in steps)
    print(f"judge latency {args.latency_ms:g} ms, judge concurrency {args.judge_concurrency}; "
          f"results commands: median of {args.repeat}; whole benchmark {total_s:.0f} s")
    print(f"{'step':{width}} {'1x s':>8} {'10x s':>8} {'100x s':>8} {'10x/lin':>8} {'100x/lin':>8} "
          f"{'marginal':>8} {'linear':>6}")
    for name, source, key in steps:
        t1, t10, t100 = (source[f"{s}x"][key] for s in SIZES)
        r10, r100, marginal = ratios(t1, t10, t100)
        ok = r10 <= GOAL and r100 <= GOAL
        if not ok and not name.startswith(" "):
            failed.append(name)
        rows.append({"step": name.strip(), "1x_s": round(t1, 4), "10x_s": round(t10, 4), "100x_s": round(t100, 4),
                     "ratio_10x": round(r10, 3), "ratio_100x": round(r100, 3), "marginal": round(marginal, 3) if marginal == marginal else None,
                     "within_goal": ok})
        shown = f"{marginal:8.2f}" if marginal == marginal else f"{'n/a':>8}"
        print(f"{name:{width}} {t1:8.3f} {t10:8.3f} {t100:8.3f} {r10:8.2f} {r100:8.2f} {shown} "
              f"{'yes' if ok else 'NO':>6}")
    print(f"(10x/lin = time at 10x / (10 * time at 1x), 100x/lin likewise; goal: at most {GOAL}. marginal = cost "
          "per unit of work from 10x to 100x / from 1x to 10x: 1 linear, ~10 quadratic, fixed start-up cancelled; "
          "n/a where 10x took no longer than 1x)")
    print(f"whole commands within {GOAL}x of linear: {'yes' if not failed else 'NO: ' + ', '.join(failed)}")
    print(json.dumps({"bench": "scale", "latency_ms": args.latency_ms, "judge_concurrency": args.judge_concurrency,
                      "repeat": args.repeat, "total_s": round(total_s, 1), "judging": judged, "results": listed,
                      "rows": rows}))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
