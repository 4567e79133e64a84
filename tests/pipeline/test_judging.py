"""Judging beside generation sends each judge request as soon as the answers it needs exist: built from a sample's
answers so far, a request must be the one built from every answer of the run (each judged benchmark, each mode
a generating run can use)."""

from __future__ import annotations

import dataclasses

import pytest

from starling_eval.data import DataDir
from starling_eval.pipeline.common import Prepared
from starling_eval.pipeline.judging import judge_requests
from starling_eval.registry import benchmark
from starling_eval.spec import JudgeSpec

SETUPS = [("mtbench", None, None, "single"), ("mtbench", None, None, "pairwise-baseline"), ("alpacaeval", 2, None, None),
          ("alpacaeval", 1, None, None), ("safe-rlhf", None, None, None)]


@pytest.mark.parametrize(("name", "version", "annotator", "mode"), SETUPS)
def test_requests_built_from_a_samples_answers_so_far_are_the_final_ones(data_dir, name, version, annotator, mode):
    bench = benchmark(name)
    data = DataDir(str(data_dir))
    samples = list(bench.samples(data))[:12]
    defaults = bench.judge_defaults(version, annotator)
    judge = JudgeSpec(model=defaults["model"], mode=mode or defaults["mode"], baseline=defaults["baseline"],
                      annotator=defaults["annotator"], max_tokens=512)
    prep = Prepared(bench, data, samples, {})
    answers = {s.id: [f"answer {i} to {s.id}, turn {t + 1}" for t in range(len(s.turns))]
               for i, s in enumerate(samples)}
    final, _ = judge_requests(prep, {"m": answers}, judge)
    by_id = {r.id: r for r in final}
    early = []
    for sample in samples:  # one sample, one more turn each time, as generation reports them
        for turns in range(1, len(sample.turns) + 1):
            one = dataclasses.replace(prep, samples=[sample])
            early += judge_requests(one, {"m": {sample.id: answers[sample.id][:turns]}}, judge)[0]
    assert early and {r.id for r in early} == set(by_id)
    assert all(by_id[r.id] == r for r in early)
    assert all(r.max_tokens == 512 for r in final)  # --judge-max-tokens on every request
