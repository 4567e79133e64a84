"""Rewarding conversations through the call cache, shared by RM benchmarks and reward-model judges.

A reward is cached per conversation, keyed by the RM's identity (weights, head, format, truncation) and
the conversation, and written a chunk at a time: a killed run loses at most one chunk, and a re-run, or
another benchmark that shares conversations, computes no reward twice. The weights load only when some
reward is missing (the RM loads lazily on its first ``reward`` call).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starling_eval.pipeline.common import Progress
from starling_eval.spec import Message
from starling_eval.store.cache import CallCache, call_key

CHUNK = 256  # conversations per cache write

Conversation = Sequence[Message]


def conversation_key(identity: Mapping[str, Any], chat: Conversation) -> str:
    return call_key(identity, [{"role": m.role, "content": m.content} for m in chat], {})


def reward_conversations(rm: Any, chats: Mapping[str, Conversation], cache: CallCache, *,
                         progress: Progress | None = None, stage: str = "rewards") -> tuple[dict[str, float], int]:
    """Rewards for ``chats`` ({conversation_key: conversation}): the cached ones read, the rest computed
    and stored a chunk at a time. Returns (rewards by key, how many were computed now)."""
    rewards = cache.get_many(chats)
    missing = [k for k in chats if k not in rewards]
    for start in range(0, len(missing), CHUNK):
        keys = missing[start: start + CHUNK]
        fresh = dict(zip(keys, rm.reward([chats[k] for k in keys]), strict=True))
        cache.put_many("reward", fresh)
        rewards.update(fresh)
        if progress:
            progress(stage, start + len(keys), len(missing))
    return rewards, len(missing)
