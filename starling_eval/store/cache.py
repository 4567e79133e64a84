"""Content-addressed cache of model and judge calls, shared by every run under a results root.

The key is the sha256 of (backend identity, request, parameters) in canonical JSON, so a call made once is
never paid for again, whichever run asks. SQLite in WAL mode with a busy timeout lets several processes
(two runs at once) read and write the same cache safely; each ``put_many`` is one transaction, so a kill
leaves every finished call either fully stored or absent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from starling_eval.spec import canonical_json, sha256_text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def call_key(identity: Mapping[str, Any], request: Any, params: Any) -> str:
    return sha256_text(canonical_json({"identity": identity, "request": request, "params": params}))


class CallCache:
    def __init__(self, path: Path, *, busy_timeout_s: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        conn = self._conn()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in conn.execute(f"SELECT key, value FROM calls WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def put_many(self, kind: str, items: Mapping[str, Any]) -> None:
        if not items:
            return
        now = time.time()
        rows = [(k, kind, json.dumps(v, ensure_ascii=False), now) for k, v in items.items()]
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO calls (key, kind, value, created) VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def count(self, kind: str | None = None) -> int:
        conn = self._conn()
        if kind is None:
            return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        return conn.execute("SELECT COUNT(*) FROM calls WHERE kind = ?", (kind,)).fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
