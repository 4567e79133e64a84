"""Preference pairs for pairwise reward-model benchmarks, read from each dataset's upstream files.

A reward model is scored on a pair by whether it gives the preferred conversation the higher reward, so every
reader here turns its dataset into :class:`Pair` objects: two whole conversations that share their prompt turns
and end in different replies. The readers only read (no HTTP, no writing, no model): the benchmark adapter asks
the pipeline for rewards and scores them.

Every reader returns a :class:`PairSet` in file order. Malformed input is a :class:`DataError` naming the file
and the line (JSONL, 1-based, as editors number them) or row (JSON list items and parquet rows, 0-based, as
pandas and ``datasets`` index them). No row is dropped silently: what a benchmark leaves out by its own
definition (Arena ties, Nectar answers of equal rank) is counted in ``PairSet.skipped``; what is kept but worth
knowing (an empty reply, turns that had to be merged) is counted in ``PairSet.notes``; pairs whose two sides
are identical are kept (a reward model must score them as a tie, which counts as wrong) and counted by
``PairSet.identical``.

Readers and what they give on the real files (``STARLING_EVAL_DATA``):

- :func:`truthfulqa_pairs` (``truthfulqa/mc_task.json``): every correct MC2 answer against every incorrect one
  of the same question. 817 questions, 2,835 correct and 3,369 incorrect answers, **12,343 pairs**.
- :func:`hh_pairs` (Anthropic HH-RLHF, ``hh_rlhf/harmless-base/test.jsonl.gz``): one pair per line,
  **2,312 pairs**, none identical. Quirks kept and counted: 4 chosen replies are empty; 9 rows have two
  consecutive Assistant turns (merged: in 4 rows inside the shared prompt, in 5 the final reply is two turns,
  which is why those rows' raw chosen and rejected strings seem to differ before the reply); after merging,
  every row's two sides share their prompt turns. 72 of the 4,624 dialogue strings hold a "Human:" that is
  not a turn boundary (replies that begin "Human: ...", or one mid-line), kept as text.
- :func:`safe_rlhf_pairs` (PKU-SafeRLHF, ``safe_rlhf/Alpaca-7B/test.sample.jsonl``): one pair per row and
  track, **192 pairs** for ``helpful`` and 192 for ``harmless`` (43 rows prefer different responses).
- :func:`arena_pairs` (lmsys/chatbot_arena_conversations parquet) and :func:`nectar_pairs` (berkeley-nest/Nectar
  parquet): not available offline; the tests check them on small files written in the upstream layouts.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval.data import DataError, iter_jsonl_objects
from starling_eval.spec import Message

# Manifest paths of the upstream files (``DataDir.require`` checks them against their sha256).
TRUTHFULQA_MC_FILE = "truthfulqa/mc_task.json"
HH_HARMLESS_TEST_FILE = "hh_rlhf/harmless-base/test.jsonl.gz"
SAFE_RLHF_SAMPLE_FILE = "safe_rlhf/Alpaca-7B/test.sample.jsonl"
SAFE_RLHF_TEST_FILE = "safe_rlhf/Alpaca-7B/test.jsonl"
ARENA_FILE = "chatbot_arena_conversations/data/train-00000-of-00001-cced8514c7ed782a.parquet"
NECTAR_FILE = "nectar/data/rlaif.parquet"

SAFE_RLHF_TRACKS = {"helpful": "better_response_id", "harmless": "safer_response_id"}
ARENA_WINNERS = ("model_a", "model_b")
ARENA_TIES = ("tie", "tie (bothbad)")


@dataclass(frozen=True)
class Pair:
    """One preference pair: two whole conversations that share their prompt turns and end in different replies."""

    id: str  # stable and unique within (benchmark, track), e.g. "17" or "3|0|2"
    chosen: tuple[Message, ...]  # the whole conversation ending in the preferred reply
    rejected: tuple[Message, ...]  # the same prompt turns, ending in the other reply (multi-turn: all turns of that side)
    subset: str  # a grouping for per-subset accuracy (e.g. "harmless-base", a prompt source, arena language); "" if none


@dataclass(frozen=True)
class PairSet:
    """The pairs of one file (or folder), in file order, and the counts that say what the file held besides.

    ``skipped``: rows or pairs the benchmark's definition leaves out, by reason (an Arena tie has no preferred
    side). ``notes``: rows kept as they are but worth knowing about, by quirk. Neither is ever an error.
    """

    pairs: list[Pair]
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def identical(self) -> int:
        """Pairs whose chosen and rejected conversations are the same: kept, since a reward model can only
        score them as a tie, and a tie is not a win."""
        return sum(p.chosen == p.rejected for p in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[Pair]:
        return iter(self.pairs)


# -- TruthfulQA --------------------------------------------------------------------------------------------


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


# -- PKU-SafeRLHF ------------------------------------------------------------------------------------------

_SAFE_RLHF_COLUMNS = ("prompt", "response_0", "response_1", "prompt_source", "better_response_id",
                      "safer_response_id")


def safe_rlhf_files(folder: Path, split: str = "test") -> list[Path]:
    """The data files of one split in a PKU-SafeRLHF folder, sorted by path.

    Recognised layouts: the upstream repository's ``data/<Model>/<split>.jsonl`` (our data directory's
    ``safe_rlhf/`` mirrors ``data/``), its offline sample ``<split>.sample.jsonl``, and Hugging Face's parquet
    export (``<config>/<split>/0000.parquet``, or ``<split>-00000-of-00001.parquet``). A sample is left out
    when the full file of the same folder is there, since its rows are a subset of it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    found = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        name = p.name
        if name in (f"{split}.jsonl", f"{split}.sample.jsonl", f"{split}.parquet") or (
            name.endswith(".parquet") and (name.startswith(f"{split}-") or p.parent.name == split)):
            found.append(p)
    full = {p.parent for p in found if p.name == f"{split}.jsonl"}
    found = [p for p in found if not (p.name == f"{split}.sample.jsonl" and p.parent in full)]
    if not found:
        raise DataError(f"{folder}: no PKU-SafeRLHF {split} files (expected <Model>/{split}.jsonl or "
                        f"{split}-*.parquet)")
    return found


def safe_rlhf_pairs(path: Path, track: str) -> PairSet:
    """PKU-SafeRLHF rows (upstream JSONL, or the Hugging Face parquet export of the same columns) as pairs.

    Each row holds one prompt and two responses with two separate human preferences: ``track="helpful"``
    prefers ``better_response_id``, ``track="harmless"`` prefers ``safer_response_id`` (PKU-SafeRLHF decouples
    the two on purpose; they disagree on about a fifth of the rows). Both sides are ``[user: prompt, assistant:
    response_k]``, texts verbatim. ``subset`` is ``prompt_source`` (where the prompt came from). ``id`` is the
    0-based row index (the same in the JSONL and in the parquet export; blank lines are not rows); given a folder
    (see :func:`safe_rlhf_files`) it is ``"<file relative to folder>|<row>"``
    so that ids stay unique across the model folders.
    """
    if track not in SAFE_RLHF_TRACKS:
        raise ValueError(f"unknown PKU-SafeRLHF track {track!r} (expected one of {', '.join(SAFE_RLHF_TRACKS)})")
    path = Path(path)
    if path.is_dir():
        pairs: list[Pair] = []
        for f in safe_rlhf_files(path):
            prefix = f.relative_to(path).as_posix()
            pairs += [Pair(f"{prefix}|{p.id}", p.chosen, p.rejected, p.subset) for p in _safe_rlhf_file(f, track)]
        return PairSet(pairs)
    return PairSet(_safe_rlhf_file(path, track))


def _safe_rlhf_file(path: Path, track: str) -> list[Pair]:
    key = SAFE_RLHF_TRACKS[track]
    if path.suffix == ".parquet":
        rows: Iterator[tuple[str, int, dict]] = ((f"{f} row {i}", i, r) for f, i, r in _parquet_rows(
            path, _SAFE_RLHF_COLUMNS))
    else:
        rows = ((f"{path} line {n}", index, r) for index, (n, r) in enumerate(iter_jsonl_objects(path)))
    pairs = []
    for where, index, row in rows:
        missing = [c for c in _SAFE_RLHF_COLUMNS if c not in row]
        if missing:
            raise DataError(f"{where}: missing {', '.join(missing)}")
        for c in ("prompt", "response_0", "response_1"):
            if not isinstance(row[c], str):
                raise DataError(f"{where}: {c} is {type(row[c]).__name__}, not text")
        better = row[key]
        if type(better) is not int or better not in (0, 1):
            raise DataError(f"{where}: {key} is {better!r}, not 0 or 1")
        source = row["prompt_source"]
        if source is not None and not isinstance(source, str):
            raise DataError(f"{where}: prompt_source is {type(source).__name__}, not text")
        prompt = Message(role="user", content=row["prompt"])
        pairs.append(Pair(
            id=str(index),
            chosen=(prompt, Message(role="assistant", content=row[f"response_{better}"])),
            rejected=(prompt, Message(role="assistant", content=row[f"response_{1 - better}"])),
            subset=source or "",
        ))
    return pairs


# -- Chatbot Arena -----------------------------------------------------------------------------------------

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
    for f, i, row in _parquet_rows(path, _ARENA_COLUMNS, optional=("language",)):
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


# -- Nectar ------------------------------------------------------------------------------------------------

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
    for f, i, row in _parquet_rows(path, _NECTAR_COLUMNS, optional=("source",)):
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


# -- file reading ------------------------------------------------------------------------------------------


def _parquet_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if files:
            return files
        raise DataError(f"{path}: no parquet files in this folder")
    raise DataError(f"{path}: no such file")


def _parquet_rows(path: Path, columns: Sequence[str], optional: Sequence[str] = ()) -> Iterator[tuple[Path, int, dict]]:
    """(file, 0-based row, row as plain Python values) for each row of a parquet file or of every parquet
    file under a folder (sorted by path). Only the named columns are read: the Arena file's moderation
    columns and Nectar's answers of 183k rows need not all sit in memory at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for f in _parquet_files(path):
        try:
            reader = pq.ParquetFile(f)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{f}: not a readable parquet file ({exc})") from None
        names = set(reader.schema_arrow.names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(f"{f}: missing columns {', '.join(missing)}")
        wanted = list(columns) + [c for c in optional if c in names]
        row = 0
        try:
            for batch in reader.iter_batches(batch_size=1024, columns=wanted):
                for values in batch.to_pylist():
                    yield f, row, values
                    row += 1
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{f}: unreadable at row {row} ({exc})") from None
