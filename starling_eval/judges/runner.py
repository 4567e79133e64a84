"""Judging through the call cache, as requests become known: each paid judgment is stored before it counts.

A :class:`JudgeStream` takes requests whenever the caller has them (all at once for answer files; sample by
sample while a model is still answering, so judging overlaps generation). For every request the cache is
asked first; only misses go to the judge, concurrently under the client's limit. Replies that finish
together are written to the cache in one transaction, then handed to the caller (who appends them to the
run's ``judgments.jsonl``), so a run killed at any instant has every paid judgment either in the cache or not
paid for. The judge's raw reply is what is cached, never the parsed verdict.

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starling_eval.backends.openai_compat import settled
from starling_eval.judges.outcomes import (
    API_FAILURE,
    UNPARSABLE,
    UNSUPPORTED,
    JudgeOutcome,
    JudgeTally,
    JudgeUnsupported,
    judge_key,
    newest_attempts,
    outcome_of,
)
from starling_eval.spec import JudgeRequest
from starling_eval.store.cache import CallCache
from starling_eval.store.claims import SingleFlight

__all__ = ["JudgeOutcome", "JudgeStream", "JudgeTally", "JudgeUnsupported", "judge_all", "judge_key",
           "mark_seen", "newest_attempts"]


class JudgeStream:
    """One judging session: ``submit`` requests any time inside ``async with``; leaving the block waits for
    every call (and for keys another process was asking), then closes the client.

    ``identity`` is the judge's cache identity; ``connect()`` makes the client, only when something is not
    cached (a warm re-run never imports the HTTP stack). ``attempts`` holds the newest attempt number a run has
    recorded per request id, so a re-asked judgment is found again after a restart."""

    def __init__(self, identity: Mapping[str, Any], connect: Callable[[], Any], cache: CallCache, *,
                 attempts: Mapping[str, int] | None = None, retry_failed: bool = False,
                 on_outcomes: Callable[[list[JudgeOutcome]], None],
                 progress: Callable[[int, int], None] | None = None):
        self.identity, self.connect, self.cache = identity, connect, cache
        self.attempts, self.retry_failed = attempts or {}, retry_failed
        self.on_outcomes, self.progress = on_outcomes, progress
        self.tally = JudgeTally()
        self._done = 0
        self._groups: dict[str, list[JudgeRequest]] = {}  # cache key -> the requests one call answers
        self._first: dict[str, tuple[JudgeRequest, int]] = {}  # cache key -> the request sent, its attempt
        self._landed: dict[str, tuple[dict[str, Any] | None, str | None]] = {}  # calls answered in this session
        self._waiting: set[str] = set()  # keys another process is asking
        self._held: list[str] = []  # keys sent once the logprob probe has answered
        self._probing = self._probed = False
        self._client: Any = None
        self._finished: list[asyncio.Task] = []
        self._tasks: set[asyncio.Task] = set()
        self._flight = SingleFlight(cache)
        self._ready = self._idle = asyncio.Event()
        self._drainer: asyncio.Task | None = None

    async def __aenter__(self) -> JudgeStream:
        self._flight.__enter__()
        self._ready, self._idle = asyncio.Event(), asyncio.Event()
        self._idle.set()
        self._drainer = asyncio.ensure_future(self._drain())
        self._drainer.add_done_callback(mark_seen)
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                await self._finish()
        finally:
            await self._close()

    # -- requests in ---------------------------------------------------------------------------------------
    def submit(self, requests: Sequence[JudgeRequest]) -> None:
        """Serve what the cache holds at once; claim and send the rest (the same request twice: one call)."""
        self._check()
        if not requests:
            return
        self.tally.requested += len(requests)
        candidates = {r.id: [judge_key(self.identity, r, a) for a in range(self.attempts.get(r.id, 0) + 2)]
                      for r in requests}
        hits = self.cache.get_many(k for keys in candidates.values() for k in keys)
        reused: list[JudgeOutcome] = []
        todo: list[tuple[JudgeRequest, int, str]] = []
        for request in requests:
            keys = candidates[request.id]
            newest = max((a for a, k in enumerate(keys) if k in hits), default=None)
            if newest is None:
                todo.append((request, 0, keys[0]))
                continue
            outcome = outcome_of(request, hits[keys[newest]], cached=True, attempt=newest, key=keys[newest])
            if self.retry_failed and outcome.failure_kind == UNPARSABLE:
                attempt = newest + 1
                key = keys[attempt] if attempt < len(keys) else judge_key(self.identity, request, attempt)
                todo.append((request, attempt, key))
                self.tally.re_asked += 1
            else:
                reused.append(outcome)
        self.tally.from_cache += len(reused)
        if self.progress:
            self.progress(self._done, self.tally.requested)
        if reused:
            self._report(reused)
        new: list[str] = []
        for request, attempt, key in todo:
            if key not in self._groups:
                self._groups[key], self._first[key] = [request], (request, attempt)
                new.append(key)
                continue
            self.tally.shared += 1  # identical to a request of this session: its call answers both
            if key in self._landed:
                self._report(self._outcomes(key, *self._landed[key], only=[request]))
            else:
                self._groups[key].append(request)
        if new:
            mine, others, found = self._flight.claim(new)
            self._found_elsewhere(found)
            self._waiting.update(others)
            self._launch(mine)

    def _launch(self, keys: list[str]) -> None:
        """Send ``keys``; a judge that needs logprobs is probed with one call first: an endpoint without them
        stops the run after one paid call, not after every call in flight."""
        if not keys:
            return
        self._client = self._client or self.connect()
        if not getattr(self._client, "probe_first", True):  # a batch client: a probe would be a whole batch
            self._probed = True
        if not self._probed and not self._probing and self._first[keys[0]][0].top_logprobs is not None:
            self._probing = True
            self._start(keys[0])
            keys = keys[1:]
        if self._probing:
            self._held += keys
            return
        self._probed = True
        for key in keys:
            self._start(key)

    def _start(self, key: str) -> None:
        self._client = self._client or self.connect()
        self._idle.clear()
        task = asyncio.ensure_future(self._ask(key))
        self._tasks.add(task)
        # each finished call lands by its done-callback; the drainer wakes once per batch (asyncio.wait over
        # thousands of pending tasks re-registers callbacks on all of them at every wake: quadratic)
        task.add_done_callback(self._land)

    async def _ask(self, key: str) -> tuple[str, dict[str, Any] | None, str | None]:
        request = self._first[key][0]
        if hasattr(self._client, "ask_keyed"):  # a batch client names each line by its cache key
            reply, error = await self._client.ask_keyed(request, key)
        else:
            reply, error = await self._client.ask(request)
        return key, reply, error

    def _land(self, task: asyncio.Task) -> None:
        mark_seen(task)
        self._tasks.discard(task)
        self._finished.append(task)
        self._ready.set()

    # -- replies out ---------------------------------------------------------------------------------------
    async def _drain(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                self._store_landed()
                if self._probing and not self._tasks:  # the probe answered: the rest may go
                    self._probing, self._probed = False, True
                    held, self._held = self._held, []
                    self._launch(held)
                if not self._tasks and not self._finished:
                    self._idle.set()
        finally:
            self._idle.set()  # a waiter wakes, and finds the error

    def _store_landed(self) -> None:
        """The replies that arrived: into the cache (one transaction), then counted and handed on; a fatal
        error among them is raised only after that."""
        batch_tasks, self._finished = self._finished, []
        results, fatal = settled(batch_tasks)
        self.cache.put_many("judgment", {key: reply for key, reply, _ in results if reply is not None})
        self._flight.release(key for key, reply, _ in results if reply is None)  # a waiting process may try
        batch: list[JudgeOutcome] = []
        for key, reply, error in results:
            self.tally.called += 1
            if reply is not None:
                self.tally.prompt_tokens += reply.get("prompt_tokens") or 0
                self.tally.completion_tokens += reply.get("completion_tokens") or 0
            self._landed[key] = (reply, error)
            batch += self._outcomes(key, reply, error)
        if batch:
            self._report(batch)
        if fatal is not None:
            raise fatal

    def _outcomes(self, key: str, reply: dict[str, Any] | None, error: str | None, *, cached: bool = False,
                  only: list[JudgeRequest] | None = None) -> list[JudgeOutcome]:
        attempt = self._first[key][1]
        requests = only if only is not None else self._groups[key]
        if error is not None:
            return [JudgeOutcome(r, None, None, f"{API_FAILURE}: {error}", False, attempt, key) for r in requests]
        return [outcome_of(r, reply, cached=cached or only is not None or i > 0, attempt=attempt, key=key)
                for i, r in enumerate(requests)]

    def _found_elsewhere(self, found: Mapping[str, dict[str, Any]]) -> None:
        """Replies another process paid for while we waited on its claim: cache hits for this run."""
        if found:
            self.tally.from_other_process += len(found)
            self._report([o for key, reply in found.items() for o in self._outcomes(key, reply, None, cached=True)])

    def _report(self, batch: list[JudgeOutcome]) -> None:
        for outcome in batch:
            kind = outcome.failure_kind
            self.tally.api_failures += kind == API_FAILURE
            self.tally.unparsable += kind == UNPARSABLE
        self._done += len(batch)
        self.on_outcomes(batch)
        if self.progress:
            self.progress(self._done, self.tally.requested)
        unsupported = next((o for o in batch if o.failure_kind == UNSUPPORTED), None)
        if unsupported is not None:
            raise JudgeUnsupported(unsupported.failure.split(":", 1)[1].strip())

    # -- the end -------------------------------------------------------------------------------------------
    def _check(self) -> None:
        """Raise what stopped the drainer (a fatal error, an unsupported judge), if anything did."""
        if self._drainer is not None and self._drainer.done() and not self._drainer.cancelled():
            exc = self._drainer.exception()
            if exc is not None:
                raise exc

    async def _settle_in_flight(self) -> None:
        while self._tasks or self._finished or self._held:
            await self._idle.wait()
            self._check()

    async def _finish(self) -> None:
        """Every call answered and stored; then the keys another process was asking, waited for (or taken over
        when that process died)."""
        await self._settle_in_flight()
        if self._waiting:
            async for found, taken_over in self._flight.settle(list(self._waiting)):
                self._found_elsewhere(found)
                self._launch(taken_over)
                await self._settle_in_flight()
        self._check()

    async def _close(self) -> None:
        try:
            if self._finished:  # replies that arrived before an error elsewhere stopped the session: kept
                try:
                    self._store_landed()
                except BaseException:  # the error already on its way out is the one to report
                    pass
            for task in [*self._tasks, *([self._drainer] if self._drainer else [])]:
                task.cancel()
            await asyncio.gather(*self._tasks, *([self._drainer] if self._drainer else []), return_exceptions=True)
        finally:
            if self._client is not None:
                self.tally.retries = dict(getattr(self._client, "retries", {}))
                self.tally.possibly_billed_twice = getattr(self._client, "possibly_billed_twice", 0)
                self.tally.batches = dict(getattr(self._client, "counts", {}))
                if hasattr(self._client, "aclose"):
                    await self._client.aclose()
            self._flight.__exit__(None, None, None)


def mark_seen(task: asyncio.Task) -> None:
    """Mark a finished task's exception as seen. A signal (SIGINT, or SIGTERM as the CLI raises it) that lands
    while a task runs is stored in that task and leaves the event loop at once; unseen, asyncio would print
    "Task exception was never retrieved" with a traceback after the one-line "interrupted" message."""
    if not task.cancelled():
        task.exception()


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
    """Judge every request once (cache first); ``on_outcomes`` gets each batch after it is stored."""
    stream = JudgeStream(identity, connect, cache, attempts=attempts, retry_failed=retry_failed,
                         on_outcomes=on_outcomes, progress=progress)
    async with stream:
        stream.submit(requests)
    return stream.tally
