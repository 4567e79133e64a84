"""`starling-eval run alpacaeval` end to end: the real CLI, a tiny model, the local judge serving scripted
logprobs for "m"/"M" (AlpacaEval 2) or rankings (AlpacaEval 1)."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from starling_eval.adapters.alpacaeval import alpaca_eval_lib
from tests.conftest import cli_env, run_cli

P_M, P_BIG_M = math.exp(-0.2), math.exp(-1.8)


def _run(results: Path, data: Path, *args: str) -> tuple[int, dict | None, str]:
    res = run_cli("--results", str(results), "run", "alpacaeval", "--json", *args, env=cli_env(data))
    try:
        out = json.loads(res.stdout)
    except json.JSONDecodeError:
        out = None
    return res.returncode, out, res.stderr


def _switched(instruction: str) -> bool:
    return random.Random("is_switched_outputs" + instruction + "0").choices([False, True], k=1)[0]


def _eval_set(data_dir: Path) -> list[dict]:
    return json.loads((data_dir / "alpaca_eval/results/gpt4_1106_preview/model_outputs.json").read_text())


def _script(tmp_path: Path, rules: list[dict]) -> str:
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(rules))
    return str(path)


def test_alpacaeval_2_generates_judges_by_logprobs_and_scores_like_alpaca_eval(tmp_path, data_dir, tiny_model,
                                                                               server_factory):
    eval_set = _eval_set(data_dir)[:4]
    odd_one = eval_set[1]["instruction"]  # the judge answers this one with neither "m" nor "M"
    server = server_factory("--script", _script(tmp_path, [
        {"match": re.escape(odd_one[:60]), "top_logprobs": {"Both": -0.1, "The": -2.0}},
        {"match": ".", "top_logprobs": {"m": -0.2, "M": -1.8}},
    ]))
    args = ("--model", str(tiny_model), "--limit", "4", "--max-new-tokens", "8", "--judge-base-url", server.base_url,
            "--version", "2")
    code, out, err = _run(tmp_path / "res", data_dir, *args)
    assert code == 0, err
    assert out["status"] == "complete" and out["mode"] == "alpacaeval"
    assert out["judging"]["judge"]["model"] == "gpt-4-1106-preview" and server.stats()["served"] == 4
    (row,) = out["models"]
    assert row["model"] == tiny_model.name and row["reference"] == "gpt4_1106_preview"
    assert row["annotator"] == "weighted_alpaca_eval_gpt4_turbo"
    # the scripted judge prefers "m", the output shown first: the model's exactly when alpaca_eval's coin swapped them
    raw = 2 - P_M / (P_M + P_BIG_M)
    expected = {e["instruction"]: (3 - raw if _switched(e["instruction"]) else raw) for e in eval_set if e["instruction"] != odd_one}
    run = Path(out["path"])
    judgments = {j["instruction"]: j for j in map(json.loads, (run / "judgments.jsonl").read_text().splitlines())}
    for instruction, preference in expected.items():
        assert judgments[instruction]["verdict"] == pytest.approx(preference, abs=1e-12)
    assert judgments[odd_one]["verdict"] is None and judgments[odd_one]["failure"].startswith("unparsable: none of")
    # the metrics are alpaca_eval's on those preferences; the unparsed one is counted, not dropped silently
    metrics = alpaca_eval_lib.module("metrics").get_winrate([{"preference": p} for p in expected.values()])
    assert row["win_rate"] == pytest.approx(float(metrics["win_rate"]), abs=1e-12)
    assert (row["n_total"], row["n_failed"], out["n_failed"]) == (3, 1, 1)
    assert row["n_wins"] == int(metrics["n_wins"]) and row["standard_error"] == pytest.approx(float(metrics["standard_error"]))
    outputs = json.loads((run / "model_outputs.json").read_text())
    assert row["avg_length"] == int(sum(len(o["output"]) for o in outputs) / 4)  # every output, as alpaca_eval
    assert row["length_controlled_winrate"] is None and "length-controlled win rate unavailable" in err
    assert "--retry-failed" in err
    # the annotations are alpaca_eval's format and layout: re-scoring them gives the same row
    annotations = run / "alpaca_eval" / tiny_model.name / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json"
    res = run_cli("score", "alpacaeval", "--annotations", str(annotations), "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    (rescored,) = json.loads(res.stdout)
    assert rescored["model"] == tiny_model.name and rescored["win_rate"] == row["win_rate"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["decoding_defaults"]["source"].startswith("starling-eval default")
    assert manifest["spec"]["judge"]["annotator"] == "weighted_alpaca_eval_gpt4_turbo"
    # a warm re-run pays for nothing
    code, again, err = _run(tmp_path / "res", data_dir, *args)
    assert code == 0, err
    assert again["judging"]["counts"]["called"] == 0 and server.stats()["served"] == 4
    assert again["models"][0]["win_rate"] == row["win_rate"]


def test_alpacaeval_1_judges_existing_model_outputs_with_rankings(tmp_path, data_dir, server_factory):
    outputs = json.loads((data_dir / "alpaca_eval/results/claude-2/model_outputs.json").read_text())[:5]
    answers = tmp_path / "model_outputs.json"
    answers.write_text(json.dumps(list(reversed(outputs))))  # order does not matter: keyed on instructions
    server = server_factory("--reply", "[{'model': 'model_1', 'rank': 1}, {'model': 'model_2', 'rank': 2}]")
    code, out, err = _run(tmp_path / "res", data_dir, "--answers", str(answers), "--version", "1", "--limit", "5",
                          "--judge-base-url", server.base_url)
    assert code == 0, err
    (row,) = out["models"]
    assert (row["model"], row["reference"], row["annotator"]) == ("claude-2", "text_davinci_003", "alpaca_eval_gpt4")
    assert out["judging"]["judge"]["model"] == "gpt-4" and server.stats()["served"] == 5
    # the judge always ranks the output shown first best: the model wins exactly where the outputs were swapped
    wins = sum(_switched(o["instruction"]) for o in outputs)
    assert (row["n_wins"], row["n_wins_base"], row["n_total"]) == (wins, 5 - wins, 5)
    # `show` on a run that judged answer files (no model spec)
    res = run_cli("--results", str(tmp_path / "res"), "show", out["run_id"], env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    assert "claude-2" in res.stdout and "alpaca_eval_gpt4" in res.stdout and "judge usage" in res.stdout


def test_a_judge_without_logprobs_stops_the_run_after_one_call(tmp_path, data_dir, server_factory):
    server = server_factory("--no-logprobs")
    answers = str(data_dir / "alpaca_eval/results/claude-2/model_outputs.json")
    args = ("--answers", answers, "--limit", "20", "--judge-base-url", server.base_url, "--judge-concurrency", "8")
    code, out, err = _run(tmp_path / "res", data_dir, *args)
    assert code == 2 and out is None
    assert "the judge endpoint returned no logprobs" in err and "weighted_alpaca_eval_gpt4_turbo" in err
    assert server.stats()["served"] == 1  # probed once, not 20 times
    code, _, err = _run(tmp_path / "res", data_dir, *args)
    assert code == 2 and server.stats()["served"] == 1  # the stored reply answers again, without a call


def test_alpacaeval_options_are_checked_before_anything_runs(tmp_path, data_dir):
    answers = str(data_dir / "alpaca_eval/results/claude-2/model_outputs.json")
    code, _, err = _run(tmp_path, data_dir, "--answers", answers, "--judge-mode", "single", "--dry-run")
    assert code == 2 and "--judge-mode single: AlpacaEval compares each output with a reference" in err
    code, _, err = _run(tmp_path, data_dir, "--answers", answers, "--annotator", "claude", "--dry-run")
    assert code == 2 and "--annotator claude: uses completions by 'anthropic_completions'" in err
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--answers", answers, "--version", "2",
                  env=cli_env(data_dir))
    assert res.returncode == 2 and "--version applies to alpacaeval only" in res.stderr
    code, plan, err = _run(tmp_path, data_dir, "--answers", answers, "--dry-run", "--judge-base-url", "http://x/v1")
    assert code == 0, err
    assert plan["judge_calls"] + plan["decided_without_call"] == 805 and plan["estimated_completion_tokens"] == plan["judge_calls"]


def test_a_logprob_judge_that_seldom_answers_m_or_M_first_is_warned_about(tmp_path, data_dir, server_factory):
    """The verdict is read from the first token's alternatives, so a judge that writes "The answer ..." still
    gives numbers; that it sampled m or M first in only 1 of 6 judgments says it is not following the prompt."""
    outputs = _eval_set(data_dir)[:6]
    answers = tmp_path / "model_outputs.json"
    answers.write_text(json.dumps([{**o, "generator": "my-model", "output": o["output"][:200]} for o in outputs]))
    server = server_factory("--script", _script(tmp_path, [
        {"match": re.escape(outputs[0]["instruction"][:60]), "reply": "m", "top_logprobs": {"m": -0.2, "M": -1.8}},
        {"match": ".", "reply": "The", "top_logprobs": {"The": -0.1, "m": -2.0, "M": -2.5}},
    ]))
    code, out, err = _run(tmp_path / "res", data_dir, "--answers", str(answers), "--limit", "6", "--judge-base-url",
                          server.base_url)
    assert code == 0, err
    assert out["models"][0]["n_failed"] == 0  # every verdict was read from the alternatives
    assert out["judging"]["warnings"] == [
        "the judge answered m or M first in only 1 of 6 judgments (annotator weighted_alpaca_eval_gpt4_turbo reads "
        "its first token's logprobs): is this judge able to follow the prompt?"]
    assert "warning: the judge answered m or M first in only 1 of 6" in err
