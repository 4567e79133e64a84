"""A run ends in a true state: bad input leaves no run "running", SIGINT/SIGTERM mark it interrupted (and
the same command resumes it), a partial answer file gives "not answered", never "failed"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli


def _answers(data_dir: Path, model: str) -> Path:
    return data_dir / "mt_bench" / "model_answer" / f"{model}.jsonl"


def _statuses(results: Path) -> list[str]:
    return [json.loads((p / "manifest.json").read_text())["status"] for p in sorted((results / "runs").glob("*"))]


def test_a_bad_answer_file_is_exit_2_and_leaves_no_running_run(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single")
    rows = _answers(data_dir, "alpaca-13b").read_text().splitlines()
    bad = tmp_path / "dup.jsonl"
    bad.write_text("\n".join(rows[:3] + [rows[1]]) + "\n")
    res = run_cli("--results", str(tmp_path / "res"), "run", "mtbench", "--answers", str(bad), "--judge-base-url",
                  judge.base_url, env=cli_env(data_dir))
    qid = json.loads(rows[1])["question_id"]
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"Error: {bad} line 4: question_id {qid} appears twice (first on line 2)"]
    assert not (tmp_path / "res" / "runs").exists() or _statuses(tmp_path / "res") == []


def test_a_partial_answer_file_is_not_answered_not_failed(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single", "--seed", "2")
    rows = _answers(data_dir, "alpaca-13b").read_text().splitlines()
    part = tmp_path / "alpaca-13b.jsonl"
    part.write_text("\n".join(rows[:10]) + "\n")
    args = ("--results", str(tmp_path / "res"), "run", "mtbench", "--answers", str(part), "--judge-base-url",
            judge.base_url)
    res = run_cli(*args, "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "complete" and out["n_failed"] == 0 and out["models"][0]["n_valid"] == 20
    (file_row,) = out["judging"]["not_answered"]["files"]
    assert file_row["questions"] == 70 and file_row["of"] == 80 and file_row["file"] == str(part.resolve())
    assert out["judging"]["not_answered"]["judgments"] == 140
    assert "70 of 80 questions have no answer" in res.stderr and str(part) in res.stderr
    assert "--retry-failed" not in res.stderr
    again = run_cli(*args, "--retry-failed", env=cli_env(data_dir))
    assert again.returncode == 0 and "--retry-failed: no failed judgments to ask again" in again.stderr
    assert judge.stats()["served"] == 20  # the retry asked nothing


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_marks_the_run_interrupted_and_the_same_command_resumes(tmp_path, data_dir, server_factory, sig):
    judge = server_factory("--random-verdicts", "single", "--latency-ms", "200")
    script = str(Path(sys.executable).with_name("starling-eval"))
    args = ("--results", str(tmp_path / "res"), "run", "mtbench", "--answers", str(_answers(data_dir, "llama-13b")),
            "--limit", "10", "--judge-base-url", judge.base_url, "--judge-concurrency", "2")
    proc = subprocess.Popen([script, *args], env=cli_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 60
    while judge.stats()["served"] < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert err.strip().splitlines()[-1].startswith("interrupted: finished work is stored")
    assert "Traceback" not in err
    (manifest,) = [json.loads(p.read_text()) for p in (tmp_path / "res" / "runs").glob("*/manifest.json")]
    assert manifest["status"] == "interrupted" and manifest["stop_reason"] == "interrupted by a signal"
    paid = judge.stats()["served"]
    res = run_cli(*args, "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "complete" and out["judging"]["counts"]["from_cache"] >= paid - 2
    # at most the two calls in flight at the signal: a reply sent by the server but not yet stored is asked again
    assert judge.stats()["duplicate_served"] <= 2 and len(_statuses(tmp_path / "res")) == 1


def test_a_judge_that_never_gives_a_verdict_is_exit_3_in_one_line(tmp_path, data_dir, server_factory):
    judge = server_factory("--reply", "I would rather not grade this answer.")
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", str(_answers(data_dir, "alpaca-13b")),
                  "--limit", "3", "--judge-base-url", judge.base_url, env=cli_env(data_dir))
    assert res.returncode == 3
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: not one of 6 judgments held a readable verdict")
    (manifest,) = [json.loads(p.read_text()) for p in tmp_path.glob("runs/*/manifest.json")]
    assert manifest["status"] == "incomplete"


def test_a_judge_that_often_ignores_the_format_is_warned_about(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single", "--rate-unparsable", "0.5", "--seed", "1")
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--json", "--answers",
                  str(_answers(data_dir, "alpaca-13b")), "--limit", "10", "--judge-base-url", judge.base_url,
                  env=cli_env(data_dir))
    out = json.loads(res.stdout)
    unparsable = out["judging"]["counts"]["failed_by_kind"]["unparsable"]
    assert unparsable >= 4 and out["judging"]["counts"]["judged"] == 20
    assert (f"warning: the judge's reply held no readable verdict in {unparsable} of 20 judgments: is this judge "
            "able to follow the prompt's verdict format?") in res.stderr
