"""The judge client against the local server: retries, Retry-After, backing off on 429, no secrets."""

import asyncio
import json
import socket
import time

import pytest

from starling_eval.backends.retry import EndpointHealth, EndpointUnreachable, timeout_for
from starling_eval.judges.client import AdaptiveLimit, JudgeClient
from starling_eval.spec import JudgeRequest, JudgeSpec, Message
from tests.fault_server import RawFaultServer, completion, http


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


# -- hardening: malformed replies, unreachable endpoints, client timeouts ---------------------------------------

def test_every_kind_of_malformed_reply_is_retried_then_succeeds(server_factory):
    """HTTP 200 bodies that are no chat completion (a proxy's HTML page, invalid or truncated JSON, no choices,
    empty content, wrong types) are faults like a 5xx: retried, counted, never an exception out of ``ask``."""
    server = server_factory("--reply", "Rating: [[6]]", "--rate-malformed", "0.5", "--seed", "2")
    client = JudgeClient(JudgeSpec(base_url=server.base_url, max_retries=12, concurrency=4))
    results = _ask_all(client, [_request(i) for i in range(24)])
    stats = server.stats()
    assert all(error is None and reply["text"] == "Rating: [[6]]" for reply, error in results)
    assert stats["faults_by_kind"]["malformed"] >= 6  # every kind came up (they are served in turn)
    dropped = client.retries.get("dropped", 0)  # a truncated body is a dropped connection
    assert client.retries["malformed"] + dropped == stats["faults_by_kind"]["malformed"] and dropped >= 1


def test_a_judge_that_only_sends_malformed_replies_is_a_recorded_failure(server_factory):
    server = server_factory("--reply", "[[6]]", "--rate-malformed", "1.0", "--malformed", "html")
    client = JudgeClient(JudgeSpec(base_url=server.base_url, max_retries=2))
    ((reply, error),) = _ask_all(client, [_request(0)])
    assert reply is None and error.startswith("malformed reply") and "gave up after 3 attempts" in error


@pytest.mark.parametrize("raw", [
    http("200 OK", "text/html", b"<html><body>502 Bad Gateway</body></html>"),
    http("200 OK", "application/json", b'{"choices": [{"mess'),
    http("200 OK", "application/json", b'{"choices": [{"mess', length=500, close=True),
    http("200 OK", "application/json", json.dumps({"choices": "none", "usage": "n/a"}).encode()),
], ids=["html", "bad-json", "truncated", "wrong-types"])
def test_malformed_bodies_from_an_independent_server(raw):
    server = RawFaultServer([raw, raw, completion("Rating: [[4]]")])  # two bad replies, then a good one
    try:
        client = JudgeClient(JudgeSpec(base_url=server.base_url, max_retries=3))
        ((reply, error),) = _ask_all(client, [_request(0)])
    finally:
        server.close()
    assert error is None and reply["text"] == "Rating: [[4]]" and server.requests == 3
    assert sum(client.retries.values()) == 2


def test_an_endpoint_that_refuses_connections_stops_within_seconds():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    client = JudgeClient(JudgeSpec(base_url=f"http://127.0.0.1:{port}/v1", max_retries=8))
    started = time.monotonic()
    with pytest.raises(EndpointUnreachable, match=f"127.0.0.1:{port}/v1: unreachable"):
        _ask_all(client, [_request(i) for i in range(5)])
    assert time.monotonic() - started < 10


def test_an_endpoint_that_answered_before_keeps_its_retries():
    health = EndpointHealth("http://x/v1", threshold=2)
    health.answer()
    for _ in range(5):
        health.connection_failed("refused")  # no EndpointUnreachable: it may be restarting
    fresh = EndpointHealth("http://x/v1", threshold=2)
    fresh.connection_failed("refused")
    with pytest.raises(EndpointUnreachable):
        fresh.connection_failed("refused")


def test_a_client_timeout_is_re_sent_once_and_counted_as_possibly_billed_twice(server_factory):
    server = server_factory("--reply", "[[6]]", "--latency-ms", "2000")
    client = JudgeClient(JudgeSpec(base_url=server.base_url, timeout_s=0.3, max_retries=8))
    started = time.monotonic()
    results = _ask_all(client, [_request(i) for i in range(3)])
    assert all(reply is None and "timed out 2 times; not re-sent again" in error for reply, error in results)
    assert client.possibly_billed_twice == 3 and client.retries["timeout"] == 3
    assert time.monotonic() - started < 5  # not 9 attempts per call
    time.sleep(0.5)
    assert server.stats()["requests"] == 6  # each sent twice, never more


def test_the_default_timeout_fits_the_longest_reply():
    assert timeout_for(2048) >= 2048 / 8 and timeout_for(16) >= 60  # a slow server's long judgment is waited for
    assert timeout_for(2048, 5.0) == 5.0
