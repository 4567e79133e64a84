"""The real model in the real pipeline: SmolLM2-135M-Instruct (converted from its PyPI wheel's GGUF file)
answers MT-Bench through the CLI. Few and small on purpose: a 2-core machine runs these in CI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli

pytestmark = pytest.mark.real_model

ENGLISH = re.compile(r"\b(the|a|and|to|of|is|you|in|for|your)\b", re.I)


def test_smollm2_answers_mt_bench_in_english_and_turn_two_sees_turn_one(tmp_path, data_dir, real_model,
                                                                      server_factory):
    judge = server_factory("--random-verdicts", "single", "--seed", "3")
    res = run_cli("--results", str(tmp_path), "run", "mtbench", "--json", "--model", str(real_model), "--limit", "2",
                  "--temperature", "0", "--max-new-tokens", "32", "--judge-base-url", judge.base_url,
                  env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "complete" and out["models"][0]["n_valid"] == 4
    run = Path(out["path"])
    rows = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(len(ENGLISH.findall(r["text"])) >= 3 for r in rows), [r["text"] for r in rows]
    assert all(r["token_ids"] and len(r["token_ids"]) == r["completion_tokens"] <= 32 for r in rows)
    assert rows[0]["question"].startswith("Compose an engaging travel blog post")
    # turn 2's prompt holds turn 1's answer: it is longer by at least that answer
    assert rows[1]["prompt_tokens"] > rows[0]["prompt_tokens"] + rows[0]["completion_tokens"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["model"]["dtype"] == "float32" and manifest["model"]["dtype_requested"] == "auto"
    shown = run_cli("--results", str(tmp_path), "show", out["run_id"], "--answers", "1", env=cli_env(data_dir))
    assert shown.returncode == 0 and f"A: {rows[0]['text'][:40]}" in shown.stdout


def test_a_gguf_file_is_a_model_and_another_file_is_not(tmp_path, data_dir, real_model):
    from starling_eval.backends.gguf import SOURCE_FILE

    gguf = Path(json.loads((real_model / SOURCE_FILE).read_text())["gguf"])
    res = run_cli("--results", str(tmp_path), "generate", "mtbench", "--json", "--model", str(gguf), "--limit", "1",
                  "--temperature", "0", "--max-new-tokens", "8", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr  # the machine's conversion is found again, not redone
    manifest = json.loads((Path(json.loads(res.stdout)["path"]) / "manifest.json").read_text())
    assert manifest["model"]["model"] == str(real_model)
    text = tmp_path / "weights.txt"
    text.write_text("not a model")
    bad = run_cli("--results", str(tmp_path), "generate", "mtbench", "--model", str(text), env=cli_env(data_dir))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (f"Error: --model {text}: a file, not a model folder (give a transformers "
                                  "checkpoint folder, a hub id, or a .gguf file)")
