"""Preference pairs for pairwise reward-model benchmarks: :class:`Pair`, :class:`PairSet`, and parquet reading
shared by the readers, one module per dataset (``truthfulqa``, ``hh``, ``safe_rlhf``, ``arena``, ``nectar``).

A reward model is scored on a pair by whether it gives the preferred conversation the higher reward, so every
reader turns its dataset into :class:`Pair` objects: two whole conversations that share their prompt turns
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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starling_eval.data import DataError
from starling_eval.spec import Message


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


# -- parquet files ----------------------------------------------------------------------------------------


def parquet_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if files:
            return files
        raise DataError(f"{path}: no parquet files in this folder")
    raise DataError(f"{path}: no such file")


def parquet_rows(path: Path, columns: Sequence[str], optional: Sequence[str] = ()) -> Iterator[tuple[Path, int, dict]]:
    """(file, 0-based row, row as plain Python values) for each row of a parquet file or of every parquet
    file under a folder (sorted by path). Only the named columns are read: the Arena file's moderation
    columns and Nectar's answers of 183k rows need not all sit in memory at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for f in parquet_files(path):
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
