"""What a judge's tokens cost, so every run reports its bill and ``--dry-run`` can quote one first.

List prices in USD per million tokens (prompt, completion) from OpenAI's pricing page; a dated model
name falls back to the longest listed prefix (``gpt-4-0613`` → ``gpt-4``). Prices change and proxies
charge differently: ``--judge-price IN/OUT`` overrides the table, and an unknown model has no price
(cost reported as unknown, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass

# USD per 1M tokens: (prompt, completion) interactive, then (prompt, completion) through the Batch API (half)
PRICES: dict[str, tuple[float, float, float, float]] = {
    "gpt-4": (30.0, 60.0, 15.0, 30.0),
    "gpt-4-32k": (60.0, 120.0, 30.0, 60.0),
    "gpt-4-1106-preview": (10.0, 30.0, 5.0, 15.0),
    "gpt-4-0125-preview": (10.0, 30.0, 5.0, 15.0),
    "gpt-4-turbo": (10.0, 30.0, 5.0, 15.0),
    "gpt-4o": (2.5, 10.0, 1.25, 5.0),
    "gpt-4o-2024-05-13": (5.0, 15.0, 2.5, 7.5),
    "gpt-4o-mini": (0.15, 0.6, 0.075, 0.3),
    "gpt-4.1": (2.0, 8.0, 1.0, 4.0),
    "gpt-4.1-mini": (0.4, 1.6, 0.2, 0.8),
    "gpt-4.1-nano": (0.1, 0.4, 0.05, 0.2),
    "gpt-3.5-turbo": (0.5, 1.5, 0.25, 0.75),
    "gpt-3.5-turbo-0613": (1.5, 2.0, 0.75, 1.0),
    "gpt-3.5-turbo-1106": (1.0, 2.0, 0.5, 1.0),
}
BATCH_DISCOUNT = 0.5  # the Batch API's price: half the interactive one, for --judge-price given as IN/OUT


@dataclass(frozen=True)
class Price:
    prompt: float | None  # USD per 1M tokens
    completion: float | None
    source: str
    batch_prompt: float | None = None  # the same through the Batch API
    batch_completion: float | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool = False) -> float | None:
        prompt, completion = (self.batch_prompt, self.batch_completion) if batch else (self.prompt, self.completion)
        if prompt is None or completion is None:
            return None
        return round((prompt_tokens * prompt + completion_tokens * completion) / 1e6, 6)


def price_for(model: str, override_in: float | None = None, override_out: float | None = None,
              batch_in: float | None = None, batch_out: float | None = None) -> Price:
    if override_in is not None and override_out is not None:
        if batch_in is None or batch_out is None:
            batch_in, batch_out = override_in * BATCH_DISCOUNT, override_out * BATCH_DISCOUNT
        return Price(override_in, override_out, "--judge-price", batch_in, batch_out)
    name = model.split("/")[-1]
    match = max((k for k in PRICES if name == k or name.startswith(k + "-")), key=len, default=None)
    if match is None:
        return Price(None, None, f"unknown price for {model} (set --judge-price IN/OUT)")
    return Price(*PRICES[match][:2], f"price table: {match}", *PRICES[match][2:])


def parse_price(text: str) -> tuple[float, float, float | None, float | None]:
    """``"30/60"`` → (30.0, 60.0, None, None): USD per 1M prompt / completion tokens; ``"30/60/15/30"`` adds the
    Batch API's prompt / completion prices (without them a batch costs half)."""
    try:
        values = [float(v) for v in text.split("/")]
    except ValueError:
        values = []
    if len(values) not in (2, 4):
        raise ValueError(f"--judge-price {text!r}: expected IN/OUT (or IN/OUT/BATCH_IN/BATCH_OUT) in USD per 1M "
                         "tokens, e.g. 30/60")
    if any(v < 0 for v in values):
        raise ValueError(f"--judge-price {text!r}: prices cannot be negative")
    return values[0], values[1], *(values[2:] or [None, None])  # type: ignore[return-value]


def price_override(text: str | None) -> tuple[float | None, float | None, float | None, float | None]:
    """``--judge-price``'s value as (prompt, completion, batch prompt, batch completion) USD per 1M tokens; Nones
    when not given. A bad value is a DataError, which the command line reports in one line with exit 2."""
    if not text:
        return None, None, None, None
    from starling_eval.data import DataError

    try:
        return parse_price(text)
    except ValueError as exc:
        raise DataError(str(exc)) from None
