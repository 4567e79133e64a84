"""TruthfulQA's MC2 targets as preference pairs (``truthfulqa/mc_task.json``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from starling_eval.adapters.preference.pairs import Pair, PairSet
from starling_eval.data import DataError
from starling_eval.spec import Message

# Manifest path of the upstream file (``DataDir.require`` checks it against its sha256).
TRUTHFULQA_MC_FILE = "truthfulqa/mc_task.json"


def truthfulqa_pairs(mc_task: Path) -> PairSet:
    """TruthfulQA's MC2 targets as pairs: each correct answer against each incorrect one of its question.

    MC2 scores the probability mass a model puts on the true answers; the pairwise reading of the same labels
    asks a reward model to rank every true answer above every false one. ``id`` is ``"q|i|j"``: the question's
    index in the file and the positions of the correct (i) and incorrect (j) answers in its ``mc2_targets``.
    Questions and answers are kept verbatim. A question without a correct or an incorrect answer gives no pair
    and is counted in ``skipped`` (none in the real file).
    """
    path = Path(mc_task)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except _DuplicateKey as exc:
        raise DataError(f"{path}: answer {exc.args[0]!r} appears twice in one target map") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of {{question, mc1_targets, mc2_targets}}")
    pairs: list[Pair] = []
    skipped: Counter[str] = Counter()
    for q, row in enumerate(rows):
        where = f"{path} row {q}"
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise DataError(f"{where}: expected an object with a string 'question'")
        targets = row.get("mc2_targets")
        if not isinstance(targets, dict) or not targets:
            raise DataError(f"{where}: 'mc2_targets' is not a non-empty map of answer -> 0/1")
        labels = list(targets.items())
        for answer, label in labels:
            if type(label) is not int or label not in (0, 1):
                raise DataError(f"{where}: mc2_targets[{answer!r}] is {label!r}, not 0 or 1")
        correct = [i for i, (_, label) in enumerate(labels) if label == 1]
        incorrect = [j for j, (_, label) in enumerate(labels) if label == 0]
        if not correct or not incorrect:
            skipped["no correct answer" if not correct else "no incorrect answer"] += 1
            continue
        question = Message(role="user", content=row["question"])
        for i in correct:
            for j in incorrect:
                pairs.append(Pair(
                    id=f"{q}|{i}|{j}",
                    chosen=(question, Message(role="assistant", content=labels[i][0])),
                    rejected=(question, Message(role="assistant", content=labels[j][0])),
                    subset="",
                ))
    return PairSet(pairs, dict(skipped))


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a repeated answer would silently replace the first one (and its label)."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out
