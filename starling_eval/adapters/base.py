"""What adapters hand the pipeline: samples to answer, with their own decoding defaults.

A :class:`Sample` is one benchmark item: its user turns (answered one after another, each turn seeing the
model's own earlier answers) and per-item sampling defaults such as MT-Bench's per-category temperature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field

from starling_eval.data import DataDir


class Sample(BaseModel):
    id: str
    turns: list[str]
    system: str | None = None
    temperature: float | None = None
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
