"""AlpacaEval: the 805 instructions, answered one turn each, and leaderboards from annotations.

The eval set is read from a reference model's ``model_outputs.json`` in the data directory (it holds all
805 instructions, with their ``dataset`` subset, in canonical order). Everything downstream is keyed on the
instruction text, never on row position. Answers are exported as alpaca_eval's ``model_outputs.json`` so
its own tools read them. Generation defaults are those of alpaca_eval's ``models_configs`` entry for
Starling-LM-7B-alpha (sampling at temperature 0.7, up to 2048 new tokens).

Judging (the weighted GPT-4-turbo and GPT-4 annotators) is not wired yet; re-scoring published or
external annotations (``starling-eval score alpacaeval --annotations ...``) is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters import alpacaeval_score
from starling_eval.adapters.base import Sample
from starling_eval.data import DataDir

EVAL_SET = alpacaeval_score.REFERENCE_OUTPUTS


class AlpacaEval:
    name = "alpacaeval"
    data_files = (EVAL_SET,)
    default_max_new_tokens = 2048
    default_temperature = 0.7

    def samples(self, data: DataDir) -> list[Sample]:
        return [Sample(id=str(i), turns=[row["instruction"]], category=row.get("dataset"),
                       meta={"instruction": row["instruction"], "dataset": row.get("dataset")})
                for i, row in enumerate(alpacaeval_score.read_eval_set(data))]

    def export_answers(self, samples: Sequence[Sample], answers: dict[str, list[str]], model_id: str) -> dict[str, Any]:
        """alpaca_eval's ``model_outputs.json`` (a JSON list), answered items only, in canonical order."""
        rows = [{"dataset": s.meta["dataset"], "instruction": s.meta["instruction"], "output": answers[s.id][0],
                 "generator": model_id} for s in samples if s.id in answers]
        return {"model_outputs.json": rows}

    def score_judgment_files(self, paths: Sequence[Path], data: DataDir | None, *, baseline: str | None = None,
                             seed: int = 0) -> dict[str, Any]:
        """Leaderboard rows from alpaca_eval ``annotations.json`` files (``score alpacaeval --annotations``)."""
        sets = []
        for path in paths:
            rows = alpacaeval_score.read_annotations(path)
            sets.append((alpacaeval_score.model_name(path, rows), rows))
        models = alpacaeval_score.leaderboard(sets, data)
        return {"mode": "alpacaeval", "models": models, "n_failed": sum(m["n_failed"] for m in models),
                "lc_unavailable": next((m["lc_unavailable"] for m in models if m["lc_unavailable"]), None)}
