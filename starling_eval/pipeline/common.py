"""What every pipeline command shares: input checks before any model loads, and opening a run folder.

A run is found again by its spec hash: an unfinished run with the same hash is resumed in place, so a
killed or failed run is finished by running the same command again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_eval import __version__
from starling_eval.adapters.base import Benchmark, Sample
from starling_eval.data import DataDir, DataError, sha256_file
from starling_eval.provenance import environment
from starling_eval.registry import benchmark
from starling_eval.spec import AnswerFile, RunSpec
from starling_eval.store.cache import CallCache
from starling_eval.store.index import RunIndex
from starling_eval.store.runs import (
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    RunFolder,
    RunStore,
    owner,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def results_paths(results_root: Path) -> tuple[RunStore, CallCache, RunIndex]:
    return RunStore(results_root), CallCache(results_root / "cache.sqlite"), RunIndex(results_root / "index.sqlite")


@dataclass
class ScoredRun:
    """What a run scored without a judge (lm-eval, reward models) returns: its folder, manifest and scores."""

    run: RunFolder
    manifest: dict[str, Any]
    scores: dict[str, Any]


@dataclass
class Prepared:
    bench: Benchmark
    data: DataDir
    samples: list[Sample]
    data_hashes: dict[str, str]
    decoding: dict[str, Any] | None = None  # per-model decoding defaults the benchmark chose, and their source


def prepare(spec: RunSpec) -> Prepared:
    """Everything that can fail on bad input, before any model is loaded (fail fast, exit 2)."""
    bench = benchmark(spec.benchmark)
    data = DataDir(spec.data_dir)
    files = list(bench.data_files)
    if hasattr(bench, "files"):  # data files that depend on what the data directory holds (Safe-RLHF: full or sample)
        files += bench.files(data)
    if spec.judge is not None:
        if not hasattr(bench, "judge_requests"):
            raise ValueError(f"{spec.benchmark} is not judged; use `starling-eval generate {spec.benchmark}`")
        files += [f for f in bench.judge_data_files(spec.judge) if f not in files]
    for rel in files:
        data.require(rel)
    samples = list(bench.samples(data))
    if spec.limit:
        samples = samples[: spec.limit]
    decoding = None
    if spec.model is not None and hasattr(bench, "decoding_defaults"):
        decoding = bench.decoding_defaults(spec.model)
        samples = [s.model_copy(update={
            "temperature": s.temperature if s.temperature is not None else decoding["temperature"],
            "max_new_tokens": s.max_new_tokens or decoding["max_new_tokens"],
            "top_p": s.top_p if s.top_p is not None else decoding["top_p"]}) for s in samples]
    return Prepared(bench, data, samples, {rel: data.sha256_of(rel) for rel in files}, decoding)


def now_iso(when: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(when))


def open_run(spec: RunSpec, prep: Prepared, store: RunStore, index: RunIndex, kind: str, *,
             include_complete: bool = False) -> tuple[RunFolder, dict[str, Any]]:
    """Resume the run of this spec, or start one; write its first manifest (status running)."""
    spec_hash = spec.spec_hash()
    run = store.find_resumable(spec_hash, include_complete=include_complete) or store.new_run(
        spec.benchmark, spec.label, spec_hash)
    manifest: dict[str, Any] = {
        "schema_version": spec.schema_version,
        "run_id": run.run_id,
        "spec_hash": spec_hash,
        "created": now_iso(),
        "status": STATUS_RUNNING,
        "owner": owner(),
        "kind": kind,
        "starling_eval": __version__,
        "spec": spec.model_dump(mode="json"),
        "data_files": prep.data_hashes,
        "environment": environment(),
        "n_samples": len(prep.samples),
    }
    if prep.decoding is not None:
        manifest["decoding_defaults"] = prep.decoding
    if run.file("manifest.json").exists():
        previous = run.read_manifest()
        manifest["created"] = previous.get("created", manifest["created"])
        manifest["resumed"] = previous.get("resumed", 0) + 1
    manifest.pop("stop_reason", None)
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path)
    _OPENED.set((run, manifest, index.path))
    return run, manifest


# the run the current pipeline call opened, so that :func:`ends_in_a_true_state` can record how it stopped
_OPENED: contextvars.ContextVar[tuple[RunFolder, dict[str, Any], Path] | None] = contextvars.ContextVar(
    "starling_eval_opened_run", default=None)


def ends_in_a_true_state(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A pipeline entry point whose run never stays "running" after it stops: an exception marks the run
    ``failed`` with a one-line reason, SIGINT/SIGTERM (KeyboardInterrupt) marks it ``interrupted``. Finished
    work stays in the run folder and the cache either way, and the same command resumes the run."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _OPENED.set(None)
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            opened = _OPENED.get()
            if opened is not None and opened[1].get("status") == STATUS_RUNNING:
                _record_stop(*opened, exc)
            raise
        finally:
            _OPENED.reset(token)

    return wrapper


def _record_stop(run: RunFolder, manifest: dict[str, Any], index_path: Path, exc: BaseException) -> None:
    interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
    text = str(exc).strip().splitlines()
    manifest.update(status=STATUS_INTERRUPTED if interrupted else STATUS_FAILED, stopped=now_iso(),
                    stop_reason=("interrupted by a signal" if interrupted
                                 else f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")))
    try:
        run.write_manifest(manifest)
        index = RunIndex(index_path)
        index.upsert_run(manifest, run.path)
        index.close()
    except Exception:  # nowhere to write (a full or read-only folder): the pid check shows it is not running
        pass


def answer_files(bench: Any, paths: Sequence[Path], option: str = "--answers") -> list[AnswerFile]:
    """Answer files as AnswerFile specs: the model's name (FastChat: the file name; alpaca_eval: the outputs'
    generator) and the content hash. A missing file or two files of one model is a DataError."""
    sources, seen = [], set()
    for path in paths:
        if not path.is_file():
            raise DataError(f"{option} {path}: no such file")
        if hasattr(bench, "answers_model_name"):
            name = bench.answers_model_name(path)
        else:
            name = path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.stem
        if name in seen:
            raise DataError(f"{option} {path}: two answer files for model {name!r}")
        seen.add(name)
        sources.append(AnswerFile(model=name, path=str(path.resolve()), sha256=sha256_file(path)))
    return sources


async def gather_or_raise(work: list[Any]) -> None:
    """Run every coroutine; the first error cancels the others and is raised as it is (not in a group)."""
    from starling_eval.judges.runner import mark_seen

    tasks = [asyncio.ensure_future(w) for w in work]
    for task in tasks:  # a signal stored in a task leaves the loop at once: seen, so asyncio prints nothing
        task.add_done_callback(mark_seen)
    try:
        for task in asyncio.as_completed(tasks):
            await task
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
