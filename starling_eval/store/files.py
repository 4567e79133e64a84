"""Crash-safe file primitives: atomic JSON writes and durable JSONL appends.

A kill at any instant leaves either the old or the new JSON file, never half of one; a JSONL file can at
worst end in one partial line, which :func:`read_jsonl` drops (and :func:`repair_jsonl` truncates) so
the row is simply redone on resume.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO


def _write_atomic(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write through a temp file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; a report or export is an ordinary file, readable as the umask allows
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, obj: Any) -> None:
    def write(fh: TextIO) -> None:
        json.dump(obj, fh, indent=2, ensure_ascii=False, default=str)
        fh.write("\n")

    _write_atomic(path, write)


def write_text_atomic(path: Path, text: str) -> None:
    """A report or export: written whole or not at all."""
    _write_atomic(path, lambda f: f.write(text))


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> None:
    _write_atomic(path, lambda fh: fh.writelines(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))


def write_rows_atomic(path: Path, rows: list[dict]) -> None:
    """Rows in the format the file name asks for: a JSON list for ``.json`` (alpaca_eval's files), else JSONL."""
    if path.suffix == ".json":
        write_json_atomic(path, rows)
    else:
        write_jsonl_atomic(path, rows)


def append_jsonl(path: Path, rows: Iterable[dict], *, fsync: bool = True) -> None:
    """Append rows and fsync: once this returns, the rows survive a kill or power loss. ``fsync=False``: they
    survive a kill (they are in the kernel's hands), for rows written one at a time whose values a resume reads
    from the call cache, committed before them."""
    text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSONL file we wrote; a torn final line (from a kill mid-write) is ignored."""
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i >= len(lines) - 2:  # the last line, possibly without its newline
                break
            raise
    return rows


def repair_jsonl(path: Path) -> int:
    """Cut a torn final line so later appends start on a fresh line. Returns rows kept."""
    if not path.exists():
        return 0
    rows = read_jsonl(path)
    raw = path.read_bytes()
    lines = [line for line in raw.split(b"\n") if line.strip()]
    if (raw and not raw.endswith(b"\n")) or len(lines) != len(rows):
        write_jsonl_atomic(path, rows)
    return len(rows)
