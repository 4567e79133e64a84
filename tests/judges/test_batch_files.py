"""Batch-API files: request lines keyed by cache key, split to the limits, and every result line accounted for."""

from __future__ import annotations

import json

import pytest

from starling_eval.judges.batch_files import BatchLimits, batch_errors, input_line, read_results, split


def _completion(text: str, logprobs: bool = False) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
              "logprobs": {"content": [{"token": "A", "logprob": -0.1, "bytes": None,
                                        "top_logprobs": [{"token": "A", "logprob": -0.1, "bytes": None}]}]}
              if logprobs else None}
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [choice],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


def _ok(key: str, body: dict) -> str:
    return json.dumps({"id": "r", "custom_id": key, "response": {"status_code": 200, "request_id": "q", "body": body},
                       "error": None})


def test_input_lines_name_the_cache_key_and_the_chat_endpoint():
    line = json.loads(input_line("k" * 64, {"model": "gpt-4", "messages": []}))
    assert line == {"custom_id": "k" * 64, "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4", "messages": []}}


def test_split_keeps_each_batch_within_the_request_and_byte_limits():
    lines = [(f"k{i}", b"x" * 10 + b"\n") for i in range(25)]
    assert [len(c) for c in split(lines, BatchLimits(max_requests=10))] == [10, 10, 5]
    chunks = split(lines, BatchLimits(max_bytes=50))  # 11-byte lines: 4 per file
    assert [len(c) for c in chunks] == [4] * 6 + [1]
    assert [k for c in chunks for k, _ in c] == [k for k, _ in lines]
    with pytest.raises(ValueError, match="over the Batch API's file limit"):
        split([("big", b"x" * 100)], BatchLimits(max_bytes=50))


def test_results_become_stored_replies_or_failures_with_their_reasons():
    output = "\n".join([
        _ok("good", _completion("Rating: [[8]]")),
        _ok("lp", _completion("A", logprobs=True)),
        _ok("bad-body", {"choices": "none"}),
        "not json at all",
    ])
    errors = "\n".join([
        json.dumps({"id": "r", "custom_id": "e500", "response": {"status_code": 500, "request_id": "q",
                                                                 "body": {"error": {"message": "boom"}}}, "error": None}),
        json.dumps({"id": "r", "custom_id": "late", "response": None,
                    "error": {"code": "batch_expired", "message": "not run in time"}}),
    ])
    keys = {"good": False, "lp": True, "bad-body": False, "e500": False, "late": False, "never": False}
    replies, failures = read_results(output, errors, keys, "batch_1")
    assert set(replies) == {"good", "lp"}
    assert replies["good"] == {"text": "Rating: [[8]]", "finish_reason": "stop", "prompt_tokens": 7,
                               "completion_tokens": 3, "logprobs": None, "batch_id": "batch_1"}
    assert replies["lp"]["logprobs"][0]["top"] == [{"token": "A", "logprob": -0.1}]
    assert failures["bad-body"].startswith("malformed reply")
    assert failures["e500"] == "HTTP 500: boom"
    assert failures["late"] == "batch_expired: not run in time"
    assert "never" not in replies and "never" not in failures  # the caller reports keys with no line at all


def test_a_failed_batch_names_its_own_errors():
    class E:
        def __init__(self, code, message, line):
            self.code, self.message, self.line = code, message, line

    class Errors:
        data = [E("invalid_request", "bad url", 3)]

    class Batch:
        errors = Errors()

    assert batch_errors(Batch()) == "invalid_request: bad url (line 3)"
    assert batch_errors(object()) is None
