"""`starling-eval run mtbench` end to end: the real CLI, a tiny model, the local judge server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli
from tests.fastchat_reference import fastchat_tables

SECRET = "sk-test-never-write-me-1234567890"


def _run(results: Path, data: Path, *args: str, key: bool = True) -> tuple[int, dict | None, str]:
    env = cli_env(data, **({"OPENAI_API_KEY": SECRET} if key else {}))
    res = run_cli("--results", str(results), "run", "mtbench", "--json", *args, env=env)
    try:
        out = json.loads(res.stdout)
    except json.JSONDecodeError:
        out = None
    return res.returncode, out, res.stderr


def _answers(data_dir: Path, model: str) -> str:
    return str(data_dir / "mt_bench" / "model_answer" / f"{model}.jsonl")


def test_generate_judge_score_on_a_tiny_model(tmp_path, data_dir, tiny_model, server_factory):
    server = server_factory("--random-verdicts", "single", "--seed", "3")
    args = ("--model", str(tiny_model), "--limit", "3", "--max-new-tokens", "8", "--judge-base-url", server.base_url)
    code, out, err = _run(tmp_path / "res", data_dir, *args)
    assert code == 0, err
    assert out["status"] == "complete" and out["mode"] == "single"
    (row,) = out["models"]
    assert row["model"] == tiny_model.name and row["n_valid"] == 6 and row["n_failed"] == 0
    assert out["judging"]["counts"]["called"] == 6 == server.stats()["served"]
    run = Path(out["path"])
    judgments = [json.loads(line) for line in (run / "judgments.jsonl").read_text().splitlines()]
    assert [(j["question_id"], j["turn"]) for j in judgments] == [(q, t) for q in (81, 82, 83) for t in (1, 2)]
    assert all(j["verdict"] == int(j["judgment"].rsplit("[[", 1)[1].split("]]")[0]) for j in judgments)
    # FastChat's own show_result reads our judgment file and gets our numbers
    *_, overall = fastchat_tables("display_result_single", input_file=str(run / "model_judgment" / "gpt-4_single.jsonl"))
    assert overall.loc[tiny_model.name, "score"] == pytest.approx(row["overall"], abs=1e-12)
    scores = json.loads((run / "scores.json").read_text())
    assert scores["models"][0]["overall"] == row["overall"] and scores["judge"]["model"] == "gpt-4"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["judging"]["usage"]["paid_now"]["cost_usd"] > 0  # gpt-4 list price
    assert "mt_bench/judge_prompts.jsonl" in manifest["data_files"]
    # the key is used, never written
    for path in (tmp_path / "res").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in out and SECRET not in err
    # a warm re-run: every judgment from the cache, same scores
    code, again, err = _run(tmp_path / "res", data_dir, *args)
    assert code == 0, err
    assert again["judging"]["counts"]["called"] == 0 and server.stats()["served"] == 6
    assert again["models"][0]["overall"] == row["overall"]


def test_dry_run_counts_and_prices_without_calling(tmp_path, data_dir, tiny_model, server_factory):
    server = server_factory("--reply", "[[5]]")
    code, plan, err = _run(tmp_path, data_dir, "--answers", _answers(data_dir, "alpaca-13b"), "--judge-base-url",
                           server.base_url, "--dry-run")
    assert code == 0, err
    assert (plan["generation_calls"], plan["judge_calls"], plan["judge_requests"]) == (0, 160, 160)
    assert plan["estimated_prompt_tokens"] > 160 * 100 and plan["estimated_cost_usd"] > 1.0
    code, plan, err = _run(tmp_path, data_dir, "--model", str(tiny_model), "--limit", "4", "--judge-base-url",
                           server.base_url, "--judge-model", "my-judge", "--dry-run")
    assert code == 0, err
    assert (plan["generation_calls"], plan["judge_calls"]) == (8, 8) and plan["estimated_cost_usd"] is None
    code, plan, err = _run(tmp_path, data_dir, "--answers", _answers(data_dir, "alpaca-13b"), "--judge-mode",
                           "pairwise-baseline", "--judge-price", "10/30", "--dry-run", key=True)
    assert code == 0, err
    assert plan["judge_calls"] == 320 and plan["price"]["source"] == "--judge-price"
    assert server.stats()["requests"] == 0 and not (tmp_path / "runs").exists()


def test_pairwise_against_the_baseline_from_answer_files(tmp_path, data_dir, server_factory):
    server = server_factory("--random-verdicts", "pair", "--seed", "1")
    code, out, err = _run(tmp_path, data_dir, "--answers", _answers(data_dir, "alpaca-13b"), "--judge-mode",
                          "pairwise-baseline", "--limit", "10", "--judge-base-url", server.base_url)
    assert code == 0, err
    (row,) = out["models"]
    assert row["model"] == "alpaca-13b" and row["win"] + row["loss"] + row["tie"] == row["n_valid"] == 20
    assert server.stats()["served"] == 40  # both orders of every match
    assert 0 <= row["position_consistency"] <= 1
    (table,) = fastchat_tables("display_result_pairwise", input_file=str(Path(out["path"]) / "model_judgment" / "gpt-4_pair.jsonl"),
                         baseline_model="gpt-3.5-turbo")
    assert table.loc["alpaca-13b", "win_rate_adjusted"] == pytest.approx(row["win_rate_adjusted"], abs=1e-12)
    # the same matches with length and markdown held equal (the rows recorded both answers' style)
    assert row["style_control"]["raw"] == pytest.approx(row["win_rate_adjusted"]) and out["style_unavailable"] is None
    low, high = row["ci95"]["win_rate_style_controlled"]
    assert low <= row["win_rate_style_controlled"] <= high and row["style_control"]["n_battles"] == 20
    bias = run_cli("--results", str(tmp_path), "goodhart", "bias", out["run_id"], "--json", env=cli_env(data_dir))
    assert bias.returncode == 0, bias.stderr
    (entry,) = json.loads(bias.stdout)["style"]["models"]
    assert (entry["model"], entry["style_controlled"]) == ("alpaca-13b", pytest.approx(row["win_rate_style_controlled"]))


def test_faults_and_unparsable_verdicts_are_judged_or_reported(tmp_path, data_dir, server_factory):
    server = server_factory("--random-verdicts", "single", "--seed", "7", "--rate-429", "0.07", "--rate-500", "0.07",
                            "--rate-timeout", "0.06", "--hang-s", "5", "--rate-unparsable", "0.05",
                            "--retry-after", "0.01")
    args = ("--answers", _answers(data_dir, "vicuna-13b-v1.3"), "--limit", "40", "--judge-base-url", server.base_url,
            "--judge-timeout", "0.5", "--judge-max-retries", "10", "--judge-timeout-retries", "10")
    code, out, err = _run(tmp_path, data_dir, *args)
    assert code == 0, err
    (row,) = out["models"]
    stats = server.stats()
    # every re-send after a client-side timeout is counted: the abandoned request may have been billed
    assert out["judging"]["usage"]["paid_now"]["possibly_billed_twice"] == stats["faults_by_kind"]["timeout"] > 0
    assert stats["faults"] > 5 and stats["unparsable"] >= 1
    assert row["n_valid"] + row["n_failed"] == 80 and row["n_failed"] == stats["unparsable"] == out["n_failed"]
    assert all(f["reason"].startswith("unparsable") for f in out["failures"])
    assert sum(out["judging"]["counts"]["retries"].values()) == stats["faults"]
    assert "--retry-failed" in err
    # --retry-failed asks only the failed ones again
    code, again, err = _run(tmp_path, data_dir, *args, "--retry-failed")
    assert code == 0, err
    after = server.stats()
    assert after["served"] - stats["served"] == row["n_failed"] == again["judging"]["counts"]["re_asked"]
    assert again["models"][0]["n_valid"] + again["models"][0]["n_failed"] == 80
    assert again["models"][0]["n_valid"] > row["n_valid"]
    assert len(list((tmp_path / "runs").iterdir())) == 1  # the same run, finished in place


def test_a_judge_that_fails_for_good_is_exit_3_and_a_rerun_finishes(tmp_path, data_dir, server_factory):
    broken = server_factory("--fail-every", "1")
    args = ("--answers", _answers(data_dir, "alpaca-13b"), "--limit", "2", "--judge-max-retries", "0",
            "--judge-base-url", broken.base_url)
    code, out, err = _run(tmp_path, data_dir, *args)
    assert code == 3 and out["status"] == "incomplete" and "re-run the same command" in err
    assert out["models"][0]["n_failed"] == 4 and all("HTTP 500" in f["reason"] for f in out["failures"])
    # the endpoint recovers (same address): the same command finishes the same run, asking only what failed
    broken.proc.kill()
    broken.proc.wait()
    healthy = server_factory("--reply", "[[8]]", "--port", str(broken.port))
    code, out, err = _run(tmp_path, data_dir, *args)
    assert code == 0, err
    assert out["status"] == "complete" and out["models"][0]["overall"] == 8 and healthy.stats()["served"] == 4
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_judge_max_tokens_caps_every_judgment_and_is_its_own_judge_setup(tmp_path, data_dir, server_factory):
    from starling_eval.report.comparability import comparability_key, differences

    server = server_factory("--reply", "The answer is clear, correct and helpful overall. Rating: [[7]]")
    args = ("--answers", _answers(data_dir, "alpaca-13b"), "--limit", "3", "--judge-base-url", server.base_url)
    code, out, err = _run(tmp_path, data_dir, *args, "--judge-max-tokens", "4")
    assert code == 3 and err.startswith("Error: not one of 6 judgments held a readable verdict (6 cut at max_tokens)")
    capped = json.loads((Path(out["path"]) / "manifest.json").read_text())
    assert capped["judging"]["judge"]["max_tokens"] == 4 and capped["spec"]["judge"]["max_tokens"] == 4
    rows = [json.loads(line) for line in (Path(out["path"]) / "judgments.jsonl").read_text().splitlines()]
    assert all(r["finish_reason"] == "length" and "cut at max_tokens=4" in r["failure"] for r in rows)
    # the benchmark's own max_tokens (2048) is another cache key: asked again, not taken from the capped replies
    code, out, err = _run(tmp_path, data_dir, *args)
    assert code == 0, err
    assert out["judging"]["counts"]["called"] == 6 and out["models"][0]["overall"] == 7.0
    full = json.loads((Path(out["path"]) / "manifest.json").read_text())
    (reason,) = differences(comparability_key(capped), comparability_key(full))  # the judge, and nothing else
    assert reason.startswith("judge: ") and '"max_tokens":4' in reason and '"max_tokens":null' in reason
    assert server.stats()["served"] == 12
    code, _, err = _run(tmp_path, data_dir, "--model", "m", "--judge-max-tokens", "0")
    assert code == 2 and "--judge-max-tokens" in err
