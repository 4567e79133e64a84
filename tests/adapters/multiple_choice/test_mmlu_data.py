"""MMLU from the three layouts users have: the data directory's CSVs (header, answer 0-3), the original
Hendrycks CSVs (no header, answer letter) and Hugging Face cais/mmlu parquet give the same documents."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from starling_eval.adapters.multiple_choice import mmlu_data
from starling_eval.data import DataError

SUBJECTS = ("abstract_algebra", "high_school_world_history", "virology")


def _shared_rows(data_dir, subject, split):
    with open(data_dir / "mmlu" / split / f"{subject}_{split}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_hendrycks(root, data_dir, subjects=SUBJECTS):
    for subject in subjects:
        for split in mmlu_data.SPLITS:
            (root / split).mkdir(parents=True, exist_ok=True)
            with open(root / split / f"{subject}_{split}.csv", "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                for r in _shared_rows(data_dir, subject, split):
                    writer.writerow([r["question"], r["choice0"], r["choice1"], r["choice2"], r["choice3"],
                                     "ABCD"[int(r["answer"])]])


def write_parquet(root, data_dir, subjects=SUBJECTS, *, by_subject: bool):
    for split in mmlu_data.SPLITS:
        frames = []
        for subject in subjects:
            rows = [{"question": r["question"], "subject": subject,
                     "choices": [r["choice0"], r["choice1"], r["choice2"], r["choice3"]], "answer": int(r["answer"])}
                    for r in _shared_rows(data_dir, subject, split)]
            frames.append((subject, pd.DataFrame(rows)))
        if by_subject:
            for subject, frame in frames:
                (root / subject).mkdir(parents=True, exist_ok=True)
                frame.to_parquet(root / subject / f"{split}-00000-of-00001.parquet")
        else:
            (root / "all").mkdir(parents=True, exist_ok=True)
            pd.concat([f for _, f in frames]).to_parquet(root / "all" / f"{split}-00000-of-00001.parquet")


def test_the_three_layouts_give_the_same_documents(tmp_path, data_dir):
    hendrycks, parquet, parquet_all = tmp_path / "hendrycks", tmp_path / "cais", tmp_path / "cais_all"
    write_hendrycks(hendrycks, data_dir)
    write_parquet(parquet, data_dir, by_subject=True)
    write_parquet(parquet_all, data_dir, by_subject=False)
    assert mmlu_data.detect_layout(parquet) == "parquet" and mmlu_data.detect_layout(hendrycks) == "csv"
    for subject in SUBJECTS:
        for split in mmlu_data.SPLITS:
            shared = mmlu_data.read_split(data_dir / "mmlu", subject, split)
            assert shared and shared[0]["subject"] == subject and len(shared[0]["choices"]) == 4
            assert [d["answer"] for d in shared] == [int(r["answer"]) for r in _shared_rows(data_dir, subject, split)]
            for root in (hendrycks, parquet, parquet_all):
                assert mmlu_data.read_split(root, subject, split) == shared, (root.name, subject, split)
    assert len(mmlu_data.read_split(data_dir / "mmlu", "abstract_algebra", "test")) == 100


def test_malformed_files_name_the_file_and_line(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "anatomy_test.csv").write_text("What?,a,b,c,d,A\nWhy?,a,b,c,d,E\n")
    with pytest.raises(DataError, match=r"anatomy_test.csv line 2: answer 'E' is not A-D"):
        mmlu_data.read_split(tmp_path, "anatomy", "test")
    (tmp_path / "test" / "anatomy_test.csv").write_text("question,choice0,choice1,choice2,choice3,answer\nWhat?,a,b,c\n")
    with pytest.raises(DataError, match=r"line 2: expected 6 columns"):
        mmlu_data.read_split(tmp_path, "anatomy", "test")
    with pytest.raises(DataError, match="missing MMLU file"):
        mmlu_data.read_split(tmp_path, "virology", "test")
