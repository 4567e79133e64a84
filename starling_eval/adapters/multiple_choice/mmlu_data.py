"""MMLU questions from the three layouts users have, as lm-eval's ``cais/mmlu`` documents.

- The data directory's ``mmlu/{dev,test}/<subject>_<split>.csv``: a header row
  ``question,choice0,choice1,choice2,choice3,answer``, answer an index 0-3 (an export of ``cais/mmlu``).
- The original Hendrycks ``data.tar`` CSVs, same file names: no header, the answer a letter A-D.
- The Hugging Face ``cais/mmlu`` parquet files: ``<subject>/<split>-*.parquet`` (or ``all/<split>-*.parquet``
  with a ``subject`` column), columns question, subject, choices, answer.

Every layout gives the same documents, ``{question, subject, choices, answer}``, which is what lm-eval's
MMLU prompt reads. A malformed row is a DataError naming the file and row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from starling_eval.data import DataError

SPLITS = ("dev", "test")
HEADER = ["question", "choice0", "choice1", "choice2", "choice3", "answer"]
LETTERS = "ABCD"

Doc = dict[str, Any]


def detect_layout(root: Path) -> str:
    """"csv" (either CSV flavour, told apart per file) or "parquet"."""
    if any(root.glob("*/*.parquet")):
        return "parquet"
    if (root / "test").is_dir():
        return "csv"
    raise DataError(f"{root}: no MMLU files (expected test/<subject>_test.csv, or <subject>/test-*.parquet)")


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every MMLU data file (CSV or parquet) under ``root``, by path relative to it."""
    from starling_eval.data import sha256_file

    root = Path(root)
    detect_layout(root)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".csv", ".parquet") and p.is_file())
    return {str(p.relative_to(root)): sha256_file(p) for p in files}


def folder_sha256(hashes: dict[str, str]) -> str:
    """One hash for a folder's ``file_hashes``: a run's identity follows the content, not the location."""
    import hashlib

    return hashlib.sha256("".join(f"{rel}\t{h}\n" for rel, h in sorted(hashes.items())).encode()).hexdigest()


def read_split(root: Path, subject: str, split: str) -> list[Doc]:
    """One subject's split, in file order."""
    root = Path(root)
    if detect_layout(root) == "parquet":
        return _read_parquet(root, subject, split)
    return _read_csv(root / split / f"{subject}_{split}.csv", subject)


def _read_csv(path: Path, subject: str) -> list[Doc]:
    if not path.is_file():
        raise DataError(f"missing MMLU file {path}")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if rows and [c.strip().lower() for c in rows[0]] == HEADER:
        rows, lettered, first = rows[1:], False, 2
    else:
        lettered, first = True, 1  # Hendrycks: no header, answer letter
    docs = []
    for lineno, row in enumerate(rows, first):
        if len(row) != 6:
            raise DataError(f"{path} line {lineno}: expected 6 columns (question, 4 choices, answer), got {len(row)}")
        answer = row[5].strip()
        try:
            index = LETTERS.index(answer) if lettered else int(answer)
        except ValueError:
            index = -1
        if not 0 <= index < 4 or (lettered and len(answer) != 1):
            raise DataError(f"{path} line {lineno}: answer {answer!r} is not {'A-D' if lettered else '0-3'}")
        docs.append({"question": row[0], "subject": subject, "choices": row[1:5], "answer": index})
    return docs


def _read_parquet(root: Path, subject: str, split: str) -> list[Doc]:
    import pandas as pd

    files = sorted((root / subject).glob(f"{split}-*.parquet"))
    by_column = not files
    if by_column:
        files = sorted((root / "all").glob(f"{split}-*.parquet"))
    if not files:
        raise DataError(f"missing MMLU file {root / subject / f'{split}-*.parquet'}")
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    missing = {"question", "choices", "answer"} - set(frame.columns)
    if missing:
        raise DataError(f"{files[0]}: missing columns {', '.join(sorted(missing))}")
    if by_column:
        frame = frame[frame["subject"] == subject]
    docs = []
    for i, row in enumerate(frame.itertuples(index=False)):
        choices = [str(c) for c in row.choices]
        if len(choices) != 4 or not 0 <= int(row.answer) < 4:
            raise DataError(f"{files[0]} row {i}: expected 4 choices and an answer 0-3")
        docs.append({"question": row.question, "subject": subject, "choices": choices, "answer": int(row.answer)})
    return docs
