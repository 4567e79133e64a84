"""Judging inside a run: the benchmark's requests, the run's ``judgments.jsonl``, and judging that starts while
the model is still answering.

``judge_into`` judges a list known in full (answer files, or after generation). ``JudgingAlongside`` judges
what a sample's answers allow the moment they exist (MT-Bench's turn-1 judgment once turn 1 is answered, the
turn-2 one once turn 2 is), in the generation's own event loop, through one
:class:`~starling_eval.judges.runner.JudgeStream`: a run against a served model and an API judge then takes
about as long as the longer of the two, not their sum. Samples are gathered for a moment and their requests
built together, because building reads the benchmark's judge files: the wait is ``GATHER_S``, or longer where
building takes longer, so that building never takes more than ``BUILD_SHARE`` of the time.
The full request list is built again once generation ends, and what was not yet sent (answers that came from
the run's own file at a resume) is sent then; the file is rewritten in benchmark order at the end either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from starling_eval.adapters.base import Sample
from starling_eval.judges.client import JudgeClient, judge_identity
from starling_eval.judges.runner import JudgeOutcome, JudgeStream, JudgeTally, judge_all, mark_seen, newest_attempts
from starling_eval.pipeline.common import Prepared, Progress
from starling_eval.spec import JudgeRequest, JudgeSpec
from starling_eval.store.files import append_jsonl, read_jsonl, repair_jsonl, write_jsonl_atomic

# answered samples wait this long, at least, to have their judge requests built together; at most a tenth of
# the time goes to building them (AlpacaEval's reads its reference outputs each time: ~10 ms)
GATHER_S = 0.02
BUILD_SHARE = 0.1


def judge_requests(prep: Prepared, answers: Mapping[str, Any], judge: JudgeSpec) -> tuple[list[JudgeRequest], list[dict]]:
    """The benchmark's judge requests, capped at --judge-max-tokens: the cap is in each request's cache key, so
    a capped judgment is never taken for an uncapped one."""
    requests, missing = prep.bench.judge_requests(prep.data, prep.samples, answers, judge)
    if judge.max_tokens is not None:
        requests = [r.model_copy(update={"max_tokens": judge.max_tokens}) for r in requests]
    return requests, missing


def judge_into(judge: JudgeSpec, path: Path, cache: Any, requests: list[JudgeRequest], missing: list[dict], *,
               retry_failed: bool = False, progress: Progress | None = None,
               judge_client: Any = None) -> tuple[list[dict], JudgeTally]:
    """Judge through the cache, appending each stored batch to ``path`` (a judgments.jsonl); rewrite it
    ordered at the end. ``judge_client`` replaces the API client (tests), or is the RM of a reward-model judge."""
    file = JudgmentsFile(path)
    identity, connect = judge_identity(judge), judge_connector(judge, cache, judge_client, progress)
    if judge.reward_model is not None:
        from starling_eval.pipeline import reward_judge

        rm = judge_client or _reward_model(judge.reward_model)
        requests = reward_judge.reward_requests(requests)
        identity = reward_judge.judge_identity(rm)

        def connect() -> Any:
            return reward_judge.RewardJudge(rm, requests, cache, progress=progress)

    async def work() -> JudgeTally:
        return await judge_all(requests, identity, connect, cache, attempts=file.attempts,
                               retry_failed=retry_failed, on_outcomes=file.on_outcomes, progress=judge_progress(progress))

    tally = asyncio.run(work())
    return file.finish(requests, missing), tally


class JudgmentsFile:
    """A run's ``judgments.jsonl`` while judging: rows appended as each stored batch comes back; rewritten once
    at the end, one row per request in benchmark order. The newest attempt per request is read back first, so a
    re-asked judgment is found again after a restart."""

    def __init__(self, path: Path):
        self.path = path
        repair_jsonl(path)
        self.attempts = newest_attempts(read_jsonl(path))
        self.rows_by_id: dict[str, dict] = {}

    def on_outcomes(self, batch: list[JudgeOutcome]) -> None:
        rows = [o.row() for o in batch]
        append_jsonl(self.path, rows)
        self.rows_by_id.update((r["id"], r) for r in rows)

    def finish(self, requests: list[JudgeRequest], missing: list[dict]) -> list[dict]:
        rows = [self.rows_by_id[r.id] for r in requests] + missing
        write_jsonl_atomic(self.path, rows)
        return rows


def judge_connector(judge: JudgeSpec, cache: Any, judge_client: Any = None,
                    progress: Progress | None = None) -> Callable[[], Any]:
    """What makes the judge's client, once something is not cached: ``judge_client`` (tests), the Batch-API
    client for --judge-batch, or the interactive one."""
    def connect() -> Any:
        if judge_client is not None:
            return judge_client
        if judge.batch:
            from starling_eval.judges.batch_client import BatchJudgeClient

            return BatchJudgeClient(judge, cache, on_status=batch_status_reporter(progress))
        return JudgeClient(judge)

    return connect


def batch_status_reporter(progress: Progress | None) -> Any:
    """A batch's progress as its own bar: ``batch <id>``, requests finished of its total."""
    if progress is None:
        return None

    def report(record: Any, batch: Any) -> None:
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts else 0
        total = counts.total if counts else record.requests
        progress(f"batch {batch.id}", done, total or record.requests)

    return report


def judge_progress(progress: Progress | None) -> Any:
    def report(done: int, total: int) -> None:
        if progress:
            progress("judge", done, total)

    return report


def _reward_model(spec: Any) -> Any:
    from starling_eval.backends.reward import HFRewardModel

    return HFRewardModel(spec)



class JudgingAlongside:
    """Judge each request as soon as the answers it needs exist, while generation goes on.

    ``answered`` is the generation's ``on_answered`` hook, ``around`` its ``alongside``: the judging session
    opens before the first answer and closes (every call answered and stored) after the last. An API judge
    only: a reward-model judge scores conversations in batches of its own (``judge_into``)."""

    def __init__(self, prep: Prepared, label: str, judge: JudgeSpec, path: Path, cache: Any, *,
                 retry_failed: bool = False, progress: Progress | None = None, judge_client: Any = None):
        self.prep, self.label, self.judge, self.cache = prep, label, judge, cache
        self.file = JudgmentsFile(path)
        self.stream = JudgeStream(judge_identity(judge), judge_connector(judge, cache, judge_client, progress), cache,
                                  attempts=self.file.attempts, retry_failed=retry_failed,
                                  on_outcomes=self.file.on_outcomes, progress=judge_progress(progress))
        self.waiting: dict[str, list[str]] = {}  # samples with new answers, their requests not built yet
        self.sent: dict[str, JudgeRequest] = {}  # requests submitted, by id
        self.flush_handle: asyncio.TimerHandle | None = None
        self.requests: list[JudgeRequest] = []
        self.missing: list[dict] = []
        self.judge_s = 0.0
        self.started: float | None = None
        self.gather_s = GATHER_S
        self.error: BaseException | None = None  # what stopped judging (it stops generation too)
        self.generation: asyncio.Task | None = None

    def answered(self, sample: Sample, answers: list[str]) -> None:
        """A turn of ``sample`` is answered (``answers``: its turns so far); what they allow is judged soon."""
        self.waiting[sample.id] = answers
        if self.flush_handle is None:
            self.flush_handle = asyncio.get_running_loop().call_later(self.gather_s, self._flush)

    def _flush(self) -> None:
        self.flush_handle = None
        if not self.waiting:
            return
        answered, self.waiting = self.waiting, {}
        subset = dataclasses.replace(self.prep, samples=[s for s in self.prep.samples if s.id in answered])
        built = time.perf_counter()
        requests, _ = judge_requests(subset, {self.label: answered}, self.judge)
        self.gather_s = max(GATHER_S, (time.perf_counter() - built) / BUILD_SHARE)
        try:
            self._submit(requests)
        except Exception as exc:  # a timer callback must not raise (the loop would only log it): stop the run
            self.error = exc
            if self.generation is not None:
                self.generation.cancel()

    def _submit(self, requests: list[JudgeRequest]) -> None:
        new = [r for r in requests if r.id not in self.sent]
        if new:
            self.started = self.started or time.time()
            self.sent.update((r.id, r) for r in new)
            self.stream.submit(new)

    async def around(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Generation (``work``) with the judging session open around it; after the last answer, every request
        of the run (built from all answers) that was not sent yet is sent, and the session is finished."""
        try:
            async with self.stream:
                self.generation = asyncio.ensure_future(work)
                self.generation.add_done_callback(mark_seen)  # a signal stored in it: no asyncio log
                try:
                    result = await self.generation
                except asyncio.CancelledError:
                    if self.error is None:
                        raise
                if self.error is not None:
                    raise self.error
                if self.flush_handle is not None:
                    self.flush_handle.cancel()
                    self.flush_handle = None
                self._flush()
                answers = result[0]
                self.requests, self.missing = judge_requests(self.prep, {self.label: answers}, self.judge)
                early = next((r.id for r in self.requests if r.id in self.sent and self.sent[r.id] != r), None)
                if early is not None:  # a benchmark whose requests depend on more than their own answers
                    raise RuntimeError(f"judge request {early} was sent before all the answers it depends on")
                self._submit(self.requests)
        finally:
            if self.flush_handle is not None:
                self.flush_handle.cancel()
            self.judge_s = time.time() - self.started if self.started else 0.0
        return result

    @property
    def tally(self) -> JudgeTally:
        return self.stream.tally

    def rows(self) -> list[dict]:
        return self.file.finish(self.requests, self.missing)
