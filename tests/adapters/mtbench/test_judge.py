"""Judge requests are built exactly as FastChat's gen_judgment builds its matches."""

import json

import pytest

from starling_eval.adapters.mtbench.benchmark import MTBench
from starling_eval.data import DataDir, DataError
from starling_eval.spec import JudgeSpec


@pytest.fixture()
def bench_data(data_dir):
    bench, data = MTBench(), DataDir(data_dir)
    return bench, data, bench.samples(data)


def _answers(data_dir, *models):
    from starling_eval.adapters.mtbench.judge import read_answer_file

    return {m: read_answer_file(data_dir / "mt_bench" / "model_answer" / f"{m}.jsonl") for m in models}


def test_single_grading_makes_160_requests_with_fastchats_prompts(bench_data, data_dir):
    bench, data, samples = bench_data
    requests, missing = bench.judge_requests(data, samples, _answers(data_dir, "alpaca-13b"), JudgeSpec())
    assert len(requests) == 160 and not missing
    by_id = {r.id: r for r in requests}
    prompts = {json.loads(line)["name"]: json.loads(line) for line in open(data_dir / "mt_bench" / "judge_prompts.jsonl")}
    writing = by_id["single|alpaca-13b|81|1"]
    assert writing.meta["prompt"] == "single-v1" and writing.max_tokens == 2048 and writing.temperature == 0.0
    assert [m.role for m in writing.messages] == ["system", "user"]
    assert writing.messages[0].content == prompts["single-v1"]["system_prompt"]
    questions = {q.id: q for q in samples}
    answer = _answers(data_dir, "alpaca-13b")["alpaca-13b"]["81"]
    assert writing.messages[1].content == prompts["single-v1"]["prompt_template"].format(
        question=questions["81"].turns[0], answer=answer[0])
    math2 = by_id["single|alpaca-13b|111|2"]  # math, turn 2: both turns, both reference answers
    refs = {json.loads(line)["question_id"]: json.loads(line) for line in open(data_dir / "mt_bench/reference_answer/gpt-4.jsonl")}
    assert math2.meta["prompt"] == "single-math-v1-multi-turn"
    for ref_turn in refs[111]["choices"][0]["turns"]:
        assert ref_turn in math2.messages[1].content
    assert {r.meta["prompt"] for r in requests} == {"single-v1", "single-math-v1", "single-v1-multi-turn",
                                                     "single-math-v1-multi-turn"}


def test_corrected_references_are_an_option(bench_data, data_dir):
    bench, data, samples = bench_data
    answers = _answers(data_dir, "alpaca-13b")
    old, _ = bench.judge_requests(data, samples, answers, JudgeSpec())
    new, _ = bench.judge_requests(data, samples, answers, JudgeSpec(reference="gpt-4-0125-preview"))
    changed = {r.meta["question_id"] for r, s in zip(old, new, strict=True) if r.messages != s.messages}
    assert changed and changed <= set(range(101, 131))  # only math/reasoning/coding prompts change


def test_pairwise_baseline_judges_both_orders(bench_data, data_dir):
    bench, data, samples = bench_data
    requests, _ = bench.judge_requests(data, samples, _answers(data_dir, "alpaca-13b"), JudgeSpec(mode="pairwise-baseline"))
    assert len(requests) == 320
    by_id = {r.id: r for r in requests}
    g1, g2 = by_id["pair|alpaca-13b|gpt-3.5-turbo|81|1|g1"], by_id["pair|alpaca-13b|gpt-3.5-turbo|81|1|g2"]
    assert g1.meta["prompt"] == "pair-v2" and g1.messages[0].content.startswith("Please act as an impartial judge")
    a, b = _answers(data_dir, "alpaca-13b", "gpt-3.5-turbo").values()
    text1, text2 = g1.messages[1].content, g2.messages[1].content
    assert text1.index(a["81"][0]) < text1.index(b["81"][0]) and text2.index(b["81"][0]) < text2.index(a["81"][0])


def test_pair_rows_record_what_each_model_wrote_for_style_control(bench_data, data_dir):
    """chars_i and style_i: every turn up to the judged one, GPT-4o tokens and markdown totals summed."""
    from starling_eval.adapters.arena_hard.style import answer_metadata
    from starling_eval.adapters.style_control import style_totals

    bench, data, samples = bench_data
    requests, _ = bench.judge_requests(data, samples, _answers(data_dir, "alpaca-13b"), JudgeSpec(mode="pairwise-baseline"))
    a, b = _answers(data_dir, "alpaca-13b", "gpt-3.5-turbo").values()
    by_id = {r.id: r for r in requests}
    turn2 = by_id["pair|alpaca-13b|gpt-3.5-turbo|81|2|g2"].meta
    assert turn2["chars_1"] == len(a["81"][0]) + len(a["81"][1])
    assert turn2["style_1"] == style_totals([answer_metadata(a["81"][0]), answer_metadata(a["81"][1])])
    assert turn2["style_2"] == style_totals([answer_metadata(text) for text in b["81"]])
    assert turn2["style_2"]["token_len"] > 100
    assert by_id["pair|alpaca-13b|gpt-3.5-turbo|81|1|g1"].meta["style_1"] == style_totals([answer_metadata(a["81"][0])])


def test_pairwise_all_pairs(bench_data, data_dir):
    bench, data, samples = bench_data
    requests, _ = bench.judge_requests(data, samples[:3], _answers(data_dir, "alpaca-13b", "llama-13b", "gpt-4"),
                                       JudgeSpec(mode="pairwise-all"))
    assert len(requests) == 3 * 2 * 3 * 2  # pairs × turns × questions × games
    with pytest.raises(DataError, match="two or more models"):
        bench.judge_requests(data, samples, _answers(data_dir, "gpt-4"), JudgeSpec(mode="pairwise-all"))


def test_missing_answers_are_failures_not_crashes(bench_data, data_dir):
    bench, data, samples = bench_data
    answers = _answers(data_dir, "alpaca-13b")
    del answers["alpaca-13b"]["81"]
    answers["alpaca-13b"]["82"] = answers["alpaca-13b"]["82"][:1]
    requests, missing = bench.judge_requests(data, samples, answers, JudgeSpec())
    assert len(requests) == 157
    assert {(m["question_id"], m["turn"]) for m in missing} == {(81, 1), (81, 2), (82, 2)}
    assert all(m["failure"].startswith("missing") for m in missing)


def test_bad_answer_file_names_file_and_line(tmp_path):
    from starling_eval.adapters.mtbench.judge import read_answer_file

    bad = tmp_path / "m.jsonl"
    bad.write_text('{"question_id": 81, "choices": [{"turns": ["a", "b"]}]}\n{"question_id": 82}\n')
    with pytest.raises(DataError, match=r"m.jsonl line 2: missing choices"):
        read_answer_file(bad)


def test_an_answer_file_is_named_by_its_own_model_id(tmp_path, data_dir):
    from starling_eval.adapters.mtbench.judge import answer_file_model, read_answer_file

    rows = [json.loads(line) for line in (data_dir / "mt_bench/model_answer/alpaca-13b.jsonl").read_text().splitlines()]
    renamed = tmp_path / "answers.jsonl"
    renamed.write_text("".join(json.dumps({**r, "model_id": "my-checkpoint"}) + "\n" for r in rows[:3]))
    assert answer_file_model(renamed) == "my-checkpoint"
    # FastChat names by the file; a case-only difference keeps the file's name (its published rwkv file)
    assert answer_file_model(data_dir / "mt_bench/model_answer/rwkv-4-raven-14b.jsonl") == "rwkv-4-raven-14b"
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({**r, "model_id": f"m{i}"}) + "\n" for i, r in enumerate(rows[:2])))
    assert answer_file_model(mixed) == "mixed"  # rows disagree: the file's name
    dup = tmp_path / "dup.jsonl"
    dup.write_text("".join(json.dumps(r) + "\n" for r in [rows[0], rows[1], rows[0]]))
    with pytest.raises(DataError, match=rf"dup.jsonl line 3: question_id {rows[0]['question_id']} appears twice "
                                        r"\(first on line 1\)"):
        read_answer_file(dup)
