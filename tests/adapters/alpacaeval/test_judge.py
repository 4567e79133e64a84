"""AlpacaEval judging: alpaca_eval's annotators, our requests in its seeded order, its parsers — checked
against every published raw completion, which must parse back to the published preference."""

from __future__ import annotations

import json
import math
import random

import pytest

from starling_eval.adapters.alpacaeval import annotators
from starling_eval.adapters.alpacaeval.annotators import parse
from starling_eval.adapters.alpacaeval.benchmark import AlpacaEval, item_id
from starling_eval.data import DataDir, DataError
from starling_eval.spec import JudgeSpec

BENCH = AlpacaEval()


def _judge(version: int) -> JudgeSpec:
    return JudgeSpec(**BENCH.judge_defaults(version, None))


def _reply_from_raw(raw: dict) -> dict:
    """A published raw completion (OpenAI's JSON) as our judge client stores a reply."""
    content = raw["logprobs"]["content"]
    return {"text": raw["text"], "logprobs": [
        {"token": t["token"], "logprob": t["logprob"], "top": [{"token": a["token"], "logprob": a["logprob"]}
                                                               for a in t["top_logprobs"]]} for t in content]}


def _requests_for(data_dir, annotations: list[dict], version: int):
    """Our requests for the outputs in a published annotations file, by instruction."""
    data = DataDir(data_dir)
    answers = {annotations[0]["generator_2"]: {item_id(a["instruction"]): [a["output_2"]] for a in annotations}}
    requests, decided = BENCH.judge_requests(data, BENCH.samples(data), answers, _judge(version))
    return {r.meta["instruction"]: r for r in requests}, decided


def test_the_two_leaderboard_annotators_come_from_alpaca_evals_configs():
    v2, v1 = annotators.load("weighted_alpaca_eval_gpt4_turbo"), annotators.load("alpaca_eval_gpt4")
    assert (v2.model, v2.max_tokens, v2.temperature, v2.top_logprobs, v2.parser) == (
        "gpt-4-1106-preview", 1, 1.0, 5, "logprob_parser")
    assert v2.parser_kwargs == {"numerator_token": "m", "denominator_tokens": ["m", "M"], "is_binarize": False}
    assert (v1.model, v1.temperature, v1.top_logprobs, v1.parser) == ("gpt-4", 0.0, None, "ranking_parser")
    assert BENCH.judge_defaults(2, None)["baseline"] == "gpt4_1106_preview"
    assert BENCH.judge_defaults(1, None)["baseline"] == "text_davinci_003"
    assert "weighted_alpaca_eval_gpt4_turbo" in annotators.names()


@pytest.mark.parametrize(("name", "why"), [
    ("alpaca_eval_gpt4_fn", "pipeline_meta_parser"),
    ("claude", "anthropic_completions"),
    ("alpaca_farm", "pools"),
    ("no_such_annotator", "not an alpaca_eval annotator"),
])
def test_annotators_we_cannot_run_faithfully_are_refused_by_name(name, why):
    with pytest.raises(DataError, match=why):
        annotators.load(name)


@pytest.mark.slow
def test_every_published_ae2_raw_completion_parses_to_its_published_preference(data_dir):
    """Our prompt order (alpaca_eval's seeded swap) + its logprob parser + un-swap = the published preference."""
    files = sorted((data_dir / "alpaca_eval" / "results").glob("*/weighted_alpaca_eval_gpt4_turbo/annotations.json"))
    checked = 0
    for path in files:
        annotations = json.loads(path.read_text())
        raw = [a for a in annotations if isinstance(a.get("raw_completion"), dict)]
        if not raw:
            continue
        requests, _ = _requests_for(data_dir, annotations, 2)
        for a in raw:
            request = requests[a["instruction"]]
            assert a["instruction"] in request.messages[1].content and request.top_logprobs == 5
            verdict = parse(request.output_format, _reply_from_raw(a["raw_completion"]))
            assert verdict.value == pytest.approx(a["preference"], abs=1e-9), (path.parent.parent.name, a["instruction"][:40])
            checked += 1
    assert checked > 12_000  # 15 models × ~800 rows


def test_published_ae1_rankings_parse_to_their_published_preference(data_dir):
    path = data_dir / "alpaca_eval" / "results" / "gpt-3.5-turbo-1106" / "alpaca_eval_gpt4" / "annotations.json"
    annotations = json.loads(path.read_text())
    requests, decided = _requests_for(data_dir, annotations, 1)
    checked = 0
    for a in annotations:
        if a["instruction"] not in requests or not isinstance(a.get("raw_completion"), str):
            continue
        verdict = parse(requests[a["instruction"]].output_format, {"text": a["raw_completion"]})
        if a["preference"] is None:
            assert verdict.value is None and verdict.failure.startswith("unparsable")
        else:
            assert verdict.value == a["preference"]
        checked += 1
    assert checked > 700
    assert all(r["verdict"] == 1.5 for r in decided)  # identical outputs, as alpaca_eval decides them


def test_the_output_order_is_alpaca_evals_seeded_coin_per_instruction(data_dir):
    data = DataDir(data_dir)
    samples = BENCH.samples(data)[:40]
    answers = {"mine": {s.id: [f"my answer {i}"] for i, s in enumerate(samples)}}
    requests, decided = BENCH.judge_requests(data, samples, answers, _judge(2))
    assert not decided and len(requests) == 40
    for request in requests:
        instruction = request.meta["instruction"]
        switched = random.Random("is_switched_outputs" + instruction + "0").choices([False, True], k=1)[0]
        assert request.meta["is_switched"] is switched
        prompt = request.messages[1].content
        mine, ref = prompt.index("my answer"), prompt.index(request.meta["output_1"])
        assert (mine < ref) is switched  # the model's output shown first ("m") exactly when switched
    assert 10 < sum(r.meta["is_switched"] for r in requests) < 30


def test_identical_outputs_are_a_draw_without_a_call_and_missing_ones_a_failure(data_dir):
    data = DataDir(data_dir)
    samples = BENCH.samples(data)[:3]
    reference = json.loads((data_dir / "alpaca_eval/results/gpt4_1106_preview/model_outputs.json").read_text())
    answers = {"copycat": {samples[0].id: [reference[0]["output"]], samples[1].id: ["something else"]}}
    requests, decided = BENCH.judge_requests(data, samples, answers, _judge(2))
    assert [r.meta["item_id"] for r in requests] == [samples[1].id]
    by_item = {d["item_id"]: d for d in decided}
    assert by_item[samples[0].id]["verdict"] == 1.5 and by_item[samples[0].id]["failure"] is None
    assert by_item[samples[2].id]["failure"] == "missing: no output from copycat"


def test_a_reply_without_logprobs_is_unsupported_and_one_without_m_or_M_unparsable():
    fmt = annotators.output_format(annotators.load("weighted_alpaca_eval_gpt4_turbo"), switched=False)
    verdict = parse(fmt, {"text": "m", "logprobs": None})
    assert verdict.value is None and verdict.failure.startswith("unsupported: the judge endpoint returned no logprobs")
    verdict = parse(fmt, {"text": "Both", "logprobs": [{"token": "Both", "logprob": -0.1,
                                                          "top": [{"token": "Both", "logprob": -0.1}]}]})
    assert verdict.failure.startswith("unparsable: none of ['M', 'm']")
    top = [{"token": "m", "logprob": -0.2}, {"token": "M", "logprob": -1.8}]
    verdict = parse(fmt, {"text": "m", "logprobs": [{"token": "m", "logprob": -0.2, "top": top}]})
    p_m, p_big = math.exp(-0.2), math.exp(-1.8)
    assert verdict.value == pytest.approx(2 - p_m / (p_m + p_big), abs=1e-12)
    switched = parse(fmt + ":switched", {"text": "m", "logprobs": [{"token": "m", "logprob": -0.2, "top": top}]})
    assert switched.value == pytest.approx(3 - verdict.value, abs=1e-12)


def test_model_outputs_json_is_read_by_instruction_and_named_by_its_generator(tmp_path, data_dir):
    path = data_dir / "alpaca_eval" / "results" / "claude-2" / "model_outputs.json"
    rows = json.loads(path.read_text())
    shuffled = tmp_path / "model_outputs.json"
    shuffled.write_text(json.dumps(list(reversed(rows[:10]))))
    answers = BENCH.read_answers(shuffled)
    assert answers[item_id(rows[3]["instruction"])] == [rows[3]["output"]]
    assert BENCH.answers_model_name(path) == rows[0]["generator"] == "claude-2"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "x", "output": "y"}, {"instruction": "z"}]))
    with pytest.raises(DataError, match="bad.json row 1: expected an object with string fields instruction and output"):
        BENCH.read_answers(bad)
