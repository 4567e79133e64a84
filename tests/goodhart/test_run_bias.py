"""Bias reports of stored runs: hand-written run folders with planted judges (first-position, length-loving,
AlpacaEval with a coin-flipped order), and the runs that have nothing to check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from starling_eval.data import DataError
from starling_eval.goodhart.run_bias import judgments_for_bias, run_bias_report
from starling_eval.store.runs import RunStore

MODELS = ("model-x", "model-y")


def write_run(results: Path, run_id: str, benchmark: str, rows: Iterable[dict[str, Any]],
              scores: dict[str, Any] | None = None, judge: str | None = "scripted", mode: str | None = None) -> Path:
    """A run folder as RunStore finds it: runs/<id>/manifest.json, judgments.jsonl and maybe scores.json."""
    folder = results / "runs" / run_id
    folder.mkdir(parents=True)
    manifest: dict[str, Any] = {"run_id": run_id, "spec": {"benchmark": benchmark}, "status": "complete"}
    if judge is not None:
        manifest["judging"] = {"judge": {"model": judge, **({"mode": mode} if mode else {})}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if scores is not None:
        (folder / "scores.json").write_text(json.dumps(scores), encoding="utf-8")
    return folder


def mtbench_rows(judge: Callable[[int, int, int], str | None], n_questions: int = 30,
                 with_chars: bool = True) -> list[dict[str, Any]]:
    """Both games of every (question, turn) of one model pair. ``judge(game, shown_first_chars,
    shown_second_chars)`` gives the verdict in the positions shown. model_1's answers alternate between
    long and short so that length and model identity are not confounded."""
    rows = []
    for qid in range(81, 81 + n_questions):
        for turn in (1, 2):
            chars = {1: 900 + 10 * qid, 2: 300 + qid} if qid % 2 else {1: 250 + qid, 2: 1100 + 5 * qid}
            for game in (1, 2):
                first, second = (1, 2) if game == 1 else (2, 1)
                row = {"kind": "pair", "question_id": qid, "turn": turn, "model_1": MODELS[0], "model_2": MODELS[1],
                       "game": game, "category": "writing", "verdict": judge(game, chars[first], chars[second]),
                       "failure": None}
                if with_chars:
                    row.update(chars_1=chars[1], chars_2=chars[2])
                rows.append(row)
    return rows


def first_position_judge(game: int, first: int, second: int) -> str:
    return "A"


def length_loving_judge(game: int, first: int, second: int) -> str:
    return "A" if first > second else "B"


def alpaca_rows(preference: Callable[[int, bool], float | None], n: int = 40) -> list[dict[str, Any]]:
    """One row per instruction; the order is switched on every other instruction (a balanced coin). The
    model's output (output_2) is always longer than the reference's."""
    rows = []
    for i in range(n):
        switched = i % 2 == 0
        rows.append({"kind": "alpacaeval", "question_id": i, "instruction": f"instruction {i}", "model": "model-x",
                     "reference": "gpt4_1106_preview", "output_1": "r" * (100 + i), "output_2": "m" * (400 + 3 * i),
                     "is_switched": switched, "verdict": preference(i, switched), "failure": None})
    return rows


ALPACA_SCORES = {"mode": "alpacaeval", "models": [{"model": "model-x", "win_rate": 61.5,
                                                   "length_controlled_winrate": 44.25}]}


def report(tmp_path: Path, run_id: str) -> dict[str, Any]:
    folder = RunStore(tmp_path).get(run_id)
    assert folder is not None
    return run_bias_report(folder)


def test_first_position_judge_is_flagged_and_never_consistent(tmp_path):
    write_run(tmp_path, "r-first", "mtbench", mtbench_rows(first_position_judge))
    out = report(tmp_path, "r-first")
    assert (out["run_id"], out["benchmark"], out["judge"], out["kind"]) == ("r-first", "mtbench", "scripted", "pair")
    assert out["n_judgments"] == 60
    position = out["position"]
    assert position["n"] == 60 and position["consistency"] == 0 and position["biased_first"] == 1
    assert position["n_biased_first"] == 60 and position["n_biased_second"] == 0
    # every pair is inconsistent, so no pair is decided: nothing to say about length
    assert out["length"]["n"] == 0 and out["length"]["n_ties"] == 60
    assert out["lc_gap"] is None and out["length_unavailable"] is None
    assert len(out["flags"]) == 1 and out["flags"][0].startswith("position bias toward the first answer")


def test_length_loving_judge_is_flagged_for_length_only(tmp_path):
    write_run(tmp_path, "r-long", "mtbench", mtbench_rows(length_loving_judge))
    out = report(tmp_path, "r-long")
    assert out["position"]["consistency"] == 1 and out["position"]["n"] == 60
    length = out["length"]
    assert length["n"] == 60 and length["longer_wins"] == 1 and length["n_length_unknown"] == 0
    assert length["logistic"]["coefficient"] > 0  # A wins when it is longer (separated: the sign is what counts)
    assert len(out["flags"]) == 1 and out["flags"][0].startswith("length bias toward the longer answer")


def test_pairs_are_grouped_by_models_question_and_turn(tmp_path):
    """Game 2's verdict is in swapped positions: "B" there (model_1 won, shown second) agrees with game 1's "A"."""
    rows = mtbench_rows(lambda game, first, second: "A" if game == 1 else "B", n_questions=3)
    rows[1].update(verdict=None, failure="judge: no verdict")  # game 2 of question 81, turn 1
    write_run(tmp_path, "r-group", "mtbench", rows)
    kind, judgments, extras = judgments_for_bias(RunStore(tmp_path).get("r-group"))
    assert kind == "pair" and len(judgments) == 6 and extras["n_rows"] == 12
    first = judgments[0]
    assert (first.key, first.cluster, first.verdict_ab, first.verdict_ba) == ("model-x|model-y|81|1", "81", "A", None)
    assert (first.len_a, first.len_b) == (900 + 810, 300 + 81)
    assert all(j.swapped for j in judgments)
    position = run_bias_report(RunStore(tmp_path).get("r-group"))["position"]
    assert position["n"] == 5 and position["n_failed"] == 1 and position["consistency"] == 1


def test_runs_without_lengths_say_so(tmp_path):
    write_run(tmp_path, "r-old", "mtbench", mtbench_rows(length_loving_judge, with_chars=False))
    out = report(tmp_path, "r-old")
    assert out["length"] is None
    assert "r-old" in out["length_unavailable"] and "chars_1" in out["length_unavailable"]
    assert out["position"]["consistency"] == 1 and out["flags"] == []


def test_alpacaeval_first_shown_judge(tmp_path):
    """A judge that always prefers what it saw first: with the order a balanced coin, the model wins exactly
    when it was shown first. Fractional (logprob) preferences count by which side of 1.5 they fall."""
    rows = alpaca_rows(lambda i, switched: 1.83 if switched else 1.2)
    rows.append({**rows[0], "instruction": "tied", "verdict": 1.5})
    rows.append({**rows[1], "instruction": "failed", "verdict": None, "failure": "judge: no verdict"})
    rows.append({**rows[2], "instruction": "same", "output_2": rows[2]["output_1"], "verdict": 1.5,
                 "decided": "identical outputs"})
    write_run(tmp_path, "r-alpaca", "alpacaeval", rows, scores=ALPACA_SCORES, judge="weighted_gpt4")
    out = report(tmp_path, "r-alpaca")
    assert (out["kind"], out["judge"], out["n_judgments"]) == ("alpacaeval", "weighted_gpt4", 43)
    position = out["position"]
    assert position["measure"] == "first_shown_wins"
    assert (position["n"], position["n_first_wins"], position["first_shown_wins"]) == (40, 40, 1.0)
    assert (position["n_ties"], position["n_failed"], position["n_not_judged"]) == (1, 1, 1)
    assert position["p_value"] < 1e-9
    assert position["b_wins_shown_first"] == 1.0 and position["b_wins_shown_second"] == 0.0
    assert out["lc_gap"] == [{"model": "model-x", "win_rate": 61.5, "length_controlled_winrate": 44.25, "gap": 17.25}]
    assert out["lc_unavailable"] is None
    # the model's output is always the longer: it wins half, the half in which it was shown first
    assert out["length"]["longer_wins"] == 0.5 and out["length"]["n"] == 40
    assert len(out["flags"]) == 1 and "shown first won 40 of 40" in out["flags"][0]


def test_alpacaeval_length_loving_judge_is_not_taken_for_position_bias(tmp_path):
    write_run(tmp_path, "r-alpaca-long", "alpacaeval", alpaca_rows(lambda i, switched: 2.0), scores=ALPACA_SCORES)
    kind, judgments, extras = judgments_for_bias(RunStore(tmp_path).get("r-alpaca-long"))
    assert kind == "alpacaeval" and not any(j.swapped for j in judgments)
    assert {j.verdict_ab for j in judgments} == {"B"}
    out = report(tmp_path, "r-alpaca-long")
    assert out["position"]["first_shown_wins"] == 0.5 and out["position"]["p_value"] == 1.0
    assert out["length"]["longer_wins"] == 1.0
    assert len(out["flags"]) == 1 and out["flags"][0].startswith("length bias toward the longer answer")


def test_style_that_carries_the_win_rate_is_flagged(tmp_path):
    """A judge that likes length, the model mostly the longer: its raw win rate drops to about even with length and
    markdown held equal, and the bias report says so; a coin-flipping judge is not flagged."""
    import math
    import random

    from tests.adapters.mtbench.test_score import _styled_rows

    rng = random.Random(0)
    rows = _styled_rows(lambda a, b: "A" if rng.random() < 1 / (1 + math.exp(-5 * (a - b) / (a + b))) else "B")
    write_run(tmp_path, "r-style", "mtbench", rows, mode="pairwise-baseline")
    out = report(tmp_path, "r-style")
    (entry,) = out["style"]["models"]
    assert entry["model"] == "m" and entry["raw"] > 0.65 and entry["gap"] > 0.15 and not entry["extrapolated"]
    assert entry["coefficients"]["length"] > 1 and out["style"]["unavailable"] is None
    assert [f for f in out["flags"] if f.startswith("style lifts m's win rate")]
    coin = random.Random(3)
    write_run(tmp_path, "r-coin", "mtbench", _styled_rows(lambda a, b: coin.choice("AB"), seed=3), mode="pairwise-baseline")
    assert not [f for f in report(tmp_path, "r-coin")["flags"] if f.startswith("style")]


def test_alpacaeval_style_from_the_outputs_and_an_extrapolation_is_noted_not_flagged(tmp_path):
    write_run(tmp_path, "r-alpaca", "alpacaeval", alpaca_rows(lambda i, switched: 1.9 if i % 3 else 1.1))
    style = report(tmp_path, "r-alpaca")["style"]
    (entry,) = style["models"]
    assert entry["model"] == "model-x" and entry["raw"] == pytest.approx(26 * 0.9 / 40 + 14 * 0.1 / 40)
    assert entry["extrapolated"] and entry["n_shorter"] == 0 and style["flags"] == []
    assert style["notes"] == ["model-x's answer was the longer in every battle: its style-controlled win rate "
                              "extrapolates to an equal length never observed"]


def test_alpacaeval_without_scores_has_no_lc_gap(tmp_path):
    write_run(tmp_path, "r-alpaca-nos", "alpacaeval", alpaca_rows(lambda i, switched: 1.0))
    out = report(tmp_path, "r-alpaca-nos")
    assert out["lc_gap"] == [] and "scores.json" in out["lc_unavailable"]
    unavailable = {"mode": "alpacaeval", "lc_unavailable": "missing alpaca_eval/df_gamed.csv",
                   "models": [{"model": "model-x", "win_rate": 50.0, "length_controlled_winrate": None}]}
    write_run(tmp_path, "r-alpaca-nolc", "alpacaeval", alpaca_rows(lambda i, switched: 1.0), scores=unavailable)
    out = report(tmp_path, "r-alpaca-nolc")
    assert out["lc_gap"][0]["gap"] is None and out["lc_unavailable"] == "missing alpaca_eval/df_gamed.csv"


@pytest.mark.parametrize(("benchmark", "rows", "message"), [
    ("mtbench", [{"kind": "single", "question_id": 81, "turn": 1, "model": "m", "verdict": 7.0, "failure": None}],
     "not applicable to MT-Bench single-answer grading"),
    ("mmlu", [], "not applicable to mmlu runs"),
    ("mtbench", [], "no judgments to check"),
    ("mtbench", [{"kind": "pair", "question_id": 81, "turn": 1, "model_1": "a", "model_2": "b", "verdict": "A"}],
     "judgments.jsonl row 1: missing game"),
    ("mtbench", [{"kind": "pair", "question_id": 81, "turn": 1, "model_1": "a", "model_2": "b", "game": 1,
                  "verdict": "model_a", "failure": None}], "verdict must be A, B, tie or null"),
    ("alpacaeval", [{"kind": "alpacaeval", "instruction": "i", "model": "m", "is_switched": False, "verdict": "2",
                     "failure": None}], "must be an alpaca_eval preference"),
])
def test_runs_with_nothing_to_check_raise_one_line(tmp_path, benchmark, rows, message):
    write_run(tmp_path, "r-bad", benchmark, rows)
    with pytest.raises(DataError, match=message) as info:
        run_bias_report(RunStore(tmp_path).get("r-bad"))
    assert "\n" not in str(info.value)
    assert "r-bad" in str(info.value)
