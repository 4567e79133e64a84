"""MT-Bench (FastChat llm_judge): 80 two-turn questions, answered as FastChat's gen_model_answer does.

Per-category temperatures and the 1024-token budget are FastChat's; turn 2 sees the model's own turn-1
answer. Answers are also exported in FastChat's ``model_answer`` JSONL so its own tools read them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence

from starling_eval.adapters.base import Sample
from starling_eval.data import DataDir, DataError

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
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path} line {lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg}); re-fetch with `starling-eval data pull {rel}`") from None
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
