"""A reward model standing in for an LLM judge in pairwise benchmarks (MT-Bench pairwise, AlpacaEval).

The judge prompt is not read: each pairwise request carries the two conversations it compares
(``JudgeRequest.candidates``, in the order shown), the RM rewards both, and the higher reward wins; equal
rewards are a tie. The winner is then written in the request's own verdict vocabulary (MT-Bench "A"/"B"/
"tie"; AlpacaEval's un-swapped preference 1/2/1.5), so scoring, exports and reports treat an RM judge like
any other. Rewards are computed in batches through the per-conversation reward cache before the runner
asks (the runner then sees instant answers, stored as judgments like a paid judge's), so MT-Bench's two
games of one match cost one reward per answer, and a re-run costs nothing. How a pair of rewards reads
as a verdict is ``judges.verdicts``'s (``reward:`` formats).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starling_eval.data import DataError
from starling_eval.judges import verdicts
from starling_eval.judges.verdicts import REWARD_PREFIX, winner
from starling_eval.pipeline.common import Progress
from starling_eval.pipeline.rewards import conversation_key, reward_conversations
from starling_eval.spec import JudgeRequest
from starling_eval.store.cache import CallCache


def reward_requests(requests: Sequence[JudgeRequest]) -> list[JudgeRequest]:
    """The requests re-addressed to a reward model: checked to be two-answer comparisons, their verdicts to
    be read from rewards. A request an RM cannot judge (a 1-10 rating) is a DataError before any work."""
    out = []
    for request in requests:
        if request.candidates is None or len(request.candidates) != 2:
            raise DataError(f"a reward-model judge compares two answers; request {request.id} is not a pairwise "
                            "comparison (use --judge-mode pairwise-baseline or pairwise-all)")
        try:
            verdicts.winner_value(request, "tie")
        except LookupError as exc:
            raise DataError(f"a reward-model judge cannot answer request {request.id}: {exc}") from None
        out.append(request.model_copy(update={"output_format": REWARD_PREFIX + request.output_format}))
    return out


def judge_identity(rm: Any) -> dict[str, Any]:
    """The judgment cache identity of an RM judge: the RM's own (weights, head, format, truncation)."""
    return {"reward_judge": rm.identity()}



class RewardJudge:
    """The runner's client for an RM judge: rewards every candidate conversation of ``requests`` on
    construction (cached ones read, the rest computed in batches and stored), then answers at once."""

    def __init__(self, rm: Any, requests: Sequence[JudgeRequest], cache: CallCache, *,
                 progress: Progress | None = None):
        identity = rm.identity()
        self._keys = {r.id: tuple(conversation_key(identity, chat) for chat in r.candidates or ()) for r in requests}
        chats = {key: chat for r in requests for key, chat in zip(self._keys[r.id], r.candidates or (), strict=True)}
        self.rewards, self.computed = reward_conversations(rm, chats, cache, progress=progress, stage="judge rewards")
        self.retries: dict[str, int] = {}

    async def ask(self, request: JudgeRequest) -> tuple[dict[str, Any] | None, str | None]:
        reward_a, reward_b = (self.rewards[key] for key in self._keys[request.id])
        text = f"reward A {reward_a:.6g} · reward B {reward_b:.6g} → {winner(reward_a, reward_b)}"
        return {"text": text, "rewards": [reward_a, reward_b], "prompt_tokens": None, "completion_tokens": None}, None
