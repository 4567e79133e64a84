"""The only place that knows the order of steps: check data → load model → generate → store.

Resumable by construction: every finished call is written to the shared call cache (one transaction)
before it is appended to the run's ``generations.jsonl`` and counted, so a run killed at any point is
resumed by running the same command again: the unfinished run folder with the same spec hash is picked
up, finished rows are kept, and every answer already in the cache is reused without a model call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval import __version__
from starling_eval.adapters.base import Benchmark, Sample
from starling_eval.data import DataDir
from starling_eval.provenance import environment
from starling_eval.registry import backend_class, benchmark
from starling_eval.spec import Chat, Completion, Message, RunSpec, Sampling
from starling_eval.store.cache import CallCache, call_key
from starling_eval.store.files import append_jsonl, repair_jsonl, write_jsonl_atomic
from starling_eval.store.index import RunIndex
from starling_eval.store.runs import (
    GENERATIONS,
    STATUS_COMPLETE,
    STATUS_INCOMPLETE,
    STATUS_RUNNING,
    RunFolder,
    RunStore,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class GenerationResult:
    run: RunFolder
    manifest: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)


def results_paths(results_root: Path) -> tuple[RunStore, CallCache, RunIndex]:
    return RunStore(results_root), CallCache(results_root / "cache.sqlite"), RunIndex(results_root / "index.sqlite")


def prepare(spec: RunSpec) -> tuple[Benchmark, DataDir, list[Sample], dict[str, str]]:
    """Everything that can fail on bad input, before any model is loaded (fail fast, exit 2)."""
    bench = benchmark(spec.benchmark)
    data = DataDir(spec.data_dir)
    for rel in bench.data_files:
        data.require(rel)
    samples = list(bench.samples(data))
    if spec.limit:
        samples = samples[: spec.limit]
    return bench, data, samples, {rel: data.sha256_of(rel) for rel in bench.data_files}


def sampling_for(spec: RunSpec, bench: Benchmark, sample: Sample) -> Sampling:
    temperature = spec.temperature
    if temperature is None:
        temperature = sample.temperature if sample.temperature is not None else bench.default_temperature
    return Sampling(
        temperature=temperature,
        max_new_tokens=spec.max_new_tokens or bench.default_max_new_tokens,
        seed=spec.seed,
    )


def build_chat(sample: Sample, answers: Sequence[str], turn: int) -> Chat:
    """The conversation for ``turn`` (0-based): earlier turns carry the model's own answers."""
    chat: Chat = [Message(role="system", content=sample.system)] if sample.system else []
    for t in range(turn):
        chat += [Message(role="user", content=sample.turns[t]), Message(role="assistant", content=answers[t])]
    chat.append(Message(role="user", content=sample.turns[turn]))
    return chat


def generate(
    spec: RunSpec,
    results_root: Path,
    *,
    progress: Progress | None = None,
    model: Any = None,
) -> GenerationResult:
    """Answer every sample of the benchmark with the spec's model; store, resume, count."""
    started = time.time()
    bench, _data, samples, data_hashes = prepare(spec)
    store, cache, index = results_paths(results_root)
    spec_hash = spec.spec_hash()
    run = store.find_resumable(spec_hash) or store.new_run(spec.benchmark, spec.model.label, spec_hash)
    resumed = run.file(GENERATIONS).exists()
    repair_jsonl(run.file(GENERATIONS))
    manifest: dict[str, Any] = {
        "schema_version": spec.schema_version,
        "run_id": run.run_id,
        "spec_hash": spec_hash,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "status": STATUS_RUNNING,
        "kind": "generate",
        "starling_eval": __version__,
        "spec": spec.model_dump(mode="json"),
        "data_files": data_hashes,
        "environment": environment(),
        "n_samples": len(samples),
    }
    if resumed:
        previous = run.read_manifest()
        manifest["created"] = previous.get("created", manifest["created"])
        manifest["resumed"] = previous.get("resumed", 0) + 1
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path)

    t_load = time.time()
    owns_model = model is None
    if model is None:
        model = backend_class(spec.model.backend)(spec.model)
    load_s = time.time() - t_load
    identity = model.identity()
    manifest["model"] = {"label": spec.model.label, **model.provenance()}
    manifest["sampling"] = {
        "max_new_tokens": spec.max_new_tokens or bench.default_max_new_tokens,
        "temperature": spec.temperature,
        "per_sample_temperature": spec.temperature is None,
        "seed": spec.seed,
    }
    run.write_manifest(manifest)

    try:
        t_gen = time.time()
        result = asyncio.run(_in_loop(model, _generate_all(spec, bench, samples, model, identity, cache, run, progress)))
        gen_s = time.time() - t_gen
    finally:
        if owns_model:
            model.close()
        cache.close()

    answers, counts, failures, usage = result
    for rel, rows in bench.export_answers(samples, answers, spec.model.label).items():
        write_jsonl_atomic(run.path / rel, rows)
    manifest.update(
        status=STATUS_INCOMPLETE if failures else STATUS_COMPLETE,
        counts=counts,
        usage=usage,
        failures=failures[:50],
        timings={"backend_init_s": round(load_s, 3), "generate_s": round(gen_s, 3), "total_s": round(time.time() - started, 3)},
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    manifest["summary"] = {"answered": counts["answered_items"], "failed": counts["failed"]}
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path, manifest["summary"])
    index.close()
    return GenerationResult(run=run, manifest=manifest, counts=counts, failures=failures)


async def _in_loop(model: Any, work: Any) -> Any:
    """Run ``work``, then let the backend close its connections inside the same event loop."""
    try:
        return await work
    finally:
        if hasattr(model, "aclose"):
            await model.aclose()


@dataclass(frozen=True)
class Pending:
    """One call still to make: which sample and turn, the conversation, its parameters and cache key."""

    sample: Sample
    turn: int  # 0-based
    chat: Chat
    params: Sampling
    key: str


async def _generate_all(
    spec: RunSpec,
    bench: Benchmark,
    samples: list[Sample],
    model: Any,
    identity: dict[str, Any],
    cache: CallCache,
    run: RunFolder,
    progress: Progress | None,
) -> tuple[dict[str, list[str]], dict[str, int], list[dict], dict[str, int]]:
    gen_path = run.file(GENERATIONS)
    finished: dict[tuple[str, int], dict] = {}
    for row in run.generations():
        if row.get("error") is None:
            finished[(row["item_id"], row["turn"])] = row
    total = sum(len(s.turns) for s in samples)
    counts = {"requested": total, "reused_from_run": len(finished), "cache_hits": 0, "generated": 0, "failed": 0}
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    failures: list[dict] = []
    failed_items: set[str] = set()

    def report() -> None:
        if progress:
            progress("generate", len(finished), total)

    def record(items: Sequence[Pending], completions: Sequence[Completion], *, cached: bool) -> None:
        """Cache first (one transaction), then the run's JSONL, then the counters: a kill between loses nothing."""
        if not cached:
            cache.put_many("generation", {p.key: c.model_dump(exclude={"error"})
                                          for p, c in zip(items, completions, strict=True) if c.error is None})
        rows = [_row(p, c, cached=cached) for p, c in zip(items, completions, strict=True)]
        append_jsonl(gen_path, rows)
        for row, completion in zip(rows, completions, strict=True):
            if completion.error is not None:
                counts["failed"] += 1
                failed_items.add(row["item_id"])
                failures.append({"item_id": row["item_id"], "turn": row["turn"], "error": completion.error})
                continue
            finished[(row["item_id"], row["turn"])] = row
            counts["cache_hits" if cached else "generated"] += 1
            if not cached:
                usage["prompt_tokens"] += completion.prompt_tokens or 0
                usage["completion_tokens"] += completion.completion_tokens or 0
        report()

    report()
    for turn in range(max((len(s.turns) for s in samples), default=0)):
        todo = []
        for sample in samples:
            if turn >= len(sample.turns) or (sample.id, turn + 1) in finished or sample.id in failed_items:
                continue
            chat = build_chat(sample, [finished[(sample.id, t + 1)]["text"] for t in range(turn)], turn)
            params = sampling_for(spec, bench, sample)
            key = call_key(identity, [m.model_dump() for m in chat], params.model_dump(mode="json"))
            todo.append(Pending(sample, turn, chat, params, key))

        hits = cache.get_many(p.key for p in todo)
        reused = [p for p in todo if p.key in hits]
        record(reused, [Completion(**hits[p.key]) for p in reused], cached=True)

        by_params: dict[Sampling, list[Pending]] = {}
        for p in todo:
            if p.key not in hits:
                by_params.setdefault(p.params, []).append(p)
        for params, group in by_params.items():
            step = model.chunk_size or len(group)
            for start in range(0, len(group), step):
                chunk = group[start : start + step]
                chats = [p.chat for p in chunk]
                if hasattr(model, "generate_each"):  # remote: store each paid answer the moment it arrives
                    async for batch in model.generate_each(chats, params):
                        record([chunk[i] for i, _ in batch], [c for _, c in batch], cached=False)
                else:
                    record(chunk, await model.generate(chats, params), cached=False)

    # rewrite once, in benchmark order, one row per (item, turn): no duplicates from retries or resumes
    ordered = [finished[(s.id, t + 1)] for s in samples for t in range(len(s.turns)) if (s.id, t + 1) in finished]
    write_jsonl_atomic(gen_path, ordered + [_failure_row(f) for f in failures])
    answers = {
        s.id: [finished[(s.id, t + 1)]["text"] for t in range(len(s.turns))]
        for s in samples
        if all((s.id, t + 1) in finished for t in range(len(s.turns)))
    }
    counts["answered_items"] = len(answers)
    counts["unanswered_items"] = len(samples) - len(answers)
    return answers, counts, failures, usage


def _row(pending: Pending, completion: Completion, *, cached: bool) -> dict:
    return {
        "item_id": pending.sample.id,
        "turn": pending.turn + 1,
        "category": pending.sample.category,
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "temperature": pending.params.temperature,
        "cache_key": pending.key,
        "cached": cached,
        "error": completion.error,
    }


def _failure_row(failure: dict) -> dict:
    return {"item_id": failure["item_id"], "turn": failure["turn"], "text": None, "error": failure["error"]}
