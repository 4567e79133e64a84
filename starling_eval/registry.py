"""Names to implementations: benchmarks and backends, imported only when used.

Third-party packages add their own through the entry-point groups ``starling_eval.benchmarks`` and
``starling_eval.backends`` (value ``module:attr``), so a new benchmark needs no change here.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

BENCHMARKS: dict[str, str] = {
    "mtbench": "starling_eval.adapters.mtbench:MTBench",
    "alpacaeval": "starling_eval.adapters.alpacaeval:AlpacaEval",
    "mmlu": "starling_eval.adapters.multiple_choice:MMLU",
    "truthfulqa": "starling_eval.adapters.multiple_choice:TruthfulQA",
    "safe-rlhf": "starling_eval.adapters.safe_rlhf:SafeRLHF",
    "arena-hard-v0.1": "starling_eval.adapters.arena_hard:ArenaHardV01",
    "arena-hard-v2.0": "starling_eval.adapters.arena_hard:ArenaHardV20",
}
# reward-model tracks (``run NAME --reward-model ...``): preference pairs scored by an RM
REWARD_BENCHMARKS: dict[str, str] = {
    "truthfulqa": "starling_eval.adapters.preference:TruthfulQAPairs",
    "hh": "starling_eval.adapters.preference:HHPairs",
    "safe-rlhf": "starling_eval.adapters.preference:SafeRLHFPairs",
    "arena": "starling_eval.adapters.preference:ArenaPairs",
    "nectar": "starling_eval.adapters.preference:NectarPairs",
    "rewardbench": "starling_eval.adapters.preference:RewardBenchPairs",
    "rewardbench-2": "starling_eval.adapters.preference:RewardBench2Pairs",
}
BACKENDS: dict[str, str] = {
    "hf": "starling_eval.backends.hf:HFChatModel",
    "openai": "starling_eval.backends.openai_compat:OpenAIChatModel",
    "vllm": "starling_eval.backends.vllm:VLLMChatModel",
}
BACKEND_HELP = {
    "hf": "transformers AutoModelForCausalLM, CPU or CUDA, batched",
    "openai": "any OpenAI-compatible chat server (--base-url)",
    "vllm": "vLLM offline engine, tensor/pipeline/data parallel (optional extra)",
}


class UnknownName(KeyError):
    def __init__(self, kind: str, name: str, known: list[str]):
        super().__init__(name)
        self.message = f"unknown {kind} {name!r} (available: {', '.join(known)})"


@functools.cache
def _plugins(group: str) -> dict[str, str]:
    """Installed plugins of a group, read once per process (a scan of every installed package: ~10 ms)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=group)}


def benchmark_names() -> list[str]:
    return sorted({**BENCHMARKS, **_plugins("starling_eval.benchmarks")})


def reward_benchmark(name: str) -> Any:
    if name not in REWARD_BENCHMARKS:
        raise UnknownName("reward-model benchmark", name, sorted(REWARD_BENCHMARKS))
    return _load(REWARD_BENCHMARKS[name])()


def backend_names() -> list[str]:
    return sorted({**BACKENDS, **_plugins("starling_eval.backends")})


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def benchmark(name: str) -> Any:
    table = {**BENCHMARKS, **_plugins("starling_eval.benchmarks")}
    if name not in table:
        raise UnknownName("benchmark", name, sorted(table))
    return _load(table[name])()


def backend_class(name: str) -> Any:
    table = {**BACKENDS, **_plugins("starling_eval.backends")}
    if name not in table:
        raise UnknownName("backend", name, sorted(table))
    return _load(table[name])
