"""One folder per run under ``<results>/runs/<run_id>/``.

``manifest.json`` holds the RunSpec and provenance and is rewritten atomically as the run moves on;
``generations.jsonl`` (later ``judgments.jsonl``) grows by durable appends, one row per finished item;
``scores.json`` is written once at the end. An unfinished run with the same spec hash is resumed rather
than started again.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starling_eval.data import DataError
from starling_eval.store.claims import HOST, pid_alive
from starling_eval.store.files import read_jsonl, write_json_atomic

MANIFEST = "manifest.json"
GENERATIONS = "generations.jsonl"
JUDGMENTS = "judgments.jsonl"
SCORES = "scores.json"
RECORDS = "records.jsonl"  # per-item records of runs scored without a judge (lm-eval, reward models)

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_INCOMPLETE = "incomplete"  # finished, but some calls failed for good: re-running retries them
STATUS_FAILED = "failed"  # stopped by an error (bad input, unreachable endpoint): ``stop_reason`` says which
STATUS_INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM or killed: finished work is kept, resumable


def owner() -> dict[str, Any]:
    """Who runs a run: written into its manifest so that a "running" status can be checked."""
    return {"host": HOST, "pid": os.getpid()}


def running_elsewhere(manifest: dict[str, Any]) -> bool:
    """A run that another live process is working on now (not this one)."""
    who = manifest.get("owner") or {}
    if manifest.get("status") != STATUS_RUNNING or who.get("pid") is None:
        return False
    if who.get("host") != HOST:
        return True  # cannot be checked from here: trust the record
    return who["pid"] != os.getpid() and pid_alive(who["pid"])


def live_status(manifest: dict[str, Any]) -> str:
    """The status to show: "running" only while the process that runs it is alive (a kill -9 leaves the
    manifest saying "running"; such a run is "interrupted", and the same command resumes it)."""
    status = manifest.get("status") or STATUS_RUNNING
    if status != STATUS_RUNNING:
        return status
    who = manifest.get("owner") or {}
    if who.get("pid") is None:
        return STATUS_INTERRUPTED  # written before runs recorded their process: nothing can be running it now
    if who.get("host") != HOST or who["pid"] == os.getpid() or pid_alive(who["pid"]):
        return STATUS_RUNNING
    return STATUS_INTERRUPTED


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    def read_manifest(self) -> dict[str, Any]:
        return json.loads(self.file(MANIFEST).read_text(encoding="utf-8"))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.file(MANIFEST), manifest)

    def generations(self) -> list[dict]:
        return read_jsonl(self.file(GENERATIONS))

    def scores(self) -> dict | None:
        path = self.file(SCORES)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


class RunStore:
    """The ``runs/`` folder of a results root."""

    def __init__(self, results_root: Path):
        self.root = Path(results_root)
        self.runs_dir = self.root / "runs"

    def new_run(self, benchmark: str, model_label: str, spec_hash: str) -> RunFolder:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{benchmark}-{slug(model_label)}-{spec_hash[:8]}"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path, n = self.runs_dir / base, 1
        while True:  # mkdir is the atomic test: two processes starting together get two folders
            try:
                path.mkdir()
                return RunFolder(path)
            except FileExistsError:
                n += 1
                path = self.runs_dir / f"{base}-{n}"

    def all_runs(self) -> Iterator[RunFolder]:
        if not self.runs_dir.is_dir():
            return
        for path in sorted(self.runs_dir.iterdir()):
            if (path / MANIFEST).is_file():
                yield RunFolder(path)

    def find_resumable(self, spec_hash: str, *, include_complete: bool = False) -> RunFolder | None:
        """The newest unfinished run of the same spec, if any (or the newest at all, ``include_complete``).
        A run another live process is working on is left to it (the calls both need are shared through the
        cache's claims, so a second process pays for nothing twice)."""
        for run in sorted(self.all_runs(), key=lambda r: r.run_id, reverse=True):
            try:
                manifest = run.read_manifest()
            except (OSError, json.JSONDecodeError):
                continue
            if manifest.get("spec_hash") != spec_hash or running_elsewhere(manifest):
                continue
            if include_complete or manifest.get("status") != STATUS_COMPLETE:
                return run
        return None

    def require(self, run_ref: str) -> RunFolder:
        """``get``, or a DataError naming the reference and where it was looked for (exit 2 at the CLI)."""
        run = self.get(run_ref)
        if run is None:
            raise DataError(f"no run matches {run_ref!r} under {self.root}/runs (see `starling-eval list runs`)")
        return run

    def get(self, run_ref: str) -> RunFolder | None:
        """A run by id, unique id prefix, or folder path. An exact id is looked up directly (no listing of every
        run), so resolving each of N ids, as the report does for its chosen runs, costs N, not N²."""
        direct = Path(run_ref)
        if (direct / MANIFEST).is_file():
            return RunFolder(direct)
        if run_ref not in ("", ".", "..") and direct.name == run_ref and (self.runs_dir / run_ref / MANIFEST).is_file():
            return RunFolder(self.runs_dir / run_ref)
        runs = list(self.all_runs())
        matches = [r for r in runs if r.run_id == run_ref] or [r for r in runs if r.run_id.startswith(run_ref)]
        if len(matches) > 1:
            names = ", ".join(r.run_id for r in matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
            raise DataError(f"{run_ref!r} matches {len(matches)} runs under {self.root}/runs: {names}; "
                            "give more of the run id")
        return matches[0] if matches else None
