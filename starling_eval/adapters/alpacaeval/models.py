"""AlpacaEval's usual generation settings for a model, from the installed alpaca_eval's ``models_configs/``.

alpaca_eval publishes how each leaderboard model was decoded (Starling-LM-7B-alpha: sampling at temperature
0.7, top_p 1.0, up to 2048 new tokens). A model is matched by its hub id (``completions_kwargs.model_name``)
or by its name (the config folder, e.g. ``--model-name Starling-LM-7B-alpha``). Only decoding settings are
taken: the prompt format is the model's own chat template, as for every benchmark. The settings used and
where they came from are recorded in the run manifest; ``--temperature``/``--max-new-tokens`` override them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starling_eval.adapters.alpacaeval import alpaca_eval_lib
from starling_eval.spec import ModelSpec

# what starling-eval uses for a model alpaca_eval has no config for (Starling-LM-7B-alpha's settings)
FALLBACK = {"max_new_tokens": 2048, "temperature": 0.7, "top_p": 1.0}


def _read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        configs = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return {}
    return next(iter(configs.values()), {}) if isinstance(configs, dict) else {}


def find_config(model: ModelSpec) -> tuple[str, dict[str, Any]] | None:
    """(config folder, its config) for this model, or None."""
    root = alpaca_eval_lib.package_dir() / "models_configs"
    names = {model.label, Path(model.name_or_path.rstrip("/")).name}
    for name in sorted(names):
        path = root / name / "configs.yaml"
        if name and path.is_file():
            return name, _read(path)
    needle = f'"{model.name_or_path}"'
    for path in sorted(root.glob("*/configs.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if model.name_or_path not in text:  # cheap filter before parsing YAML
            continue
        config = _read(path)
        if (config.get("completions_kwargs") or {}).get("model_name") == model.name_or_path or needle in text:
            return path.parent.name, config
    return None


def generation_settings(model: ModelSpec) -> dict[str, Any]:
    """max_new_tokens, temperature, top_p and their ``source``."""
    found = find_config(model)
    if found is None:
        return {**FALLBACK, "source": f"starling-eval default (alpaca_eval has no models_configs entry for {model.label})"}
    name, config = found
    kwargs = config.get("completions_kwargs") or {}
    settings = dict(FALLBACK)
    max_tokens = kwargs.get("max_new_tokens", kwargs.get("max_tokens"))
    if isinstance(max_tokens, int):
        settings["max_new_tokens"] = max_tokens
    if isinstance(kwargs.get("temperature"), int | float):
        settings["temperature"] = float(kwargs["temperature"])
    elif "openai" in str(config.get("fn_completions")):
        settings["temperature"] = 1.0  # alpaca_eval sends none: the API's default
    if isinstance(kwargs.get("top_p"), int | float):
        settings["top_p"] = float(kwargs["top_p"])
    if kwargs.get("do_sample") is False:
        settings["temperature"] = 0.0  # transformers' greedy decoding
    return {**settings, "source": f"alpaca_eval models_configs/{name}"}
