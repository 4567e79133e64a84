"""Chatbot Arena battles (lmsys/chatbot_arena_conversations parquet), and the pairs their winners give."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_eval.adapters.preference.pairs import Pair, PairSet, parquet_rows
from starling_eval.data import DataError
from starling_eval.spec import Message

ARENA_FILE = "chatbot_arena_conversations/data/train-00000-of-00001-cced8514c7ed782a.parquet"
ARENA_WINNERS = ("model_a", "model_b")
ARENA_TIES = ("tie", "tie (bothbad)")

_ARENA_COLUMNS = ("question_id", "model_a", "model_b", "winner", "conversation_a", "conversation_b")


@dataclass(frozen=True)
class Battle:
    """One Chatbot Arena battle as the voter saw it: both conversations and the human's verdict."""

    id: str
    model_a: str
    model_b: str
    winner: str  # model_a, model_b, tie, tie (bothbad)
    conversation_a: tuple[Message, ...]
    conversation_b: tuple[Message, ...]
    language: str


def arena_battles(path: Path) -> tuple[list[Battle], dict[str, int]]:
    """lmsys/chatbot_arena_conversations battles (the Hugging Face parquet file, or the ``data/`` folder of its
    shards), ties included, and notes on quirks.

    Columns read: ``question_id``, ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``, ``tie``,
    ``tie (bothbad)``), ``conversation_a``/``conversation_b`` (lists of ``{role, content}``, user and
    assistant turns alternating, multi-turn battles holding every turn) and ``language`` ("" where absent).
    ``id`` is ``question_id``. The 33k file is reported to repeat some question ids (a prompt battled again); a
    repeat gets ``"#2"``, ``"#3"``... in file order, and ``notes["repeated question_id"]`` counts them.
    ``notes["user turns differ"]`` counts battles whose two sides do not share their user turns (kept: the
    vote still compares them).
    """
    battles: list[Battle] = []
    notes: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for f, i, row in parquet_rows(path, _ARENA_COLUMNS, optional=("language",)):
        where = f"{f} row {i}"
        qid, winner = row["question_id"], row["winner"]
        if not isinstance(qid, str | int) or isinstance(qid, bool) or qid == "":
            raise DataError(f"{where}: question_id is {qid!r}")
        qid = str(qid)
        seen[qid] += 1
        if seen[qid] > 1:
            notes["repeated question_id"] += 1
        conv = {side: _arena_conversation(row[f"conversation_{side}"], f"{where}: conversation_{side}")
                for side in ("a", "b")}
        if winner not in ARENA_WINNERS + ARENA_TIES:
            raise DataError(f"{where}: winner is {winner!r}, not one of {', '.join(ARENA_WINNERS + ARENA_TIES)}")
        if [m for m in conv["a"] if m.role != "assistant"] != [m for m in conv["b"] if m.role != "assistant"]:
            notes["user turns differ"] += 1
        language = row.get("language")
        battles.append(Battle(id=qid if seen[qid] == 1 else f"{qid}#{seen[qid]}", model_a=str(row["model_a"]),
                              model_b=str(row["model_b"]), winner=winner, conversation_a=conv["a"],
                              conversation_b=conv["b"], language=language if isinstance(language, str) else ""))
    return battles, dict(notes)


def arena_pairs(path: Path) -> PairSet:
    """Arena battles (``arena_battles``) as pairs: the winner's whole conversation against the loser's. Ties
    have no preferred side and are counted in ``skipped`` under their ``winner`` value. ``subset`` is the
    ``language`` tag: human preferences differ across languages and so do reward models, and per-language
    accuracy is how Arena results are usually sliced."""
    battles, notes = arena_battles(path)
    skipped = Counter(b.winner for b in battles if b.winner in ARENA_TIES)
    pairs = [Pair(id=b.id, chosen=b.conversation_a if b.winner == "model_a" else b.conversation_b,
                  rejected=b.conversation_b if b.winner == "model_a" else b.conversation_a, subset=b.language)
             for b in battles if b.winner in ARENA_WINNERS]
    return PairSet(pairs, dict(skipped), notes)


def _arena_conversation(turns: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where} is not a non-empty list of {{role, content}} turns")
    messages = []
    for k, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant", "system") \
                or not isinstance(turn.get("content"), str):
            raise DataError(f"{where}[{k}]: expected {{role: user|assistant|system, content: text}}, got {turn!r:.80}")
        messages.append(Message(role=turn["role"], content=turn["content"]))
    if messages[-1].role != "assistant":
        raise DataError(f"{where} ends with a {messages[-1].role} turn, not an assistant reply")
    return tuple(messages)
