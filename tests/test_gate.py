"""gate: paired bootstrap and McNemar on known cases, comparability and rule refusals, the export round trip,
the GitHub step summary, and one gate between two real reward-model runs of different --limit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from starling_eval.gate import (
    GateError,
    Rule,
    evaluate_gate,
    export_run,
    gate,
    load_side,
    markdown_summary,
    mcnemar,
    paired_bootstrap,
    read_rules,
    write_step_summary,
)
from tests.conftest import cli_env, run_cli
from tests.report.test_items import mmlu_run, mtbench_single_run, rm_run

QUESTIONS = range(81, 101)


def _ratings(shift: float = 0.0, *, spread: bool = True) -> dict[tuple[int, int], float]:
    return {(q, t): (q % 7 + t if spread else 6.0) + 1 + shift for q in QUESTIONS for t in (1, 2)}


# -- the paired bootstrap ---------------------------------------------------------------------------


def test_identical_runs_differ_by_zero_with_a_zero_interval_and_pass(tmp_path):
    mtbench_single_run(tmp_path, "base", _ratings())
    mtbench_single_run(tmp_path, "cand", _ratings())
    result = gate("base", "cand", tmp_path)
    (rule,) = result.rules
    assert (rule.metric, rule.max_drop, rule.n_shared) == ("mtbench.overall", 0.0, 40)
    assert (rule.diff, rule.ci_low, rule.ci_high) == (0.0, 0.0, 0.0)
    assert rule.passed and result.passed and result.exit_code == 0 and result.default_rules


def test_a_candidate_one_point_worse_on_every_item_fails_a_half_point_rule_and_passes_a_two_point_one(tmp_path):
    mtbench_single_run(tmp_path, "base", _ratings())
    mtbench_single_run(tmp_path, "cand", _ratings(-1.0))
    base, cand = load_side("base", tmp_path), load_side("cand", tmp_path)
    strict = evaluate_gate(base, cand, [Rule("mtbench.overall", 0.5)])
    loose = evaluate_gate(base, cand, [Rule("mtbench.overall", 2.0), Rule("mtbench.turn2", 0.5)])
    assert (strict.rules[0].diff, strict.rules[0].ci_low, strict.rules[0].ci_high) == (-1.0, -1.0, -1.0)
    assert not strict.passed and strict.exit_code == 1
    assert loose.rules[0].passed and not loose.rules[1].passed and loose.exit_code == 1
    assert loose.rules[0].baseline_mean - loose.rules[0].candidate_mean == pytest.approx(1.0)


def test_noisy_differences_get_an_interval_around_the_mean_difference():
    base = {f"{q}": float(q % 5) for q in range(200)}
    cand = {k: v + (0.5 if int(k) % 2 else -0.3) for k, v in base.items()}
    diff, low, high, n = paired_bootstrap(base, cand, {}, seed=1)
    assert n == 200 and diff == pytest.approx(0.1)
    assert low < diff < high and high - low < 0.3
    assert paired_bootstrap(base, cand, {}, seed=1) == (diff, low, high, n)  # seeded


def test_the_two_turns_of_a_question_are_resampled_together():
    keys = [f"{q}|{t}" for q in range(30) for t in (1, 2)]
    by_question = {k: k.split("|")[0] for k in keys}
    base = dict.fromkeys(keys, 5.0)
    # turns pull in opposite directions: every question's two turns sum to zero, so clustered resamples
    # (whole questions) always average exactly 0, while resampling turns alone scatters
    opposite = {k: 5.0 + (int(k.split("|")[0]) % 4 + 1) * (1 if k.endswith("|1") else -1) for k in keys}
    _, low, high, _ = paired_bootstrap(base, opposite, by_question)
    assert (low, high) == (0.0, 0.0)
    _, low, high, _ = paired_bootstrap(base, opposite, {})
    assert low < -0.5 and high > 0.5
    # turns that move together: clusters of two identical differences carry half the information
    together = {k: 5.0 + (int(k.split("|")[0]) % 4 - 1.5) for k in keys}
    _, c_low, c_high, _ = paired_bootstrap(base, together, by_question)
    _, u_low, u_high, _ = paired_bootstrap(base, together, {})
    assert (c_high - c_low) / (u_high - u_low) == pytest.approx(math.sqrt(2), rel=0.15)


def test_only_shared_items_are_compared(tmp_path):
    base_ratings, cand_ratings = _ratings(), _ratings()
    base_ratings[(81, 2)] = None  # failed in the baseline
    del cand_ratings[(82, 1)]  # not in the candidate
    cand_ratings[(99, 3)] = 10.0  # only in the candidate
    mtbench_single_run(tmp_path, "base", base_ratings)
    mtbench_single_run(tmp_path, "cand", cand_ratings)
    (rule,) = gate("base", "cand", tmp_path).rules
    assert (rule.n_shared, rule.n_only_baseline, rule.n_only_candidate) == (38, 1, 2)
    assert (rule.n_failed_baseline, rule.n_failed_candidate) == (1, 0)


# -- McNemar ----------------------------------------------------------------------------------------


def _binary(b: int, c: int, agree: int = 5) -> tuple[dict[str, float], dict[str, float]]:
    pairs = [(100.0, 0.0)] * b + [(0.0, 100.0)] * c + [(100.0, 100.0)] * agree + [(0.0, 0.0)] * agree
    return {str(i): p[0] for i, p in enumerate(pairs)}, {str(i): p[1] for i, p in enumerate(pairs)}


def test_mcnemar_exact_for_few_discordant_items():
    result = mcnemar(*_binary(1, 9))
    assert (result["b"], result["c"], result["method"]) == (1, 9, "exact binomial")
    assert result["p_value"] == 2 * (math.comb(10, 0) + math.comb(10, 1)) / 2**10 == 0.021484375
    assert mcnemar(*_binary(5, 5))["p_value"] == 1.0
    assert mcnemar(*_binary(0, 0)) == {"b": 0, "c": 0, "p_value": 1.0, "method": "no discordant items"}


def test_mcnemar_chi_square_with_continuity_correction_from_25_discordant_items():
    result = mcnemar(*_binary(10, 30))
    # (|10 - 30| - 1)^2 / 40 = 9.025; scipy.stats.chi2.sf(9.025, 1) = 0.002663119259...
    assert result["method"] == "chi-square, continuity-corrected"
    assert result["p_value"] == pytest.approx(0.002663119259, rel=1e-9)


def test_binary_metrics_report_mcnemar_beside_the_bootstrap(tmp_path):
    subjects = [("anatomy", i) for i in range(30)]
    mmlu_run(tmp_path, "base", {k: k[1] % 3 != 0 for k in subjects})
    mmlu_run(tmp_path, "cand", {k: k[1] % 3 != 0 or k[1] == 0 for k in subjects})  # one more right
    (rule,) = gate("base", "cand", tmp_path, rules_path=None).rules
    assert rule.metric == "mmlu.acc" and rule.unit == "percent"
    assert rule.diff == pytest.approx(100 / 30)
    assert rule.mcnemar == {"b": 0, "c": 1, "p_value": 1.0, "method": "exact binomial"}


# -- refusals (exit 2) ------------------------------------------------------------------------------


def test_runs_with_different_judges_are_not_comparable(tmp_path):
    mtbench_single_run(tmp_path, "base", _ratings(), judge="gpt-4")
    mtbench_single_run(tmp_path, "cand", _ratings(), judge="gpt-4o")
    with pytest.raises(GateError, match=r"runs base and cand are not comparable: judge: .*gpt-4.* vs .*gpt-4o"):
        gate("base", "cand", tmp_path)


def test_a_different_limit_is_comparable_but_a_different_benchmark_is_not(tmp_path):
    mtbench_single_run(tmp_path, "base", _ratings(), limit=20)
    mtbench_single_run(tmp_path, "cand", {k: v for k, v in _ratings().items() if k[0] < 91}, limit=10)
    assert gate("base", "cand", tmp_path).rules[0].n_shared == 20
    mmlu_run(tmp_path, "mmlu", {("anatomy", 0): True, ("anatomy", 1): False})
    with pytest.raises(GateError, match="not comparable: benchmark: mtbench vs mmlu; version"):
        gate("base", "mmlu", tmp_path)


def test_a_rule_whose_metric_a_run_lacks_is_refused(tmp_path):
    mtbench_single_run(tmp_path, "base", _ratings())
    mtbench_single_run(tmp_path, "cand", _ratings())
    doc = export_run(tmp_path / "runs" / "cand")
    for part in ("metrics", "items", "clusters"):
        del doc[part]["mtbench.turn2"]
    (tmp_path / "cand.json").write_text(json.dumps(doc))
    cand = load_side(tmp_path / "cand.json", tmp_path)
    with pytest.raises(GateError, match=r"mtbench.turn2 is not in the candidate run cand \(it has: mtbench.overall, "):
        evaluate_gate(load_side("base", tmp_path), cand, [Rule("mtbench.turn2", 1.0)])


def test_metrics_that_are_not_item_means_are_refused_with_the_one_to_use(tmp_path):
    mmlu_run(tmp_path, "base", {("anatomy", 0): True, ("anatomy", 1): False})
    side = load_side("base", tmp_path)
    with pytest.raises(GateError, match="mmlu.macro is a mean of per-subject means.*gate mmlu.acc"):
        evaluate_gate(side, side, [Rule("mmlu.macro", 1.0)])
    with pytest.raises(GateError, match="alpaca_eval's length-controlled GLM.*gate alpacaeval.win_rate instead"):
        evaluate_gate(side, side, [Rule("alpacaeval.lc_win_rate", 1.0)])  # refused whatever the run


def test_rules_for_other_benchmarks_are_skipped_but_one_must_apply(tmp_path):
    rm_run(tmp_path, "base", {str(i): i % 2 == 0 for i in range(10)})
    rm_run(tmp_path, "cand", {str(i): i % 2 == 0 for i in range(10)})
    rules = tmp_path / "rules.yaml"
    rules.write_text("mtbench.overall: {max_drop: 0.15}\nmmlu.acc: {max_drop: 1.0}\nhh.rm_accuracy: {max_drop: 2}\n"
                     "truthfulqa.mc2: {max_drop: 1}\n")
    result = gate("base", "cand", tmp_path, rules_path=rules)
    assert [r.metric for r in result.rules] == ["hh.rm_accuracy"] and result.passed
    assert result.skipped == ["mtbench.overall: another benchmark", "mmlu.acc: another benchmark",
                              "truthfulqa.mc2: another benchmark"]
    rules.write_text("mmlu.acc: {max_drop: 1.0}\n")
    with pytest.raises(GateError, match=r"no rule applies to a hh run \(reward-pairs\); its metrics: hh.rm_accuracy"):
        gate("base", "cand", tmp_path, rules_path=rules)


def test_no_shared_items_is_refused(tmp_path):
    mtbench_single_run(tmp_path, "base", {(81, 1): 5.0, (81, 2): 6.0})
    mtbench_single_run(tmp_path, "cand", {(82, 1): 5.0, (82, 2): 6.0})
    with pytest.raises(GateError, match="share no scored item"):
        gate("base", "cand", tmp_path)


def test_unknown_and_ambiguous_run_references(tmp_path):
    mtbench_single_run(tmp_path, "run-a", _ratings())
    mtbench_single_run(tmp_path, "run-b", _ratings())
    with pytest.raises(GateError, match="'run-' matches 2 runs .*: run-a, run-b; give more of the run id"):
        load_side("run-", tmp_path)
    with pytest.raises(GateError, match="nope: no such run in .* and no such file"):
        load_side("nope", tmp_path)
    (tmp_path / "other.json").write_text('{"run_id": "x"}')
    with pytest.raises(GateError, match="not a starling-eval run export"):
        load_side(tmp_path / "other.json", tmp_path)
    assert load_side(str(tmp_path / "runs" / "run-a"), tmp_path).run_id == "run-a"  # a folder path


# -- rules files ------------------------------------------------------------------------------------


def test_rules_files_in_mapping_list_and_json_forms(tmp_path):
    (tmp_path / "map.yaml").write_text("mtbench.overall: {max_drop: 0.15}\nmmlu.acc:\n  max_drop: 1\n")
    (tmp_path / "list.yml").write_text("- metric: mtbench.overall\n  max_drop: 0.15\n- {metric: mmlu.acc, max_drop: 1}\n")
    (tmp_path / "rules.json").write_text(json.dumps({"mtbench.overall": {"max_drop": 0.15}, "mmlu.acc": {"max_drop": 1}}))
    expected = [Rule("mtbench.overall", 0.15), Rule("mmlu.acc", 1.0)]
    for name in ("map.yaml", "list.yml", "rules.json"):
        assert read_rules(tmp_path / name) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("mtbench.overal: {max_drop: 0.15}\n", r"unknown metric 'mtbench.overal' \(did you mean mtbench.overall\?\)"),
    ("mtbench.overall: {max_dorp: 0.15}\n", r"mtbench.overall: unknown key 'max_dorp'"),
    ("mtbench.overall: 0.15\n", r"mtbench.overall: expected \{max_drop: <number>\}"),
    ("mtbench.overall: {max_drop: -1}\n", r"max_drop must be a number >= 0 \(got -1\)"),
    ("mtbench.overall: {max_drop: lots}\n", r"max_drop must be a number >= 0 \(got 'lots'\)"),
    ("mtbench.overall: {max_drop: 0.1\n", r"not valid YAML \(.* at line 2\)"),
    ("- mtbench.overall\n", r"entry 1 must be a mapping with a metric and a max_drop"),
    ("", r"expected a mapping"),
    ("- {metric: mmlu.acc, max_drop: 1}\n- {metric: mmlu.acc, max_drop: 2}\n", r"two rules for mmlu.acc"),
])
def test_a_bad_rules_file_is_a_one_line_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "gate-rules.yaml"
    path.write_text(text)
    with pytest.raises(GateError, match=message) as info:
        read_rules(path)
    assert str(info.value).startswith(f"rules file {path}: ") and "\n" not in str(info.value)


def test_a_bad_json_rules_file_and_a_missing_one(tmp_path):
    (tmp_path / "r.json").write_text('{"mmlu.acc": {"max_drop": 1},}')
    with pytest.raises(GateError, match=r"rules file .*r.json: not valid JSON \(.* at line 1\)"):
        read_rules(tmp_path / "r.json")
    with pytest.raises(GateError, match="rules file .*absent.yaml: cannot read it"):
        read_rules(tmp_path / "absent.yaml")


# -- export, round trip, outputs --------------------------------------------------------------------


def test_an_exported_baseline_gives_the_same_gate_as_its_run(tmp_path):
    mtbench_single_run(tmp_path, "base", _ratings())
    mtbench_single_run(tmp_path, "cand", {k: v - (0.5 if k[0] % 3 == 0 else 0.0) for k, v in _ratings().items()})
    doc = export_run(tmp_path / "runs" / "base")
    assert doc["format"] == "starling-eval-run-items" and doc["schema_version"] == 1
    assert (doc["run_id"], doc["benchmark"], doc["kind"], doc["model"]) == ("base", "mtbench", "mtbench-single", "ckpt")
    assert doc["comparability"]["judge"]["model"] == "gpt-4" and doc["summary"] == {"model": "ckpt"}
    assert doc["items"]["mtbench.overall"]["81|2"] == 7.0 and doc["clusters"]["mtbench.overall"]["81|2"] == "81"
    assert doc["metrics"]["mtbench.overall"]["n"] == 40 and doc["metrics"]["mtbench.overall"]["unit"] == "score"
    exported = tmp_path / "baseline.json"
    exported.write_text(json.dumps(doc, indent=2))
    rules = [Rule("mtbench.overall", 0.1), Rule("mtbench.turn1", 0.3)]
    from_run = evaluate_gate(load_side("base", tmp_path), load_side("cand", tmp_path), rules, seed=3).as_dict()
    from_file = evaluate_gate(load_side(exported, tmp_path), load_side("cand", tmp_path), rules, seed=3).as_dict()
    assert from_file["baseline"]["source"] == str(exported)
    for result in (from_run, from_file):
        result["baseline"].pop("source")
    assert from_file == from_run
    assert [r["passed"] for r in from_run["rules"]] == [False, True]


def test_the_step_summary_is_a_markdown_table_appended_when_github_sets_it(tmp_path, monkeypatch):
    mtbench_single_run(tmp_path, "base", _ratings())
    mtbench_single_run(tmp_path, "cand", _ratings(-1.0))
    result = gate("base", "cand", tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_step_summary(result) is None
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert write_step_summary(result) == summary
    text = summary.read_text()
    assert text.startswith("earlier step\n### starling-eval gate: ❌ regression")
    assert "| metric | unit | baseline | candidate | Δ | 95% CI of Δ |" in text and "|---|---|---:|" in text
    assert "| mtbench.overall | score | " in text and "| −1.0000 | [−1.0000, −1.0000] | 0 | 40 |" in text
    assert "**FAIL** |" in text and "non-inferiority" in text
    assert markdown_summary(result) in text


def test_the_result_as_json_and_as_a_table(tmp_path):
    from rich.console import Console

    from starling_eval.gate import gate_table

    mmlu_run(tmp_path, "base", {("anatomy", i): i % 2 == 0 for i in range(10)})
    mmlu_run(tmp_path, "cand", {("anatomy", i): i % 2 == 0 for i in range(10)})
    result = gate("base", "cand", tmp_path)
    doc = json.loads(json.dumps(result.as_dict()))
    assert doc["passed"] and doc["exit_code"] == 0 and doc["method"]["n_resamples"] == 2000
    assert doc["rules"][0]["mcnemar"]["p_value"] == 1.0 and doc["baseline"]["run_id"] == "base"
    console = Console(width=250, record=True)
    console.print(gate_table(result))
    text = console.export_text()
    assert "mmlu.acc" in text and "— PASS" in text and "b=0 c=0 p=1" in text


# -- a real run -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_real_reward_model_runs_of_different_limits_gate_on_their_shared_pairs(tmp_path, data_dir):
    from starling_eval.testing.tiny_model import build_tiny_reward_classifier

    rm = build_tiny_reward_classifier(tmp_path / "rm")
    run_ids = []
    for limit in ("20", "30"):
        res = run_cli("--results", str(tmp_path), "run", "hh", "--reward-model", str(rm), "--limit", limit,
                      "--dtype", "float32", "--device", "cpu", "--json", env=cli_env(data_dir))
        assert res.returncode == 0, res.stderr[-3000:]
        run_ids.append(json.loads(res.stdout)["run_id"])
    result = gate(run_ids[0], run_ids[1], tmp_path)
    (rule,) = result.rules
    assert rule.metric == "hh.rm_accuracy" and (rule.n_shared, rule.n_only_baseline, rule.n_only_candidate) == (20, 0, 10)
    assert (rule.diff, rule.ci_low, rule.ci_high) == (0.0, 0.0, 0.0) and rule.baseline_mean == rule.candidate_mean
    assert rule.mcnemar["b"] == rule.mcnemar["c"] == 0 and result.passed
    # the same through the command line: exit 0, the step summary written; an exported baseline works alike
    summary = tmp_path / "summary.md"
    env = cli_env(data_dir, GITHUB_STEP_SUMMARY=str(summary))
    res = run_cli("--results", str(tmp_path), "gate", "--baseline", run_ids[0], "--candidate", run_ids[1], "--json",
                  env=env)
    assert res.returncode == 0 and json.loads(res.stdout)["passed"] and "hh.rm_accuracy" in summary.read_text()
    exported = tmp_path / "baseline.json"
    assert run_cli("--results", str(tmp_path), "export", run_ids[0], "--out", str(exported), env=env).returncode == 0
    res = run_cli("--results", str(tmp_path), "gate", "--baseline", str(exported), "--candidate", run_ids[1], env=env)
    assert res.returncode == 0, res.stderr
    # another reward model that disagrees on some pairs, gated with no allowed drop: a pass or a regression (exit
    # 0 or 1) that matches the interval; another benchmark is bad input (exit 2)
    other = build_tiny_reward_classifier(tmp_path / "rm2", seed=5)
    res = run_cli("--results", str(tmp_path), "run", "hh", "--reward-model", str(other), "--limit", "30", "--dtype",
                  "float32", "--device", "cpu", "--json", env=env)
    worse = run_cli("--results", str(tmp_path), "gate", "--baseline", run_ids[1], "--candidate",
                    json.loads(res.stdout)["run_id"], "--json", env=env)
    (rule,) = json.loads(worse.stdout)["rules"]
    assert worse.returncode == (0 if rule["ci_low"] >= 0 else 1)
    res = run_cli("--results", str(tmp_path), "run", "truthfulqa", "--reward-model", str(rm), "--limit", "5", "--dtype",
                  "float32", "--device", "cpu", "--json", env=env)
    mixed = run_cli("--results", str(tmp_path), "gate", "--baseline", run_ids[0], "--candidate",
                    json.loads(res.stdout)["run_id"], env=env)
    assert mixed.returncode == 2 and "benchmark" in mixed.stderr


def test_the_committed_example_rules_file_is_valid():
    from starling_eval.gate import read_rules

    rules = read_rules(Path(__file__).parent.parent / "results" / "gate-rules.yaml")
    assert {r.metric: r.max_drop for r in rules}["mtbench.overall"] == 0.15 and len(rules) == 8
