"""End to end: `run mtbench` against a served model and an API judge, judging overlapped with generation.

Two local OpenAI-compatible servers, each in its own process at a fixed latency: the model (answers) and the
judge ("Rating: [[7]]"). All 80 MT-Bench questions (160 answers, 160 single-grading judgments), each side at
its own concurrency, every run on a fresh results folder (nothing cached):
  generation alone   ``pipeline.generate``
  judging alone      ``pipeline.evaluate`` on the answers generation alone wrote (``--answers``)
  sequential         ``pipeline.evaluate(..., overlap=False)``: judging after all generation (before this change)
  overlapped         ``pipeline.evaluate``: each sample judged as soon as its last turn is answered
The goal: overlapped <= 1.1 x max(generation alone, judging alone). Two settings: judging the longer side, and
generation the longer side. Median of ROUNDS; read the ratios (absolute times move with machine load).

    .venv/bin/python benchmarks/bench_end_to_end.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from starling_eval import pipeline
from starling_eval.data import sha256_file
from starling_eval.spec import AnswerFile, JudgeSpec, ModelSpec, RunSpec
from starling_eval.testing.server import server_process

ROUNDS = 3
CONCURRENCY = 16
SETTINGS = {"judging longer": (100.0, 250.0), "generation longer": (250.0, 100.0)}  # model ms, judge ms


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one_round(data_dir: str, model_url: str, judge_url: str) -> dict[str, float]:
    model = ModelSpec(backend="openai", name_or_path="m", base_url=model_url, concurrency=CONCURRENCY,
                      api_key_env="STARLING_EVAL_BENCH_KEY")
    judge = JudgeSpec(model="j", base_url=judge_url, concurrency=CONCURRENCY, api_key_env="STARLING_EVAL_BENCH_KEY")
    spec = RunSpec(benchmark="mtbench", data_dir=data_dir, max_new_tokens=64, model=model, judge=judge)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root:
        out: list = []
        times["generation alone"] = timed(lambda: out.append(pipeline.generate(spec.model_copy(update={"judge": None}),
                                                                               Path(root) / "g")))
        answers = out[0].run.path / "model_answer" / "m.jsonl"
        source = AnswerFile(model="m", path=str(answers), sha256=sha256_file(answers))
        only_judge = spec.model_copy(update={"model": None, "answers": [source]})
        times["judging alone"] = timed(lambda: pipeline.evaluate(only_judge, Path(root) / "j"))
        times["sequential"] = timed(lambda: pipeline.evaluate(spec, Path(root) / "s", overlap=False))
        results: list = []
        times["overlapped"] = timed(lambda: results.append(pipeline.evaluate(spec, Path(root) / "o")))
        counts = results[0].judging["counts"]
        assert counts["called"] == 160 and counts["valid"] == 160, counts
    return times


def main() -> int:
    data_dir = os.environ.get("STARLING_EVAL_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    os.environ["STARLING_EVAL_BENCH_KEY"] = "not-a-key"
    print(f"run mtbench, 80 questions: 160 answers and 160 judgments, concurrency {CONCURRENCY} each side, "
          f"median of {ROUNDS}")
    print(f"{'setting':>18} {'gen s':>6} {'judge s':>8} {'seq s':>6} {'overlap s':>10} {'overlap/max':>12} "
          f"{'seq/max':>8}")
    for name, (model_ms, judge_ms) in SETTINGS.items():
        with server_process("--latency-ms", str(model_ms), "--reply", "An answer.") as model_url, \
                server_process("--latency-ms", str(judge_ms), "--reply", "Rating: [[7]]") as judge_url:
            rounds = [one_round(data_dir, model_url, judge_url) for _ in range(ROUNDS)]
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        longer = max(med["generation alone"], med["judging alone"])
        print(f"{name:>18} {med['generation alone']:6.2f} {med['judging alone']:8.2f} {med['sequential']:6.2f} "
              f"{med['overlapped']:10.2f} {med['overlapped'] / longer:12.2f} {med['sequential'] / longer:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
