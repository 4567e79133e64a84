"""Judging a list of requests through the call cache: each paid judgment is stored before it counts.

For every request the cache is asked first; only misses go to the judge, concurrently under the client's
limit. Replies that finish together are written to the cache in one transaction, then handed to the
caller (who appends them to the run's ``judgments.jsonl``), so a run killed at any instant has every paid
judgment either in the cache or not paid for. The judge's raw reply is what is cached, never the parsed
verdict: a parser fix applies to old judgments without asking again.

A reply whose verdict does not parse was still paid for, so it is kept; ``retry_failed`` asks again
under a new attempt number (part of the cache key), and the newest answered attempt wins from then on.
A call that failed for good (after retries) is not cached: the next run asks it again, which costs
nothing twice because nothing was charged. A reply showing that the endpoint cannot serve the judge at all
(no logprobs for a logprob judge) stops the run with :class:`JudgeUnsupported`; such requests are probed
with one call before the rest are sent.

Misses are claimed in the shared cache before they are sent (:mod:`starling_eval.store.claims`): a request
another live process is already asking is waited for and taken from the cache when it lands, so two
processes judging the same answers pay once. A fatal error (an endpoint that never answered) is raised only
after the replies that arrived with it are stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starling_eval.backends.openai_compat import settled
from starling_eval.judges.verdicts import parse
from starling_eval.spec import JudgeRequest
from starling_eval.store.cache import CallCache, call_key
from starling_eval.store.claims import SingleFlight

UNPARSABLE = "unparsable"
API_FAILURE = "api"
UNSUPPORTED = "unsupported"


class JudgeUnsupported(Exception):
    """The judge endpoint cannot serve these requests at all (e.g. it returns no logprobs). Raised after the
    reply that shows it is stored, so nothing more is paid for; the message says what the judge lacks."""


@dataclass
class JudgeOutcome:
    request: JudgeRequest
    reply: dict[str, Any] | None
    verdict: Any
    failure: str | None  # "api: <reason>" or "unparsable: <reason>"; None when the verdict is usable
    cached: bool
    attempt: int
    key: str

    @property
    def failure_kind(self) -> str | None:
        return self.failure.split(":", 1)[0] if self.failure else None

    def row(self) -> dict[str, Any]:
        """The run's ``judgments.jsonl`` row: what was asked about, what the judge said, what it means."""
        reply = self.reply or {}
        return {
            "id": self.request.id,
            **self.request.meta,
            "judgment": reply.get("text"),
            "verdict": self.verdict,
            "failure": self.failure,
            "attempt": self.attempt,
            "cached": self.cached,
            "prompt_tokens": reply.get("prompt_tokens"),
            "completion_tokens": reply.get("completion_tokens"),
            "finish_reason": reply.get("finish_reason"),  # "length": cut at max_tokens
            "cache_key": self.key,
        }


@dataclass
class JudgeTally:
    requested: int = 0
    from_cache: int = 0
    called: int = 0
    api_failures: int = 0
    unparsable: int = 0
    re_asked: int = 0
    shared: int = 0  # requests identical to another in this run, answered by its call
    from_other_process: int = 0  # calls another process was making for the same key: waited for, not paid twice
    possibly_billed_twice: int = 0  # re-sent after a client-side timeout (the first send may have been billed)
    prompt_tokens: int = 0  # paid in this run (cache hits cost nothing)
    completion_tokens: int = 0
    retries: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def judge_key(identity: Mapping[str, Any], request: JudgeRequest, attempt: int = 0) -> str:
    """The cache key of one attempt at a judge request (attempt 0 has no attempt field, so keys stay stable)."""
    params = request.cache_params()
    if attempt:
        params = {**params, "attempt": attempt}
    return call_key(identity, request.cache_request(), params)


def _outcome(request: JudgeRequest, reply: dict[str, Any], *, cached: bool, attempt: int, key: str) -> JudgeOutcome:
    verdict = parse(request, reply)
    failure = verdict.failure
    if failure and reply.get("finish_reason") == "length":
        failure += f" (the judgment was cut at max_tokens={request.max_tokens})"
    return JudgeOutcome(request, reply, verdict.value, failure, cached, attempt, key)


async def judge_all(
    requests: Sequence[JudgeRequest],
    identity: Mapping[str, Any],
    connect: Callable[[], Any],
    cache: CallCache,
    *,
    attempts: Mapping[str, int] | None = None,
    retry_failed: bool = False,
    on_outcomes: Callable[[list[JudgeOutcome]], None],
    progress: Callable[[int, int], None] | None = None,
) -> JudgeTally:
    """Judge every request once (cache first); ``on_outcomes`` gets each batch after it is stored.

    ``identity`` is the judge's cache identity; ``connect()`` makes the client, only when something is
    not cached (a warm re-run never imports the HTTP stack). ``attempts`` holds the newest attempt
    number a run has recorded per request id, so a re-asked judgment is found again after a restart."""
    attempts = attempts or {}
    tally = JudgeTally(requested=len(requests))
    done = 0

    def report(batch: list[JudgeOutcome]) -> None:
        nonlocal done
        for outcome in batch:
            kind = outcome.failure_kind
            tally.api_failures += kind == API_FAILURE
            tally.unparsable += kind == UNPARSABLE
        done += len(batch)
        on_outcomes(batch)
        if progress:
            progress(done, tally.requested)
        unsupported = next((o for o in batch if o.failure_kind == UNSUPPORTED), None)
        if unsupported is not None:
            raise JudgeUnsupported(unsupported.failure.split(":", 1)[1].strip())

    # 1. the cache: the newest answered attempt of each request
    candidates = {r.id: [judge_key(identity, r, a) for a in range(attempts.get(r.id, 0) + 2)] for r in requests}
    hits = cache.get_many(k for keys in candidates.values() for k in keys)
    reused: list[JudgeOutcome] = []
    todo: list[tuple[JudgeRequest, int, str]] = []  # request, attempt, its cache key
    for request in requests:
        keys = candidates[request.id]
        newest = max((a for a, k in enumerate(keys) if k in hits), default=None)
        if newest is None:
            todo.append((request, 0, keys[0]))
            continue
        outcome = _outcome(request, hits[keys[newest]], cached=True, attempt=newest, key=keys[newest])
        if retry_failed and outcome.failure_kind == UNPARSABLE:
            attempt = newest + 1
            todo.append((request, attempt, keys[attempt] if attempt < len(keys) else judge_key(identity, request, attempt)))
            tally.re_asked += 1
        else:
            reused.append(outcome)
    tally.from_cache = len(reused)
    if progress:
        progress(0, tally.requested)
    if reused:
        report(reused)

    # 2. the judge, for the rest: one call per distinct request (two models with the same answer share it)
    if not todo:
        return tally
    groups: dict[str, list[JudgeRequest]] = {}
    first: dict[str, tuple[JudgeRequest, int]] = {}
    for request, attempt, key in todo:
        groups.setdefault(key, []).append(request)
        first.setdefault(key, (request, attempt))
    tally.shared = len(todo) - len(groups)
    client: Any = None

    async def one(key: str) -> tuple[str, dict[str, Any] | None, str | None]:
        reply, error = await client.ask(first[key][0])
        return key, reply, error

    def outcomes_for(key: str, reply: dict[str, Any] | None, error: str | None, *, cached: bool = False) -> list[JudgeOutcome]:
        attempt = first[key][1]
        if error is not None:
            return [JudgeOutcome(r, None, None, f"{API_FAILURE}: {error}", False, attempt, key) for r in groups[key]]
        return [_outcome(r, reply, cached=cached or i > 0, attempt=attempt, key=key) for i, r in enumerate(groups[key])]

    def found_elsewhere(found: Mapping[str, dict[str, Any]]) -> None:
        """Replies another process paid for while we waited on its claim: cache hits for this run."""
        if found:
            tally.from_other_process += len(found)
            report([o for key, reply in found.items() for o in outcomes_for(key, reply, None, cached=True)])

    probed = False

    async def call(keys: list[str]) -> None:
        # a judge that needs logprobs is probed with one call first: an endpoint without them stops the run
        # after one paid call, not after every call in flight
        nonlocal client, probed
        if not keys:
            return
        client = client or connect()
        probe = 0 if probed or first[keys[0]][0].top_logprobs is None else 1
        probed = True
        for wave in (keys[:probe], keys[probe:]):
            await _call_wave(wave, one, cache, tally, outcomes_for, report, flight)

    # claims in the shared cache: a key another process is calling is waited for, not paid for again
    with SingleFlight(cache) as flight:
        mine, others, found = flight.claim(groups)
        try:
            found_elsewhere(found)
            await call(mine)
            async for found, taken_over in flight.settle(others):
                found_elsewhere(found)
                await call(taken_over)
        finally:
            if client is not None:
                tally.retries = dict(getattr(client, "retries", {}))
                tally.possibly_billed_twice = getattr(client, "possibly_billed_twice", 0)
                if hasattr(client, "aclose"):
                    await client.aclose()
    return tally


async def _call_wave(keys: list[str], one: Callable[[str], Any], cache: CallCache, tally: JudgeTally,
                     outcomes_for: Callable[..., list[JudgeOutcome]], report: Callable[[list[JudgeOutcome]], None],
                     flight: SingleFlight) -> None:
    """Call every key concurrently; store each batch of finished calls, then report it. A fatal error (an
    unreachable endpoint) is raised only after the replies that did arrive with it are stored."""
    if not keys:
        return
    # Each finished call lands in `finished` by its done-callback; the loop wakes once per batch. (asyncio.wait
    # over thousands of pending tasks re-registers callbacks on all of them at every wake: quadratic.)
    finished: list[asyncio.Task] = []
    ready = asyncio.Event()

    def land(task: asyncio.Task) -> None:
        finished.append(task)
        ready.set()

    tasks = [asyncio.ensure_future(one(key)) for key in keys]
    for task in tasks:
        task.add_done_callback(land)
    remaining = len(tasks)
    try:
        while remaining:
            await ready.wait()
            ready.clear()
            batch_tasks, finished[:] = list(finished), []
            remaining -= len(batch_tasks)
            results, fatal = settled(batch_tasks)
            cache.put_many("judgment", {key: reply for key, reply, _ in results if reply is not None})  # stored first
            flight.release(key for key, reply, _ in results if reply is None)  # failed: let a waiting process try
            batch: list[JudgeOutcome] = []
            for key, reply, error in results:
                tally.called += 1
                if reply is not None:
                    tally.prompt_tokens += reply.get("prompt_tokens") or 0
                    tally.completion_tokens += reply.get("completion_tokens") or 0
                batch += outcomes_for(key, reply, error)
            if batch:
                report(batch)
            if fatal is not None:
                raise fatal
    finally:
        for task in tasks:
            task.cancel()


def newest_attempts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Per request id, the highest attempt a run's judgments file records."""
    found: dict[str, int] = {}
    for row in rows:
        if "id" in row:
            found[row["id"]] = max(found.get(row["id"], 0), int(row.get("attempt") or 0))
    return found
