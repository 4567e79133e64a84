"""End to end through the real console script on a tiny random model: hf and openai backends, reuse of
cached answers, provenance in the run folder, and one-line exit-2 errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli_env, run_cli

GEN = ["generate", "mtbench", "--limit", "5", "--max-new-tokens", "8", "--json"]


def _gen(results: Path, data: Path, *args: str, **env: str):
    return run_cli("--results", str(results), *GEN, *args, env=cli_env(data, **env))


def test_hf_generate_writes_run_with_provenance_and_second_run_is_free(tmp_path, data_dir, tiny_model):
    first = _gen(tmp_path / "res", data_dir, "--model", str(tiny_model))
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["status"] == "complete" and out["new_generations"] == 10
    run = Path(out["path"])
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["spec"]["model"]["name_or_path"] == str(tiny_model)
    assert manifest["model"]["revision"].startswith("local:")
    assert len(manifest["model"]["chat_template"]) == 64  # sha256 of the rendered template
    assert manifest["data_files"]["mt_bench/question.jsonl"] == (
        "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7"
    )
    assert manifest["environment"]["packages"]["transformers"]
    assert manifest["sampling"]["max_new_tokens"] == 8 and manifest["timings"]["total_s"] > 0
    gens = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    assert [(g["item_id"], g["turn"]) for g in gens] == [(str(q), t) for q in range(81, 86) for t in (1, 2)]
    # FastChat's per-category temperatures: 81-85 are writing questions
    assert {g["temperature"] for g in gens} == {0.7}
    answers = [json.loads(line) for line in (run / "model_answer" / "tiny-llama.jsonl").read_text().splitlines()]
    assert [a["question_id"] for a in answers] == [81, 82, 83, 84, 85]
    assert all(len(a["choices"][0]["turns"]) == 2 and a["model_id"] == "tiny-llama" for a in answers)

    second = _gen(tmp_path / "res", data_dir, "--model", str(tiny_model))
    assert second.returncode == 0, second.stderr
    out2 = json.loads(second.stdout)
    assert out2["new_generations"] == 0 and out2["counts"]["cache_hits"] == 10
    answers2 = (Path(out2["path"]) / "model_answer" / "tiny-llama.jsonl").read_text().splitlines()
    assert [json.loads(a)["choices"] for a in answers2] == [a["choices"] for a in answers]


def test_greedy_category_and_turn_two_sees_turn_one(tmp_path, data_dir, tiny_model):
    # questions 111-115 are reasoning (temperature 0 -> greedy); greedy is repeatable across invocations
    res = run_cli("--results", str(tmp_path / "r"), "generate", "mtbench", "--model", str(tiny_model), "--limit", "40",
                  "--max-new-tokens", "4", "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    gens = [json.loads(line) for line in (Path(json.loads(res.stdout)["path"]) / "generations.jsonl").read_text().splitlines()]
    temps = {g["category"]: g["temperature"] for g in gens}
    assert temps == {"writing": 0.7, "roleplay": 0.7, "reasoning": 0.0, "math": 0.0}
    turn2 = [g for g in gens if g["turn"] == 2]
    turn1 = {g["item_id"]: g for g in gens if g["turn"] == 1}
    assert all(g["prompt_tokens"] > turn1[g["item_id"]]["prompt_tokens"] for g in turn2)


def test_openai_backend_against_local_server(tmp_path, data_dir, server_factory):
    server = server_factory("--rate-limit-every", "4", "--fail-every", "9")
    res = _gen(tmp_path / "res", data_dir, "--model", "served-model", "--base-url", server.base_url,
               "--concurrency", "4", OPENAI_API_KEY="sk-test-secret-value")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["new_generations"] == 10 and out["counts"]["failed"] == 0
    stats = server.stats()
    assert stats["served"] == 10 and stats["faults"] >= 2  # faults were retried, each answer paid once
    run = Path(out["path"])
    answers = [json.loads(line) for line in (run / "model_answer" / "served-model.jsonl").read_text().splitlines()]
    assert answers[0]["choices"][0]["turns"][0].startswith("Echo (turn 1): Compose an engaging travel blog")
    assert answers[0]["choices"][0]["turns"][1].startswith("Echo (turn 2): Rewrite your previous response")
    # the API key never reaches results
    for path in run.rglob("*"):
        if path.is_file():
            assert "sk-test-secret-value" not in path.read_text(errors="ignore")
    again = _gen(tmp_path / "res", data_dir, "--model", "served-model", "--base-url", server.base_url)
    assert json.loads(again.stdout)["new_generations"] == 0 and server.stats()["served"] == 10


def test_endpoint_url_as_model(tmp_path, data_dir, server_factory):
    server = server_factory()
    res = _gen(tmp_path / "res", data_dir, "--model", server.base_url, "--model-name", "remote")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["model"] == "remote"


def test_permanent_api_failures_are_counted_and_exit_3(tmp_path, data_dir, server_factory):
    server = server_factory("--fail-every", "1")
    res = _gen(tmp_path / "res", data_dir, "--model", "m", "--base-url", server.base_url, "--max-retries", "1")
    assert res.returncode == 3
    out = json.loads(res.stdout)
    assert out["status"] == "incomplete" and out["counts"]["failed"] == 5 and out["counts"]["answered_items"] == 0
    assert "HTTP 500" in out["failures"][0]["error"]
    assert "re-run the same command" in res.stderr


def _one_line_exit_2(res) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def test_unknown_benchmark(tmp_path, data_dir, tiny_model):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbenchh", "--model", str(tiny_model),
                                    env=cli_env(data_dir)))
    assert "unknown benchmark 'mtbenchh'" in line and "mtbench" in line


def test_missing_model_path(tmp_path, data_dir):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(tmp_path / "nope"),
                                    env=cli_env(data_dir)))
    assert "no such model folder" in line and "nope" in line


def test_corrupt_data_file(tmp_path, mini_data, tiny_model):
    q = mini_data / "mt_bench" / "question.jsonl"
    q.write_text(q.read_text().replace("Hawaii", "Hawai'i"))
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(tiny_model),
                                    env=cli_env(mini_data)))
    assert "corrupt data file" in line and str(q) in line and "starling-eval data pull mt_bench/question.jsonl" in line


def test_missing_data_file(tmp_path, tiny_model):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(tiny_model),
                                    "--data-dir", str(tmp_path / "empty"), env=cli_env()))
    assert "missing data file" in line and "question.jsonl" in line
    assert f"starling-eval data --data-dir {(tmp_path / 'empty').resolve()} pull mt_bench/question.jsonl" in line


def test_truncated_question_line(tmp_path, mini_data, tiny_model):
    q = mini_data / "mt_bench" / "question.jsonl"
    lines = q.read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]
    q.write_text("\n".join(lines) + "\n")
    # the hash check catches it first ...
    assert "corrupt data file" in _one_line_exit_2(
        run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(tiny_model), env=cli_env(mini_data)))
    # ... and with hash checks off (edited data), the parser names file and line
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(tiny_model),
                                    env=cli_env(mini_data, STARLING_EVAL_NO_VERIFY="1")))
    assert f"{q} line 3: not valid JSON" in line


def test_bad_chat_template_and_options(tmp_path, data_dir, tiny_model):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(tiny_model),
                                    "--chat-template", "no-such-template", env=cli_env(data_dir)))
    assert "no-such-template" in line
    res = run_cli("generate", "mtbench", "--model", str(tiny_model), "--limit", "0", env=cli_env(data_dir))
    assert res.returncode == 2 and "--limit" in res.stderr


def test_show_and_list(tmp_path, data_dir, tiny_model):
    out = json.loads(_gen(tmp_path / "res", data_dir, "--model", str(tiny_model)).stdout)
    shown = run_cli("--results", str(tmp_path / "res"), "show", out["run_id"][:15], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["manifest"]["run_id"] == out["run_id"]
    human = run_cli("--results", str(tmp_path / "res"), "show", out["run_id"])
    assert human.returncode == 0 and "mtbench" in human.stdout
    listed = json.loads(run_cli("--results", str(tmp_path / "res"), "list", "--json").stdout)
    assert "mtbench" in listed["benchmarks"]
    assert {b["name"] for b in listed["backends"]} == {"hf", "openai", "vllm"}
    assert [r["run_id"] for r in listed["runs"]] == [out["run_id"]] and listed["runs"][0]["status"] == "complete"
    missing = run_cli("--results", str(tmp_path / "res"), "show", "nope")
    assert _one_line_exit_2(missing).startswith("Error: no run matches")


def test_run_without_a_judge_key_fails_before_generating(tmp_path, data_dir, tiny_model):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "run", "mtbench", "--model", str(tiny_model),
                                    env=cli_env(data_dir)))
    assert "OPENAI_API_KEY" in line and "--judge-base-url" in line
    assert not (tmp_path / "runs").exists()


def test_run_needs_a_model_or_answers(tmp_path, data_dir):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "run", "mtbench", env=cli_env(data_dir)))
    assert "--model" in line


def test_version_and_help_are_light():
    res = run_cli("--version")
    assert res.returncode == 0 and "starling-eval, version" in res.stdout
    import subprocess
    import sys

    probe = subprocess.run([sys.executable, "-c", "import sys, starling_eval.cli; "
                            "print(sorted(m for m in ('torch','transformers','pydantic','rich','vllm','openai') if m in sys.modules))"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "[]"


def test_uncached_hub_model_offline(tmp_path, data_dir):
    line = _one_line_exit_2(run_cli("--results", str(tmp_path), "generate", "mtbench", "--model",
                                    "no-such-org/no-such-model", env=cli_env(data_dir, HF_HOME=str(tmp_path / "hf"))))
    assert line.startswith("Error: --model no-such-org/no-such-model: not a local folder, and not in the local Hugging "
                           f"Face cache ({tmp_path / 'hf' / 'hub'}); running offline")
    assert "huggingface.co" not in line  # nothing was asked of the network
