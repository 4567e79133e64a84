"""berkeley-nest/Nectar rankings (``data/rlaif.parquet``) as preference pairs."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from starling_eval.adapters.preference.hh import parse_anthropic_dialogue
from starling_eval.adapters.preference.pairs import Pair, PairSet, parquet_rows
from starling_eval.data import DataError
from starling_eval.spec import Message

NECTAR_FILE = "nectar/data/rlaif.parquet"

_NECTAR_COLUMNS = ("prompt", "answers")


def nectar_pairs(path: Path) -> PairSet:
    """berkeley-nest/Nectar rows (``data/rlaif.parquet``, or a folder of parquet files) as every pair implied
    by each row's ranking: the better-ranked answer (rank 1 is best) against each worse-ranked one, so a 7-way
    ranking gives 21 pairs.

    ``prompt`` is an Anthropic-style ``"\\n\\nHuman: ...\\n\\nAssistant:"`` string, parsed like HH-RLHF (see
    :func:`parse_anthropic_dialogue`) and ending in the empty Assistant turn each answer fills; ``answers`` is a
    list of ``{answer, model, rank}``. Answer texts are stripped like HH turns. Two answers of equal rank say
    nothing about each other: that pair is counted in ``skipped["equal rank"]``.

    ``id`` is ``"row|i|j"``: the 0-based row and the positions in ``answers`` of the better (i) and worse (j)
    answer (indices, not model names, since a row may hold two answers of one model). ``subset`` is
    ``source`` (a list of dataset names upstream, joined with "+"; "" where the column is absent).

    The whole file (183k rows) gives about 3.8 million pairs, as its card says; the prompt turns of a row are
    shared between its pairs rather than copied.
    """
    pairs: list[Pair] = []
    skipped: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for f, i, row in parquet_rows(path, _NECTAR_COLUMNS, optional=("source",)):
        where = f"{f} row {i}"
        if not isinstance(row["prompt"], str):
            raise DataError(f"{where}: prompt is {type(row['prompt']).__name__}, not text")
        try:
            dialogue = parse_anthropic_dialogue(row["prompt"])
        except ValueError as exc:
            raise DataError(f"{where}: prompt {exc}") from None
        prompt = list(dialogue.messages)
        if prompt[-1].role == "assistant":
            if prompt[-1].content:
                raise DataError(f"{where}: prompt ends with a non-empty Assistant turn, not an empty 'Assistant:'")
            prompt.pop()
        if not prompt or prompt[0].role != "user" or prompt[-1].role != "user":
            raise DataError(f"{where}: prompt does not start and end with a Human turn")
        if dialogue.merged:
            notes["merged turns"] += 1
        answers = row["answers"]
        if not isinstance(answers, list):
            raise DataError(f"{where}: answers is {type(answers).__name__}, not a list of {{answer, model, rank}}")
        replies, ranks = [], []
        for k, a in enumerate(answers):
            if not isinstance(a, dict) or not isinstance(a.get("answer"), str):
                raise DataError(f"{where}: answers[{k}] has no answer text")
            replies.append(tuple(prompt) + (Message(role="assistant", content=a["answer"].strip()),))
            ranks.append(_rank(a.get("rank"), f"{where}: answers[{k}]"))
        if len(answers) < 2:
            skipped["fewer than 2 answers"] += 1
        subset = _nectar_source(row.get("source"), where)
        for x in range(len(answers)):
            for y in range(x + 1, len(answers)):
                if ranks[x] == ranks[y]:
                    skipped["equal rank"] += 1
                    continue
                better, worse = (x, y) if ranks[x] < ranks[y] else (y, x)
                pairs.append(Pair(id=f"{i}|{better}|{worse}", chosen=replies[better], rejected=replies[worse],
                                  subset=subset))
    return PairSet(pairs, dict(skipped), dict(notes))


def _rank(value: Any, where: str) -> int:
    """Nectar ranks are small integers; the parquet may store them as floats (1.0), which is the same rank."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and (math.isnan(value) or not value.is_integer())):
        raise DataError(f"{where}: rank is {value!r}, not a whole number")
    return int(value)


def _nectar_source(source: Any, where: str) -> str:
    if source is None:
        return ""
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "+".join(source)
    raise DataError(f"{where}: source is {source!r}, not a list of dataset names")
