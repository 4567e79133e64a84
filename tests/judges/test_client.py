"""The judge client against the local server: retries, Retry-After, backing off on 429, no secrets."""

import asyncio
import time

from starling_eval.judges.client import AdaptiveLimit, JudgeClient
from starling_eval.spec import JudgeRequest, JudgeSpec, Message


def _request(i: int, top_logprobs: int | None = None) -> JudgeRequest:
    return JudgeRequest(id=str(i), messages=(Message(role="user", content=f"question {i}"),), output_format="[[rating]]",
                        top_logprobs=top_logprobs)


def _ask_all(client: JudgeClient, requests):
    async def go():
        try:
            return await asyncio.gather(*(client.ask(r) for r in requests))
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_rate_limits_are_retried_after_the_servers_wait_and_cut_concurrency(server_factory, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-secret-value")
    server = server_factory("--reply", "Rating: [[6]]", "--rate-429", "0.3", "--retry-after", "0.2", "--seed", "4")
    client = JudgeClient(JudgeSpec(model="gpt-4", base_url=server.base_url, api_key_env="MY_JUDGE_KEY", concurrency=16))
    started = time.monotonic()
    results = _ask_all(client, [_request(i) for i in range(40)])
    assert all(error is None and reply["text"] == "Rating: [[6]]" for reply, error in results)
    stats = server.stats()
    assert client.retries["429"] == stats["faults_by_kind"]["429"] > 0 and stats["served"] == 40
    assert client.limit.cuts >= 1 and client.limit.limit < 16
    assert time.monotonic() - started >= 0.2  # waited out Retry-After at least once
    assert "sk-secret-value" not in repr(client.identity())


def test_timeouts_are_retried_then_reported(server_factory):
    server = server_factory("--reply", "[[6]]", "--rate-timeout", "1.0", "--hang-s", "5")
    client = JudgeClient(JudgeSpec(base_url=server.base_url, timeout_s=0.3, max_retries=1))
    ((reply, error),) = _ask_all(client, [_request(0)])
    assert reply is None and "gave up after 2 attempts" in error and "Timeout" in error


def test_logprobs_are_kept_with_the_reply(server_factory):
    server = server_factory("--reply", "m")
    ((reply, error),) = _ask_all(JudgeClient(JudgeSpec(base_url=server.base_url)), [_request(0, top_logprobs=5)])
    assert error is None and reply["logprobs"][0]["token"] == "m" and len(reply["logprobs"][0]["top"]) == 5
    plain = server_factory("--reply", "m", "--no-logprobs")
    ((reply, error),) = _ask_all(JudgeClient(JudgeSpec(base_url=plain.base_url)), [_request(0, top_logprobs=5)])
    assert error is None and reply["logprobs"] is None  # paid for, kept; the verdict parser reports it


def test_adaptive_limit_halves_and_regrows():
    limit = AdaptiveLimit(8, cooldown_s=0.0)
    limit.throttled()
    limit.throttled()
    assert limit.limit == 2 and limit.cuts == 2
    for _ in range(2):
        limit.succeeded()
    assert limit.limit == 3
    for _ in range(100):
        limit.succeeded()
    assert limit.limit == 8


def test_adaptive_limit_bounds_concurrency():
    limit = AdaptiveLimit(3)
    peak = 0

    async def worker():
        nonlocal peak
        async with limit:
            peak = max(peak, limit.in_flight)
            await asyncio.sleep(0.01)

    async def main():
        await asyncio.gather(*(worker() for _ in range(20)))

    asyncio.run(main())
    assert peak == 3 and limit.in_flight == 0


def test_a_caller_cancelled_while_queued_gives_no_slot_away():
    limit = AdaptiveLimit(1)

    async def main():
        async with limit:
            waiter = asyncio.ensure_future(limit.__aenter__())
            await asyncio.sleep(0)
            waiter.cancel()
            await asyncio.sleep(0)
        assert limit.in_flight == 0
        async with limit:
            assert limit.in_flight == 1

    asyncio.run(main())
