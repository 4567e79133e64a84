"""Reward-model accuracies in RewardBench's results-file shape, to set beside its published files.

RewardBench (v1) writes one JSON per model: ``model``, ``model_type``, ``chat_template`` and one key per
subset holding the accuracy (chosen strictly above rejected, ties wrong, which is how we score too), keys
sorted. Our tracks take RewardBench's names where it has the same data (its prior sets call HH harmless
``anthropic_harmless`` and PKU-SafeRLHF's two labels ``pku_better`` and ``pku_safer``); the others keep
ours. RewardBench filters its sets (2,266 harmless pairs of the 2,312 here), so equal names mean the same
source, not necessarily the same pairs: the pair counts are in our own scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starling_eval.data import DataError

REWARDBENCH_NAMES = {("hh", "hh"): "anthropic_harmless", ("safe-rlhf", "helpful"): "pku_better",
                     ("safe-rlhf", "harmless"): "pku_safer", ("arena", "arena"): "chatbot_arena_conversations"}


def _chat_template(fmt: str) -> str:
    """Our format source as RewardBench names templates: "tokenizer", a FastChat name, or ours."""
    kind, _, name = fmt.partition(":")
    return name or kind


def rewardbench_results(manifest: dict[str, Any], scores: dict[str, Any],
                        existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The results dict for one run; ``existing`` (the same model's file from other benchmarks) is kept and
    extended, so one file can gather every set a model was run on."""
    rm = manifest["reward_model"]
    spec = manifest["spec"]["reward_model"]
    out = dict(existing or {})
    out.update(model=spec["display_name"] or spec["name_or_path"], model_type="Seq. Classifier",
               chat_template=_chat_template(rm["format"]))
    for row in scores["models"]:
        name = REWARDBENCH_NAMES.get((scores["benchmark"], row["track"]), row["track"])
        out[name] = row["accuracy"]
    return dict(sorted(out.items()))


def update_results_file(path: Path, manifest: dict[str, Any], scores: dict[str, Any]) -> None:
    """Write this run's accuracies to ``path`` (``--rewardbench-json``), keeping what the file holds for the same
    model; a DataError when it holds another model's results."""
    from starling_eval.store.files import write_json_atomic

    existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    results = rewardbench_results(manifest, scores, existing)
    if existing and existing.get("model") != results["model"]:
        raise DataError(f"--rewardbench-json {path}: holds results of {existing.get('model')!r}, "
                        f"not {results['model']!r}; give another file")
    write_json_atomic(path, results)
