"""`run … --judge-batch` and `starling-eval batches` through the real CLI against the local Batch-API server: the
interactive scores, the batch price, and kill -9 at every step of a batch with nothing submitted twice or lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from starling_eval.testing.batch_server import BatchBehaviour
from tests.conftest import cli_env, run_cli

SECRET = "sk-test-batch-never-write-me-0987654321"


def _cli(results: Path, data: Path, *args: str, timeout: int = 300) -> tuple[int, dict | list | None, str]:
    res = run_cli("--results", str(results), *args, "--json", env=cli_env(data, OPENAI_API_KEY=SECRET),
                  timeout=timeout)
    try:
        out = json.loads(res.stdout)
    except json.JSONDecodeError:
        out = None
    return res.returncode, out, res.stderr


def _answers(data_dir: Path) -> str:
    return str(data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl")


def _scores(out: dict) -> list[tuple]:
    return [(m["model"], m["turn1"], m["turn2"], m["overall"], m["n_valid"], m["n_failed"]) for m in out["models"]]


def test_a_batch_run_scores_as_the_interactive_run_at_the_batch_price(tmp_path, data_dir, tiny_model, batch_server):
    behaviour, batches, url = batch_server(seed=5, validating_s=0.05, in_progress_s=0.1, finalizing_s=0.05)
    args = ("run", "mtbench", "--model", str(tiny_model), "--limit", "3", "--max-new-tokens", "8",
            "--judge-base-url", url)
    code, interactive, err = _cli(tmp_path / "interactive", data_dir, *args)
    assert code == 0, err
    served = behaviour.stats()["served"]
    code, batched, err = _cli(tmp_path / "batch", data_dir, *args, "--judge-batch", "--judge-batch-poll", "0.05")
    assert code == 0, err
    assert _scores(batched) == _scores(interactive) and batched["models"][0]["n_valid"] == 6
    counts = batched["judging"]["counts"]
    assert counts["called"] == 6 and counts["batches"] == {"batches_submitted": 1, "requests_submitted": 6}
    assert batches.stats()["batches_created"] == 1 and behaviour.stats()["served"] == served + 6
    usage = batched["judging"]["usage"]
    assert usage["paid_now"]["cost_usd"] == pytest.approx(interactive["judging"]["usage"]["paid_now"]["cost_usd"] / 2)
    assert usage["all_judgments"]["through_batches"]["prompt_tokens"] == usage["paid_now"]["prompt_tokens"]
    rows = [json.loads(line) for line in (Path(batched["path"]) / "judgments.jsonl").read_text().splitlines()]
    assert all(r["batch_id"].startswith("batch_") for r in rows)
    # the same command again, and the interactive path on the batch's results: all from the cache
    for extra in (("--judge-batch",), ()):
        code, again, err = _cli(tmp_path / "batch", data_dir, *args, *extra)
        assert code == 0, err
        assert again["judging"]["counts"]["called"] == 0 and _scores(again) == _scores(interactive)
    assert batches.stats()["batches_created"] == 1 and behaviour.stats()["served"] == served + 6
    code, status, err = _cli(tmp_path / "batch", data_dir, "batches", "status")
    assert code == 0, err
    assert [(s["state"], s["status"], s["requests"]) for s in status] == [("done", "completed", 6)]
    for path in (tmp_path / "batch").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_dry_run_quotes_interactive_and_batch_cost_side_by_side(tmp_path, data_dir, batch_server):
    _, batches, url = batch_server()
    code, plan, err = _cli(tmp_path, data_dir, "run", "mtbench", "--answers", _answers(data_dir), "--judge-base-url",
                           url, "--dry-run", "--judge-batch")
    assert code == 0, err
    assert plan["batch"] is True and plan["judge_calls"] == 160
    assert plan["estimated_batch_cost_usd"] == pytest.approx(plan["estimated_cost_usd"] / 2)
    assert (plan["price"]["prompt_per_1m"], plan["price"]["batch_prompt_per_1m"]) == (30.0, 15.0)
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", _answers(data_dir), "--judge-base-url",
                  url, "--dry-run", "--judge-price", "10/20/4/8", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    assert "interactive" in res.stdout and "through the Batch API" in res.stdout
    assert batches.stats()["files_uploaded"] == 0


def test_bad_batch_options_are_one_line_exit_2(tmp_path, data_dir):
    for args, says in [(("--judge-batch-size", "5"), "--judge-batch-size: only with --judge-batch"),
                       (("--judge-price", "1/2/3"), "expected IN/OUT (or IN/OUT/BATCH_IN/BATCH_OUT)")]:
        res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", _answers(data_dir),
                      "--judge-base-url", "http://127.0.0.1:9/v1", *args, env=cli_env(data_dir))
        assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = run_cli("--results", str(tmp_path / "none"), "batches", "status", env=cli_env(data_dir))
    assert res.returncode == 2 and "no call cache here" in res.stderr
    tmp_path.joinpath("cache.sqlite").touch()
    res = run_cli("--results", str(tmp_path), "batches", "resume", "batch_nope", env=cli_env(data_dir))
    assert res.returncode == 2 and "batch_nope: no batch of this results root" in res.stderr


# -- kill -9 at every step ----------------------------------------------------------------------------------

STEPS = [  # (server setting, the server event to kill at, and how the next run finds the batch)
    ({"holds": {"upload_before": 30}}, "upload_received"),  # the upload never completes: a new batch
    ({"holds": {"upload_after": 30}}, "upload_stored"),  # the file is there, its id unknown: found by name
    ({"holds": {"create_after": 30}}, "batch_created"),  # the batch exists, its id unknown: found by metadata
    ({"in_progress_s": 30}, "batch_polled"),  # polling: the id is known
    ({"holds": {"content": 30}}, "content_served"),  # reading the results
]


def _kill_at(results: Path, data: Path, args: list[str], batches: BatchBehaviour, event: str) -> None:
    seen = batches.stats()["events"].count(event)  # the kill waits for a new one
    script = str(Path(sys.executable).with_name("starling-eval"))
    proc = subprocess.Popen([script, "--results", str(results), *args], env=cli_env(data, OPENAI_API_KEY=SECRET),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while batches.stats()["events"].count(event) <= seen:
        assert proc.poll() is None, f"finished before {event}: {proc.stderr.read()}"
        assert time.time() < deadline, f"no {event} to kill at"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize(("setting", "event"), STEPS, ids=[e for _, e in STEPS])
def test_kill_at_every_step_of_a_batch_then_rerun(tmp_path, data_dir, batch_server, setting, event):
    behaviour, batches, url = batch_server(**setting)
    args = ["run", "mtbench", "--answers", _answers(data_dir), "--limit", "4", "--judge-base-url", url,
            "--judge-batch", "--judge-batch-poll", "0.05"]
    _kill_at(tmp_path / "killed", data_dir, args, batches, event)
    batches.holds, batches.in_progress_s = {}, 0.0  # the API goes on as usual
    code, out, err = _cli(tmp_path / "killed", data_dir, *args)
    assert code == 0, err
    assert out["models"][0]["n_valid"] == 8 and out["judging"]["counts"]["api_failures"] == 0
    stats = batches.stats()
    assert stats["duplicate_custom_ids"] == 0 and behaviour.stats()["duplicate_served"] == 0
    assert stats["lines_submitted"] == 8 and behaviour.stats()["served"] == 8
    assert stats["batches_created"] == 1
    code, reference, err = _cli(tmp_path / "reference", data_dir, *[a for a in args if a != "--judge-batch"])
    assert code == 0, err
    assert _scores(out) == _scores(reference)


def test_batches_status_resume_and_cancel_without_a_run(tmp_path, data_dir, batch_server):
    behaviour, batches, url = batch_server(in_progress_s=30)
    args = ["run", "mtbench", "--answers", _answers(data_dir), "--limit", "2", "--judge-base-url", url,
            "--judge-batch", "--judge-batch-poll", "0.05"]
    results = tmp_path / "res"
    _kill_at(results, data_dir, args, batches, "batch_polled")
    code, status, err = _cli(results, data_dir, "batches", "status", "--open")
    assert code == 0, err
    (open_batch,) = status
    assert open_batch["state"] == "submitted" and open_batch["requests"] == 4 and open_batch["batch_id"]

    batches.in_progress_s = 0.0
    code, collected, err = _cli(results, data_dir, "batches", "resume", "--poll", "0.05")
    assert code == 0, err
    assert [(b["state"], b["status"], b["error"]) for b in collected] == [("done", "completed", None)]
    code, out, err = _cli(results, data_dir, *args)
    assert code == 0, err
    assert out["judging"]["counts"]["called"] == 0 and out["judging"]["counts"]["from_cache"] == 4
    code, nothing, err = _cli(results, data_dir, "batches", "resume")
    assert code == 0 and "no open batches" in err

    # cancel: a batch in progress is stopped; the next run asks its requests again, nothing was paid twice
    batches.in_progress_s = 30.0
    more = [*args[:5], "3", *args[6:]]  # --limit 3: question 3's two requests are new
    _kill_at(results, data_dir, more, batches, "batch_created")
    code, status, err = _cli(results, data_dir, "batches", "status", "--open")
    assert code == 0 and len(status) == 1, err
    code, cancelled, err = _cli(results, data_dir, "batches", "cancel", "--all", "--poll", "0.05")
    assert code == 0, err
    assert [(b["state"], b["status"]) for b in cancelled] == [("done", "cancelled")]
    assert batches.stats()["cancels"] == 1
    batches.in_progress_s = 0.0
    code, out, err = _cli(results, data_dir, *more)
    assert code == 0, err
    assert out["judging"]["counts"]["called"] == 2 and behaviour.stats()["duplicate_served"] == 0


def test_goodhart_judge_through_the_batch_api_agrees_with_the_interactive_judge(tmp_path, data_dir, batch_server):
    behaviour, batches, url = batch_server()
    args = ("goodhart", "judge", "--judge-model", "judge", "--judge-base-url", url, "--limit", "3")
    code, interactive, err = _cli(tmp_path / "interactive", data_dir, *args)
    assert code == 0, err
    code, batched, err = _cli(tmp_path / "batch", data_dir, *args, "--judge-batch", "--judge-batch-poll", "0.05")
    assert code == 0, err
    assert batches.stats()["batches_created"] == 1
    assert batches.stats()["lines_submitted"] == batched["judging"]["counts"]["called"] == interactive["counts"]["requests"]
    assert batched["agreement"] == interactive["agreement"]
    res = run_cli("goodhart", "judge", "--judge-reward-model", "x", "--judge-batch", env=cli_env(data_dir))
    assert res.returncode == 2 and "--judge-batch: a reward-model judge" in res.stderr
