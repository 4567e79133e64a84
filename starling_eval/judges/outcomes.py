"""What judging produces: one outcome per request, the run's tally, and the cache key of an attempt.

An outcome keeps the judge's raw reply beside the verdict read from it, so a parser fix applies to old
judgments without asking again; a failure is named by its kind ("api", "unparsable", "unsupported").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starling_eval.judges.verdicts import parse
from starling_eval.spec import JudgeRequest
from starling_eval.store.cache import call_key

UNPARSABLE = "unparsable"
API_FAILURE = "api"
UNSUPPORTED = "unsupported"


class JudgeUnsupported(Exception):
    """The judge endpoint cannot serve these requests at all (e.g. it returns no logprobs). Raised after the
    reply that shows it is stored, so nothing more is paid for; the message says what the judge lacks."""


@dataclass
class JudgeOutcome:
    request: JudgeRequest
    reply: dict[str, Any] | None
    verdict: Any
    failure: str | None  # "api: <reason>" or "unparsable: <reason>"; None when the verdict is usable
    cached: bool
    attempt: int
    key: str

    @property
    def failure_kind(self) -> str | None:
        return self.failure.split(":", 1)[0] if self.failure else None

    def row(self) -> dict[str, Any]:
        """The run's ``judgments.jsonl`` row: what was asked about, what the judge said, what it means."""
        reply = self.reply or {}
        return {
            "id": self.request.id,
            **self.request.meta,
            "judgment": reply.get("text"),
            "verdict": self.verdict,
            "failure": self.failure,
            "attempt": self.attempt,
            "cached": self.cached,
            "prompt_tokens": reply.get("prompt_tokens"),
            "completion_tokens": reply.get("completion_tokens"),
            "finish_reason": reply.get("finish_reason"),  # "length": cut at max_tokens
            "cache_key": self.key,
            **({"batch_id": reply["batch_id"]} if reply.get("batch_id") else {}),  # answered in an API batch
        }


@dataclass
class JudgeTally:
    requested: int = 0
    from_cache: int = 0
    called: int = 0
    api_failures: int = 0
    unparsable: int = 0
    re_asked: int = 0
    shared: int = 0  # requests identical to another in this run, answered by its call
    from_other_process: int = 0  # calls another process was making for the same key: waited for, not paid twice
    possibly_billed_twice: int = 0  # re-sent after a client-side timeout (the first send may have been billed)
    prompt_tokens: int = 0  # paid in this run (cache hits cost nothing)
    completion_tokens: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)  # Batch API: batches submitted / adopted, requests sent

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if not out["batches"]:
            out.pop("batches")  # interactive judging: no batch counts
        return out


def judge_key(identity: Mapping[str, Any], request: JudgeRequest, attempt: int = 0) -> str:
    """The cache key of one attempt at a judge request (attempt 0 has no attempt field, so keys stay stable)."""
    params = request.cache_params()
    if attempt:
        params = {**params, "attempt": attempt}
    return call_key(identity, request.cache_request(), params)


def outcome_of(request: JudgeRequest, reply: dict[str, Any], *, cached: bool, attempt: int, key: str) -> JudgeOutcome:
    verdict = parse(request, reply)
    failure = verdict.failure
    if failure and reply.get("finish_reason") == "length":
        failure += f" (the judgment was cut at max_tokens={request.max_tokens})"
    return JudgeOutcome(request, reply, verdict.value, failure, cached, attempt, key)


def newest_attempts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Per request id, the highest attempt a run's judgments file records."""
    found: dict[str, int] = {}
    for row in rows:
        if "id" in row:
            found[row["id"]] = max(found.get(row["id"], 0), int(row.get("attempt") or 0))
    return found
