"""Reward models on preference pairs (``run NAME --reward-model ...``): the benchmarks and their scores
(``benchmark``), :class:`Pair` and :class:`PairSet` (``pairs``), one reader per dataset (``truthfulqa``, ``hh``,
``safe_rlhf``, ``arena``, ``nectar``), and RewardBench v1 and 2 with upstream's own scores (``rewardbench``)."""

from starling_eval.adapters.preference.benchmark import ArenaPairs, HHPairs, NectarPairs, SafeRLHFPairs, TruthfulQAPairs
from starling_eval.adapters.preference.rewardbench import RewardBench2Pairs, RewardBenchPairs

__all__ = ["ArenaPairs", "HHPairs", "NectarPairs", "RewardBench2Pairs", "RewardBenchPairs", "SafeRLHFPairs",
           "TruthfulQAPairs"]
