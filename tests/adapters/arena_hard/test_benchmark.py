"""Arena-Hard's prompts and judge requests as arena-hard-auto makes them, and its verdict labels read as it reads
them: the category's system prompt, the config's template, temperature and max tokens, both orders."""

from __future__ import annotations

import json

import pytest
import yaml

from starling_eval.adapters.arena_hard import ArenaHard, verdicts
from starling_eval.data import DataDir, DataError
from starling_eval.spec import JudgeSpec


@pytest.fixture(scope="module")
def data(data_dir):
    return DataDir(str(data_dir))


def _judge(model: str = "gpt-4-1106-preview") -> JudgeSpec:
    return JudgeSpec(model=model, mode="pairwise-baseline", baseline="arena-hard")


def test_v01_prompts_and_both_games_against_gpt4_0314(data, data_dir):
    bench = ArenaHard("0.1")
    samples = bench.samples(data)
    assert len(samples) == 500 and samples[0].turns[0] == "Use ABC notation to write a melody in the style of a folk tune."
    config = yaml.safe_load((data_dir / "arena_hard/arena-hard-v0.1.yaml").read_text())
    settings = json.loads((data_dir / "arena_hard/judge_settings.json").read_text())["JUDGE_SETTINGS"]["arena-hard-v0.1"]
    baseline = {json.loads(line)["uid"]: json.loads(line) for line in
                (data_dir / "arena_hard/arena-hard-v0.1/model_answer/gpt-4-0314.jsonl").read_text().splitlines()}
    requests, missing = bench.judge_requests(data, samples[:3], {"m": {samples[0].id: ["MY ANSWER"]}}, _judge())
    assert len(requests) == 2 and len(missing) == 2 and missing[0]["failure"].startswith("missing:")
    g1, g2 = requests
    base = baseline[samples[0].id]["messages"][-1]["content"]["answer"]
    assert g1.messages[0].content == settings["system_prompt"]
    assert g1.messages[1].content == config["prompt_template"].format(QUESTION=samples[0].turns[0], ANSWER_A=base,
                                                                      ANSWER_B="MY ANSWER")
    assert g2.messages[1].content == config["prompt_template"].format(QUESTION=samples[0].turns[0], ANSWER_A="MY ANSWER",
                                                                      ANSWER_B=base)
    assert (g1.temperature, g1.max_tokens) == (0.0, 4096) and (g1.meta["game"], g2.meta["game"]) == (1, 2)
    assert g1.meta["baseline"] == "gpt-4-0314" and g1.verdict_reader == verdicts.__name__
    assert bench.judge_defaults(None, None)["model"] == "gpt-4-1106-preview"


def test_v20_hard_prompts_use_o3_mini_and_creative_writing_says_which_baseline_is_missing(data):
    bench = ArenaHard("2.0")
    samples = bench.samples(data)
    assert len(samples) == 750 and {s.category for s in samples} == {"hard_prompt", "creative_writing"}
    hard = next(s for s in samples if s.category == "hard_prompt")
    requests, _ = bench.judge_requests(data, [hard], {"m": {hard.id: ["x"]}}, _judge("gpt-4.1"))
    assert requests[0].meta["baseline"] == "o3-mini-2025-01-31" and requests[0].max_tokens == 16000
    creative = next(s for s in samples if s.category == "creative_writing")
    with pytest.raises(DataError, match=r"gemini-2.0-flash-001\.jsonl: arena-hard-v2.0 judges this category"):
        bench.judge_requests(data, [creative], {"m": {creative.id: ["x"]}}, _judge("gpt-4.1"))
    assert bench.judge_data_files(_judge()) == ["arena_hard/arena-hard-v2.0/model_answer/o3-mini-2025-01-31.jsonl"]


@pytest.mark.parametrize(("text", "label"), [
    ("My final verdict is: [[A>>B]]", "A>>B"),
    ("Assistant A is better [A>B] ... final verdict: [[B>A]]", "B>A"),  # the double-bracket pattern first
    ("first [[A=B]], on reflection [[b>a]]", "B>A"),  # upper-cased; the last match wins
    ("only single brackets here: [A<<B]", "A<<B"),
])
def test_labels_read_as_arena_hard_reads_them(text, label):
    assert verdicts.parse(verdicts.LABEL, {"text": text}).value == label


def test_unreadable_labels_are_failures_with_reasons():
    assert verdicts.parse(verdicts.LABEL, {"text": "no verdict"}).failure.startswith("unparsable: no [[A>B]]")
    assert "[[AB]] is not one arena-hard scores" in verdicts.parse(verdicts.LABEL, {"text": "[[AB]]"}).failure
    assert verdicts.winner_value(verdicts.LABEL, "B") == "B>A"
