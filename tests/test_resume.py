"""kill -9 half-way through generation, then re-run: finished answers come back from the cache, nothing
is lost, duplicated, or paid for twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import cli_env, run_cli


def _kill_when(proc: subprocess.Popen, gen_file_glob, at_least: int, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = list(gen_file_glob())
        if files:
            rows = [line for line in files[0].read_text().splitlines() if line.strip()]
            if len(rows) >= at_least:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return len(rows)
        if proc.poll() is not None:
            raise AssertionError(f"finished before it could be killed: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("no progress to kill at")


def _start(results: Path, data: Path, *args: str) -> subprocess.Popen:
    script = str(Path(sys.executable).with_name("starling-eval"))
    return subprocess.Popen([script, "--results", str(results), "generate", "mtbench", "--json", *args],
                            env=cli_env(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check_resumed(results: Path, data: Path, *args: str) -> dict:
    res = run_cli("--results", str(results), "generate", "mtbench", "--json", *args, env=cli_env(data))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    runs = list((results / "runs").iterdir())
    assert len(runs) == 1, "the unfinished run is resumed, not restarted"
    gens = [json.loads(line) for line in (runs[0] / "generations.jsonl").read_text().splitlines()]
    keys = [(g["item_id"], g["turn"]) for g in gens]
    assert len(keys) == len(set(keys)) == 2 * int(args[args.index("--limit") + 1])
    assert all(g["error"] is None for g in gens)
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] == 1
    return out


def test_kill_and_resume_openai_pays_nothing_twice(tmp_path, data_dir, server_factory):
    server = server_factory("--latency-ms", "150")
    args = ("--model", "m", "--base-url", server.base_url, "--concurrency", "1", "--limit", "6")
    proc = _start(tmp_path / "res", data_dir, *args)
    written = _kill_when(proc, lambda: (tmp_path / "res").glob("runs/*/generations.jsonl"), 3)
    assert written < 12
    time.sleep(0.5)  # let the request in flight at the kill finish on the server side
    paid_before = server.stats()["served"]
    out = _check_resumed(tmp_path / "res", data_dir, *args)
    # every answer stored before the kill was reused; the only answer paid twice is the one in flight at the kill
    total_served = server.stats()["served"]
    assert out["counts"]["reused_from_run"] + out["counts"]["cache_hits"] >= written
    assert total_served - paid_before == out["counts"]["generated"]
    assert total_served <= 12 + 1


def test_kill_and_resume_hf(tmp_path, data_dir, tiny_model):
    args = ("--model", str(tiny_model), "--batch-size", "1", "--max-new-tokens", "48", "--limit", "8")
    proc = _start(tmp_path / "res", data_dir, *args)
    written = _kill_when(proc, lambda: (tmp_path / "res").glob("runs/*/generations.jsonl"), 4)
    out = _check_resumed(tmp_path / "res", data_dir, *args)
    assert out["counts"]["reused_from_run"] >= written
    assert out["counts"]["generated"] <= 16 - written
