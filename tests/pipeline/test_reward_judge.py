"""A reward model as the pairwise judge: the verdicts are what its rewards imply, in each benchmark's own
vocabulary (MT-Bench "A"/"B"/"tie", AlpacaEval's un-swapped preference); rewards are computed once per
conversation and a re-run costs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_eval.adapters.alpacaeval import annotators
from starling_eval.adapters.mtbench import verdicts
from starling_eval.data import DataError, sha256_file
from starling_eval.judges import verdicts as judge_verdicts
from starling_eval.pipeline import reward_judge
from starling_eval.pipeline.evaluation import evaluate
from starling_eval.spec import AnswerFile, JudgeRequest, JudgeSpec, Message, RewardSpec, RunSpec
from starling_eval.testing.length_reward import LengthRewardModel
from starling_eval.testing.tiny_model import build_tiny_reward_classifier
from tests.conftest import cli_env, run_cli


def _chat(*texts: str) -> tuple[Message, ...]:
    return tuple(Message(role="user" if i % 2 == 0 else "assistant", content=t) for i, t in enumerate(texts))


def test_winner_is_written_in_each_formats_vocabulary():
    assert [reward_judge.winner(*r) for r in ((2.0, 1.0), (1.0, 2.0), (1.5, 1.5))] == ["A", "B", "tie"]
    assert verdicts.winner_value("[[A]]", "B") == "B"
    plain, switched = (annotators.output_format(annotators.load("weighted_alpaca_eval_gpt4_turbo"), s) for s in (False, True))
    # shown first = output_1; when alpaca_eval's coin switched the outputs, the preference is un-swapped
    assert [annotators.winner_value(plain, w) for w in ("A", "B", "tie")] == [1.0, 2.0, 1.5]
    assert [annotators.winner_value(switched, w) for w in ("A", "B", "tie")] == [2.0, 1.0, 1.5]
    request = JudgeRequest(id="r", messages=_chat("judge this"), output_format="[[A]]", verdict_reader=verdicts.__name__,
                           candidates=(_chat("q", "short"), _chat("q", "longer")))
    (rm_request,) = reward_judge.reward_requests([request])
    assert judge_verdicts.parse(rm_request, {"rewards": [0.5, 0.25]}).value == "A"
    assert judge_verdicts.parse(rm_request, {"text": "?"}).failure.startswith("unparsable")


def test_requests_an_rm_cannot_judge_are_refused_before_any_work():
    single = JudgeRequest(id="single|m|1|1", messages=_chat("rate it"), output_format="[[rating]]",
                          verdict_reader=verdicts.__name__)
    with pytest.raises(DataError, match="pairwise"):
        reward_judge.reward_requests([single])
    rating_pair = single.model_copy(update={"candidates": (_chat("q", "a"), _chat("q", "b"))})
    with pytest.raises(DataError, match="not a two-answer comparison"):
        reward_judge.reward_requests([rating_pair])


def _mtbench_spec(data_dir: Path, results: Path) -> RunSpec:
    answers = data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl"
    judge = JudgeSpec(model="length-rm", mode="pairwise-baseline", baseline="gpt-3.5-turbo",
                      reward_model=RewardSpec(name_or_path="length-rm"))
    return RunSpec(benchmark="mtbench", answers=[AnswerFile(model="alpaca-13b", path=str(answers),
                                                            sha256=sha256_file(answers))],
                   judge=judge, data_dir=str(data_dir), limit=3)


def _turns(path: Path) -> dict[int, list[str]]:
    return {r["question_id"]: r["choices"][0]["turns"] for r in map(json.loads, path.read_text().splitlines())}


def test_mtbench_pairwise_verdicts_follow_the_rewards_and_a_rerun_costs_nothing(tmp_path, data_dir):
    rm = LengthRewardModel()
    result = evaluate(_mtbench_spec(data_dir, tmp_path), tmp_path, judge_client=rm)
    mine = _turns(data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl")
    base = _turns(data_dir / "mt_bench" / "model_answer" / "gpt-3.5-turbo.jsonl")
    rows = [json.loads(line) for line in (result.run.path / "judgments.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 2 * 2 and not any(r["failure"] for r in rows)  # 3 questions, 2 turns, 2 games
    for row in rows:
        qid, turn = row["question_id"], row["turn"]
        lengths = {"alpaca-13b": sum(map(len, mine[qid][:turn])), "gpt-3.5-turbo": sum(map(len, base[qid][:turn]))}
        first, second = (row["model_1"], row["model_2"]) if row["game"] == 1 else (row["model_2"], row["model_1"])
        assert row["verdict"] == reward_judge.winner(lengths[first], lengths[second])
    # both games of a match share their two conversations: one reward per (question, turn, model)
    assert rm.scored == 3 * 2 * 2
    assert result.judging["usage"]["paid_now"]["cost_usd"] == 0
    assert result.manifest["judge"]["reward_model"]["name_or_path"] == "length-rm"
    again = evaluate(_mtbench_spec(data_dir, tmp_path), tmp_path, judge_client=(fresh := LengthRewardModel()))
    assert fresh.scored == 0 and again.judging["counts"]["from_cache"] == 12
    assert again.scores["models"] == result.scores["models"]


def test_alpacaeval_preferences_follow_the_rewards_whatever_the_coin_showed_first(tmp_path, data_dir):
    reference = json.loads((data_dir / "alpaca_eval/results/gpt4_1106_preview/model_outputs.json").read_text())[:6]
    outputs = [{"instruction": r["instruction"], "output": r["output"][: 40 + 200 * (i % 2)], "generator": "mine"}
               for i, r in enumerate(reference)]
    path = tmp_path / "model_outputs.json"
    path.write_text(json.dumps(outputs))
    judge = JudgeSpec(model="length-rm", mode="pairwise-baseline", baseline="gpt4_1106_preview",
                      reward_model=RewardSpec(name_or_path="length-rm"))
    spec = RunSpec(benchmark="alpacaeval", answers=[AnswerFile(model="mine", path=str(path), sha256=sha256_file(path))],
                   judge=judge, data_dir=str(data_dir), limit=6)
    result = evaluate(spec, tmp_path, judge_client=LengthRewardModel())
    rows = {r["instruction"]: r for r in map(json.loads, (result.run.path / "judgments.jsonl").read_text().splitlines())}
    switched = [rows[o["instruction"]]["is_switched"] for o in outputs]
    assert any(switched) and not all(switched)  # both orders are exercised
    for out, ref in zip(outputs, reference, strict=True):
        expected = 2.0 if len(out["output"]) > len(ref["output"]) else 1.0
        assert rows[out["instruction"]]["verdict"] == expected
    (row,) = result.scores["models"]
    wins = sum(len(o["output"]) > len(r["output"]) for o, r in zip(outputs, reference, strict=True))
    assert row["win_rate"] == pytest.approx(100 * wins / 6)


def test_cli_judges_with_a_real_tiny_reward_model_and_refuses_what_an_rm_cannot_do(tmp_path, data_dir):
    rm = build_tiny_reward_classifier(tmp_path / "rm")
    answers = str(data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl")
    base = ("--results", str(tmp_path / "res"), "run", "mtbench", "--answers", answers, "--limit", "2",
            "--judge-reward-model", str(rm), "--dtype", "float32", "--device", "cpu", "--json")
    res = run_cli(*base, env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["judging"]["judge"]["model"] == "rm" and out["judging"]["judge"]["mode"] == "pairwise-baseline"
    assert out["judging"]["counts"]["called"] == 8 and out["n_failed"] == 0
    for extra, message in ((("--judge-mode", "single"), "compares two answers"),
                           (("--judge-base-url", "http://localhost:1/v1"), "--judge-base-url"),
                           (("--dry-run",), "--dry-run")):
        res = run_cli(*base, *extra, env=cli_env(data_dir))
        assert res.returncode == 2 and message in res.stderr, res.stderr
