"""The OpenAI-compatible backend against the local server: retries, permanent errors, key handling."""

from __future__ import annotations

import asyncio

import pytest

from starling_eval.backends.base import BackendError
from starling_eval.backends.openai_compat import OpenAIChatModel
from starling_eval.spec import Message, ModelSpec, Sampling


def _chats(n):
    return [[Message(role="user", content=f"question {i}")] for i in range(n)]


def test_retries_429_and_500_then_succeeds(server_factory):
    server = server_factory("--rate-limit-every", "2", "--fail-every", "5")
    model = OpenAIChatModel(ModelSpec(backend="openai", name_or_path="m", base_url=server.base_url, concurrency=3))
    out = asyncio.run(model.generate(_chats(8), Sampling(max_new_tokens=50)))
    assert [c.text for c in out] == [f"Echo (turn 1): question {i}" for i in range(8)]
    assert all(c.error is None for c in out) and model.retries == server.stats()["faults"] > 0


def test_gives_up_after_max_retries_with_the_reason(server_factory):
    server = server_factory("--fail-every", "1")
    model = OpenAIChatModel(ModelSpec(backend="openai", name_or_path="m", base_url=server.base_url, max_retries=2))
    out = asyncio.run(model.generate(_chats(2), Sampling()))
    assert all("HTTP 500" in c.error and "gave up after 3 attempts" in c.error for c in out)
    assert server.stats()["requests"] == 6


def test_identity_carries_no_secret(monkeypatch, server_factory):
    monkeypatch.setenv("MY_KEY", "sk-very-secret")
    server = server_factory()
    model = OpenAIChatModel(ModelSpec(backend="openai", name_or_path="m", base_url=server.base_url, api_key_env="MY_KEY"))
    assert "sk-very-secret" not in repr(model.identity()) + repr(model.provenance())


def test_openai_without_key_is_an_input_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match="set OPENAI_API_KEY"):
        OpenAIChatModel(ModelSpec(backend="openai", name_or_path="gpt-4"))


def test_answers_are_stripped_as_the_local_backends_strip_them(server_factory):
    server = server_factory("--reply", "  An answer with spaces around.  \n")
    model = OpenAIChatModel(ModelSpec(backend="openai", name_or_path="m", base_url=server.base_url))
    (completion,) = asyncio.run(model.generate(_chats(1), Sampling(max_new_tokens=50)))
    assert completion.text == "An answer with spaces around."
