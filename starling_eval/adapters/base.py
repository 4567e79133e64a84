"""What adapters hand the pipeline: samples to answer, with their own decoding defaults.

A :class:`Sample` is one benchmark item: its user turns (answered one after another, each turn seeing the
model's own earlier answers) and per-item sampling defaults such as MT-Bench's per-category temperature.
A benchmark may also pick decoding defaults per model (``decoding_defaults``: AlpacaEval reads alpaca_eval's
published settings for the model); the pipeline applies them to the samples before generating.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from starling_eval.data import DataDir, DataError
from starling_eval.spec import JudgeRequest, JudgeSpec


def refuse_annotator_options(version: int | None, annotator: str | None) -> None:
    """``--version``/``--annotator`` choose among AlpacaEval's annotators; any other benchmark refuses them."""
    for option, value in (("--version", version), ("--annotator", annotator)):
        if value is not None:
            raise DataError(f"{option} applies to alpacaeval only")


class Sample(BaseModel):
    id: str
    turns: list[str]
    system: str | None = None
    temperature: float | None = None
    max_new_tokens: int | None = None  # None: the benchmark's default
    top_p: float | None = None
    category: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Benchmark(Protocol):
    name: str
    #: manifest paths this benchmark reads (checked before anything runs)
    data_files: Sequence[str]
    default_max_new_tokens: int
    default_temperature: float

    def samples(self, data: DataDir) -> Iterable[Sample]: ...

    def export_answers(self, samples: Sequence[Sample], answers: dict[str, list[str]], model_id: str) -> dict[str, list[dict]]:
        """Answer files in the upstream tool's own format: {relative file name: rows}."""
        ...


class JudgedBenchmark(Benchmark, Protocol):
    """A benchmark whose answers a judge grades (MT-Bench, AlpacaEval). The adapter only describes: it
    builds the requests and turns the stored judgment rows into scores; the pipeline sends and stores."""

    def judge_defaults(self, version: int | None, annotator: str | None) -> dict[str, Any]:
        """What the command line leaves out: judge ``model``, ``mode``, ``baseline`` and ``annotator``
        (``--version``/``--annotator`` choose among a benchmark's annotators; others refuse them)."""
        ...

    def judge_data_files(self, judge: JudgeSpec) -> list[str]:
        """Data-dir files judging reads (prompts, references, baselines), checked before generating."""
        ...

    def read_answers(self, path: Path) -> dict[str, list[str]]:
        """An upstream-format answer file: {item id: turns}."""
        ...

    def judge_requests(
        self, data: DataDir, samples: Sequence[Sample], answers: Mapping[str, Mapping[str, Sequence[str]]],
        judge: JudgeSpec,
    ) -> tuple[list[JudgeRequest], list[dict[str, Any]]]:
        """Every judge call for these answers ({model: {item id: turns}}), and the rows decided without a
        call: a failure for each match that cannot be judged (an answer is missing), or a verdict the
        reference tool gives without asking (AlpacaEval: identical outputs are a draw)."""
        ...

    def score(self, rows: Sequence[Mapping[str, Any]], judge: JudgeSpec, *, seed: int = 0,
              data: DataDir | None = None) -> dict[str, Any]:
        """Scores from judgment rows: ``models`` (the table), ``failures``, ``n_failed``, ``items``.
        ``data`` is the run's data directory, for scores that need more files (AlpacaEval's LC GLM)."""
        ...

    def export_judgments(
        self, rows: Sequence[Mapping[str, Any]], requests: Mapping[str, JudgeRequest], judge: JudgeSpec
    ) -> dict[str, list[dict]]:
        """Judgments in the upstream tool's own format: {relative file name: rows}."""
        ...
