"""When two runs' numbers may be compared: the same benchmark version, judge and prompt.

A benchmark's version is what it read: the sha256 of every data file it used (a re-pulled, changed
question file is another version). The judge is its model, mode, baseline, reference answers, annotator,
its --judge-max-tokens cap (None, the benchmark's own, in runs made before it existed too) and, for a reward-model judge, the RM and its format; the prompt is the judge-prompt file's hash. The
evaluation setting covers what changes the numbers without being the model: lm-eval's chat-template
options, the MMLU subject selection. A leaderboard puts runs with different keys in different columns and
``gate`` refuses to compare them; neither ever averages across keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starling_eval.spec import canonical_json, sha256_text

JUDGE_PROMPT_FILES = ("mt_bench/judge_prompts.jsonl",)
JUDGE_FIELDS = ("model", "mode", "baseline", "reference", "annotator", "max_tokens")


def comparability_key(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a run's manifest that must match for its scores to be comparable with another's."""
    spec = manifest.get("spec") or {}
    data_files = manifest.get("data_files") or {}
    judge = spec.get("judge")
    judge_key = None
    if judge:
        judge_key = {k: judge.get(k) for k in JUDGE_FIELDS}
        if judge_key["mode"] != "pairwise-baseline" and spec.get("benchmark") == "mtbench":
            judge_key["baseline"] = None  # only read in pairwise-baseline mode
        reward = judge.get("reward_model")
        if reward:
            judge_key["reward_model"] = {k: reward.get(k) for k in ("name_or_path", "revision", "kind", "backbone",
                                                                     "format", "max_length", "truncation_side")}
    prompt = next((data_files[f] for f in JUDGE_PROMPT_FILES if f in data_files), None)
    return {
        "benchmark": spec.get("benchmark"),
        "version": sha256_text(canonical_json(sorted(data_files.items())))[:12],
        "judge": judge_key,
        "prompt": prompt[:12] if prompt else None,
        "setting": {k: spec[k] for k in ("apply_chat_template", "fewshot_as_multiturn", "subjects") if spec.get(k)},
        "limit": spec.get("limit"),  # a subset's headline is not the full benchmark's (gate pairs shared items)
    }


def differences(a: Mapping[str, Any], b: Mapping[str, Any], *, ignore: tuple[str, ...] = ()) -> list[str]:
    """Human-readable reasons two keys differ (empty when the runs are comparable); ``ignore`` names fields
    that do not matter to the caller (``gate`` compares shared items, so ``limit`` does not)."""
    reasons = []
    for field in ("benchmark", "version", "judge", "prompt", "setting", "limit"):
        if field in ignore:
            continue
        if a.get(field) != b.get(field):
            reasons.append(f"{field}: {_show(a.get(field))} vs {_show(b.get(field))}")
    return reasons


def key_id(key: Mapping[str, Any]) -> str:
    """A short stable name for a comparability key (column headers, JSON)."""
    return sha256_text(canonical_json(key))[:8]


def _show(value: Any) -> str:
    return canonical_json(value) if isinstance(value, dict | list) else str(value)
