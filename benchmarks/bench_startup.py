"""Startup cost of the CLI: median wall time of `starling-eval --help` against a bare `python -c pass`.

The brief's bound is 0.15 s wall on the 2-core CI machine. Prints a small table; exits 1 above the bound.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
BOUND_S = 0.15


def median_wall(cmd: list[str]) -> float:
    walls = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def main() -> int:
    cli = str(Path(sys.executable).with_name("starling-eval"))
    bare = median_wall([sys.executable, "-c", "pass"])
    rows = [
        ("python -c pass", bare),
        ("starling-eval --help", median_wall([cli, "--help"])),
        ("starling-eval list benchmarks", median_wall([cli, "list", "benchmarks"])),
        ("starling-eval data where", median_wall([cli, "data", "where"])),
    ]
    print(f"{'command':34} {'median s':>9} {'x python':>9}   ({RUNS} runs each)")
    for name, wall in rows:
        print(f"{name:34} {wall:9.3f} {wall / bare:9.1f}")
    help_s = rows[1][1]
    print(f"--help {'within' if help_s <= BOUND_S else 'OVER'} the {BOUND_S} s bound")
    return 0 if help_s <= BOUND_S else 1


if __name__ == "__main__":
    sys.exit(main())
