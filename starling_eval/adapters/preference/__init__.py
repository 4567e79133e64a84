"""Reward models on preference pairs (``run NAME --reward-model ...``): the benchmarks and their scores
(``benchmark``), :class:`Pair` and :class:`PairSet` (``pairs``), and one reader per dataset (``truthfulqa``,
``hh``, ``safe_rlhf``, ``arena``, ``nectar``)."""

from starling_eval.adapters.preference.benchmark import ArenaPairs, HHPairs, NectarPairs, SafeRLHFPairs, TruthfulQAPairs

__all__ = ["ArenaPairs", "HHPairs", "NectarPairs", "SafeRLHFPairs", "TruthfulQAPairs"]
