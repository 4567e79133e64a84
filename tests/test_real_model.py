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


def test_a_starling_rm_on_smollm2s_backbone_reads_the_last_real_token_of_each_truncated_text(tmp_path, data_dir,
                                                                                               real_model):
    """Starling-RM-34B's layout (a decoder and a bias-free value head in safetensors) on SmolLM2's backbone: its
    tokenizer pads with <|im_end|>, the token that ends every ChatML turn, so a reward read "before the first pad"
    (the model cards' pooling) would be read at the end of the first turn. Ours must be each text's last token,
    after the text was cut on the left to --rm-max-length inside the real tokenizer."""
    import torch
    from safetensors.torch import load_file
    from torch import nn
    from transformers import AutoModel, AutoTokenizer

    from starling_eval.adapters.preference.hh import hh_pairs
    from starling_eval.backends.reward_formats import load_format
    from starling_eval.testing.tiny_model import build_tiny_starling_rm

    rm = build_tiny_starling_rm(tmp_path / "rm", real_model, layout="34b")
    res = run_cli("--results", str(tmp_path), "run", "hh", "--json", "--reward-model", str(rm), "--rm-kind",
                  "value-head", "--rm-backbone", str(real_model), "--rm-format", "starling-rm-34b", "--rm-max-length",
                  "96", "--limit", "6", "--batch-size", "4", "--dtype", "float32", "--device", "cpu",
                  env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    records = [json.loads(line) for line in (Path(out["path"]) / "records.jsonl").read_text().splitlines()]
    pairs = hh_pairs(data_dir / "hh_rlhf" / "harmless-base" / "test.jsonl.gz").pairs[:6]

    tok = AutoTokenizer.from_pretrained(real_model)
    assert tok.pad_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    tok.truncation_side = "left"
    fmt = load_format("starling-rm-34b", tok)
    state = load_file(rm / "model.safetensors")
    decoder = AutoModel.from_pretrained(real_model, dtype=torch.float32).eval()
    decoder.load_state_dict({k[len("transformer."):]: v for k, v in state.items() if k.startswith("transformer.")})
    head = nn.Linear(decoder.config.hidden_size, 1, bias=False)
    head.load_state_dict({"weight": state["v_head.weight"]})
    texts = [fmt.render(chat) for p in pairs for chat in (p.chosen, p.rejected)]
    alone, at_first_pad, cut = [], [], 0
    with torch.inference_mode():
        for text in texts:
            ids = tok(text, truncation=True, max_length=96)["input_ids"]
            cut += len(tok(text)["input_ids"]) > 96
            rewards = head(decoder(torch.tensor([ids]))[0])[0, :, 0]
            alone.append(rewards[-1].item())
            at_first_pad.append(rewards[ids.index(tok.pad_token_id) - 1].item())
    ours = [r for rec in records for r in (rec["chosen_reward"], rec["rejected_reward"])]
    assert ours == pytest.approx(alone, abs=1e-4)
    assert ours != pytest.approx(at_first_pad, abs=1e-3)  # the cards' pooling would read the first turn's end
    manifest = json.loads((Path(out["path"]) / "manifest.json").read_text())
    assert 0 < cut < len(texts) and manifest["reward_model"]["truncated"] == cut
