"""MT-Bench (FastChat llm_judge): 80 two-turn questions, answered as FastChat's gen_model_answer does,
judged as its gen_judgment does and scored as its show_result does.

Per-category temperatures and the 1024-token budget are FastChat's; turn 2 sees the model's own turn-1
answer. Answers are also exported in FastChat's ``model_answer`` JSONL so its own tools read them. The
judge requests live in ``judge``, the reading of the judge's replies in ``verdicts``, the scoring in
``score``, FastChat's judgment files in ``judgment_files``; this class ties them to the Benchmark protocol.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.base import Sample, refuse_annotator_options
from starling_eval.adapters.mtbench import judge as mtbench_judge
from starling_eval.adapters.mtbench import judgment_files as mtbench_judgment_files
from starling_eval.adapters.mtbench import score as mtbench_score
from starling_eval.data import DataDir, DataError, read_jsonl_rows
from starling_eval.spec import JudgeRequest, JudgeSpec

QUESTIONS = "mt_bench/question.jsonl"

# fastchat/llm_judge/common.py: temperature_config; other categories default to 0.7
CATEGORY_TEMPERATURE = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
    "arena-hard-200": 0.0,
}
DEFAULT_TEMPERATURE = 0.7


def read_questions(data: DataDir, rel: str = QUESTIONS) -> list[dict]:
    """Questions in file order; a malformed line is a DataError naming file and line."""
    path = data.require(rel)
    questions, seen = [], set()
    for lineno, row in read_jsonl_rows(path, (), f"; re-fetch with `starling-eval data pull {rel}`"):
        where = f"{path} line {lineno}"
        turns = row.get("turns") if isinstance(row, dict) else None
        if not isinstance(row, dict) or "question_id" not in row or not isinstance(turns, list) or not turns:
            raise DataError(f"{where}: expected an object with question_id and a non-empty list of turns")
        if not all(isinstance(t, str) for t in turns):
            raise DataError(f"{where}: every turn must be a string")
        if row["question_id"] in seen:
            raise DataError(f"{where}: duplicate question_id {row['question_id']}")
        seen.add(row["question_id"])
        questions.append(row)
    if not questions:
        raise DataError(f"{path}: no questions")
    return questions


class MTBench:
    name = "mtbench"
    data_files = (QUESTIONS,)
    default_max_new_tokens = 1024
    default_temperature = DEFAULT_TEMPERATURE

    def samples(self, data: DataDir) -> list[Sample]:
        return [
            Sample(
                id=str(q["question_id"]),
                turns=q["turns"],
                category=q.get("category"),
                temperature=CATEGORY_TEMPERATURE.get(q.get("category", ""), DEFAULT_TEMPERATURE),
                meta={"question_id": q["question_id"]},
            )
            for q in read_questions(data)
        ]

    def export_answers(self, samples: Sequence[Sample], answers: dict[str, list[str]], model_id: str) -> dict[str, list[dict]]:
        rows = []
        for sample in sorted(samples, key=lambda s: s.meta["question_id"]):
            turns = answers.get(sample.id)
            if turns is None or len(turns) != len(sample.turns):
                continue  # unanswered items are reported as failures, not written half-done
            rows.append(
                {
                    "question_id": sample.meta["question_id"],
                    # stable across re-exports: derived from the content, not random like FastChat's shortuuid
                    "answer_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{model_id}|{sample.id}|{json.dumps(turns)}").hex[:22],
                    "model_id": model_id,
                    "choices": [{"index": 0, "turns": turns}],
                    "tstamp": time.time(),
                }
            )
        return {f"model_answer/{model_id}.jsonl": rows}

    # -- judging ----------------------------------------------------------------------------------

    def judge_defaults(self, version: int | None, annotator: str | None) -> dict[str, Any]:
        """FastChat's defaults: GPT-4 grading single answers; gpt-3.5-turbo as the pairwise baseline."""
        refuse_annotator_options(version, annotator)
        return {"model": "gpt-4", "mode": "single", "baseline": "gpt-3.5-turbo", "annotator": None}

    def judge_data_files(self, judge: JudgeSpec) -> list[str]:
        return mtbench_judge.judge_data_files(judge)

    def answers_model_name(self, path: Path) -> str:
        return mtbench_judge.answer_file_model(path)

    def read_answers(self, path: Path) -> dict[str, list[str]]:
        return mtbench_judge.read_answer_file(path)

    def judge_requests(
        self, data: DataDir, samples: Sequence[Sample], answers: Mapping[str, Mapping[str, Sequence[str]]], judge: JudgeSpec
    ) -> tuple[list[JudgeRequest], list[dict[str, Any]]]:
        """Every judge call of the run, and a failure row for each match lacking an answer."""
        answers = dict(answers)
        baseline = None
        if judge.mode == "pairwise-baseline":
            baseline, baseline_answers = mtbench_judge.load_baseline(data, judge)
            answers.setdefault(baseline, baseline_answers)
        elif judge.mode == "pairwise-all" and len(answers) < 2:
            raise DataError("--judge-mode pairwise-all needs answers from two or more models (--answers FILE ...)")
        return mtbench_judge.build_requests(samples, answers, judge, mtbench_judge.read_judge_prompts(data),
                                            mtbench_judge.read_references(data, judge), baseline)

    def score(self, rows: Sequence[Mapping[str, Any]], judge: JudgeSpec, *, seed: int = 0,
              data: DataDir | None = None) -> dict[str, Any]:
        if judge.mode == "single":
            return mtbench_score.score_single([r for r in rows if r.get("kind") == "single"], seed=seed)
        baseline = mtbench_judge.baseline_source(judge)[0] if judge.mode == "pairwise-baseline" else None
        matches = mtbench_score.pair_matches([r for r in rows if r.get("kind") == "pair"])
        return mtbench_score.score_pairwise(matches, baseline, seed=seed)

    def export_judgments(
        self, rows: Sequence[Mapping[str, Any]], requests: Mapping[str, JudgeRequest], judge: JudgeSpec
    ) -> dict[str, list[dict]]:
        """Judgments in FastChat's ``model_judgment`` format, which its show_result.py reads."""
        name = mtbench_judgment_files.judgment_file_name(judge.model, judge.mode)
        return {name: mtbench_judgment_files.fastchat_rows(rows, requests)}

    def score_judgment_files(self, paths: Sequence[Path], data: DataDir | None, *, baseline: str | None,
                             seed: int = 0) -> dict[str, Any]:
        """Re-score FastChat judgment files (``starling-eval score mtbench --judgments ...``)."""
        categories = None
        if data is not None and data.path(QUESTIONS).is_file():
            categories = {str(q["question_id"]): q.get("category") for q in read_questions(data)}
        kind, rows = mtbench_judgment_files.read_judgments(paths, categories)
        if kind == "single":
            result = mtbench_score.score_single(rows, seed=seed)
        else:
            if baseline is None:  # FastChat's pairwise-baseline files: one model appears in every match
                common = set.intersection(*({r["model_1"], r["model_2"]} for r in rows))
                baseline = common.pop() if len(common) == 1 else None
            result = mtbench_score.score_pairwise(rows, baseline, seed=seed)
        result["categories_source"] = QUESTIONS if categories is not None else None
        return result
