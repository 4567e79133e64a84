"""Judging through the Batch API against the local batch server: the same replies under the same cache keys as
interactive calls, split to the limits, failures per request with reasons, and open batches adopted, not resent."""

from __future__ import annotations

import asyncio

from starling_eval.adapters.mtbench import verdicts
from starling_eval.judges.batch_client import BatchJudgeClient
from starling_eval.judges.client import JudgeClient, judge_identity
from starling_eval.judges.runner import judge_all
from starling_eval.spec import JudgeRequest, JudgeSpec, Message
from starling_eval.store.batches import DONE, DROPPED, SUBMITTED, UPLOADED, BatchLog, new_local_id
from starling_eval.store.cache import CallCache


def _requests(n: int, top_logprobs: int | None = None) -> list[JudgeRequest]:
    return [JudgeRequest(id=f"r{i}", messages=(Message(role="user", content=f"judge answer {i}"),),
                         output_format="[[rating]]", verdict_reader=verdicts.__name__, max_tokens=64,
                         top_logprobs=top_logprobs, meta={"item_id": i}) for i in range(n)]


def _judge(requests, spec, cache, client=None, **kw):
    got = []
    connect = (lambda: client) if client is not None else (
        (lambda: BatchJudgeClient(spec, cache, linger_s=0.05)) if spec.batch else (lambda: JudgeClient(spec)))
    tally = asyncio.run(judge_all(requests, judge_identity(spec), connect, cache, on_outcomes=got.extend, **kw))
    return tally, {o.request.id: o for o in got}


def _spec(base_url: str, **kw) -> JudgeSpec:
    return JudgeSpec(model="gpt-4", base_url=base_url, batch=True, batch_poll_s=0.02, **kw)


def test_batch_replies_equal_interactive_ones_under_the_same_cache_keys(tmp_path, batch_server):
    behaviour, batches, url = batch_server(validating_s=0.05, in_progress_s=0.05, finalizing_s=0.05)
    requests = _requests(7)
    cache = CallCache(tmp_path / "batch.sqlite")
    tally, batched = _judge(requests, _spec(url), cache)
    assert batches.stats()["batches_created"] == 1 and batches.stats()["lines_submitted"] == 7
    assert tally.called == 7 and tally.batches == {"batches_submitted": 1, "requests_submitted": 7}
    assert all(o.failure is None and o.reply["batch_id"].startswith("batch_") for o in batched.values())

    interactive_cache = CallCache(tmp_path / "interactive.sqlite")
    _, asked = _judge(requests, _spec(url, ).model_copy(update={"batch": False}), interactive_cache)
    assert {k: (o.verdict, o.key) for k, o in asked.items()} == {k: (o.verdict, o.key) for k, o in batched.items()}

    served = behaviour.stats()["served"]
    tally, again = _judge(requests, _spec(url).model_copy(update={"batch": False}), cache)  # interactive re-run
    assert tally.from_cache == 7 and tally.called == 0 and behaviour.stats()["served"] == served
    assert all(o.reply["batch_id"] for o in again.values())


def test_large_runs_are_split_and_logprob_requests_keep_their_logprobs(tmp_path, batch_server):
    _, batches, url = batch_server()
    cache = CallCache(tmp_path / "c.sqlite")
    tally, out = _judge(_requests(12, top_logprobs=5), _spec(url, batch_size=5), cache)
    assert batches.stats()["batches_created"] == 3 and batches.stats()["duplicate_custom_ids"] == 0
    assert tally.batches["batches_submitted"] == 3 and tally.called == 12
    assert all(o.reply["logprobs"] and len(o.reply["logprobs"][0]["top"]) == 5 for o in out.values())
    assert {r.state for r in BatchLog(cache).records()} == {DONE}


def test_error_lines_and_an_expired_batch_are_per_request_failures_asked_again_next_time(tmp_path, batch_server):
    behaviour, batches, url = batch_server(line_error_every=3)
    cache = CallCache(tmp_path / "c.sqlite")
    tally, out = _judge(_requests(6), _spec(url), cache)
    failed = sorted(k for k, o in out.items() if o.failure)
    assert failed == ["r2", "r5"] and tally.api_failures == 2
    assert out["r2"].failure.startswith("api: batch batch_") and "HTTP 500" in out["r2"].failure

    batches.line_error_every, batches.expire_after = 0, 1
    tally, out = _judge(_requests(6), _spec(url), cache)  # the two failures only, in a new batch that expires
    assert tally.from_cache == 4 and tally.called == 2 and batches.stats()["lines_submitted"] == 8
    assert sum(bool(o.failure) for o in out.values()) == 1
    assert any("batch_expired" in (o.failure or "") for o in out.values())
    # the two failed requests went out again (neither had been run); no completion was paid for twice
    assert batches.stats()["duplicate_custom_ids"] == 2 and behaviour.stats()["duplicate_served"] == 0


def test_a_batch_the_api_refuses_fails_every_request_with_its_reason(tmp_path, batch_server):
    _, _, url = batch_server(max_requests=2)
    tally, out = _judge(_requests(3), _spec(url), CallCache(tmp_path / "c.sqlite"))
    assert tally.api_failures == 3
    assert all("the batch ended failed" not in o.failure and "batch_" in o.failure for o in out.values())


def _orphan(cache, url, keys, state, **fields):
    """A batch record as a process killed mid-way left it."""
    log = BatchLog(cache)
    local_id = new_local_id()
    log.begin(local_id, "gpt-4", url, "OPENAI_API_KEY", dict.fromkeys(keys, False))
    if fields:
        log.update(local_id, state=state, **fields)
    return local_id


def test_open_batches_are_adopted_by_the_next_run_and_never_submitted_twice(tmp_path, batch_server):
    from openai import OpenAI

    from starling_eval.judges.batch_files import input_line
    from starling_eval.judges.client import request_body
    from starling_eval.judges.outcomes import judge_key

    _, batches, url = batch_server()
    spec, cache, requests = _spec(url), CallCache(tmp_path / "c.sqlite"), _requests(8)
    keys = [judge_key(judge_identity(spec), r) for r in requests]
    sdk = OpenAI(base_url=url, api_key="x", max_retries=0)

    def upload(local_id, pairs):
        data = b"".join(input_line(k, request_body("gpt-4", r)) for k, r in pairs)
        return sdk.files.create(file=(f"starling-eval-{local_id}.jsonl", data), purpose="batch").id

    # 1. killed after the upload reached the API, before its reply: found by name, created once
    a = _orphan(cache, url, keys[0:2], "writing")
    upload(a, zip(keys[0:2], requests[0:2], strict=True))
    # 2. killed after the creation reached the API, before its reply: found by metadata, polled
    b = _orphan(cache, url, keys[2:4], UPLOADED, file_id=(f := upload("b", zip(keys[2:4], requests[2:4], strict=True))))
    sdk.batches.create(input_file_id=f, endpoint="/v1/chat/completions", completion_window="24h",
                       metadata={"starling_eval_batch": b})
    # 3. killed while polling: the batch id is known
    file_c = upload("c", zip(keys[4:6], requests[4:6], strict=True))
    c_batch = sdk.batches.create(input_file_id=file_c, endpoint="/v1/chat/completions", completion_window="24h")
    c = _orphan(cache, url, keys[4:6], SUBMITTED, file_id=file_c, batch_id=c_batch.id)
    # 4. killed before its upload reached the API: dropped, its requests go in a new batch
    d = _orphan(cache, url, keys[6:8], "writing")
    created = batches.stats()["batches_created"]

    tally, out = _judge(requests, spec, cache)
    assert all(o.failure is None for o in out.values()), [o.failure for o in out.values()]
    assert tally.batches == {"batches_adopted": 4, "batches_submitted": 2, "requests_submitted": 4}
    assert batches.stats()["batches_created"] == created + 2  # a's and d's new one; b and c were not created again
    assert batches.stats()["duplicate_custom_ids"] == 0
    log = BatchLog(cache)
    assert [log.get(x).state for x in (a, b, c, d)] == [DONE, DONE, DONE, DROPPED]
