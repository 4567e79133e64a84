"""The judge's HTTP side: one async OpenAI-compatible client with a concurrency limit that backs off.

Every attempt holds a slot of an :class:`AdaptiveLimit` only while it is on the wire: sleeping out a
Retry-After holds none. A 429 halves the limit (at most once a second, so one burst of refusals is one
cut) and successes grow it back one slot at a time, so a judge that is being throttled is asked less
often instead of being hammered by 32 retrying callers. Retries, jitter and Retry-After come from
``backends.retry`` through ``call_with_retries``; a call that fails for good returns its reason. The API
key stays inside the SDK client: it is in no identity, reply or error text.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, deque
from typing import Any

from starling_eval.backends.base import BackendError
from starling_eval.backends.openai_compat import (
    MalformedReply,
    call_with_retries,
    completion_text,
    endpoint_url,
    make_async_client,
    request_timeout,
    usage_tokens,
)
from starling_eval.backends.retry import EndpointHealth, RetryPolicy, timeout_for
from starling_eval.spec import JudgeRequest, JudgeSpec


class AdaptiveLimit:
    """At most ``limit`` holders at once; :meth:`throttled` halves the limit, :meth:`succeeded` regrows it.

    A semaphore whose size moves. Entering is a counter check when a slot is free (the common case costs
    no lock and no task switch); otherwise the caller queues a future that a releasing holder grants."""

    def __init__(self, maximum: int, cooldown_s: float = 1.0):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self.cuts = 0
        self._cooldown_s = cooldown_s
        self._last_cut = float("-inf")
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> AdaptiveLimit:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return self
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            await granted  # the slot is counted by whoever granted it
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # granted just as we were cancelled: hand the slot on
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        self.in_flight -= 1
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip callers cancelled while queued
                self.in_flight += 1
                waiter.set_result(None)

    def throttled(self) -> None:
        now = time.monotonic()
        if now - self._last_cut >= self._cooldown_s and self.limit > 1:
            self.limit = max(1, self.limit // 2)
            self.cuts += 1
            self._last_cut = now
        self._successes = 0

    def succeeded(self) -> None:
        if self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._grant()


def check_api_key(spec: JudgeSpec) -> None:
    """Fail before any work when OpenAI's own API is the judge and no key is set (a local endpoint needs none)."""
    if spec.base_url is None and not os.environ.get(spec.api_key_env):
        raise BackendError(f"no judge API key: set {spec.api_key_env} (or name another variable with "
                           "--judge-api-key-env), or give --judge-base-url")


def judge_identity(spec: JudgeSpec) -> dict[str, Any]:
    """What the cache keys on: the judge model and where it is served (never the key)."""
    return {"judge": spec.model, "base_url": spec.base_url or "api.openai.com"}


class JudgeClient:
    """Asks one judge model; :meth:`ask` returns ``(reply, None)`` or ``(None, reason)``."""

    def __init__(self, spec: JudgeSpec):
        self.spec = spec
        self._client = make_async_client(spec.base_url, spec.api_key_env, spec.timeout_s)
        self._policy = RetryPolicy(max_retries=spec.max_retries, timeout_retries=spec.timeout_retries)
        self.limit = AdaptiveLimit(spec.concurrency)
        self.health = EndpointHealth(endpoint_url(spec.base_url))
        self.retries: Counter[str] = Counter()  # by cause: "429", "500", "timeout", "malformed", ...
        self.possibly_billed_twice = 0  # re-sends after a client-side timeout: the first may have been billed

    def identity(self) -> dict[str, Any]:
        return judge_identity(self.spec)

    async def ask(self, request: JudgeRequest) -> tuple[dict[str, Any] | None, str | None]:
        body = request_body(self.spec.model, request)
        timeout = request_timeout(timeout_for(request.max_tokens, self.spec.timeout_s))

        async def send() -> dict[str, Any]:
            async with self.limit:
                response = await self._client.chat.completions.create(**body, timeout=timeout)
            reply = stored_reply(response, request.top_logprobs is not None)  # MalformedReply: retried like a 5xx
            self.limit.succeeded()
            return reply

        def on_retry(_error: str, cause: str) -> None:
            self.retries[cause] += 1
            self.possibly_billed_twice += cause == "timeout"
            if cause == "429":
                self.limit.throttled()

        return await call_with_retries(send, self._policy, on_retry, self.health)

    async def aclose(self) -> None:
        await self._client.close()


def request_body(model: str, request: JudgeRequest) -> dict[str, Any]:
    """The chat-completion body of a judge request: sent as is, or as one line of a Batch-API input file."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "n": 1,
    }
    if request.top_logprobs is not None:
        body["logprobs"] = True
        body["top_logprobs"] = request.top_logprobs
    return body


def stored_reply(response: Any, logprobs: bool) -> dict[str, Any]:
    """The stored form of a judge's reply (``logprobs``: the request asked for them); MalformedReply when the
    body is not a usable chat completion."""
    choice, text = completion_text(response, allow_empty=False)  # an empty judgment holds no verdict to parse
    prompt_tokens, completion_tokens = usage_tokens(response)
    reply: dict[str, Any] = {
        "text": text,
        "finish_reason": getattr(choice, "finish_reason", None),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "logprobs": None,
    }
    if logprobs:
        # kept even without logprobs: the call was paid for, and the verdict parser reports what is missing
        content = getattr(choice.logprobs, "content", None) if getattr(choice, "logprobs", None) is not None else None
        try:
            reply["logprobs"] = content and [
                {"token": t.token, "logprob": t.logprob,
                 "top": [{"token": a.token, "logprob": a.logprob} for a in (t.top_logprobs or [])]}
                for t in content
            ]
        except (AttributeError, TypeError) as exc:
            raise MalformedReply(f"logprobs are not in OpenAI's shape ({exc})") from exc
    return reply
