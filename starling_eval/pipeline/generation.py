"""Generation: answer every sample with the spec's model, store, resume, count.

Resumable by construction: every finished call is written to the shared call cache (one transaction)
before it is appended to the run's ``generations.jsonl`` and counted, so a run killed at any point is
resumed by running the same command again: the unfinished run folder with the same spec hash is picked
up, finished rows are kept, and every answer already in the cache is reused without a model call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval.adapters.base import Benchmark, Sample
from starling_eval.pipeline.common import (
    Progress,
    ends_in_a_true_state,
    gather_or_raise,
    open_run,
    prepare,
    results_paths,
)
from starling_eval.pipeline.lazy_backend import LazyBackend, resolve_backend, streams_turns
from starling_eval.spec import Chat, Completion, Message, RunSpec, Sampling
from starling_eval.store.cache import CallCache, call_key
from starling_eval.store.claims import SingleFlight
from starling_eval.store.files import append_jsonl, repair_jsonl, write_jsonl_atomic, write_rows_atomic
from starling_eval.store.runs import GENERATIONS, STATUS_COMPLETE, STATUS_INCOMPLETE, RunFolder

# called with a sample and its answers so far each time one of its turns is answered (the evaluation judges
# what those answers allow: MT-Bench's turn-1 judgment needs turn 1 only)
Answered = Callable[[Sample, list[str]], None]
# runs the generation's coroutine beside other work in the same event loop, returning its result
Alongside = Callable[[Coroutine[Any, Any, Any]], Coroutine[Any, Any, Any]]


@dataclass
class GenerationResult:
    run: RunFolder
    manifest: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)


@dataclass
class Generated:
    """What the generation step hands on: answers per item, counters, failures, usage, timings."""

    answers: dict[str, list[str]]
    counts: dict[str, int]
    failures: list[dict]
    usage: dict[str, int]
    timings: dict[str, float]


def sampling_for(spec: RunSpec, bench: Benchmark, sample: Sample) -> Sampling:
    temperature = spec.temperature
    if temperature is None:
        temperature = sample.temperature if sample.temperature is not None else bench.default_temperature
    return Sampling(
        temperature=temperature,
        top_p=sample.top_p if sample.top_p is not None else 1.0,
        max_new_tokens=spec.max_new_tokens or sample.max_new_tokens or bench.default_max_new_tokens,
        seed=spec.seed,
    )


def generation_key(identity: dict[str, Any], chat: Chat, params: Sampling) -> str:
    """The cache key of one generation call: backend identity, conversation, decoding parameters."""
    return call_key(identity, [m.model_dump() for m in chat], params.model_dump(mode="json"))


def build_chat(sample: Sample, answers: Sequence[str], turn: int) -> Chat:
    """The conversation for ``turn`` (0-based): earlier turns carry the model's own answers."""
    chat: Chat = [Message(role="system", content=sample.system)] if sample.system else []
    for t in range(turn):
        chat += [Message(role="user", content=sample.turns[t]), Message(role="assistant", content=answers[t])]
    chat.append(Message(role="user", content=sample.turns[turn]))
    return chat


@ends_in_a_true_state
def generate(
    spec: RunSpec,
    results_root: Path,
    *,
    progress: Progress | None = None,
    model: Any = None,
) -> GenerationResult:
    """Answer every sample of the benchmark with the spec's model; store, resume, count."""
    started = time.time()
    prep = prepare(spec)
    store, cache, index = results_paths(results_root)
    try:
        run, manifest = open_run(spec, prep, store, index, "generate")
        gen = generate_into(spec, prep.bench, prep.samples, run, manifest, cache, progress=progress, model=model)
    finally:
        cache.close()
    manifest.update(
        status=STATUS_INCOMPLETE if gen.failures else STATUS_COMPLETE,
        counts=gen.counts,
        usage=gen.usage,
        failures=gen.failures[:50],
        timings={**gen.timings, "total_s": round(time.time() - started, 3)},
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    manifest["summary"] = {"answered": gen.counts["answered_items"], "failed": gen.counts["failed"]}
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path, manifest["summary"])
    index.close()
    return GenerationResult(run=run, manifest=manifest, counts=gen.counts, failures=gen.failures)


def generate_into(
    spec: RunSpec,
    bench: Benchmark,
    samples: list[Sample],
    run: RunFolder,
    manifest: dict[str, Any],
    cache: CallCache,
    *,
    progress: Progress | None = None,
    model: Any = None,
    on_answered: Answered | None = None,
    alongside: Alongside | None = None,
) -> Generated:
    """The generation step inside an open run: load the backend, answer, export upstream answer files.

    ``on_answered(sample, answers)`` is called in the event loop each time a turn of a sample is answered, with
    the sample's answers so far;
    ``alongside(work)``, if given, runs the generation's coroutine in that loop and returns its result (the
    evaluation judges the answered samples meanwhile)."""
    assert spec.model is not None
    repair_jsonl(run.file(GENERATIONS))
    t_load = time.time()
    owns_model = model is None
    model, identity, provenance = resolve_backend(spec.model, cache, model)
    load_s = time.time() - t_load
    manifest["model"] = {"label": spec.model.label, **provenance}
    manifest["sampling"] = {
        "max_new_tokens": spec.max_new_tokens or (samples and samples[0].max_new_tokens) or bench.default_max_new_tokens,
        "temperature": spec.temperature,
        "per_sample_temperature": spec.temperature is None,
        "seed": spec.seed,
    }
    run.write_manifest(manifest)
    try:
        t_gen = time.time()
        work = _generate_all(spec, bench, samples, model, identity, cache, run, progress, on_answered)
        answers, counts, failures, usage = asyncio.run(_in_loop(model, alongside(work) if alongside else work))
        gen_s = time.time() - t_gen
        peek = model.peek if isinstance(model, LazyBackend) else lambda name, default: getattr(model, name, default)
        usage["possibly_billed_twice"] = peek("possibly_billed_twice", 0)  # re-sent after a client-side timeout
    finally:
        if owns_model:
            model.close()
    for rel, rows in bench.export_answers(samples, answers, spec.model.label).items():
        write_rows_atomic(run.path / rel, rows)
    return Generated(answers, counts, failures, usage, {"backend_init_s": round(load_s, 3), "generate_s": round(gen_s, 3)})


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
    on_answered: Answered | None = None,
) -> tuple[dict[str, list[str]], dict[str, int], list[dict], dict[str, int]]:
    gen_path = run.file(GENERATIONS)
    finished: dict[tuple[str, int], dict] = {}
    for row in run.generations():
        if row.get("error") is None:
            finished[(row["item_id"], row["turn"])] = row
    total = sum(len(s.turns) for s in samples)
    counts = {"requested": total, "reused_from_run": len(finished), "cache_hits": 0, "generated": 0, "failed": 0,
              "from_other_process": 0}
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    failures: list[dict] = []
    failed_items: set[str] = set()
    by_id = {s.id: s for s in samples}

    def report() -> None:
        if progress:
            progress("generate", len(finished), total)

    def record(items: Sequence[Pending], completions: Sequence[Completion], *, cached: bool) -> None:
        """Cache first (one transaction), then the run's JSONL, then the counters: a kill between loses nothing."""
        if not cached:
            cache.put_many("generation", {p.key: c.model_dump(exclude={"error"})
                                          for p, c in zip(items, completions, strict=True) if c.error is None})
        rows = [_row(p, c, cached=cached) for p, c in zip(items, completions, strict=True)]
        # streamed answers land one at a time: an fsync each would stall every call in flight; the cache,
        # committed above, is what a resumed run reads, and the file is rewritten (and fsynced) at the end
        append_jsonl(gen_path, rows, fsync=not streaming)
        for row, completion in zip(rows, completions, strict=True):
            if completion.error is not None:
                counts["failed"] += 1
                failed_items.add(row["item_id"])
                failures.append({"item_id": row["item_id"], "turn": row["turn"], "error": completion.error,
                                 "cache_key": row["cache_key"]})
                continue
            finished[(row["item_id"], row["turn"])] = row
            if on_answered:  # the sample's answers so far (turns answered in order)
                sample, known = by_id[row["item_id"]], []
                while (sample.id, len(known) + 1) in finished and len(known) < len(sample.turns):
                    known.append(finished[(sample.id, len(known) + 1)]["text"])
                on_answered(sample, known)
            counts["cache_hits" if cached else "generated"] += 1
            if not cached:
                usage["prompt_tokens"] += completion.prompt_tokens or 0
                usage["completion_tokens"] += completion.completion_tokens or 0
        report()

    async def call(pending: list[Pending]) -> None:
        if len(pending) == 1 and streaming:
            record(pending, [await model.generate_one(pending[0].chat, pending[0].params)], cached=False)
            return
        by_params: dict[Sampling, list[Pending]] = {}
        for p in pending:
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

    def found(values: dict[str, Any], waiting: list[Pending]) -> None:
        """Answers another process generated while we waited on its claims."""
        done = [p for p in waiting if p.key in values]
        counts["from_other_process"] += len(done)
        record(done, [Completion(**values[p.key]) for p in done], cached=True)

    streaming = streams_turns(spec, model)

    def pending(sample: Sample, turn: int) -> Pending:
        chat = build_chat(sample, [finished[(sample.id, t + 1)]["text"] for t in range(turn)], turn)
        params = sampling_for(spec, bench, sample)
        return Pending(sample, turn, chat, params, generation_key(identity, chat, params))

    def next_turns() -> list[Pending]:
        """Each unfailed sample's first turn without an answer, where the turns before it are answered."""
        todo = []
        for sample in samples:
            if sample.id in failed_items:
                continue
            turn = next((t for t in range(len(sample.turns)) if (sample.id, t + 1) not in finished), None)
            if turn is not None:
                todo.append(pending(sample, turn))
        return todo

    def from_cache(todo: list[Pending]) -> list[Pending]:
        """Record what the cache holds; return the rest."""
        hits = cache.get_many(p.key for p in todo)
        reused = [p for p in todo if p.key in hits]
        if reused:
            record(reused, [Completion(**hits[p.key]) for p in reused], cached=True)
        return [p for p in todo if p.key not in hits]

    async def obtain(misses: list[Pending], flight: SingleFlight) -> None:
        """Claims in the shared cache first: an answer another process is generating is waited for, not made
        twice; then the model for what is ours."""
        mine, others, values = flight.claim(p.key for p in misses)
        found(values, misses)
        mine_keys, other_keys = set(mine), set(others)
        await call([p for p in misses if p.key in mine_keys])
        async for values, taken in flight.settle(others):
            found(values, [p for p in misses if p.key in other_keys])
            taken_keys = set(taken)
            await call([p for p in misses if p.key in taken_keys])
        keys = {p.key for p in misses}
        flight.release(f["cache_key"] for f in failures if f.get("cache_key") in keys)

    async def chain(first: Pending, flight: SingleFlight) -> None:
        """One sample's turns in order, each sent the moment the one before it is back (``first``: a turn the
        cache was just asked for; a value stored since then is found by the claim)."""
        sample = first.sample
        for t in range(first.turn, len(sample.turns)):
            if sample.id in failed_items:
                return
            if (sample.id, t + 1) not in finished:
                await obtain([first] if t == first.turn else from_cache([pending(sample, t)]), flight)
            if (sample.id, t + 1) not in finished:
                return  # neither answered nor failed (cannot happen): its later turns have no prompt

    report()
    with SingleFlight(cache) as flight:
        # the cache first, for every turn it holds (a warm re-run ends here), a lookup per turn for all samples
        todo = next_turns()
        while todo and len(rest := from_cache(todo)) < len(todo):
            todo = next_turns()
        if todo and streaming:
            # a server answers one call at a time: --concurrency workers, each taking the next sample and
            # answering its turns in order, so no sample waits for another's turn and samples finish (and can
            # be judged) from the start, not all at the end
            queue = iter(todo)

            async def worker() -> None:
                for p in queue:
                    await chain(p, flight)

            await gather_or_raise([worker() for _ in range(min(len(todo), max(1, spec.model.concurrency)))])
        else:
            # a local engine batches: each wave holds every sample's next turn
            while todo:
                if rest:  # (empty when the cache held every one of them: on to the next turns)
                    before = len(finished) + len(failures)
                    await obtain(rest, flight)
                    if len(finished) + len(failures) == before:
                        break  # nothing answered nor failed (cannot happen): never loop on it
                todo = next_turns()
                rest = from_cache(todo)

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
        "question": pending.sample.turns[pending.turn],  # this turn's user message, so the row reads alone
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "token_ids": completion.token_ids,  # the generated ids (local backends), for checks between backends
        "temperature": pending.params.temperature,
        "cache_key": pending.key,
        "cached": cached,
        "error": completion.error,
    }


def _failure_row(failure: dict) -> dict:
    return {"item_id": failure["item_id"], "turn": failure["turn"], "text": None, "error": failure["error"]}


def pending_generation(
    spec: RunSpec, bench: Benchmark, samples: list[Sample], identity: dict[str, Any], cache: CallCache
) -> tuple[int, dict[str, list[str]]]:
    """(calls still to make, answers already in the cache) — for ``--dry-run``. A turn whose earlier
    turns are not cached cannot be looked up (its prompt holds the unknown answer): it counts as a call."""
    calls = 0
    known: dict[str, list[str]] = {}
    for sample in samples:
        answers: list[str] = []
        for turn in range(len(sample.turns)):
            chat = build_chat(sample, answers, turn)
            params = sampling_for(spec, bench, sample)
            hit = cache.get_many([generation_key(identity, chat, params)])
            if not hit:
                calls += len(sample.turns) - turn
                break
            answers.append(next(iter(hit.values()))["text"])
        else:
            known[sample.id] = answers
    return calls, known
