"""MT-Bench (FastChat llm_judge): the benchmark (``benchmark``), its judge requests (``judge``), how its
judge's replies read (``verdicts``), its scores (``score``) and FastChat's judgment files (``judgment_files``)."""

from starling_eval.adapters.mtbench.benchmark import MTBench

__all__ = ["MTBench"]
