"""The judging engine: cache first, one call per distinct request, failures kept with reasons."""

import asyncio

from starling_eval.adapters.mtbench import verdicts
from starling_eval.judges.runner import judge_all, newest_attempts
from starling_eval.spec import JudgeRequest, Message
from starling_eval.store.cache import CallCache

IDENTITY = {"judge": "fake", "base_url": "local"}


class FakeJudge:
    """Scripted replies by prompt text; records every call it is paid for."""

    def __init__(self, replies):
        self.replies = replies
        self.calls = []
        self.closed = False

    async def ask(self, request):
        prompt = request.messages[-1].content
        self.calls.append(prompt)
        reply = self.replies[prompt] if not callable(self.replies) else self.replies(prompt, len(self.calls))
        if isinstance(reply, Exception):
            return None, str(reply)
        return {"text": reply, "prompt_tokens": 10, "completion_tokens": 2}, None

    async def aclose(self):
        self.closed = True


def _req(rid, prompt):
    return JudgeRequest(id=rid, messages=(Message(role="user", content=prompt),), output_format="[[rating]]",
                        verdict_reader=verdicts.__name__, meta={"item_id": rid})


def _run(requests, judge, cache, **kw):
    got = []
    tally = asyncio.run(judge_all(requests, IDENTITY, lambda: judge, cache, on_outcomes=got.extend, **kw))
    return tally, {o.request.id: o for o in got}


def test_cache_first_and_identical_requests_share_one_call(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    judge = FakeJudge({"p1": "[[7]]", "p2": "[[3]]"})
    requests = [_req("a", "p1"), _req("b", "p2"), _req("c", "p1")]
    tally, out = _run(requests, judge, cache)
    assert sorted(judge.calls) == ["p1", "p2"] and tally.shared == 1 and tally.called == 2
    assert {k: o.verdict for k, o in out.items()} == {"a": 7, "b": 3, "c": 7}
    assert tally.prompt_tokens == 20 and judge.closed
    again = FakeJudge({})
    tally, out = _run(requests, again, cache)
    assert again.calls == [] and tally.from_cache == 3 and all(o.cached for o in out.values())


def test_api_failure_is_not_cached_and_is_asked_again(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    tally, out = _run([_req("a", "p")], FakeJudge({"p": RuntimeError("HTTP 500: boom (gave up after 3 attempts)")}), cache)
    assert out["a"].failure == "api: HTTP 500: boom (gave up after 3 attempts)" and tally.api_failures == 1
    judge = FakeJudge({"p": "[[9]]"})
    _, out = _run([_req("a", "p")], judge, cache)
    assert judge.calls == ["p"] and out["a"].verdict == 9


def test_unparsable_is_kept_and_only_retry_failed_asks_again(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    requests = [_req("a", "bad"), _req("b", "good")]
    first = FakeJudge({"bad": "I refuse", "good": "[[6]]"})
    tally, out = _run(requests, first, cache)
    assert tally.unparsable == 1 and out["a"].failure.startswith("unparsable")
    rerun = FakeJudge({})
    _, out = _run(requests, rerun, cache)  # a plain re-run keeps the paid, unparsable reply
    assert rerun.calls == [] and out["a"].failure.startswith("unparsable")
    retry = FakeJudge({"bad": "now [[4]]"})
    tally, out = _run(requests, retry, cache, retry_failed=True)
    assert retry.calls == ["bad"] and tally.re_asked == 1 and out["a"].verdict == 4 and out["a"].attempt == 1
    # after a restart the newest attempt is found again (even without the run's own record of it)
    for attempts in (newest_attempts([o.row() for o in out.values()]), {}):
        quiet = FakeJudge({})
        _, out2 = _run(requests, quiet, cache, attempts=attempts)
        assert quiet.calls == [] and out2["a"].verdict == 4


def test_nothing_to_call_never_connects(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    tally = asyncio.run(judge_all([], IDENTITY, lambda: 1 / 0, cache, on_outcomes=lambda b: None))
    assert tally.requested == 0


def test_a_judgment_cut_at_max_tokens_says_so(tmp_path):
    class CutJudge(FakeJudge):
        async def ask(self, request):
            reply, error = await super().ask(request)
            return {**reply, "finish_reason": "length"}, error

    cache = CallCache(tmp_path / "c.sqlite")
    tally, out = _run([_req("a", "p"), _req("b", "q")], CutJudge({"p": "The answer is good because", "q": "[[4]]"}),
                      cache)
    assert out["a"].failure == "unparsable: no [[rating]] in the judgment (the judgment was cut at max_tokens=2048)"
    assert out["b"].failure is None and out["b"].verdict == 4  # cut, but the verdict was already written
    assert out["a"].row()["finish_reason"] == "length"
