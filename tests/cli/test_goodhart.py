"""``starling-eval goodhart agreement`` and ``goodhart bias`` through the real top-level group (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from starling_eval.cli import main
from starling_eval.cli.goodhart import goodhart
from tests.goodhart.test_run_bias import (
    ALPACA_SCORES,
    alpaca_rows,
    first_position_judge,
    length_loving_judge,
    mtbench_rows,
    write_run,
)

main.add_command(goodhart)  # as starling_eval.cli registers it


def invoke(*args: str, results: Path | None = None, data: Path | None = None):
    env = {"STARLING_EVAL_DATA": str(data) if data else None, "STARLING_EVAL_RESULTS": None}
    prefix = ["--results", str(results)] if results is not None else []
    return CliRunner().invoke(main, [*prefix, "goodhart", *args], env=env)


def vote(qid: int, turn: int, a: str, b: str, winner: str, judge: str) -> str:
    return json.dumps({"question_id": qid, "model_a": a, "model_b": b, "winner": winner, "judge": judge,
                       "turn": turn}) + "\n"


# -- agreement ---------------------------------------------------------------------------------------


def test_agreement_json_reproduces_table5(data_dir):
    result = invoke("agreement", "--json", data=data_dir)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    first = rows[0]
    assert (first["judge"], first["turn"], first["setup"], first["n"]) == ("gpt-4", 1, "S1", 1343)
    assert round(first["agreement"], 4) == 0.6597
    assert {"kappa", "ci_low", "ci_high", "n_questions", "n_judge_votes", "n_matched_keys", "experts_only",
            "n_agree"} <= set(first)
    assert [(r["judge"], r["turn"], r["setup"]) for r in rows] == [
        (j, t, s) for j in ("gpt-4", "human") for t in (1, 2) for s in ("S1", "S2")]
    human = {(r["turn"], r["setup"]): (round(r["agreement"], 4), r["n"]) for r in rows if r["judge"] == "human"}
    assert human[(1, "S1")] == (0.6297, 721)


def test_agreement_table(data_dir):
    result = invoke("agreement", data=data_dir)
    assert result.exit_code == 0, result.output
    assert "65.97%" in result.stdout and "gpt-4" in result.stdout and "humans" in result.stdout


def test_agreement_include_authors(data_dir):
    result = invoke("agreement", "--json", "--include-authors", data=data_dir)
    rows = json.loads(result.stdout)
    assert all(r["experts_only"] is False for r in rows)
    assert sum(r["n"] for r in rows if r["judge"] == "gpt-4" and r["setup"] == "S1") == 3355


def test_agreement_custom_judge_votes_against_the_real_humans(tmp_path, data_dir):
    """GPT-4's turn-1 votes alone, under a new name: the same turn-1 rows, and nothing to compare on turn 2."""
    lines = (data_dir / "mt_bench_human" / "gpt4_pair.jsonl").read_text(encoding="utf-8").splitlines()
    mine = tmp_path / "my_judge.jsonl"
    mine.write_text("".join(line + "\n" for line in lines if json.loads(line)["turn"] == 1), encoding="utf-8")
    rows = json.loads(invoke("agreement", "--judge-votes", str(mine), "--json", data=data_dir).stdout)
    judge = {(r["turn"], r["setup"]): r for r in rows if r["judge"] == "my_judge"}
    assert round(judge[(1, "S1")]["agreement"], 4) == 0.6597 and judge[(1, "S1")]["n"] == 1343
    assert judge[(2, "S1")]["n"] == 0 and judge[(2, "S1")]["agreement"] is None


def test_agreement_hand_counted(tmp_path):
    """Two keys, no data folder needed. Key 1: the judge says model_a; experts say model_a, tie (the
    author's model_b is not counted). Key 2: the judge saw the pair the other way round and says model_b,
    i.e. "z" wins; the expert says "z" wins as model_a."""
    humans = tmp_path / "humans.jsonl"
    humans.write_text(vote(1, 1, "x", "y", "model_a", "expert_0") + vote(1, 1, "x", "y", "tie", "expert_1")
                      + vote(1, 1, "x", "y", "model_b", "author_0") + vote(2, 1, "z", "w", "model_a", "expert_0"),
                      encoding="utf-8")
    judge = tmp_path / "judge.jsonl"
    judge.write_text(vote(1, 1, "x", "y", "model_a", "j") + vote(2, 1, "w", "z", "model_b", "j"), encoding="utf-8")
    result = invoke("agreement", "--votes", str(humans), "--judge-votes", str(judge), "--judge-name", "tiny", "--json")
    assert result.exit_code == 0, result.output
    rows = {(r["judge"], r["turn"], r["setup"]): r for r in json.loads(result.stdout)}
    s1, s2 = rows[("tiny", 1, "S1")], rows[("tiny", 1, "S2")]
    assert (s1["n"], s1["n_agree"], s1["n_matched_keys"]) == (3, 2, 2)
    assert (s2["n"], s2["n_agree"], s2["agreement"]) == (2, 2, 1.0)
    human = rows[("human", 1, "S1")]
    assert (human["n"], human["n_agree"]) == (1, 0)  # expert_0's model_a against expert_1's tie


def test_agreement_malformed_file_is_one_line_exit_2(tmp_path):
    humans = tmp_path / "humans.jsonl"
    humans.write_text(vote(1, 1, "x", "y", "model_a", "expert_0"), encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(vote(1, 1, "x", "y", "model_a", "j") + '{"question_id": 2, "turn": 1}\n', encoding="utf-8")
    result = invoke("agreement", "--votes", str(humans), "--judge-votes", str(bad))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and str(bad) in message and "line 2" in message
    bad.write_text(vote(1, 1, "x", "y", "model_a", "j") + "{not json\n", encoding="utf-8")
    result = invoke("agreement", "--votes", str(humans), "--judge-votes", str(bad))
    assert result.exit_code == 2 and str(bad) in result.stderr and "line 2" in result.stderr


@pytest.mark.parametrize("option", ["--votes", "--judge-votes"])
def test_agreement_missing_file_is_exit_2(tmp_path, option):
    other = tmp_path / "votes.jsonl"
    other.write_text(vote(1, 1, "x", "y", "model_a", "expert_0"), encoding="utf-8")
    missing = tmp_path / "nope.jsonl"
    paired = "--judge-votes" if option == "--votes" else "--votes"
    result = invoke("agreement", option, str(missing), paired, str(other))
    assert result.exit_code == 2 and f"{missing}: no such file" in result.stderr


def test_agreement_missing_data_folder_is_exit_2(tmp_path):
    result = invoke("agreement", "--data-dir", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "mt_bench_human/human.jsonl" in result.stderr


def test_agreement_two_judge_votes_on_one_key_is_exit_2(tmp_path):
    humans = tmp_path / "humans.jsonl"
    humans.write_text(vote(1, 1, "x", "y", "model_a", "expert_0"), encoding="utf-8")
    judge = tmp_path / "judge.jsonl"
    judge.write_text(vote(1, 1, "x", "y", "model_a", "j") + vote(1, 1, "y", "x", "model_a", "j"), encoding="utf-8")
    result = invoke("agreement", "--votes", str(humans), "--judge-votes", str(judge))
    assert result.exit_code == 2 and str(judge) in result.stderr and "more than one vote" in result.stderr


# -- bias --------------------------------------------------------------------------------------------


def test_bias_first_position_judge(tmp_path):
    write_run(tmp_path, "20250101-000000-mtbench-x", "mtbench", mtbench_rows(first_position_judge))
    result = invoke("bias", "20250101-000000-mtbench", "--json", results=tmp_path)  # a unique prefix
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"run_id", "benchmark", "judge", "kind", "n_judgments", "position", "length",
                           "length_unavailable", "lc_gap", "lc_unavailable", "style", "flags"}
    assert report["judge"] == "scripted" and report["position"]["consistency"] == 0
    assert report["flags"] and "position bias toward the first answer" in report["flags"][0]


def test_bias_table_shows_flags(tmp_path):
    write_run(tmp_path, "r-long", "mtbench", mtbench_rows(length_loving_judge))
    result = invoke("bias", "r-long", results=tmp_path)
    assert result.exit_code == 0, result.output
    assert "position: consistent" in result.stdout and "longer wins" in result.stdout
    assert "length bias toward the longer answer" in result.stdout


def test_bias_by_folder_path_and_results_from_the_parent_group(tmp_path):
    folder = write_run(tmp_path / "elsewhere", "r-path", "mtbench", mtbench_rows(length_loving_judge))
    result = invoke("bias", str(folder), "--json", results=tmp_path / "results")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == "r-path"
    result = invoke("bias", "r-path", results=tmp_path / "elsewhere")
    assert result.exit_code == 0, result.output


def test_bias_alpacaeval(tmp_path):
    write_run(tmp_path, "r-alpaca", "alpacaeval", alpaca_rows(lambda i, switched: 1.83 if switched else 1.2),
              scores=ALPACA_SCORES)
    result = invoke("bias", "r-alpaca", "--json", results=tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "alpacaeval" and report["lc_gap"][0]["gap"] == 17.25
    assert report["position"]["first_shown_wins"] == 1.0 and report["position"]["n"] == 40
    assert any("shown first" in flag for flag in report["flags"])
    table = invoke("bias", "r-alpaca", results=tmp_path)
    assert table.exit_code == 0, table.output
    assert "first shown wins" in table.stdout and "+17.25 points" in table.stdout


def test_bias_old_run_says_length_is_unavailable(tmp_path):
    write_run(tmp_path, "r-old", "mtbench", mtbench_rows(length_loving_judge, with_chars=False))
    result = invoke("bias", "r-old", results=tmp_path)
    assert result.exit_code == 0, result.output
    assert "chars_1" in result.stderr and "no position, length or style bias flagged" in result.stdout
    assert "valid matches record no answer style" in result.stderr


def test_bias_single_mode_run_is_not_applicable(tmp_path):
    rows = [{"kind": "single", "question_id": 81, "turn": 1, "model": "m", "verdict": 7.0, "failure": None}]
    write_run(tmp_path, "r-single", "mtbench", rows)
    result = invoke("bias", "r-single", results=tmp_path)
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and "r-single" in message and "not applicable" in message


def test_bias_unknown_run_is_exit_2(tmp_path):
    result = invoke("bias", "no-such-run", results=tmp_path)
    assert result.exit_code == 2 and "no run matches 'no-such-run'" in result.stderr


def test_help_lists_the_group():
    result = CliRunner().invoke(main, ["goodhart", "--help"])
    assert result.exit_code == 0
    assert "Does the judge prefer what humans prefer?" in result.stdout
    assert "agreement" in result.stdout and "bias" in result.stdout
