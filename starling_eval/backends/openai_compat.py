"""Any OpenAI-compatible chat server (OpenAI, vLLM serve, TGI, llama.cpp, the local test server).

Async with a concurrency limit; our own bounded retries (the SDK's are switched off so every attempt is
counted) that honour Retry-After on 429 and back off with jitter on 5xx, timeouts and dropped
connections. A call that fails for good comes back as a Completion with ``error`` set, never as an
exception that would throw away the rest of the batch. The API key is read from the environment at
start and kept only in the client: it appears in no identity, provenance or error text.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starling_eval.backends.base import BackendError
from starling_eval.backends.retry import (
    CONNECT_TIMEOUT_S,
    RETRYABLE_STATUS,
    EndpointHealth,
    RetryPolicy,
    retry_after_seconds,
    timeout_for,
)
from starling_eval.spec import Chat, Completion, ModelSpec, Sampling


class MalformedReply(Exception):
    """An HTTP 200 whose body is not a usable chat completion (no choices, wrong types, empty content):
    retried like a 5xx, then a recorded failure with this reason."""


def make_async_client(base_url: str | None, api_key_env: str, timeout_s: float | None) -> Any:
    from openai import AsyncOpenAI

    key = os.environ.get(api_key_env)
    if not key:
        if base_url is None:
            raise BackendError(f"no API key: set {api_key_env} (or choose another variable with --api-key-env)")
        key = "EMPTY"  # local servers usually need none
    return AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=request_timeout(timeout_s or 600.0))


def request_timeout(seconds: float) -> Any:
    """The SDK's timeout for one request: ``seconds`` to read the reply, at most CONNECT_TIMEOUT_S to connect
    (an unreachable host is known in seconds, whatever the reply may take)."""
    import openai

    return openai.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_S))  # the SDK's own HTTP stack's class


def endpoint_url(base_url: str | None) -> str:
    return base_url or "https://api.openai.com/v1"


def _could_not_connect(exc: BaseException) -> bool:
    """True when the connection itself failed (refused, DNS, connect timeout): nothing reached the server.
    Read from the cause chain by class name: the SDK's HTTP stack is httpx or, in openai 3, httpx2."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in ("ConnectError", "ConnectTimeout") or isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def call_with_retries(send: Any, policy: RetryPolicy, on_retry: Any = None,
                            health: EndpointHealth | None = None) -> tuple[Any, str | None]:
    """Run ``await send()`` under ``policy``; returns (response, None) or (None, error text).

    ``on_retry(error, cause)`` is told about each failed attempt that will be retried; ``cause`` is the HTTP
    status as text ("429", "500"), "timeout" (a client-side timeout: the re-send may be billed twice),
    "connection" (could not connect), "dropped" (the connection broke mid-reply) or "malformed" (a 200 that
    is not a chat completion). ``send`` raises :class:`MalformedReply` for replies it cannot use. With
    ``health``, an endpoint that never answered stops the run with EndpointUnreachable after a few
    connection failures in a row."""
    import openai

    health = health or EndpointHealth("the endpoint")
    attempt = timeouts = 0
    while True:
        wait_hint = None
        try:
            response = await send()
        except openai.APIStatusError as exc:
            health.answer()
            status = exc.status_code
            error, cause = f"HTTP {status}: {_short(exc)}", str(status)
            retryable = status in RETRYABLE_STATUS
            wait_hint = retry_after_seconds(getattr(exc.response, "headers", None))
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            error, retryable = f"{type(exc).__name__}: {_short(exc)}", True
            if _could_not_connect(exc):
                cause = "connection"
                health.connection_failed(error)  # raises EndpointUnreachable for an endpoint that never answered
            elif isinstance(exc, openai.APITimeoutError):
                cause = "timeout"
                timeouts += 1
            else:
                cause = "dropped"
                health.answer()
        except (MalformedReply, json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            health.answer()
            error, cause, retryable = f"malformed reply: {_short(exc)}", "malformed", True
        else:
            health.answer()
            return response, None
        attempt += 1
        if not retryable:
            return None, error
        if attempt > policy.max_retries:
            return None, f"{error} (gave up after {attempt} attempts)"
        if timeouts > policy.timeout_retries:
            return None, (f"{error} (timed out {timeouts} times; not re-sent again, since a timed-out request may "
                          "still be billed: raise --judge-timeout/--request-timeout for a slow server)")
        if on_retry:
            on_retry(error, cause)
        await asyncio.sleep(policy.delay(attempt, wait_hint))


def settled(tasks: Any) -> tuple[list[Any], BaseException | None]:
    """The results of finished tasks, and the first exception among them (raised by the caller only after
    the results that did arrive were handed on: a fatal error must not throw away paid replies)."""
    results, error = [], None
    for task in tasks:
        if task.cancelled():
            continue
        exc = task.exception()
        if exc is None:
            results.append(task.result())
        elif error is None:
            error = exc
    return results, error


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def completion_text(response: Any, *, allow_empty: bool) -> tuple[Any, str]:
    """The first choice and its text, or MalformedReply naming what is wrong with the body."""
    try:
        choices = response.choices
        if not isinstance(choices, list) or not choices:
            raise MalformedReply("the reply has no choices")
        choice = choices[0]
        text = choice.message.content
    except (AttributeError, TypeError, IndexError, KeyError) as exc:
        raise MalformedReply(f"not a chat completion ({type(response).__name__}: {_short(exc)})") from exc
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise MalformedReply(f"message content is {type(text).__name__}, not text")
    if not text and not allow_empty:
        raise MalformedReply("empty message content")
    return choice, text


def usage_tokens(response: Any) -> tuple[int | None, int | None]:
    """(prompt, completion) tokens when the server reports them as numbers; None otherwise."""
    usage = getattr(response, "usage", None)
    values = (getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))
    return tuple(v if isinstance(v, int) else None for v in values)  # type: ignore[return-value]


class OpenAIChatModel:
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.chunk_size = max(1, spec.concurrency) * 8  # completions are stored one by one (generate_each)
        self._client: Any = make_async_client(spec.base_url, spec.api_key_env, spec.timeout_s)  # a missing key: now
        self._policy = RetryPolicy(max_retries=spec.max_retries, timeout_retries=spec.timeout_retries)
        self.health = EndpointHealth(endpoint_url(spec.base_url))
        self.retries = 0
        self.possibly_billed_twice = 0  # re-sends after a client-side timeout
        self._slots: asyncio.Semaphore | None = None  # --concurrency, shared by every caller in one event loop

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.spec.concurrency))
        return self._slots

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "model": self.spec.name_or_path, "base_url": self.spec.base_url or "api.openai.com"}

    def provenance(self) -> dict[str, Any]:
        return {**self.identity(), "chat_template": "server-side", "concurrency": self.spec.concurrency}

    async def generate(self, chats: Sequence[Chat], params: Sampling) -> list[Completion]:
        results: list[Completion | None] = [None] * len(chats)
        async for batch in self.generate_each(chats, params):
            for i, completion in batch:
                results[i] = completion
        return [c for c in results if c is not None]

    async def generate_each(
        self, chats: Sequence[Chat], params: Sampling
    ) -> AsyncIterator[list[tuple[int, Completion]]]:
        """Every (index, completion) finished since the last yield, so the caller stores each paid answer
        at once, and stores answers that finish together in one write (group commit)."""

        async def one(i: int, chat: Chat) -> tuple[int, Completion]:
            return i, await self.generate_one(chat, params)

        pending = {asyncio.ensure_future(one(i, chat)) for i, chat in enumerate(chats)}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                results, error = settled(done)
                if results:
                    yield results  # the answers that did arrive are stored before a fatal error stops the run
                if error is not None:
                    raise error
        finally:
            for task in pending:
                task.cancel()

    async def generate_one(self, chat: Chat, params: Sampling) -> Completion:
        """One answer, in one of the --concurrency slots every caller shares: a sample's next turn can be sent
        the moment its previous one is back, beside other samples' calls, and the limit still holds."""
        async with self.slots:
            return await self._one(chat, params)

    async def _one(self, chat: Chat, params: Sampling) -> Completion:
        request: dict[str, Any] = {
            "model": self.spec.name_or_path,
            "messages": [{"role": m.role, "content": m.content} for m in chat],
            "temperature": 0.0 if params.greedy else params.temperature,
            "max_tokens": params.max_new_tokens,
        }
        if params.top_p != 1.0:
            request["top_p"] = params.top_p
        if params.stop:
            request["stop"] = list(params.stop)
        if not params.greedy:
            request["seed"] = params.seed

        timeout = request_timeout(timeout_for(params.max_new_tokens, self.spec.timeout_s))

        async def send() -> Any:
            if self._client is None:  # closed by aclose(): another event loop, a new client
                self._client = make_async_client(self.spec.base_url, self.spec.api_key_env, self.spec.timeout_s)
            response = await self._client.chat.completions.create(**request, timeout=timeout)
            choice, text = completion_text(response, allow_empty=True)  # a model may answer nothing
            prompt_tokens, completion_tokens = usage_tokens(response)
            # stripped, as the hf and vllm backends strip theirs: a later turn's prompt is then the same
            return Completion(text=text.strip(), finish_reason=getattr(choice, "finish_reason", None),
                              prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

        def count_retry(_error: str, cause: str) -> None:
            self.retries += 1
            self.possibly_billed_twice += cause == "timeout"

        completion, error = await call_with_retries(send, self._policy, count_retry, self.health)
        return Completion(error=error) if error is not None else completion

    async def aclose(self) -> None:
        """Close the HTTP client inside the event loop that used it, and make a fresh one: an httpx client
        is bound to its loop, and the same backend may serve a later ``asyncio.run`` (judging after generating)."""
        if self._client is not None:
            await self._client.close()
        self._client = None  # made again on the next call (an SSL context costs ~25 ms: not for a run that is done)
        self._slots = None  # a semaphore, too, belongs to the loop that waited on it

    def close(self) -> None:
        pass
