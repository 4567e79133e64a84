"""The local judge stand-in: scripted and seeded verdicts, logprobs, faults at rates, and its stats."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.request

import openai
import pytest
from openai import OpenAI

from starling_eval.testing.server import UNPARSABLE_REPLY, Behaviour, _wait_unless_client_leaves, serve, tokenize

RATING = re.compile(r"\[\[(\d+)\]\]")
PAIR = re.compile(r"\[\[([ABC])\]\]$")


def _client(base_url: str, timeout: float = 5.0) -> OpenAI:
    return OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=timeout)


@pytest.fixture()
def local():
    """Start an in-process server for a Behaviour built from keywords; returns (behaviour, client, base_url)."""
    servers = []

    def start(**kwargs):
        behaviour = Behaviour(**kwargs)
        server = serve(behaviour=behaviour)
        servers.append(server)
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return behaviour, _client(base_url), base_url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def ask(client: OpenAI, content: str, **kwargs):
    return client.chat.completions.create(model="judge", messages=[{"role": "user", "content": content}], **kwargs)


def text_of(client: OpenAI, content: str, **kwargs) -> str:
    return ask(client, content, **kwargs).choices[0].message.content


def http(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read())


# -- replies -------------------------------------------------------------------------------------------------


def test_fixed_reply_from_the_cli(server_factory):
    server = server_factory("--reply", "Rating: [[9]]")
    client = _client(server.base_url)
    assert [text_of(client, q) for q in ("one", "two")] == ["Rating: [[9]]", "Rating: [[9]]"]


def test_precedence_rule_then_reply_fn_then_fixed_reply(local):
    _, client, _ = local(script=[{"match": "^special", "reply": "from the rule"}],
                         reply_fn=lambda messages: f"fn saw {len(messages)}: {messages[-1]['content']}",
                         reply="fixed", random_verdicts="single")
    assert text_of(client, "special question") == "from the rule"
    assert text_of(client, "ordinary question") == "fn saw 1: ordinary question"
    _, client, _ = local(reply="fixed", random_verdicts="single")
    assert text_of(client, "ordinary question") == "fixed"
    _, client, _ = local()
    assert text_of(client, "hello") == "Echo (turn 1): hello"


def test_reply_fn_from_the_cli_gets_the_messages(server_factory):
    server = server_factory("--reply-fn", "json:dumps")
    assert json.loads(text_of(_client(server.base_url), "judge this")) == [{"role": "user", "content": "judge this"}]


def test_random_single_verdicts_repeat_per_prompt_and_vary_across_prompts_and_seeds(server_factory):
    server = server_factory("--random-verdicts", "single", "--seed", "7")
    client = _client(server.base_url)
    prompts = [f"Rate answer {i}" for i in range(12)]
    first = [text_of(client, p) for p in prompts]
    ratings = [int(RATING.search(t).group(1)) for t in first]
    assert all(1 <= r <= 10 for r in ratings) and len(set(ratings)) > 3
    assert [text_of(client, p) for p in reversed(prompts)] == first[::-1]  # re-asked: same verdicts
    in_process = Behaviour(random_verdicts="single", seed=7)
    assert [in_process.reply_for([{"role": "user", "content": p}]) for p in prompts] == first
    other_seed = Behaviour(random_verdicts="single", seed=8)
    assert [other_seed.reply_for([{"role": "user", "content": p}]) for p in prompts] != first


def test_random_pair_verdicts_end_in_a_b_or_c(local):
    _, client, _ = local(random_verdicts="pair", seed=1)
    verdicts = [PAIR.search(text_of(client, f"Compare pair {i}")).group(1) for i in range(30)]
    assert set(verdicts) == {"A", "B", "C"}
    assert PAIR.search(text_of(client, "Compare pair 3")).group(1) == verdicts[3]


# -- logprobs ------------------------------------------------------------------------------------------------


def test_logprobs_have_one_entry_per_token_and_the_asked_number_of_alternatives(local):
    _, client, _ = local(reply="The answer is fine. Rating: [[8]]")
    choice = ask(client, "q", logprobs=True, top_logprobs=3).choices[0]
    content = choice.logprobs.content
    assert [e.token for e in content] == tokenize(choice.message.content)
    assert "".join(e.token for e in content) == choice.message.content
    for entry in content:
        assert entry.bytes == list(entry.token.encode()) and entry.logprob <= 0
        assert len(entry.top_logprobs) == 3 and entry.top_logprobs[0].token == entry.token
        assert [t.logprob for t in entry.top_logprobs] == sorted((t.logprob for t in entry.top_logprobs), reverse=True)
    assert all(e.top_logprobs == [] for e in ask(client, "q", logprobs=True).choices[0].logprobs.content)
    assert ask(client, "q").choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError):
        ask(client, "q", logprobs=True, top_logprobs=21)


def test_rule_logprobs_become_the_first_tokens_alternatives(local):
    _, client, _ = local(script=[{"match": "Which output", "top_logprobs": {"M": -1.8, "m": -0.2}}])
    choice = ask(client, "Which output is better?", logprobs=True, top_logprobs=5).choices[0]
    assert choice.message.content == "m"
    first = choice.logprobs.content[0]
    assert (first.token, first.logprob) == ("m", -0.2)
    assert [(t.token, t.logprob) for t in first.top_logprobs[:2]] == [("m", -0.2), ("M", -1.8)]
    assert len(first.top_logprobs) == 5 and all(t.logprob < -1.8 for t in first.top_logprobs[2:])
    short = ask(client, "Which output?", logprobs=True, top_logprobs=1).choices[0].logprobs.content[0]
    assert [t.token for t in short.top_logprobs] == ["m"]


def test_no_logprobs_answers_null_even_when_asked(server_factory):
    server = server_factory("--reply", "[[A]]", "--no-logprobs")
    choice = ask(_client(server.base_url), "q", logprobs=True, top_logprobs=2).choices[0]
    assert choice.message.content == "[[A]]" and choice.logprobs is None


# -- faults --------------------------------------------------------------------------------------------------


def test_rate_429_carries_retry_after_from_the_cli(server_factory):
    server = server_factory("--rate-429", "1.0", "--retry-after", "3")
    with pytest.raises(openai.RateLimitError) as caught:
        ask(_client(server.base_url), "q")
    assert caught.value.response.headers["retry-after"] == "3"
    stats = server.stats()
    assert stats["faults"] == 1 and stats["faults_by_kind"] == {"429": 1, "500": 0, "timeout": 0, "malformed": 0}
    assert stats["served"] == 0


def test_rate_500(local):
    behaviour, client, _ = local(rate_500=1.0)
    with pytest.raises(openai.InternalServerError):
        ask(client, "q")
    assert behaviour.stats()["faults_by_kind"]["500"] == 1


def test_rate_timeout_times_the_client_out_without_blocking_other_requests(server_factory):
    server = server_factory("--rate-timeout", "1.0", "--hang-s", "30")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(_client(server.base_url, timeout=0.5), "q")
    assert time.monotonic() - started < 5
    outcome = []

    def hang():
        try:
            ask(_client(server.base_url, timeout=1), "q")
        except openai.APITimeoutError as exc:
            outcome.append(exc)

    hung = threading.Thread(target=hang)
    hung.start()
    time.sleep(0.2)
    started = time.monotonic()
    stats = server.stats()  # answered while a request hangs
    assert time.monotonic() - started < 1
    assert stats["faults_by_kind"]["timeout"] == 2 and stats["served"] == 0
    hung.join()
    assert len(outcome) == 1


def test_a_hang_ends_as_soon_as_the_client_hangs_up():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        assert _wait_unless_client_leaves(ours, 0.2) is True  # the client stayed: the full hang
        assert time.monotonic() - started >= 0.2
        threading.Timer(0.1, theirs.close).start()
        started = time.monotonic()
        assert _wait_unless_client_leaves(ours, 30) is False  # the handler thread is freed, not held 30 s
        assert time.monotonic() - started < 2


def test_a_short_hang_answers_500(local):
    _, client, _ = local(rate_timeout=1.0, hang_s=0.2)
    with pytest.raises(openai.InternalServerError):
        ask(client, "q")


def test_unparsable_replies_are_served_and_counted(local):
    behaviour, client, _ = local(random_verdicts="single", rate_unparsable=1.0)
    text = text_of(client, "Rate this")
    assert text == UNPARSABLE_REPLY and not RATING.search(text)
    stats = behaviour.stats()
    assert (stats["served"], stats["unparsable"], stats["faults"]) == (1, 1, 0)


def test_rate_faults_are_exclusive_and_repeat_with_the_seed():
    def kinds(seed):
        b = Behaviour(seed=seed, rate_429=0.2, rate_500=0.2, rate_timeout=0.2, rate_unparsable=0.2)
        return [b.begin_request()[1] for _ in range(60)]

    assert kinds(3) == kinds(3) != kinds(4)
    assert set(kinds(3)) == {None, "429", "500", "timeout", "unparsable"}
    with pytest.raises(ValueError):
        Behaviour(rate_429=0.6, rate_500=0.6)


def test_every_nth_faults_still_work_and_count_by_kind(local):
    behaviour, client, _ = local(rate_limit_every=2, fail_every=3)
    outcomes = []
    for i in range(6):
        try:
            ask(client, f"q{i}")
            outcomes.append("ok")
        except openai.APIStatusError as exc:
            outcomes.append(exc.status_code)
    assert outcomes == ["ok", 429, 500, 429, "ok", 429]
    stats = behaviour.stats()
    assert stats["faults"] == 4 and stats["faults_by_kind"] == {"429": 3, "500": 1, "timeout": 0, "malformed": 0}


# -- stats ---------------------------------------------------------------------------------------------------


def test_duplicates_tokens_and_reset(local):
    behaviour, client, base_url = local(reply="Rating: [[5]]")
    ask(client, "same question")
    ask(client, "same question")
    ask(client, "same question", temperature=0.7)  # a different request, not a duplicate
    stats = http(f"{base_url}/stats")
    assert stats == behaviour.stats()
    assert (stats["requests"], stats["served"], stats["distinct_served"], stats["duplicate_served"]) == (3, 3, 2, 1)
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (6, 6)
    zero = {"requests": 0, "served": 0, "faults": 0, "faults_by_kind": {"429": 0, "500": 0, "timeout": 0, "malformed": 0},
            "unparsable": 0, "abandoned": 0, "distinct_served": 0, "duplicate_served": 0, "prompt_tokens": 0, "completion_tokens": 0}
    assert http(f"{base_url}/stats/reset", "POST") == zero == behaviour.stats()
    ask(client, "same question")
    assert behaviour.stats()["duplicate_served"] == 0  # the reset forgot what was paid
    assert http(f"{base_url}/stats", "DELETE") == zero


def test_cli_stats_reset(server_factory):
    server = server_factory()
    ask(_client(server.base_url), "q")
    assert server.stats()["served"] == 1
    http(f"{server.base_url}/stats/reset", "POST")
    assert server.stats()["served"] == 0


def test_a_client_that_hangs_up_during_the_latency_is_not_billed():
    import socket

    behaviour = Behaviour(latency_ms=300, reply="[[5]]")
    server = serve(behaviour=behaviour)
    try:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
        sock = socket.create_connection(("127.0.0.1", server.server_address[1]))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.05)
        sock.close()  # like a kill -9 of the client mid-call
        time.sleep(0.4)
        stats = behaviour.stats()
        assert (stats["requests"], stats["served"], stats["abandoned"]) == (1, 0, 1)
    finally:
        server.shutdown()
