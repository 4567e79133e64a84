"""Reading a verdict out of a judge's reply: the adapter that built the request reads it; this module only
finds the reader. It names no benchmark and holds no registry.

Each :class:`~starling_eval.spec.JudgeRequest` names its ``verdict_reader``, the adapter's module that reads
its replies (MT-Bench: ``adapters.mtbench.verdicts``; AlpacaEval: ``adapters.alpacaeval.annotators``;
Safe-RLHF: ``adapters.safe_rlhf``): ``parse(output_format, reply)`` reads the whole reply (text, and
logprobs where a format needs them), and for a format that compares two answers ``winner_value(output_format,
winner)`` writes a winner ("A": the answer shown first, "B", "tie") in that format's own vocabulary.

One kind of reply is read here because it belongs to no benchmark: a reward model judging in a judge's place
(``pipeline.reward_judge``) answers a request re-addressed to ``reward:<output format>`` with the pair of
rewards of the two answers; the higher one wins, and the request's reader writes the winner.

A failure's reason starts with its kind: "unparsable" (the reply was paid for; ``--retry-failed`` asks
again), or "unsupported" (the endpoint cannot serve this judge at all, e.g. no logprobs: the run stops).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from starling_eval.spec import JudgeRequest, Verdict

REWARD_PREFIX = "reward:"  # + the request's own output format, which says how to write the winner


def reader(request: JudgeRequest) -> ModuleType:
    """The module that reads ``request``'s replies (imported by the name the request gives)."""
    if not request.verdict_reader:
        raise ValueError(f"no verdict reader for output format {request.output_format!r} (request {request.id})")
    return importlib.import_module(request.verdict_reader)


def parse(request: JudgeRequest, reply: Mapping[str, Any]) -> Verdict:
    """The verdict in a judge's ``reply`` to ``request``."""
    if request.output_format.startswith(REWARD_PREFIX):
        rewards = reply.get("rewards")
        if not isinstance(rewards, list) or len(rewards) != 2:
            return Verdict(None, "unparsable: no pair of rewards in the reply")
        return Verdict(winner_value(request, winner(*rewards)))
    return reader(request).parse(request.output_format, reply)


def winner_value(request: JudgeRequest, winner: str) -> Any:
    """``winner`` as a verdict of the request's output format; a LookupError when that format does not
    compare two answers."""
    output_format = request.output_format.removeprefix(REWARD_PREFIX)
    translate = getattr(reader(request), "winner_value", None)
    if translate is None:
        raise LookupError(f"output format {output_format!r} is not a two-answer comparison")
    return translate(output_format, winner)


def winner(reward_a: float, reward_b: float) -> str:
    return "A" if reward_a > reward_b else "B" if reward_b > reward_a else "tie"
