"""Reading an MT-Bench judge's reply, exactly as FastChat's llm_judge (common.py) does.

A single-answer rating (output format ``[[rating]]``) is the first ``[[n]]`` in the text, or, failing that,
the first ``[n]``; it is not clamped to 1..10. A pairwise verdict (``[[A]]``) is ``[[A]]``, ``[[B]]`` or
``[[C]]`` (tie), checked in that order anywhere in the text. What does not parse is a failure with its
reason, never a silent -1 that someone later averages in.

This module is the ``verdict_reader`` of every MT-Bench judge request (``judge._request``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starling_eval.spec import Verdict

ONE_SCORE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")

RATING = "[[rating]]"
PAIR = "[[A]]"


def parse_rating(text: str) -> Verdict:
    match = ONE_SCORE.search(text) or ONE_SCORE_BACKUP.search(text)
    if match is None:
        return Verdict(None, "unparsable: no [[rating]] in the judgment")
    number = match.group(1)
    return Verdict(float(number) if "." in number else int(number))


def parse_pair(text: str) -> Verdict:
    for token, winner in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if token in text:
            return Verdict(winner)
    return Verdict(None, "unparsable: no [[A]], [[B]] or [[C]] in the judgment")


# output format (the judge prompt's, from judge_prompts.jsonl) -> parser of the judge's reply text
PARSERS: dict[str, Callable[[str], Verdict]] = {RATING: parse_rating, PAIR: parse_pair}


def parse(output_format: str, reply: Mapping[str, Any]) -> Verdict:
    parser = PARSERS.get(output_format)
    if parser is None:
        raise ValueError(f"no verdict parser for output format {output_format!r}")
    return parser(reply["text"])


def winner_value(output_format: str, winner: str) -> Any:
    """A pairwise winner ("A": the answer shown first, "B", "tie") as a verdict of ``output_format``: what a
    judge that decides without text (a reward model) means here. A LookupError for a rating."""
    if output_format != PAIR:
        raise LookupError(f"output format {output_format!r} is not a two-answer comparison")
    return winner
