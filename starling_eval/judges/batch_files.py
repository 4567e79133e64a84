"""The Batch API's files: judge requests as input lines, split to the API's limits, and results read back.

Each input line's ``custom_id`` is the request's cache key, so a reply read from an output file is stored under
exactly the key an interactive call would have used: a later run without ``--judge-batch`` finds it, and the
other way round. An output line that is no usable chat completion, an error-file line and a request the batch
never answered (it expired, failed or was cancelled first) each become a per-request failure with its reason;
nothing is dropped without a count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starling_eval.backends.openai_compat import MalformedReply
from starling_eval.judges.client import stored_reply

ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
# OpenAI's limits on one batch: requests per batch and bytes per input file (200 MB; a margin is kept)
MAX_REQUESTS = 50_000
MAX_BYTES = 190 * 1024 * 1024
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class BatchLimits:
    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES


def input_line(key: str, body: Mapping[str, Any]) -> bytes:
    return (json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}, ensure_ascii=False)
            + "\n").encode("utf-8")


def split(lines: list[tuple[str, bytes]], limits: BatchLimits) -> list[list[tuple[str, bytes]]]:
    """Consecutive chunks, each within the request and byte limits (a single line over the byte limit is an
    error: no batch could carry it)."""
    chunks: list[list[tuple[str, bytes]]] = []
    current: list[tuple[str, bytes]] = []
    size = 0
    for key, line in lines:
        if len(line) > limits.max_bytes:
            raise ValueError(f"judge request {key[:12]}… is {len(line)} bytes: over the Batch API's file limit")
        if current and (len(current) >= limits.max_requests or size + len(line) > limits.max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append((key, line))
        size += len(line)
    if current:
        chunks.append(current)
    return chunks


def read_results(output: str, errors: str, logprobs: Mapping[str, bool],
                 batch_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(stored replies by key, failure reasons by key) from a finished batch's output and error files.
    ``logprobs`` holds the batch's keys, each with whether it asked for logprobs; a reply notes its batch."""
    replies: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for text in (output + "\n" + errors).splitlines():
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            key = line["custom_id"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # no custom_id to pin it on: its request is reported as having no result
        reply, failure = _one_result(line, logprobs.get(key, False))
        if reply is not None:
            replies[key] = {**reply, "batch_id": batch_id}
            failures.pop(key, None)
        elif key not in replies:
            failures[key] = failure or "no reply"
    return replies, failures


def _one_result(line: dict[str, Any], logprobs: bool) -> tuple[dict[str, Any] | None, str | None]:
    error = line.get("error")
    if error:
        return None, f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    response = line.get("response") or {}
    status, body = response.get("status_code"), response.get("body")
    if status != 200:
        message = (body or {}).get("error", {}).get("message") if isinstance(body, dict) else None
        return None, f"HTTP {status}: {message or body}"
    from openai.types.chat import ChatCompletion
    from pydantic import ValidationError

    try:
        return stored_reply(ChatCompletion.model_validate(body), logprobs), None
    except (ValidationError, MalformedReply) as exc:
        return None, f"malformed reply: {str(exc).splitlines()[0]}"


def batch_errors(batch: Any) -> str | None:
    """A failed batch's own errors (a bad input line, too many requests), in one line."""
    data = getattr(getattr(batch, "errors", None), "data", None) or []
    parts = [f"{e.code}: {e.message}" + (f" (line {e.line})" if getattr(e, "line", None) else "") for e in data[:3]]
    return "; ".join(parts) or None
