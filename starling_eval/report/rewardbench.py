"""Reward-model accuracies in RewardBench's results-file shape, to set beside its published files.

RewardBench (v1) writes one JSON per model: ``model``, ``model_type``, ``chat_template`` and one key per
subset holding the accuracy (chosen strictly above rejected, ties wrong, which is how we score too), keys
sorted. Our tracks take RewardBench's names where it has the same data (its prior sets call HH harmless
``anthropic_harmless`` and PKU-SafeRLHF's two labels ``pku_better`` and ``pku_safer``); the others keep
ours. RewardBench filters its sets (2,266 harmless pairs of the 2,312 here), so equal names mean the same
source, not necessarily the same pairs: the pair counts are in our own scores.

``run rewardbench`` (v1) is RewardBench's own data: its tracks are the upstream subsets and prior sets, under
their names, and the file also gets the leaderboard's columns (Chat, Chat Hard, Safety, Reasoning, Prior Sets
(0.5 weight), Score; fractions like the subsets), which upstream computes from the same keys. ``run
rewardbench-2`` writes RewardBench 2's keys (its six subsets) and Score, scored best-of-n from the run's
records (``records.jsonl``: each completion's reward), since the pairwise accuracies in our scores are not
RewardBench 2's numbers. Upstream keeps v2 results apart from v1's (another results repository) and both use
"Safety" for different things, so a file holds one or the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starling_eval.adapters.preference.rewardbench import (
    EXAMPLE_COUNTS,
    PRIOR_SECTION,
    SECTIONS,
    V1_NAME,
    V2_NAME,
    V2_SUBSETS,
    v1_scores,
    v2_prompts,
    v2_scores,
)
from starling_eval.data import DataError, iter_jsonl_objects

REWARDBENCH_NAMES = {("hh", "hh"): "anthropic_harmless", ("safe-rlhf", "helpful"): "pku_better",
                     ("safe-rlhf", "harmless"): "pku_safer", ("arena", "arena"): "chatbot_arena_conversations"}
_HEADER = ("model", "model_type", "chat_template")
# keys that only one version's file holds ("Safety" and "Score" are in both)
_V1_ONLY = {*EXAMPLE_COUNTS, *SECTIONS, PRIOR_SECTION} - {"Safety"}
_V2_ONLY = set(V2_SUBSETS) - {"Safety"}


def _chat_template(fmt: str) -> str:
    """Our format source as RewardBench names templates: "tokenizer", a FastChat name, or ours."""
    kind, _, name = fmt.partition(":")
    return name or kind


def rewardbench_results(manifest: dict[str, Any], scores: dict[str, Any], existing: dict[str, Any] | None = None,
                        records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The results dict for one run; ``existing`` (the same model's file from other benchmarks) is kept and
    extended, so one file can gather every set a model was run on. ``records`` (the run's pair records) are
    needed for RewardBench 2, whose scores are not pairwise."""
    rm = manifest["reward_model"]
    spec = manifest["spec"]["reward_model"]
    out = dict(existing or {})
    out.update(model=spec["display_name"] or spec["name_or_path"], model_type="Seq. Classifier",
               chat_template=_chat_template(rm["format"]))
    if scores["benchmark"] == V2_NAME:
        if records is None:
            raise DataError(f"{V2_NAME}: its RewardBench scores are computed from the run's records; none were given")
        prompts, _ = v2_prompts(records)  # prompts cut short by --limit are left out
        out.update({k: v for k, v in v2_scores(prompts).items() if v is not None})
        return dict(sorted(out.items()))
    for row in scores["models"]:
        name = REWARDBENCH_NAMES.get((scores["benchmark"], row["track"]), row["track"])
        out[name] = row["accuracy"]
    if scores["benchmark"] == V1_NAME:
        out.update(v1_scores({row["track"]: row["accuracy"] for row in scores["models"]}))
    return dict(sorted(out.items()))


def _version_clash(existing: dict[str, Any], benchmark: str) -> str | None:
    """What in ``existing`` a run of ``benchmark`` must not be written beside, if anything."""
    keys = set(existing) - set(_HEADER)
    if benchmark == V2_NAME:
        other = sorted(keys - set(V2_SUBSETS) - {"Score"})
        return f"results of other sets ({', '.join(other[:3])}{', ...' if len(other) > 3 else ''})" if other else None
    return "RewardBench 2 results" if keys & _V2_ONLY else None


def update_results_file(path: Path, manifest: dict[str, Any], scores: dict[str, Any],
                        run_dir: Path | None = None) -> None:
    """Write this run's accuracies to ``path`` (``--rewardbench-json``), keeping what the file holds for the same
    model; a DataError when it holds another model's results, or the other RewardBench version's. ``run_dir``
    is the run's folder, whose records RewardBench 2 scores."""
    from starling_eval.store.files import write_json_atomic
    from starling_eval.store.runs import RECORDS

    existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    clash = _version_clash(existing, scores["benchmark"]) if existing else None
    if clash:
        raise DataError(f"--rewardbench-json {path}: holds {clash}; RewardBench 2 results go to a file of their own "
                        "(as upstream keeps them apart): give another file")
    records = None
    if scores["benchmark"] == V2_NAME and run_dir is not None:
        records = [row for _, row in iter_jsonl_objects(Path(run_dir) / RECORDS)]
    results = rewardbench_results(manifest, scores, existing, records)
    if existing and existing.get("model") != results["model"]:
        raise DataError(f"--rewardbench-json {path}: holds results of {existing.get('model')!r}, "
                        f"not {results['model']!r}; give another file")
    write_json_atomic(path, results)
