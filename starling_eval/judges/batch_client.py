"""A judge asked through OpenAI's Batch API: half the price, answers within 24 hours, nothing lost to a crash.

:class:`BatchJudgeClient` stands in for the interactive client inside a judging session: the session claims
and asks each request that is not cached, as ever; the batch client gathers the requests that arrive together
(``linger_s`` without a new one), writes them as input lines keyed by their cache keys, and takes each batch
through upload → create → poll → read, committing each step to the batch log
(:mod:`starling_eval.store.batches`) before the step after it leaves the machine. A request an open batch
already covers is never put in another: the batch is adopted and polled, whichever process submitted it. So
a process killed at any step is resumed by the next run, or by ``starling-eval batches resume``, with no
request submitted twice: an upload whose reply was lost is found by its file name, a creation whose reply was
lost by its metadata, before anything is sent again.

A finished batch's replies go into the call cache under the same keys interactive calls use, all of them
(also those no current run asked for), then to the waiting requests; failures (an error-file line, a batch
that expired or failed) come back per request with their reason, uncached, so a re-run asks them again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from starling_eval.backends.openai_compat import call_with_retries, endpoint_url, make_async_client
from starling_eval.backends.retry import EndpointHealth, RetryPolicy
from starling_eval.judges.batch_files import (
    COMPLETION_WINDOW,
    ENDPOINT,
    MAX_REQUESTS,
    TERMINAL,
    BatchLimits,
    batch_errors,
    input_line,
    read_results,
    split,
)
from starling_eval.judges.client import request_body
from starling_eval.spec import JudgeRequest, JudgeSpec
from starling_eval.store.batches import DONE, DROPPED, SUBMITTED, UPLOADED, BatchLog, BatchRecord, new_local_id

METADATA_KEY = "starling_eval_batch"  # the local id, in the batch's metadata: how a lost creation is found
MAX_POLL_S = 60.0
# a batch created before its record was written cannot be ours: listing stops there (clocks may differ a little)
CLOCK_SLACK_S = 600.0


class BatchAPIError(Exception):
    """A Files or Batches call that failed for good (after retries)."""


class BatchJudgeClient:
    """Asks judge requests through the Batch API; :meth:`ask_keyed` returns ``(reply, None)`` or ``(None, why)``.

    ``on_status(record, batch)`` is told each time a batch's status or counts change (the CLI prints it)."""

    probe_first = False  # a logprob probe would be a whole batch round trip: the batch itself shows what is missing

    def __init__(self, spec: JudgeSpec, cache: Any, *, limits: BatchLimits | None = None, linger_s: float = 0.2,
                 on_status: Callable[[BatchRecord, Any], None] | None = None):
        self.spec = spec
        self.log = BatchLog(cache)
        self.cache = cache
        self.limits = limits or BatchLimits(max_requests=spec.batch_size or MAX_REQUESTS)
        self.linger_s = linger_s
        self.on_status = on_status
        self._sdk = make_async_client(spec.base_url, spec.api_key_env, spec.timeout_s)
        # Files and Batches calls are bookkeeping, not billed judgments: every failure kind is retried (a creation
        # is looked for before it is sent again)
        self._policy = RetryPolicy(max_retries=spec.max_retries, timeout_retries=spec.max_retries)
        self.health = EndpointHealth(endpoint_url(spec.base_url))
        self.retries: Counter[str] = Counter()
        self.possibly_billed_twice = 0  # never: a batch line is billed once, when the batch runs it
        self.counts: Counter[str] = Counter()  # batches submitted / adopted, requests submitted
        self._asked: dict[str, JudgeRequest] = {}
        self._waiting: dict[str, list[asyncio.Future]] = {}
        self._queue: list[str] = []
        self._last_arrival = 0.0
        self._flusher: asyncio.Task | None = None
        self._batches: dict[str, asyncio.Task] = {}  # local id -> the task taking it to its end
        self.errors: dict[str, str] = {}  # local id -> why its batch stopped short (it stays open in the log)

    # -- requests in ---------------------------------------------------------------------------------------
    async def ask_keyed(self, request: JudgeRequest, key: str) -> tuple[dict[str, Any] | None, str | None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if key not in self._asked:
            self._asked[key] = request
            self._enqueue([key])
        return await future

    def _enqueue(self, keys: list[str]) -> None:
        self._queue += keys
        self._last_arrival = time.monotonic()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_when_quiet())

    async def _flush_when_quiet(self) -> None:
        """Wait until requests stop arriving (or a batch is full), then send what came."""
        while len(self._queue) < self.limits.max_requests:
            quiet = time.monotonic() - self._last_arrival
            if quiet >= self.linger_s:
                break
            await asyncio.sleep(self.linger_s - quiet)
        keys, self._queue = self._queue, []
        self._dispatch(keys)
        if self._queue:
            self._flusher = asyncio.ensure_future(self._flush_when_quiet())

    def _dispatch(self, keys: list[str]) -> None:
        """Keys an open batch covers wait for it (adopted if no task here pursues it); the rest go in new ones."""
        covered = self.log.open_for(keys)
        for local_id in dict.fromkeys(covered.values()):
            if local_id not in self._batches:
                self.counts["batches_adopted"] += 1
                self._pursue(local_id, None)
        fresh = [k for k in keys if k not in covered]
        lines = [(k, input_line(k, request_body(self.spec.model, self._asked[k]))) for k in fresh]
        try:
            chunks = split(lines, self.limits)
        except ValueError as exc:
            self._resolve(fresh, None, str(exc))
            return
        for chunk in chunks:
            self._pursue(new_local_id(), chunk)

    def _pursue(self, local_id: str, lines: list[tuple[str, bytes]] | None) -> None:
        task = asyncio.ensure_future(self._take_to_end(local_id, lines))
        self._batches[local_id] = task
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # failures are resolved inside

    # -- one batch, step by step ---------------------------------------------------------------------------
    async def _take_to_end(self, local_id: str, lines: list[tuple[str, bytes]] | None) -> None:
        keys: list[str] = [k for k, _ in lines] if lines is not None else []
        try:
            if lines is not None:
                self.log.begin(local_id, self.spec.model, self.spec.base_url, self.spec.api_key_env,
                               {k: self._asked[k].top_logprobs is not None for k in keys})
            keys = list(self.log.keys(local_id))
            record = self.log.get(local_id)
            assert record is not None
            record = await self._uploaded(record, lines)
            if record is None:  # its upload never reached the API: our requests go in a new batch
                self._batches.pop(local_id, None)
                self._enqueue([k for k in keys if self._waiting.get(k)])
                return
            record = await self._created(record, fresh=lines is not None)
            batch = await self._polled(record)
            await self._collect(record, batch)
        except Exception as exc:  # the batch stays open in the log: the next run (or `batches resume`) goes on
            self.errors[local_id] = str(exc)
            self._resolve(keys, None, f"batch {local_id}: {exc}")

    async def _uploaded(self, record: BatchRecord, lines: list[tuple[str, bytes]] | None) -> BatchRecord | None:
        if record.file_id:
            return record
        if lines is None:  # adopted before its upload returned: did the file arrive?
            file_id = await self._find_file(record.filename)
            if file_id is None:
                self.log.update(record.local_id, state=DROPPED, note="its upload never reached the API")
                return None
        else:
            data = b"".join(line for _, line in lines)
            uploaded = await self._call(lambda: self._sdk.files.create(file=(record.filename, data), purpose="batch"))
            file_id = uploaded.id
        self.log.update(record.local_id, state=UPLOADED, file_id=file_id)
        return self.log.get(record.local_id)

    async def _created(self, record: BatchRecord, *, fresh: bool) -> BatchRecord:
        if record.batch_id:
            return record
        attempts, created_here = 0, False

        async def create() -> Any:
            nonlocal attempts, created_here
            attempts += 1
            if attempts > 1 or not fresh:  # an earlier send may have created it: never create it twice
                found = await self._find_batch(record)
                if found is not None:
                    return found
            batch = await self._sdk.batches.create(
                input_file_id=record.file_id, endpoint=ENDPOINT, completion_window=COMPLETION_WINDOW,
                metadata={METADATA_KEY: record.local_id})
            created_here = True
            return batch

        batch = await self._call(create)
        if created_here:
            self.counts["batches_submitted"] += 1
            self.counts["requests_submitted"] += record.requests
        self.log.update(record.local_id, state=SUBMITTED, batch_id=batch.id, status=batch.status)
        return self.log.get(record.local_id)  # type: ignore[return-value]

    async def _polled(self, record: BatchRecord) -> Any:
        """Poll with back-off until the batch ends; its status and counts are logged as they change."""
        delay, seen = self.spec.batch_poll_s, None
        while True:
            batch = await self._call(lambda: self._sdk.batches.retrieve(record.batch_id))
            counts = _counts(batch)
            if (batch.status, counts) != seen:
                seen = (batch.status, counts)
                self.log.update(record.local_id, status=batch.status, counts=counts)
                if self.on_status:
                    self.on_status(record, batch)
            if batch.status in TERMINAL:
                return batch
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, max(MAX_POLL_S, self.spec.batch_poll_s))

    async def _collect(self, record: BatchRecord, batch: Any) -> None:
        """Read the output and error files into the cache, close the record, answer the waiting requests."""
        output = await self._content(getattr(batch, "output_file_id", None))
        errors = await self._content(getattr(batch, "error_file_id", None))
        logprobs = self.log.keys(record.local_id)
        replies, failures = read_results(output, errors, logprobs, batch.id)
        why_none = batch_errors(batch) or f"the batch ended {batch.status} without a result for this request"
        self.cache.put_many("judgment", replies)
        failed = len(logprobs) - len(replies)
        self.log.update(record.local_id, state=DONE, status=batch.status, counts=_counts(batch),
                        note=f"{len(replies)} replies, {failed} failed" if failed else f"{len(replies)} replies")
        self._batches.pop(record.local_id, None)
        for key in logprobs:
            if key in replies:
                self._resolve([key], replies[key], None)
            else:
                self._resolve([key], None, f"batch {batch.id}: {failures.get(key, why_none)}")

    # -- without a run: ``starling-eval batches resume|cancel`` -----------------------------------------------
    async def resume(self, local_id: str) -> BatchRecord:
        """Take one open batch of the log to its end (its replies into the cache); the record as it ends."""
        self._batches[local_id] = task = asyncio.ensure_future(self._take_to_end(local_id, None))
        await task
        record = self.log.get(local_id)
        assert record is not None
        if record.is_open:  # the API failed for good: why, for the one-line report
            raise BatchAPIError(self.errors.get(local_id, f"still {record.state}"))
        return record

    async def cancel(self, local_id: str) -> BatchRecord:
        """Cancel one open batch at the API (a creation whose reply was lost is found first), then read what it
        finished before it stopped; a batch never created is dropped."""
        record = self.log.get(local_id)
        assert record is not None
        if record.state == "writing":
            record = await self._uploaded(record, None)
            if record is None:
                return self.log.get(local_id)  # type: ignore[return-value]
        batch_id = record.batch_id
        if batch_id is None:
            found = await self._find_batch(record)
            if found is None:
                self.log.update(local_id, state=DROPPED, note="cancelled before the batch was created")
                return self.log.get(local_id)  # type: ignore[return-value]
            batch_id = found.id
            self.log.update(local_id, state=SUBMITTED, batch_id=batch_id, status=found.status)
        batch = await self._call(lambda: self._sdk.batches.retrieve(batch_id))
        if batch.status not in TERMINAL:
            await self._call(lambda: self._sdk.batches.cancel(batch_id))
        return await self.resume(local_id)

    # -- the API -------------------------------------------------------------------------------------------
    async def _call(self, send: Callable[[], Any]) -> Any:
        def on_retry(_error: str, cause: str) -> None:
            self.retries[cause] += 1

        result, error = await call_with_retries(send, self._policy, on_retry, self.health)
        if error is not None:
            raise BatchAPIError(error)
        return result

    async def _content(self, file_id: str | None) -> str:
        if not file_id:
            return ""
        response = await self._call(lambda: self._sdk.files.content(file_id))
        return response.text

    async def _find_file(self, filename: str) -> str | None:
        async def look() -> str | None:
            async for file in self._sdk.files.list(purpose="batch"):
                if file.filename == filename:
                    return file.id
            return None

        return await self._call(look)

    async def _find_batch(self, record: BatchRecord) -> Any:
        async def look() -> Any:
            async for batch in self._sdk.batches.list(limit=100):
                if (batch.metadata or {}).get(METADATA_KEY) == record.local_id or batch.input_file_id == record.file_id:
                    return batch
                if batch.created_at < record.created - CLOCK_SLACK_S:
                    return None  # newest first: the rest are older than this record
            return None

        return await self._call(look)

    # -- answers out ---------------------------------------------------------------------------------------
    def _resolve(self, keys: list[str], reply: dict[str, Any] | None, error: str | None) -> None:
        for key in keys:
            for future in self._waiting.pop(key, []):
                if not future.done():
                    future.set_result((reply, error))

    async def aclose(self) -> None:
        for task in [*self._batches.values(), *([self._flusher] if self._flusher else [])]:
            task.cancel()
        await asyncio.gather(*self._batches.values(), *([self._flusher] if self._flusher else []),
                             return_exceptions=True)
        await self._sdk.close()


def _counts(batch: Any) -> dict[str, int]:
    counts = getattr(batch, "request_counts", None)
    return {name: getattr(counts, name, 0) or 0 for name in ("total", "completed", "failed")}
