"""A reward model that rewards the characters the assistant wrote: a judge whose every verdict a test (or a
benchmark of the judging machinery) can predict, with no weights to load. ``scored`` counts the
conversations it was asked about, so tests can prove that cached rewards are not computed again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starling_eval.spec import Message


class LengthRewardModel:
    def __init__(self) -> None:
        self.scored = 0

    def identity(self) -> dict[str, Any]:
        return {"rm": "length"}

    def reward(self, chats: Sequence[Sequence[Message]]) -> list[float]:
        self.scored += len(chats)
        return [float(sum(len(m.content) for m in chat if m.role == "assistant")) for chat in chats]
