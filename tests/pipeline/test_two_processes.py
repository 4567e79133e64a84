"""Two real `starling-eval run` processes on the same model and judge share one results root: every
generation and every judgment is paid once (the servers count deliveries), and when the process holding
the claims is killed with SIGKILL, the other finishes the work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import cli_env


def _start(results: Path, data: Path, *args: str) -> subprocess.Popen:
    script = str(Path(sys.executable).with_name("starling-eval"))
    return subprocess.Popen([script, "--results", str(results), "run", "mtbench", "--json", *args],
                            env=cli_env(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out)


def _args(model: object, judge: object, limit: int, concurrency: int) -> tuple[str, ...]:
    return ("--model", "served-model", "--base-url", model.base_url, "--concurrency", str(concurrency),
            "--limit", str(limit), "--max-new-tokens", "16", "--judge-base-url", judge.base_url)


def test_two_processes_pay_for_every_call_once(tmp_path, data_dir, server_factory):
    model = server_factory("--latency-ms", "100")
    judge = server_factory("--random-verdicts", "single", "--seed", "5", "--latency-ms", "100")
    args = _args(model, judge, 6, 4)
    first, second = _start(tmp_path, data_dir, *args), _start(tmp_path, data_dir, *args)
    a, b = _finish(first), _finish(second)
    gen, judged = model.stats(), judge.stats()
    assert gen["duplicate_served"] == 0 and gen["served"] == 12  # 6 questions x 2 turns, once
    assert judged["duplicate_served"] == 0 and judged["served"] == 12
    assert a["models"] == b["models"] and a["status"] == b["status"] == "complete"
    waited = a["judging"]["counts"]["from_other_process"] + b["judging"]["counts"]["from_other_process"]
    generated_elsewhere = a["generation"]["from_other_process"] + b["generation"]["from_other_process"]
    assert waited + a["judging"]["counts"]["from_cache"] + b["judging"]["counts"]["from_cache"] >= 12
    assert generated_elsewhere + a["generation"]["cache_hits"] + b["generation"]["cache_hits"] >= 12
    assert a["path"] != b["path"]  # a run another live process works on is not resumed under it


def test_killing_the_claim_holder_lets_the_other_finish(tmp_path, data_dir, server_factory):
    model = server_factory("--latency-ms", "300")
    judge = server_factory("--random-verdicts", "single", "--seed", "5")
    args = _args(model, judge, 8, 1)
    holder = _start(tmp_path, data_dir, *args)
    deadline = time.time() + 60
    while model.stats()["served"] < 2 and time.time() < deadline:
        time.sleep(0.05)
    waiter = _start(tmp_path, data_dir, *args)
    time.sleep(2.0)  # the second process is up and waiting on the holder's claims
    assert holder.poll() is None, "the holder finished before it could be killed"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    out = _finish(waiter)
    gen = model.stats()
    assert out["status"] == "complete" and out["models"][0]["n_valid"] == 16
    assert gen["duplicate_served"] == 0 and gen["served"] == 16
    assert judge.stats()["duplicate_served"] == 0
    statuses = {json.loads((p / "manifest.json").read_text())["status"] for p in (tmp_path / "runs").iterdir()}
    assert "complete" in statuses
    listed = subprocess.run([str(Path(sys.executable).with_name("starling-eval")), "--results", str(tmp_path), "list",
                             "runs", "--json"], capture_output=True, text=True, env=cli_env(data_dir))
    assert sorted(r["status"] for r in json.loads(listed.stdout)["runs"]) == ["complete", "interrupted"]
