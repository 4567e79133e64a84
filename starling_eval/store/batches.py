"""The Batch-API log: every batch a run sends to a judge, written down before each step that leaves this machine.

A batch of judge requests lives for up to 24 hours at OpenAI, far longer than a process may. So each step is
committed to the call cache's database before the step it guards is taken, and a later process reads back
where the batch stood:

``writing``   the request keys it covers are recorded; its input file may or may not have reached the API
              (the file's name, ``starling-eval-<local id>.jsonl``, lets a resume find an upload whose reply
              was lost);
``uploaded``  the input file id is known; the batch may or may not have been created (its metadata names the
              local id, so a resume finds a creation whose reply was lost);
``submitted`` the batch id is known: it is polled, never created again;
``done``      its output and error files were read into the cache (``status`` holds the API's final one);
``dropped``   its upload never reached the API: its keys are free for another batch.

Keys live in their own table, so finding the open batch that covers a request is one indexed lookup. The API
key is never written: a record names the variable that holds it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starling_eval.store.errors import guarded, transaction

WRITING, UPLOADED, SUBMITTED, DONE, DROPPED = "writing", "uploaded", "submitted", "done", "dropped"
OPEN_STATES = (WRITING, UPLOADED, SUBMITTED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    local_id TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    base_url TEXT,
    api_key_env TEXT NOT NULL,
    state TEXT NOT NULL,
    file_id TEXT,
    batch_id TEXT,
    status TEXT,
    counts TEXT,
    note TEXT,
    requests INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_keys (
    key TEXT NOT NULL,
    local_id TEXT NOT NULL,
    logprobs INTEGER NOT NULL,
    PRIMARY KEY (key, local_id)
);
CREATE INDEX IF NOT EXISTS batch_keys_key ON batch_keys (key);
"""


@dataclass
class BatchRecord:
    local_id: str
    judge: str
    base_url: str | None
    api_key_env: str
    state: str
    file_id: str | None
    batch_id: str | None
    status: str | None
    counts: dict[str, Any] | None
    note: str | None
    requests: int
    created: float
    updated: float

    @property
    def filename(self) -> str:
        return input_filename(self.local_id)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def input_filename(local_id: str) -> str:
    """The input file's name at the API: how a resume recognises an upload whose reply it never saw."""
    return f"starling-eval-{local_id}.jsonl"


def new_local_id() -> str:
    return uuid.uuid4().hex[:16]


class BatchLog:
    """The ``batches`` and ``batch_keys`` tables beside the call cache (one database: a batch's results and the
    end of its record can be read together)."""

    def __init__(self, cache: Any):
        self.cache = cache
        with guarded(cache.path):
            cache._conn().executescript(_SCHEMA)

    def _conn(self) -> Any:
        return self.cache._conn()

    def begin(self, local_id: str, judge: str, base_url: str | None, api_key_env: str,
              keys: dict[str, bool]) -> None:
        """Record a batch about to be uploaded: the keys it covers (with whether each asks for logprobs)."""
        now = time.time()
        with guarded(self.cache.path), transaction(self._conn()) as conn:
            conn.execute("INSERT INTO batches (local_id, judge, base_url, api_key_env, state, requests, created, "
                         "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (local_id, judge, base_url, api_key_env, WRITING, len(keys), now, now))
            conn.executemany("INSERT OR IGNORE INTO batch_keys (key, local_id, logprobs) VALUES (?, ?, ?)",
                             [(k, local_id, int(lp)) for k, lp in keys.items()])

    def update(self, local_id: str, **fields: Any) -> None:
        """Set ``state``, ``file_id``, ``batch_id``, ``status``, ``counts`` or ``note`` of one record."""
        allowed = {"state", "file_id", "batch_id", "status", "counts", "note"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown batch record fields: {sorted(unknown)}")
        if "counts" in fields and fields["counts"] is not None:
            fields["counts"] = json.dumps(fields["counts"])
        names = sorted(fields)
        with guarded(self.cache.path):
            self._conn().execute(
                f"UPDATE batches SET {', '.join(f'{n} = ?' for n in names)}, updated = ? WHERE local_id = ?",
                [fields[n] for n in names] + [time.time(), local_id])

    def get(self, local_id: str) -> BatchRecord | None:
        rows = self._select("WHERE local_id = ?", (local_id,))
        return rows[0] if rows else None

    def records(self, *, open_only: bool = False, limit: int | None = None) -> list[BatchRecord]:
        """Newest first."""
        where = f"WHERE state IN ({','.join('?' * len(OPEN_STATES))})" if open_only else ""
        tail = f" ORDER BY created DESC{f' LIMIT {int(limit)}' if limit else ''}"
        return self._select(where + tail, OPEN_STATES if open_only else ())

    def find(self, ident: str) -> BatchRecord | None:
        """A record by its local id or the API's batch id."""
        rows = self._select("WHERE local_id = ? OR batch_id = ?", (ident, ident))
        return rows[0] if rows else None

    def keys(self, local_id: str) -> dict[str, bool]:
        """The keys a batch covers, each with whether it asked for logprobs."""
        with guarded(self.cache.path):
            rows = self._conn().execute("SELECT key, logprobs FROM batch_keys WHERE local_id = ?", (local_id,))
            return {k: bool(lp) for k, lp in rows}

    def open_for(self, keys: Iterable[str]) -> dict[str, str]:
        """Of ``keys``, those an open batch covers: key → that batch's local id."""
        keys = list(keys)
        found: dict[str, str] = {}
        marks_open = ",".join("?" * len(OPEN_STATES))
        with guarded(self.cache.path):
            conn = self._conn()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = conn.execute(
                    f"SELECT k.key, k.local_id FROM batch_keys k JOIN batches b ON b.local_id = k.local_id "
                    f"WHERE b.state IN ({marks_open}) AND k.key IN ({','.join('?' * len(chunk))})",
                    [*OPEN_STATES, *chunk])
                found.update(rows.fetchall())
        return found

    def _select(self, tail: str, params: Iterable[Any]) -> list[BatchRecord]:
        with guarded(self.cache.path):
            rows = self._conn().execute(
                "SELECT local_id, judge, base_url, api_key_env, state, file_id, batch_id, status, counts, note, "
                f"requests, created, updated FROM batches {tail}", list(params)).fetchall()
        return [BatchRecord(*row[:8], json.loads(row[8]) if row[8] else None, *row[9:]) for row in rows]
