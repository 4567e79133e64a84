"""AlpacaEval 1 and 2: the 805 instructions answered one turn each, judged against a reference model's
outputs by alpaca_eval's annotators, scored by alpaca_eval's own metric code.

The eval set is read from a reference model's ``model_outputs.json`` in the data directory (all 805
instructions, with their ``dataset`` subset, in canonical order). Items are identified by a hash of the
instruction text, never by row position, so answer files in any order or with rows missing line up.
Answers are exported as alpaca_eval's ``model_outputs.json`` and judgments as its ``annotations.json``,
so its own tools read them. Generation follows alpaca_eval's published settings for the model
(``models``); the annotators are in ``annotators``, the requests in ``judge``, the leaderboard
metrics in ``score``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.alpacaeval import annotators as alpacaeval_annotators
from starling_eval.adapters.alpacaeval import judge as alpacaeval_judge
from starling_eval.adapters.alpacaeval import models as alpacaeval_models
from starling_eval.adapters.alpacaeval import score as alpacaeval_score
from starling_eval.adapters.base import Sample
from starling_eval.data import DataDir, DataError
from starling_eval.spec import JudgeRequest, JudgeSpec, ModelSpec, sha256_text

EVAL_SET = alpacaeval_score.REFERENCE_OUTPUTS


def item_id(instruction: str) -> str:
    """An item's id: its instruction's hash (answer files are matched on the text, whatever their order)."""
    return sha256_text(instruction)[:16]


# below this share of judgments that begin with the verdict token (m or M), a logprob judge is warned about
MIN_SAMPLED_VERDICT_SHARE = 0.5


class AlpacaEval:
    name = "alpacaeval"
    data_files = (EVAL_SET,)
    default_max_new_tokens = alpacaeval_models.FALLBACK["max_new_tokens"]
    default_temperature = alpacaeval_models.FALLBACK["temperature"]

    def samples(self, data: DataDir) -> list[Sample]:
        return [Sample(id=item_id(row["instruction"]), turns=[row["instruction"]], category=row.get("dataset"),
                       meta={"instruction": row["instruction"], "dataset": row.get("dataset"), "position": i})
                for i, row in enumerate(alpacaeval_score.read_eval_set(data))]

    def decoding_defaults(self, model: ModelSpec) -> dict[str, Any]:
        return alpacaeval_models.generation_settings(model)

    def export_answers(self, samples: Sequence[Sample], answers: dict[str, list[str]], model_id: str) -> dict[str, Any]:
        """alpaca_eval's ``model_outputs.json`` (a JSON list), answered items only, in canonical order."""
        rows = [{"dataset": s.meta["dataset"], "instruction": s.meta["instruction"], "output": answers[s.id][0],
                 "generator": model_id} for s in samples if s.id in answers]
        return {"model_outputs.json": rows}

    # -- judging ----------------------------------------------------------------------------------

    def judge_defaults(self, version: int | None, annotator: str | None) -> dict[str, Any]:
        """``--version`` picks the annotator and reference; ``--annotator`` picks another annotator."""
        default_annotator, reference = alpacaeval_annotators.VERSIONS[version or 2]
        chosen = alpacaeval_annotators.load(annotator or default_annotator)
        return {"model": chosen.model, "mode": "pairwise-baseline", "baseline": reference, "annotator": chosen.name}

    def judge_data_files(self, judge: JudgeSpec) -> list[str]:
        if judge.mode != "pairwise-baseline":
            raise DataError(f"--judge-mode {judge.mode}: AlpacaEval compares each output with a reference "
                            "(pairwise-baseline)")
        alpacaeval_judge.annotator_for(judge)  # an unusable annotator fails here, before anything runs
        return alpacaeval_judge.judge_data_files(judge)

    def answers_model_name(self, path: Path) -> str:
        """A ``model_outputs.json``'s model: its ``generator`` field, else its folder or file name."""
        generator, _ = alpacaeval_judge.read_model_outputs(path)
        return generator or alpacaeval_judge.reference_name_of(path)

    def read_answers(self, path: Path) -> dict[str, list[str]]:
        _, outputs = alpacaeval_judge.read_model_outputs(path)
        return {item_id(instruction): [output] for instruction, output in outputs.items()}

    def judge_requests(
        self, data: DataDir, samples: Sequence[Sample], answers: Mapping[str, Mapping[str, Sequence[str]]], judge: JudgeSpec
    ) -> tuple[list[JudgeRequest], list[dict[str, Any]]]:
        reference, outputs = alpacaeval_judge.load_reference(data, judge)
        return alpacaeval_judge.build_requests(samples, answers, reference, outputs, judge)

    def judge_warnings(self, rows: Sequence[Mapping[str, Any]], judge: JudgeSpec) -> list[str]:
        """A logprob judge reads P(m) against P(M) from the first token's alternatives; a judge that seldom
        *samples* m or M first is probably not following the prompt, even when both appear among them."""
        annotator = alpacaeval_judge.annotator_for(judge)
        if annotator.parser != "logprob_parser":
            return []
        texts = [str(r["judgment"]) for r in rows if r.get("judgment") is not None]
        first = sum(t.strip()[:1] in ("m", "M") for t in texts)
        if len(texts) < 5 or first >= MIN_SAMPLED_VERDICT_SHARE * len(texts):
            return []
        return [f"the judge answered m or M first in only {first} of {len(texts)} judgments (annotator "
                f"{annotator.name} reads its first token's logprobs): is this judge able to follow the prompt?"]

    def score(self, rows: Sequence[Mapping[str, Any]], judge: JudgeSpec, *, seed: int = 0,
              data: DataDir | None = None) -> dict[str, Any]:
        """alpaca_eval's leaderboard row per model; failed judgments are left out of the metrics and counted."""
        answered = [r for r in rows if r.get("kind") == "alpacaeval" and r.get("output_2") is not None]
        sets = list(alpacaeval_judge.annotation_rows(answered).items())
        result = self._leaderboard(sets, data, seed)
        failures = [{"model": r.get("model"), "question_id": r.get("question_id"), "turn": 1, "reason": r["failure"]}
                    for r in rows if r.get("failure")]
        per_model: dict[str, int] = {}
        for failure in failures:
            per_model[failure["model"]] = per_model.get(failure["model"], 0) + 1
        for row in result["models"]:
            row["n_failed"] = per_model.get(row["model"], 0)
        result.update(n_failed=len(failures), failures=failures,
                      items=[{"model": r["model"], "question_id": r["question_id"], "turn": 1, "preference": r.get("verdict")}
                             for r in rows if r.get("kind") == "alpacaeval"])
        return result

    def export_judgments(
        self, rows: Sequence[Mapping[str, Any]], requests: Mapping[str, JudgeRequest], judge: JudgeSpec
    ) -> dict[str, list[dict]]:
        """alpaca_eval's ``annotations.json`` per model, in its results layout (``<model>/<annotator>/``), so
        ``starling-eval score alpacaeval --annotations`` and alpaca_eval's own tools read them back."""
        answered = [r for r in rows if r.get("output_2") is not None]
        return {f"alpaca_eval/{model}/{annotated[0]['annotator']}/annotations.json": annotated
                for model, annotated in alpacaeval_judge.annotation_rows(answered).items()}

    def score_judgment_files(self, paths: Sequence[Path], data: DataDir | None, *, baseline: str | None = None,
                             seed: int = 0) -> dict[str, Any]:
        """Leaderboard rows from alpaca_eval ``annotations.json`` files (``score alpacaeval --annotations``)."""
        sets = []
        for path in paths:
            rows = alpacaeval_score.read_annotations(path)
            sets.append((alpacaeval_score.model_name(path, rows), rows))
        return self._leaderboard(sets, data, seed)

    @staticmethod
    def _leaderboard(sets: list, data: DataDir | None, seed: int) -> dict[str, Any]:
        models = alpacaeval_score.leaderboard(sets, data, seed=seed) if sets else []
        return {"mode": "alpacaeval", "models": models, "n_failed": sum(m["n_failed"] for m in models),
                "lc_unavailable": next((m["lc_unavailable"] for m in models if m["lc_unavailable"]), None),
                "style_unavailable": next((m["style_unavailable"] for m in models if m["style_unavailable"]), None)}
