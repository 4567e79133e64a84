import pytest

from starling_eval.adapters.mtbench.verdicts import PAIR, RATING, parse, parse_pair, parse_rating


@pytest.mark.parametrize(("text", "value"), [
    ("Rating: [[7]]", 7),
    ("first [[3]] then [[9]]", 3),  # first match wins
    ("Rating: [[8.5]]", 8.5),
    ("no double brackets, but [6] here", 6),  # FastChat's backup pattern
    ("[[11]] is out of range but not clamped", 11),
    ("[5] and later [[9]]", 9),  # the [[n]] pattern is tried on the whole text first
])
def test_rating_as_fastchat_reads_it(text, value):
    assert parse_rating(text).value == value and parse_rating(text).failure is None


@pytest.mark.parametrize("text", ["I cannot rate this.", "Rating: [[seven]]", "", "[[-1]]"])
def test_unparsable_rating_is_a_failure_with_a_reason(text):
    verdict = parse_rating(text)
    assert verdict.value is None and verdict.failure.startswith("unparsable")


def test_pair_checks_a_then_b_then_c_like_fastchat():
    assert parse_pair("[[B]] ... final: [[A]]").value == "A"
    assert parse_pair("verdict [[C]]").value == "tie"
    assert parse_pair("Assistant A is better").failure.startswith("unparsable")


def test_parse_dispatches_on_output_format():
    assert parse(RATING, {"text": "[[4]]"}).value == 4
    assert parse(PAIR, {"text": "[[B]]"}).value == "B"
    with pytest.raises(ValueError, match="no verdict parser"):
        parse("[[nope]]", {"text": ""})
