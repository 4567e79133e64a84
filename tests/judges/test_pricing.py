import pytest

from starling_eval.judges.pricing import parse_price, price_for


def test_dated_model_takes_the_longest_listed_prefix():
    assert price_for("gpt-4-0613").source == "price table: gpt-4"
    assert price_for("gpt-4-1106-preview").prompt == 10.0
    assert price_for("gpt-4o-mini-2024-07-18").source == "price table: gpt-4o-mini"


def test_cost_in_dollars_and_unknown_models_have_none():
    assert price_for("gpt-4").cost(1_000_000, 500_000) == 60.0
    unknown = price_for("my-local-judge")
    assert unknown.cost(10, 10) is None and "--judge-price" in unknown.source


def test_override_and_its_errors():
    assert price_for("anything", 1.0, 2.0).cost(1_000_000, 1_000_000) == 3.0
    assert parse_price("30/60") == (30.0, 60.0, None, None)
    assert parse_price("30/60/10/20") == (30.0, 60.0, 10.0, 20.0)
    assert price_for("gpt-4").cost(1_000_000, 500_000, batch=True) == 30.0
    assert price_for("anything", 1.0, 2.0).cost(1_000_000, 1_000_000, batch=True) == 1.5
    for bad in ("30", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="--judge-price"):
            parse_price(bad)
