"""Reading a verdict out of a judge's text, exactly as the reference implementations do.

MT-Bench (FastChat llm_judge/common.py): a single-answer rating is the first ``[[n]]`` in the text, or,
failing that, the first ``[n]``; it is not clamped to 1..10. A pairwise verdict is ``[[A]]``, ``[[B]]`` or
``[[C]]`` (tie), checked in that order anywhere in the text. What does not parse is a failure with its
reason, never a silent -1 that someone later averages in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ONE_SCORE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")

RATING = "[[rating]]"
PAIR = "[[A]]"


@dataclass(frozen=True)
class Verdict:
    value: Any  # a float rating, or "A" / "B" / "tie"; None when the text held no verdict
    failure: str | None = None  # why there is no value


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


# output format -> parser of the judge's whole reply (text, and logprobs where a format needs them)
PARSERS: dict[str, Callable[[dict[str, Any]], Verdict]] = {
    RATING: lambda reply: parse_rating(reply["text"]),
    PAIR: lambda reply: parse_pair(reply["text"]),
}


def parse(output_format: str, reply: dict[str, Any]) -> Verdict:
    try:
        parser = PARSERS[output_format]
    except KeyError:
        raise ValueError(f"no verdict parser for output format {output_format!r}") from None
    return parser(reply)
