"""Finding a request's verdict reader: the module the request names, no benchmark known here. This test module
is itself the reader of the requests it builds (its ``parse`` and ``winner_value`` below)."""

import pytest

from starling_eval.judges import verdicts
from starling_eval.spec import JudgeRequest, Message, Verdict


def parse(output_format, reply):
    return Verdict(f"{output_format}:{reply['text']}") if reply.get("text") else Verdict(None, "unparsable: empty")


def winner_value(output_format, winner):
    if output_format != "pick":
        raise LookupError(f"output format {output_format!r} is not a two-answer comparison")
    return {"A": "first", "B": "second", "tie": "both"}[winner]


def _request(output_format="pick", reader=__name__):
    return JudgeRequest(id="r", messages=(Message(role="user", content="?"),), output_format=output_format,
                        verdict_reader=reader)


def test_the_named_module_reads_the_reply():
    assert verdicts.parse(_request(), {"text": "yes"}) == Verdict("pick:yes")
    assert verdicts.parse(_request(), {"text": ""}).failure == "unparsable: empty"
    assert verdicts.winner_value(_request(), "B") == "second"
    with pytest.raises(LookupError, match="not a two-answer comparison"):
        verdicts.winner_value(_request("grade"), "A")


def test_a_request_without_a_reader_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="no verdict reader for output format 'pick'"):
        verdicts.parse(_request(reader=None), {"text": "yes"})


def test_a_reward_models_pair_of_rewards_is_written_by_the_requests_reader():
    rm_request = _request(verdicts.REWARD_PREFIX + "pick")
    assert [verdicts.winner(*r) for r in ((2.0, 1.0), (1.0, 2.0), (1.5, 1.5))] == ["A", "B", "tie"]
    assert verdicts.parse(rm_request, {"rewards": [0.25, 0.5]}) == Verdict("second")
    assert verdicts.parse(rm_request, {"text": "?"}).failure.startswith("unparsable")
    with pytest.raises(LookupError):
        verdicts.parse(_request(verdicts.REWARD_PREFIX + "grade"), {"rewards": [1.0, 0.0]})
