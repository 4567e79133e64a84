"""SQLite index of runs and per-item scores under a results root, for listings, tables and gates.

The run folders are the source of truth; the index is a query cache over them, updated in one transaction
when a run's state changes, and rebuildable from the folders with :meth:`RunIndex.rebuild`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starling_eval.store.errors import guarded, transaction
from starling_eval.store.runs import STATUS_RUNNING, RunFolder, RunStore, live_status


def _read_only(path: Path) -> bool:
    """Whether the index cannot be written where it lies (the folder, or the file itself, is read-only)."""
    folder = path.parent
    if path.exists():
        return not (os.access(path, os.W_OK) and os.access(folder, os.W_OK))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return not os.access(folder, os.W_OK)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    benchmark TEXT NOT NULL,
    model TEXT NOT NULL,
    backend TEXT,
    spec_hash TEXT,
    status TEXT,
    created TEXT,
    path TEXT NOT NULL,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS item_scores (
    run_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, item_id, metric)
);
"""


class RunIndex:
    def __init__(self, path: Path):
        self.path = Path(path)
        #: True when the results folder cannot be written (a read-only copy, a CI artifact): the index is then
        #: rebuilt in memory from the run folders, so listings still work and nothing is written
        self.read_only = _read_only(self.path)
        if self.read_only:
            self._conn = sqlite3.connect(":memory:", isolation_level=None)
            self._conn.executescript(_SCHEMA)
            self.rebuild(RunStore(self.path.parent).all_runs())
            return
        with guarded(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def upsert_run(self, manifest: dict[str, Any], path: Path, summary: dict | None = None) -> None:
        spec = manifest["spec"]
        model_spec = spec.get("model") or {}
        answers = "+".join(a["model"] for a in spec.get("answers") or [])
        row = (
            manifest["run_id"],
            spec["benchmark"],
            manifest.get("model", {}).get("label") or model_spec.get("name_or_path") or answers,
            model_spec.get("backend") or "answer-files",
            manifest.get("spec_hash"),
            manifest.get("status"),
            manifest.get("created"),
            str(path),
            json.dumps(summary or {}),
        )
        with guarded(self.path):
            self._conn.execute(
                "INSERT OR REPLACE INTO runs (run_id, benchmark, model, backend, spec_hash, status, created, path,"
                " summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def put_item_scores(self, run_id: str, rows: Iterable[tuple[str, str, float | None]]) -> None:
        with guarded(self.path), transaction(self._conn) as conn:
            conn.execute("DELETE FROM item_scores WHERE run_id = ?", (run_id,))
            conn.executemany(
                "INSERT INTO item_scores (run_id, item_id, metric, value) VALUES (?, ?, ?, ?)",
                [(run_id, item, metric, value) for item, metric, value in rows],
            )

    def runs(self, benchmark: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT run_id, benchmark, model, backend, spec_hash, status, created, path, summary FROM runs"
        args: tuple = ()
        if benchmark:
            query += " WHERE benchmark = ?"
            args = (benchmark,)
        cols = ["run_id", "benchmark", "model", "backend", "spec_hash", "status", "created", "path", "summary"]
        out = []
        for row in self._conn.execute(query + " ORDER BY created, run_id", args):
            item = dict(zip(cols, row, strict=True))
            item["summary"] = json.loads(item["summary"] or "{}")
            if item["status"] == STATUS_RUNNING:  # only while its process lives: the folder says who that is
                try:
                    item["status"] = live_status(RunFolder(Path(item["path"])).read_manifest())
                except (OSError, json.JSONDecodeError):
                    pass
            out.append(item)
        return out

    def item_scores(self, run_id: str) -> list[tuple[str, str, float | None]]:
        return list(
            self._conn.execute("SELECT item_id, metric, value FROM item_scores WHERE run_id = ? ORDER BY item_id", (run_id,))
        )

    def rebuild(self, folders: Iterable[Any]) -> int:
        """Re-index every run folder (after copying results around by hand)."""
        n = 0
        for run in folders:
            try:
                manifest = run.read_manifest()
            except (OSError, json.JSONDecodeError):
                continue
            self.upsert_run(manifest, run.path, manifest.get("summary"))
            n += 1
        return n

    def close(self) -> None:
        self._conn.close()
