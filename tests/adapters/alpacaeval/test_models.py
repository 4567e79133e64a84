"""AlpacaEval's per-model generation settings come from the installed alpaca_eval's models_configs."""

from __future__ import annotations

from starling_eval.adapters.alpacaeval.models import FALLBACK, generation_settings
from starling_eval.pipeline.common import prepare
from starling_eval.pipeline.generation import sampling_for
from starling_eval.spec import ModelSpec, RunSpec


def test_starling_is_matched_by_hub_id_or_by_name():
    by_id = generation_settings(ModelSpec(name_or_path="berkeley-nest/Starling-LM-7B-alpha"))
    by_name = generation_settings(ModelSpec(name_or_path="/ckpt/final", display_name="Starling-LM-7B-alpha"))
    assert by_id == by_name == {"max_new_tokens": 2048, "temperature": 0.7, "top_p": 1.0,
                                "source": "alpaca_eval models_configs/Starling-LM-7B-alpha"}


def test_api_models_and_unknown_models():
    gpt4 = generation_settings(ModelSpec(backend="openai", name_or_path="gpt-4-1106-preview", base_url="http://x/v1"))
    # alpaca_eval sends gpt4_1106_preview no temperature: the API's default, 1
    assert (gpt4["max_new_tokens"], gpt4["temperature"], gpt4["source"]) == (4096, 1.0, "alpaca_eval models_configs/gpt4_1106_preview")
    unknown = generation_settings(ModelSpec(name_or_path="/nowhere/my-own-model"))
    assert {k: unknown[k] for k in FALLBACK} == FALLBACK and "no models_configs entry for my-own-model" in unknown["source"]


def test_the_pipeline_applies_them_unless_the_command_line_overrides(data_dir):
    model = ModelSpec(name_or_path="/ckpt", display_name="zephyr-7b-beta")
    prep = prepare(RunSpec(benchmark="alpacaeval", model=model, data_dir=str(data_dir), limit=2))
    assert prep.decoding["source"] == "alpaca_eval models_configs/zephyr-7b-beta"
    spec = RunSpec(benchmark="alpacaeval", model=model, data_dir=str(data_dir))
    params = sampling_for(spec, prep.bench, prep.samples[0])
    assert (params.temperature, params.top_p, params.max_new_tokens) == (0.7, 1.0, 2048)
    forced = RunSpec(benchmark="alpacaeval", model=model, data_dir=str(data_dir), temperature=0.0, max_new_tokens=64)
    params = sampling_for(forced, prep.bench, prep.samples[0])
    assert (params.temperature, params.max_new_tokens) == (0.0, 64)
