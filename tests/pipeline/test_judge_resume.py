"""kill -9 while judging, at seeded random points, then re-run: the same scores, and no judgment the harness
stored is paid for again (the server counts every completion it delivers, and does not deliver to a client
that died while it was "thinking").

With one call in flight the kill always lands while the judge is thinking, so not a single completion may be
paid twice. With several in flight, completions that the server had already sent but the killed process had
not yet stored are lost with it (no client can keep bytes it never read); those, and only those, are asked
again: at most (calls in flight − 1) per kill, since the kill is triggered by a stored row."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli


def _args(data_dir: Path, base_url: str, concurrency: int) -> list[str]:
    return ["run", "mtbench", "--json", "--answers", str(data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl"),
            "--limit", "12", "--judge-concurrency", str(concurrency), "--judge-base-url", base_url]


def _kill_after(results: Path, args: list[str], data_dir: Path, rows: int) -> None:
    script = str(Path(sys.executable).with_name("starling-eval"))
    proc = subprocess.Popen([script, "--results", str(results), *args], env=cli_env(data_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        files = list(results.glob("runs/*/judgments.jsonl"))
        if files and sum(1 for line in files[0].read_text().splitlines() if line.strip()) >= rows:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read()}"
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("no judging progress to kill at")


def _scores(out: dict) -> list[tuple]:
    return [(m["model"], m["turn1"], m["turn2"], m["overall"], m["n_valid"], m["n_failed"]) for m in out["models"]]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_kill_during_judging_and_resume(tmp_path, data_dir, server_factory, concurrency):
    reference_server = server_factory("--random-verdicts", "single", "--seed", "2")
    res = run_cli("--results", str(tmp_path / "ref"), *_args(data_dir, reference_server.base_url, concurrency),
                  env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    reference = json.loads(res.stdout)

    server = server_factory("--random-verdicts", "single", "--seed", "2", "--latency-ms", "120")
    args = _args(data_dir, server.base_url, concurrency)
    results = tmp_path / "killed"
    kills = sorted(random.Random(11 + concurrency).sample(range(1, 22), 2))
    for rows in kills:
        _kill_after(results, args, data_dir, rows)
    res = run_cli("--results", str(results), *args, env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    resumed = json.loads(res.stdout)

    assert _scores(resumed) == _scores(reference)
    stats = server.stats()
    assert stats["distinct_served"] == 24 and stats["abandoned"] >= 1
    assert stats["duplicate_served"] <= len(kills) * (concurrency - 1)
    runs = list((results / "runs").iterdir())
    assert len(runs) == 1 and json.loads((runs[0] / "manifest.json").read_text())["resumed"] == 2
    rows = [json.loads(line) for line in (runs[0] / "judgments.jsonl").read_text().splitlines()]
    assert len(rows) == len({r["id"] for r in rows}) == 24
