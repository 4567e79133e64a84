"""The only place that knows the order of steps: check data → answers → judge → score → store.

``generate`` answers a benchmark with a model; ``evaluate`` goes on to judge and score (``run``), from
generated answers or existing answer files; ``evaluate_loglikelihood`` has lm-eval score a model's
log-likelihoods (MMLU, TruthfulQA); ``plan`` counts what a run would call and cost (``--dry-run``).
"""

from starling_eval.pipeline.common import Progress, ScoredRun, prepare, results_paths
from starling_eval.pipeline.evaluation import EvalResult, evaluate, plan
from starling_eval.pipeline.generation import GenerationResult, build_chat, generate, sampling_for
from starling_eval.pipeline.loglikelihood import evaluate_loglikelihood

__all__ = [
    "EvalResult",
    "ScoredRun",
    "evaluate_loglikelihood",
    "GenerationResult",
    "Progress",
    "build_chat",
    "evaluate",
    "generate",
    "plan",
    "prepare",
    "results_paths",
    "sampling_for",
]
