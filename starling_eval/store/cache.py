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
from starling_eval.store.errors import guarded, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
"""


def call_key(identity: Mapping[str, Any], request: Any, params: Any) -> str:
    return sha256_text(canonical_json({"identity": identity, "request": request, "params": params}))


class CallCache:
    def __init__(self, path: Path, *, busy_timeout_s: float = 60.0):
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        with guarded(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn().executescript(_SCHEMA)

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
        with guarded(self.path):
            self._put_rows(rows, list(items))

    def _put_rows(self, rows: list[tuple], keys: list[str]) -> None:
        with transaction(self._conn()) as conn:
            conn.executemany("INSERT OR IGNORE INTO calls (key, kind, value, created) VALUES (?, ?, ?, ?)", rows)
            conn.executemany("DELETE FROM claims WHERE key = ?", [(k,) for k in keys])  # the value ends the claim

    # -- claims (store.claims.SingleFlight): who is calling for a key right now --------------------------------

    def claim(self, keys: list[str], owner: str, ttl_s: float) -> tuple[list[str], list[str], dict[str, Any]]:
        """In one transaction: claim each key that has no value and no live claim of another owner.
        Returns (claimed, held by another live owner, values already stored)."""
        with guarded(self.path):
            return self._claim(keys, owner, ttl_s)

    def _claim(self, keys: list[str], owner: str, ttl_s: float) -> tuple[list[str], list[str], dict[str, Any]]:
        from starling_eval.store.claims import claim_alive

        host, pid = owner.split(":")[0], int(owner.split(":")[1])
        now = time.time()
        mine: list[str] = []
        others: list[str] = []
        found: dict[str, Any] = {}
        with transaction(self._conn()) as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                values = dict(conn.execute(f"SELECT key, value FROM calls WHERE key IN ({marks})", chunk).fetchall())
                held = {k: (o, h, p, e) for k, o, h, p, e in conn.execute(
                    f"SELECT key, owner, host, pid, expires FROM claims WHERE key IN ({marks})", chunk)}
                for key in chunk:
                    if key in values:
                        found[key] = json.loads(values[key])
                    elif key in held and held[key][0] != owner and claim_alive(*held[key][1:], now):
                        others.append(key)
                    else:
                        mine.append(key)
            conn.executemany("INSERT OR REPLACE INTO claims (key, owner, host, pid, expires) VALUES (?, ?, ?, ?, ?)",
                             [(k, owner, host, pid, now + ttl_s) for k in mine])
        return mine, others, found

    def renew_claims(self, owner: str, expires: float) -> None:
        self._conn().execute("UPDATE claims SET expires = ? WHERE owner = ?", (expires, owner))

    def release_claims(self, owner: str, keys: list[str] | None = None) -> None:
        """Drop ``owner``'s claims (on ``keys``, or all of them)."""
        conn = self._conn()
        if keys is None:
            conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))
        elif keys:
            with transaction(conn):
                conn.executemany("DELETE FROM claims WHERE owner = ? AND key = ?", [(owner, k) for k in keys])

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
