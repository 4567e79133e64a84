"""PKU-SafeRLHF preference pairs: one pair per row and track (``helpful``, ``harmless``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from starling_eval.adapters.preference.pairs import Pair, PairSet, parquet_rows
from starling_eval.data import DataError, iter_jsonl_objects
from starling_eval.spec import Message

# Manifest paths of the upstream files (``DataDir.require`` checks them against their sha256).
SAFE_RLHF_SAMPLE_FILE = "safe_rlhf/Alpaca-7B/test.sample.jsonl"
SAFE_RLHF_TEST_FILE = "safe_rlhf/Alpaca-7B/test.jsonl"

SAFE_RLHF_TRACKS = {"helpful": "better_response_id", "harmless": "safer_response_id"}

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
        rows: Iterator[tuple[str, int, dict]] = ((f"{f} row {i}", i, r) for f, i, r in parquet_rows(
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
