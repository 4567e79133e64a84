"""MMLU and TruthfulQA MC1/MC2, scored by lm-eval's log-likelihoods: the benchmarks (``benchmark``), lm-eval's
tasks over our local data (``lm_eval_tasks``) and MMLU's three file layouts (``mmlu_data``)."""

from starling_eval.adapters.multiple_choice.benchmark import MMLU, TruthfulQA

__all__ = ["MMLU", "TruthfulQA"]
