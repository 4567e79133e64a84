"""Any OpenAI-compatible chat server (OpenAI, vLLM serve, TGI, llama.cpp, the local test server).

Async with a concurrency limit; our own bounded retries (the SDK's are switched off so every attempt is
counted) that honour Retry-After on 429 and back off with jitter on 5xx, timeouts and dropped
connections. A call that fails for good comes back as a Completion with ``error`` set, never as an
exception that would throw away the rest of the batch. The API key is read from the environment at
start and kept only in the client: it appears in no identity, provenance or error text.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starling_eval.backends.base import BackendError
from starling_eval.backends.retry import RETRYABLE_STATUS, RetryPolicy, retry_after_seconds
from starling_eval.spec import Chat, Completion, ModelSpec, Sampling


def make_async_client(base_url: str | None, api_key_env: str, timeout_s: float) -> Any:
    from openai import AsyncOpenAI

    key = os.environ.get(api_key_env)
    if not key:
        if base_url is None:
            raise BackendError(f"no API key: set {api_key_env} (or choose another variable with --api-key-env)")
        key = "EMPTY"  # local servers usually need none
    return AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=timeout_s)


async def call_with_retries(send: Any, policy: RetryPolicy, on_retry: Any = None) -> tuple[Any, str | None]:
    """Run ``await send()`` under ``policy``; returns (response, None) or (None, error text).

    ``on_retry(error, status)`` is told about each failed attempt that will be retried (status is the
    HTTP status, or None for timeouts and dropped connections), so callers can count and back off."""
    import openai

    attempt = 0
    while True:
        try:
            return await send(), None
        except openai.APIStatusError as exc:
            status = exc.status_code
            error = f"HTTP {status}: {_short(exc)}"
            retryable = status in RETRYABLE_STATUS
            wait_hint = retry_after_seconds(getattr(exc.response, "headers", None))
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            error, retryable, wait_hint, status = f"{type(exc).__name__}: {_short(exc)}", True, None, None
        attempt += 1
        if not retryable:
            return None, error
        if attempt > policy.max_retries:
            return None, f"{error} (gave up after {attempt} attempts)"
        if on_retry:
            on_retry(error, status)
        await asyncio.sleep(policy.delay(attempt, wait_hint))


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


class OpenAIChatModel:
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.chunk_size = max(1, spec.concurrency) * 8  # completions are stored one by one (generate_each)
        self._client = make_async_client(spec.base_url, spec.api_key_env, spec.timeout_s)
        self._policy = RetryPolicy(max_retries=spec.max_retries)
        self.retries = 0

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
        sem = asyncio.Semaphore(max(1, self.spec.concurrency))

        async def one(i: int, chat: Chat) -> tuple[int, Completion]:
            async with sem:
                return i, await self._one(chat, params)

        pending = {asyncio.ensure_future(one(i, chat)) for i, chat in enumerate(chats)}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                yield [task.result() for task in done]
        finally:
            for task in pending:
                task.cancel()

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

        def count_retry(_error: str, _status: int | None) -> None:
            self.retries += 1

        response, error = await call_with_retries(
            lambda: self._client.chat.completions.create(**request), self._policy, count_retry
        )
        if error is not None:
            return Completion(error=error)
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )

    async def aclose(self) -> None:
        """Close the HTTP client inside the event loop that used it, and make a fresh one: an httpx client
        is bound to its loop, and the same backend may serve a later ``asyncio.run`` (judging after generating)."""
        await self._client.close()
        self._client = make_async_client(self.spec.base_url, self.spec.api_key_env, self.spec.timeout_s)

    def close(self) -> None:
        pass
