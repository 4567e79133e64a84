"""Anthropic HH-RLHF pairs, and the ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` dialogue format they (and
Nectar's prompts) are written in.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from starling_eval.adapters.preference.pairs import Pair, PairSet
from starling_eval.data import DataError, iter_jsonl_objects
from starling_eval.spec import Message

# Manifest path of the upstream file (``DataDir.require`` checks it against its sha256).
HH_HARMLESS_TEST_FILE = "hh_rlhf/harmless-base/test.jsonl.gz"


# -- Anthropic "\n\nHuman: ... \n\nAssistant: ..." dialogues -------------------------------------------------

# A turn starts where a blank line is followed by a speaker tag: that is how Anthropic's HH-RLHF files (and
# Nectar's prompts, which copy the format) delimit turns. A tag anywhere else ("Assistant: Human: ...", "...
# stereotypical women.  Human: Then ...", a single newline before "Assistant:") is text the model or the
# crowdworker wrote, and stays in the turn.
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}


@dataclass(frozen=True)
class Dialogue:
    """A parsed Anthropic-format dialogue: its turns, and how many consecutive same-speaker turns were merged."""

    messages: tuple[Message, ...]
    merged: int


def parse_anthropic_dialogue(text: str) -> Dialogue:
    """Turns of a ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` string; ValueError (with the reason) if it has none.

    What is changed, and why:

    - Each turn's text is stripped of leading and trailing whitespace: the space after the tag, the double
      spaces some turns start with and trailing spaces or newlines are formatting, not content, and a chat
      template adds its own separators. Whitespace inside a turn is kept.
    - Consecutive turns of one speaker (a few HH rows have ``Assistant: ...\\n\\nAssistant: ...``) are merged
      into one message, their texts joined by a blank line, so that every conversation alternates user and
      assistant as chat templates require. ``Dialogue.merged`` counts the merges.
    - An empty turn (``"\\n\\nAssistant: "`` at the end) is kept as an empty message: in HH it is a real reply
      (the crowdworker preferred saying nothing), in Nectar it marks where the answer goes.

    Leading whitespace before the first tag is allowed (``"Human: ..."`` without the blank line too); any
    other text before it is an error.
    """
    stripped = text.lstrip()
    if not stripped.startswith(("Human:", "Assistant:")):
        raise ValueError("does not start with a 'Human:' or 'Assistant:' turn")
    parts = _TURN.split("\n\n" + stripped)
    messages: list[tuple[str, list[str]]] = []
    merged = 0
    for k in range(1, len(parts), 2):
        role, content = _ROLES[parts[k]], parts[k + 1].strip()
        if messages and messages[-1][0] == role:
            messages[-1][1].append(content)
            merged += 1
        else:
            messages.append((role, [content]))
    return Dialogue(
        tuple(Message(role=role, content="\n\n".join(c for c in contents if c)) for role, contents in messages),
        merged,
    )


# -- Anthropic HH-RLHF -------------------------------------------------------------------------------------


def hh_pairs(path: Path) -> PairSet:
    """Anthropic HH-RLHF ``{"chosen": str, "rejected": str}`` lines (gzip or plain JSONL) as pairs.

    Each side is a whole dialogue; it is parsed on its own (see :func:`parse_anthropic_dialogue` for what is
    stripped and merged) and must start with a Human turn and end with an Assistant reply. ``id`` is the
    0-based line index; ``subset`` the name of the folder holding the file (``harmless-base``,
    ``helpful-base``, ...), which is how the upstream repository names its splits.

    ``notes`` counts rows kept as they are: ``empty chosen reply`` / ``empty rejected reply`` (the final
    Assistant turn is empty), ``merged turns`` (a side had consecutive turns of one speaker), ``prompt
    differs`` (the two sides differ before their final reply; the pair still compares two continuations that
    crowdworkers compared).
    """
    path = Path(path)
    subset = path.parent.name
    pairs: list[Pair] = []
    notes: Counter[str] = Counter()
    for lineno, row in iter_jsonl_objects(path):
        where = f"{path} line {lineno}"
        sides = {}
        for side in ("chosen", "rejected"):
            text = row.get(side)
            if not isinstance(text, str):
                raise DataError(f"{where}: {side!r} is {'missing' if side not in row else type(text).__name__}, "
                                f"not a dialogue string")
            try:
                dialogue = parse_anthropic_dialogue(text)
            except ValueError as exc:
                raise DataError(f"{where}: {side} {exc}") from None
            messages = dialogue.messages
            if messages[0].role != "user":
                raise DataError(f"{where}: {side} starts with an Assistant turn, not a Human one")
            if messages[-1].role != "assistant":
                raise DataError(f"{where}: {side} ends with a Human turn, not an Assistant reply")
            if not messages[-1].content:
                notes[f"empty {side} reply"] += 1
            sides[side] = dialogue
        chosen, rejected = sides["chosen"], sides["rejected"]
        if chosen.merged or rejected.merged:
            notes["merged turns"] += 1
        if chosen.messages[:-1] != rejected.messages[:-1]:
            notes["prompt differs"] += 1
        pairs.append(Pair(id=str(lineno - 1), chosen=chosen.messages, rejected=rejected.messages, subset=subset))
    return PairSet(pairs, {}, dict(notes))
