"""Reading an Arena-Hard judge's verdict label, as arena-hard-auto's gen_judgment does.

The config's regex patterns (``\\[\\[([AB<>=]+)\\]\\]``, then ``\\[([AB<>=]+)\\]``) are tried in order on the
upper-cased judgment; the first pattern that matches gives its *last* match (a judge often restates the label
while reasoning, and the final one is its verdict). A label outside the ten arena-hard scores (``A>>B`` …
``B>>A``, both spellings of each) is a failure with its reason, as is a judgment with no label at all.

This module is the ``verdict_reader`` of every Arena-Hard judge request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from starling_eval.spec import Verdict

LABEL = "[[A>B]]"  # the requests' output format: a verdict label between double brackets
DEFAULT_PATTERNS = (r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]")
# every label arena-hard scores: A's side first; "B<A" is "A>B" written from B's side
KNOWN = ("A>>B", "A>B", "A=B", "A<B", "A<<B", "B>>A", "B>A", "B=A", "B<A", "B<<A")
# the label as the answer shown first (A) sees it: +2 much better ... -2 much worse
STRENGTH = {"A>>B": 2, "A>B": 1, "A=B": 0, "A<B": -1, "A<<B": -2,
            "B<<A": 2, "B<A": 1, "B=A": 0, "B>A": -1, "B>>A": -2}


def read_label(text: str, patterns: Sequence[str] = DEFAULT_PATTERNS) -> str | None:
    upper = text.upper()
    for pattern in patterns:
        matches = [m for m in re.findall(pattern, upper) if m != ""]
        if matches:
            return matches[-1].strip("\n")
    return None


def parse(output_format: str, reply: Mapping[str, Any]) -> Verdict:
    if output_format != LABEL:
        raise ValueError(f"no verdict parser for output format {output_format!r}")
    label = read_label(reply["text"])
    if label is None:
        return Verdict(None, "unparsable: no [[A>B]]-style verdict label in the judgment")
    if label not in KNOWN:
        return Verdict(None, f"unparsable: verdict label [[{label}]] is not one arena-hard scores")
    return Verdict(label)


def winner_value(output_format: str, winner: str) -> Any:
    """A winner decided without text (a reward-model judge): "A" → ``A>B``, "B" → ``B>A``, a tie → ``A=B``."""
    if output_format != LABEL:
        raise LookupError(f"output format {output_format!r} is not a two-answer comparison")
    return {"A": "A>B", "B": "B>A"}.get(winner, "A=B")
