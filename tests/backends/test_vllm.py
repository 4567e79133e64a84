"""The vllm backend without vLLM installed. Greedy vllm answers equal hf's token for token on the real model, with
the backend's CPU defaults: tests/backends/test_vllm_server.py."""

from __future__ import annotations

import pytest

from tests.conftest import cli_env, run_cli

ARGS = ["generate", "mtbench", "--limit", "5", "--max-new-tokens", "24", "--temperature", "0", "--dtype", "float32",
        "--json"]


def test_missing_vllm_is_a_clear_error(tmp_path, data_dir, tiny_model):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed in this environment")
    res = run_cli("--results", str(tmp_path), *ARGS, "--model", str(tiny_model), "--backend", "vllm",
                  env=cli_env(data_dir))
    assert res.returncode == 2 and "vllm is not installed" in res.stderr
