"""Reading a verdict out of a judge's text, exactly as the reference implementations do.

MT-Bench (FastChat llm_judge/common.py): a single-answer rating is the first ``[[n]]`` in the text, or,
failing that, the first ``[n]``; it is not clamped to 1..10. A pairwise verdict is ``[[A]]``, ``[[B]]`` or
``[[C]]`` (tie), checked in that order anywhere in the text. What does not parse is a failure with its
reason, never a silent -1 that someone later averages in.

A failure's reason starts with its kind: "unparsable" (the reply was paid for; ``--retry-failed`` asks
again), or "unsupported" (the endpoint cannot serve this judge at all, e.g. no logprobs: the run stops).
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


# output-format prefix -> parser of (format, reply): families of formats an adapter owns, such as
# "alpaca_eval:<annotator>[:switched]" (registered when the adapter is imported, before it builds requests)
PREFIX_PARSERS: dict[str, Callable[[str, dict[str, Any]], Verdict]] = {}


def register_prefix(prefix: str, parser: Callable[[str, dict[str, Any]], Verdict]) -> None:
    PREFIX_PARSERS[prefix] = parser


# A pairwise verdict "A" / "B" / "tie" (A = the answer shown first) in an output format's own vocabulary, for
# judges that decide without writing text (a reward model): output format or prefix -> (format, winner) -> value
WINNER_VALUES: dict[str, Callable[[str, str], Any]] = {PAIR: lambda _format, winner: winner}


def register_winner_values(format_or_prefix: str, translate: Callable[[str, str], Any]) -> None:
    WINNER_VALUES[format_or_prefix] = translate


def winner_value(output_format: str, winner: str) -> Any:
    """``winner`` as a verdict of ``output_format``; a LookupError when that format has no pairwise winner."""
    translate = WINNER_VALUES.get(output_format) or next(
        (t for prefix, t in WINNER_VALUES.items() if prefix != PAIR and output_format.startswith(prefix)), None)
    if translate is None:
        raise LookupError(f"output format {output_format!r} is not a two-answer comparison")
    return translate(output_format, winner)


def parse(output_format: str, reply: dict[str, Any]) -> Verdict:
    parser = PARSERS.get(output_format)
    if parser is not None:
        return parser(reply)
    for prefix, family in PREFIX_PARSERS.items():
        if output_format.startswith(prefix):
            return family(output_format, reply)
    raise ValueError(f"no verdict parser for output format {output_format!r}")
