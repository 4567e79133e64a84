from __future__ import annotations

import pytest

from starling_eval.adapters.mtbench.benchmark import CATEGORY_TEMPERATURE, MTBench
from starling_eval.data import DataDir, DataError
from starling_eval.pipeline import build_chat


def test_questions_and_fastchat_temperatures(data_dir):
    samples = MTBench().samples(DataDir(data_dir))
    assert len(samples) == 80 and all(len(s.turns) == 2 for s in samples)
    assert [s.id for s in samples[:2]] == ["81", "82"]
    by_cat = {s.category: s.temperature for s in samples}
    assert by_cat == {c: CATEGORY_TEMPERATURE[c] for c in by_cat}
    assert by_cat["stem"] == 0.1 and by_cat["coding"] == 0.0 and by_cat["roleplay"] == 0.7


def test_turn_two_conversation_carries_turn_one_answer(data_dir):
    sample = MTBench().samples(DataDir(data_dir))[0]
    chat = build_chat(sample, ["my first answer"], 1)
    assert [m.role for m in chat] == ["user", "assistant", "user"]
    assert chat[1].content == "my first answer" and chat[2].content == sample.turns[1]


def test_export_is_fastchat_model_answer_format(data_dir):
    bench = MTBench()
    samples = bench.samples(DataDir(data_dir))[:3]
    files = bench.export_answers(samples, {"81": ["a", "b"], "82": ["c", "d"]}, "my-model")
    rows = files["model_answer/my-model.jsonl"]
    assert [r["question_id"] for r in rows] == [81, 82]  # 83 unanswered: not written half-done
    assert set(rows[0]) == {"question_id", "answer_id", "model_id", "choices", "tstamp"}
    assert rows[0]["choices"] == [{"index": 0, "turns": ["a", "b"]}]


def test_malformed_rows_name_file_and_line(tmp_path):
    folder = tmp_path / "mt_bench"
    folder.mkdir()
    (folder / "question.jsonl").write_text('{"question_id": 1, "turns": ["a"]}\n{"question_id": 2}\n')
    with pytest.raises(DataError, match=r"question.jsonl line 2: expected an object with question_id"):
        MTBench().samples(DataDir(tmp_path, verify=False))
