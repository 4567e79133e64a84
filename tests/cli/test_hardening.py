"""Every fault and every bad input ends in one clear line (issue 15), through the real console script."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli

SCRIPT = str(Path(sys.executable).with_name("starling-eval"))


def _answers(data_dir: Path, model: str = "alpaca-13b") -> str:
    return str(data_dir / "mt_bench" / "model_answer" / f"{model}.jsonl")


def _free_port() -> int:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_malformed_judge_replies_do_not_stop_the_run(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single", "--seed", "4", "--rate-malformed", "0.1")
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--json", "--answers", _answers(data_dir), "--limit",
                  "40", "--judge-base-url", judge.base_url, env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    stats = judge.stats()
    assert stats["faults_by_kind"]["malformed"] >= 4 and stats["served"] == 80
    assert out["status"] == "complete" and out["models"][0]["n_valid"] == 80
    retries = out["judging"]["counts"]["retries"]
    assert retries.get("malformed", 0) + retries.get("dropped", 0) == stats["faults_by_kind"]["malformed"]


def test_a_judge_that_refuses_connections_is_exit_3_within_seconds(tmp_path, data_dir):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    started = time.monotonic()
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", _answers(data_dir), "--limit", "10",
                  "--judge-base-url", url, env=cli_env(data_dir))
    assert time.monotonic() - started < 15
    assert res.returncode == 3, res.stderr
    (line,) = _lines(res.stderr)
    assert line.startswith(f"Error: {url}: unreachable (3 connection attempts failed, none ever answered")
    (manifest,) = [json.loads(p.read_text()) for p in tmp_path.glob("runs/*/manifest.json")]
    assert manifest["status"] == "failed" and manifest["stop_reason"].startswith("EndpointUnreachable")


def test_the_default_openai_endpoint_offline_is_exit_3_within_seconds(tmp_path, data_dir):
    started = time.monotonic()
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", _answers(data_dir), "--limit", "2",
                  env=cli_env(data_dir, OPENAI_API_KEY="sk-test-key-never-written"))
    assert time.monotonic() - started < 30
    assert res.returncode == 3, res.stderr
    (line,) = _lines(res.stderr)
    assert line.startswith("Error: https://api.openai.com/v1: unreachable") and "sk-test" not in line


def _as_nobody() -> list[str]:
    """A command prefix that runs a child as an unprivileged user when we are root (root writes anywhere,
    read-only folder or not): util-linux's setpriv, with no capabilities left."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture()
def read_only_results(data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single")
    top = Path(tempfile.mkdtemp(prefix="starling-ro-"))  # pytest's own folders are private to root
    top.chmod(0o755)
    root = top / "res"
    res = run_cli("--results", str(root), "run", "mtbench", "--answers", _answers(data_dir), "--limit", "2",
                  "--judge-base-url", judge.base_url, env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield root, judge
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(top)


def _cli_ro(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_as_nobody(), SCRIPT, *args], capture_output=True, text=True,
                          env=cli_env(data_dir, HOME="/tmp"), cwd="/tmp", timeout=300)


def test_a_read_only_results_folder_is_one_line(read_only_results, data_dir):
    root, judge = read_only_results
    listed = _cli_ro(data_dir, "--results", str(root), "list", "runs", "--json")
    assert listed.returncode == 0, listed.stderr  # reading needs no write: the index is rebuilt in memory
    assert [r["status"] for r in json.loads(listed.stdout)["runs"]] == ["complete"]
    res = _cli_ro(data_dir, "--results", str(root), "run", "mtbench", "--answers", _answers(data_dir, "llama-13b"),
                  "--limit", "2", "--judge-base-url", judge.base_url)
    assert res.returncode == 2, res.stderr
    (line,) = _lines(res.stderr)
    assert line.startswith(f"Error: {root}") and "cannot write here (read-only or no permission)" in line
    report = _cli_ro(data_dir, "--results", str(root), "report")
    assert report.returncode == 2 and "Traceback" not in report.stderr
    (line,) = _lines(report.stderr)
    assert str(root) in line and "cannot write here" in line


def test_an_ambiguous_run_prefix_names_the_matches(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single")
    for model in ("alpaca-13b", "llama-13b"):
        res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", _answers(data_dir, model), "--limit",
                      "1", "--judge-base-url", judge.base_url, env=cli_env(data_dir))
        assert res.returncode == 0, res.stderr
    ids = sorted(p.name for p in (tmp_path / "runs").iterdir())
    res = run_cli("--results", str(tmp_path), "show", "2", env=cli_env(data_dir))
    assert res.returncode == 2
    (line,) = _lines(res.stderr)
    assert "'2' matches 2 runs" in line and all(i in line for i in ids) and "give more of the run id" in line


def test_tables_are_whole_in_a_log_and_at_80_columns(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single", "--seed", "1")
    runs = []
    for model in ("alpaca-13b", "llama-13b"):
        res = run_cli("--results", str(tmp_path), "run", "mtbench", "--json", "--answers", _answers(data_dir, model),
                      "--limit", "4", "--judge-base-url", judge.base_url, env=cli_env(data_dir))
        runs.append(json.loads(res.stdout)["run_id"])
    env = cli_env(data_dir, COLUMNS="80")
    for args in (("list", "runs"), ("leaderboard",), ("gate", "--baseline", runs[0], "--candidate", runs[1])):
        res = run_cli("--results", str(tmp_path), *args, env=env)  # stdout is a pipe, as in a CI log
        assert res.returncode in (0, 1), res.stderr
        assert "…" not in res.stdout, res.stdout
        if args[0] != "leaderboard":
            assert all(r in res.stdout for r in runs)
    # on a real terminal 80 columns wide: cells wrap, nothing is cut, the run ids stay whole
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execv(SCRIPT, [SCRIPT, "--results", str(tmp_path), "gate", "--baseline", runs[0], "--candidate", runs[1]])
    screen = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    os.waitpid(pid, 0)
    text = screen.decode("utf-8", "replace")
    assert "…" not in text and all(r in text for r in runs), text


def test_global_options_after_the_command_and_one_line_usage_errors(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single")
    res = run_cli("run", "mtbench", "--answers", _answers(data_dir), "--limit", "1", "--judge-base-url", judge.base_url,
                  "--results", str(tmp_path / "after"), env=cli_env(data_dir), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "after" / "runs").iterdir())) == 1 and not (tmp_path / "results").exists()
    verify = run_cli("data", "verify", "mt_bench/question.jsonl", "--data-dir", str(data_dir), env=cli_env())
    assert verify.returncode == 0 and str(data_dir) in verify.stdout
    before = run_cli("--data-dir", str(data_dir), "data", "verify", "mt_bench/question.jsonl", env=cli_env())
    assert before.returncode == 0 and str(data_dir) in before.stdout
    listed = run_cli("list", "runs", "--json", "--results", str(tmp_path / "after"), env=cli_env())
    assert len(json.loads(listed.stdout)["runs"]) == 1
    bad = run_cli("run", "mtbench", "--no-such-option", env=cli_env())
    assert bad.returncode == 2
    (line,) = _lines(bad.stderr)
    assert line == "Error: No such option '--no-such-option'. (see 'starling-eval run --help')"


def test_reports_are_ordinary_files_and_tiny_model_has_help(tmp_path, data_dir, server_factory):
    judge = server_factory("--random-verdicts", "single")
    run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", _answers(data_dir), "--limit", "1",
            "--judge-base-url", judge.base_url, env=cli_env(data_dir))
    res = run_cli("--results", str(tmp_path), "report", "--format", "md", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o666 & ~mask
    helped = subprocess.run([sys.executable, "-m", "starling_eval.testing.tiny_model", "--help"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert helped.returncode == 0 and "usage:" in helped.stdout and not (tmp_path / "--help").exists()
