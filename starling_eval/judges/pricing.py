"""What a judge's tokens cost, so every run reports its bill and ``--dry-run`` can quote one first.

List prices in USD per million tokens (prompt, completion) from OpenAI's pricing page; a dated model
name falls back to the longest listed prefix (``gpt-4-0613`` → ``gpt-4``). Prices change and proxies
charge differently: ``--judge-price IN/OUT`` overrides the table, and an unknown model has no price
(cost reported as unknown, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass

# (prompt, completion) USD per 1M tokens
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4": (30.0, 60.0),
    "gpt-4-32k": (60.0, 120.0),
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-4-0125-preview": (10.0, 30.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-2024-05-13": (5.0, 15.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-3.5-turbo": (0.5, 1.5),
    "gpt-3.5-turbo-0613": (1.5, 2.0),
    "gpt-3.5-turbo-1106": (1.0, 2.0),
}


@dataclass(frozen=True)
class Price:
    prompt: float | None  # USD per 1M tokens
    completion: float | None
    source: str

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.prompt is None or self.completion is None:
            return None
        return round((prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6, 6)


def price_for(model: str, override_in: float | None = None, override_out: float | None = None) -> Price:
    if override_in is not None and override_out is not None:
        return Price(override_in, override_out, "--judge-price")
    name = model.split("/")[-1]
    match = max((k for k in PRICES if name == k or name.startswith(k + "-")), key=len, default=None)
    if match is None:
        return Price(None, None, f"unknown price for {model} (set --judge-price IN/OUT)")
    return Price(*PRICES[match], f"price table: {match}")


def parse_price(text: str) -> tuple[float, float]:
    """``"30/60"`` → (30.0, 60.0): USD per 1M prompt / completion tokens."""
    try:
        a, b = text.split("/")
        prompt, completion = float(a), float(b)
    except ValueError:
        raise ValueError(f"--judge-price {text!r}: expected IN/OUT in USD per 1M tokens, e.g. 30/60") from None
    if prompt < 0 or completion < 0:
        raise ValueError(f"--judge-price {text!r}: prices cannot be negative")
    return prompt, completion


def price_override(text: str | None) -> tuple[float | None, float | None]:
    """``--judge-price``'s value as (prompt, completion) USD per 1M tokens; (None, None) when not given. A bad
    value is a DataError, which the command line reports in one line with exit 2."""
    if not text:
        return None, None
    from starling_eval.data import DataError

    try:
        return parse_price(text)
    except ValueError as exc:
        raise DataError(str(exc)) from None
