"""A run's items as the browser shows them, read from real runs: questions, both answers, every judgment in full,
the verdict from the run's model's side, failures with their reasons, and the keys the gate pairs items by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_eval.report.item_plots import position_breakdown, run_plots
from starling_eval.report.items import read_items
from starling_eval.report.run_items import items_doc
from starling_eval.store.runs import RunFolder
from tests.conftest import cli_env, run_cli


def _run(root: Path, data_dir: Path, *args: str) -> RunFolder:
    res = run_cli("--results", str(root), "run", *args, "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    return RunFolder(Path(json.loads(res.stdout)["path"]))


def _alpaca_answers(tmp: Path, data_dir: Path) -> Path:
    outputs = json.loads((data_dir / "alpaca_eval/results/gpt4_1106_preview/model_outputs.json").read_text())[:4]
    path = tmp / "my-model.json"
    path.write_text(json.dumps([{**o, "generator": "my-model", "output": o["output"][:300]} for o in outputs]))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    from tests.conftest import start_server

    tmp = tmp_path_factory.mktemp("items")
    single = start_server(tmp, "--random-verdicts", "single", "--rate-unparsable", "0.2", "--seed", "4")
    pair = start_server(tmp, "--random-verdicts", "pair", "--seed", "1")
    script = tmp / "ae.json"
    script.write_text(json.dumps([{"match": ".", "top_logprobs": {"m": -0.2, "M": -1.8}}]))
    ae = start_server(tmp, "--script", str(script))
    answers = str(data_dir / "mt_bench/model_answer/alpaca-13b.jsonl")
    try:
        root = tmp / "res"
        yield {
            "single": _run(root, data_dir, "mtbench", "--answers", answers, "--limit", "5", "--judge-base-url",
                           single.base_url),
            "pair": _run(root, data_dir, "mtbench", "--answers", answers, "--limit", "5", "--judge-mode",
                         "pairwise-baseline", "--judge-base-url", pair.base_url),
            "alpacaeval": _run(root, data_dir, "alpacaeval", "--answers",
                               str(_alpaca_answers(tmp, data_dir)), "--limit", "4",
                               "--judge-base-url", ae.base_url),
        }
    finally:
        for server in (single, pair, ae):
            server.proc.kill()


def test_single_grading_items_hold_question_answer_judgment_and_failures(runs, data_dir):
    doc = items_doc([runs["single"]])
    items = doc["items"]
    assert [i["key"] for i in items] == [f"{q}|{t}" for q in range(81, 86) for t in (1, 2)]
    questions = {json.loads(line)["question_id"]: json.loads(line) for line in
                 (data_dir / "mt_bench/question.jsonl").read_text().splitlines()}
    first = items[1]  # question 81, turn 2: both user turns, both answer turns
    assert first["turns"] == questions[81]["turns"] and first["category"] == "writing"
    assert len(first["answers"][0]["turns"]) == 2 and first["answers"][0]["label"] == "alpaca-13b"
    assert first["length"] == len(first["answers"][0]["turns"][1])
    failed = [i for i in items if i["failed"]]
    assert failed and all(i["verdict"] == "failed" and i["failure"].startswith("unparsable") for i in failed)
    valid = [i for i in items if not i["failed"]]
    assert all(i["judgments"][0]["text"].endswith(f"[[{i['verdict']}]]") for i in valid)
    # the same keys and values the gate pairs
    gate_values = read_items(runs["single"]).metrics["mtbench.overall"].values
    assert {i["key"]: i["value"] for i in valid} == gate_values


def test_pairwise_items_hold_both_games_and_the_verdict_from_the_models_side(runs):
    items = items_doc([runs["pair"]])["items"]
    assert len(items) == 10 and all(len(i["judgments"]) == 2 for i in items)
    assert [a["label"] for a in items[0]["answers"]] == ["alpaca-13b", "gpt-3.5-turbo (baseline)"]
    assert all(a["turns"] for a in items[0]["answers"])
    assert items[0]["judgments"][0]["label"] == "game 1: A = alpaca-13b, B = gpt-3.5-turbo"
    gate_values = read_items(runs["pair"]).metrics["mtbench.win_rate_adjusted"].values
    assert {i["key"]: i["value"] for i in items if not i["failed"]} == gate_values
    assert {i["verdict"] for i in items} <= {"win", "loss", "tie", "failed"}
    scores = runs["pair"].scores()
    consistent = sum(not i["inconsistent"] for i in items if not i["failed"])
    assert consistent / len([i for i in items if not i["failed"]]) == pytest.approx(scores["position_consistency"])
    breakdown = position_breakdown(items)
    assert sum(breakdown.values()) == 10 and breakdown.get("consistent", 0) == consistent


def test_alpacaeval_items_show_the_instruction_both_outputs_and_the_preference(runs):
    items = items_doc([runs["alpacaeval"]])["items"]
    assert len(items) == 4
    item = items[0]
    assert item["turns"][0] and item["reference"][0] and item["answers"][0]["turns"][0]
    assert item["category"] in ("helpful_base", "koala", "oasst", "selfinstruct", "vicuna")
    gate_values = read_items(runs["alpacaeval"]).metrics["alpacaeval.win_rate"].values
    assert {i["key"]: i["value"] for i in items} == pytest.approx(gate_values)


def test_several_runs_share_one_document_and_each_gets_its_plots(runs):
    doc = items_doc([runs["single"], runs["pair"], runs["alpacaeval"]])
    assert [r["mode"] for r in doc["runs"]] == ["single", "pairwise-baseline", "alpacaeval"]
    assert {i["run"] for i in doc["items"]} == {0, 1, 2}
    figures = run_plots(doc)
    # single: category, distribution, length; pairwise: the same and position; alpacaeval: three
    assert len(figures) == 3 + 4 + 3
    assert all(f.startswith('<figure><img src="data:image/png;base64,') for f in figures)


def test_a_run_whose_answer_file_moved_still_lists_its_judgments(runs, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(runs["single"].path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["spec"]["answers"][0]["path"] = str(tmp_path / "gone.jsonl")
    manifest["spec"]["data_dir"] = str(tmp_path / "no-data")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    items = items_doc([RunFolder(copy)])["items"]
    assert len(items) == 10 and all(i["judgments"][0]["text"] for i in items)
    assert all(not i["answers"][0]["turns"] for i in items)  # nothing made up (questions: the default data folder)
    changed = tmp_path / "changed.jsonl"  # the file is there, but not the one the run judged
    changed.write_text((Path(runs["single"].read_manifest()["spec"]["answers"][0]["path"])).read_text()[:-1] + " \n")
    manifest["spec"]["answers"][0]["path"] = str(changed)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert all(not i["answers"][0]["turns"] for i in items_doc([RunFolder(copy)])["items"])
