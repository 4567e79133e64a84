"""The leaderboard over hand-written results roots (one folder per run: manifest.json + scores.json), its
filters and renderers, and one real `run hh --reward-model` read back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from starling_eval.report.leaderboard import collect
from starling_eval.report.leaderboard_render import (
    format_value,
    render,
    to_csv,
    to_html_table,
    to_json,
    to_markdown,
    to_rich_table,
)

MT_FILES = {"mt_bench/question.jsonl": "q" * 64, "mt_bench/judge_prompts.jsonl": "p" * 64,
            "mt_bench/reference_answer/gpt-4.jsonl": "r" * 64}


def judge(model: str = "gpt-4", mode: str = "single") -> dict:
    return {"model": model, "mode": mode, "baseline": "gpt-3.5-turbo", "reference": "gpt-4", "annotator": None,
            "reward_model": None}


def write_run(root: Path, run_id: str, benchmark: str, scores: dict, *, model: str | None = None,
              revision: str | None = "local:aaaa", answers: list[str] | None = None, reward_model: str | None = None,
              judge_spec: dict | None = None, status: str = "complete", finished: str = "2024-05-01T12:00:00+0000",
              data_files: dict | None = None, limit: int | None = None) -> Path:
    folder = root / "runs" / run_id
    folder.mkdir(parents=True)
    spec = {"benchmark": benchmark, "judge": judge_spec, "limit": limit, "answers": [], "model": None,
            "reward_model": None, "data_dir": "/data"}
    manifest: dict = {"run_id": run_id, "status": status, "created": finished, "spec": spec,
                      "data_files": data_files if data_files is not None else {f"{benchmark}/data.jsonl": "d" * 64}}
    if status != "running":
        manifest["finished"] = finished
    if model is not None:
        spec["model"] = {"name_or_path": f"/models/{model}", "display_name": None, "revision": None}
        manifest["model"] = {"label": model, "revision": revision}
    if answers:
        spec["answers"] = [{"model": a, "path": f"/a/{a}.jsonl", "sha256": "s" * 64} for a in answers]
    if reward_model is not None:
        spec["reward_model"] = {"name_or_path": f"/rms/{reward_model}", "display_name": None, "revision": None}
        manifest["reward_model"] = {"weights": revision.removeprefix("local:") if revision else None}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    if scores is not None:
        (folder / "scores.json").write_text(json.dumps({"run_id": run_id, "benchmark": benchmark, **scores}))
    return folder


def single(model: str, overall: float, *, n_failed: int = 0) -> dict:
    return {"mode": "single", "models": [{"model": model, "overall": overall, "turn1": overall + 0.1,
                                          "turn2": overall - 0.1, "n_valid": 160 - n_failed, "n_failed": n_failed,
                                          "n_turn1": 80, "n_turn2": 80 - n_failed,
                                          "ci95": {"overall": [overall - 0.2, overall + 0.2], "turn1": None,
                                                   "turn2": None}}]}


def mmlu(model: str, micro: float) -> dict:
    return {"mode": "mmlu", "models": [{"model": model, "micro": micro, "macro": micro, "n": 1000, "n_subjects": 57,
                                        "ci95": [micro - 0.02, micro + 0.02], "groups": {}, "n_failed": 0}]}


def hh(model: str, acc: float) -> dict:
    return {"mode": "reward-pairs", "models": [{"model": model, "track": "hh", "accuracy": acc, "ci95": [acc - 0.05, acc + 0.05],
                                                "n": 200, "n_prompts": 200, "ties": 0, "length_baseline": 0.5,
                                                "length_baseline_ci95": [0.45, 0.55], "n_failed": 0}]}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """Two models on MT-Bench judged by gpt-4 (one column), one by gpt-4o, MMLU, an HH RM run, an AlpacaEval
    run without LC, an incomplete run, and two runs of one model in one column."""
    r = tmp_path / "results"
    write_run(r, "20240501-mt-alpha", "mtbench", single("alpha", 8.09), model="alpha", judge_spec=judge(),
              data_files=MT_FILES)
    write_run(r, "20240502-mt-beta", "mtbench", single("beta", 6.5, n_failed=3), model="beta", revision="local:bbbb",
              judge_spec=judge(), data_files=MT_FILES)
    write_run(r, "20240503-mt-alpha-4o", "mtbench", single("alpha", 7.5), model="alpha", judge_spec=judge("gpt-4o"),
              data_files=MT_FILES)
    write_run(r, "20240504-mmlu-alpha", "mmlu", mmlu("alpha", 0.456), model="alpha")
    write_run(r, "20240505-hh-rm", "hh", hh("tiny-rm", 0.6), reward_model="tiny-rm", revision="local:cccc")
    no_lc = {"mode": "alpacaeval", "lc_unavailable": "length-controlled win rate unavailable: missing weights",
             "models": [{"model": "beta", "win_rate": 30.0, "standard_error": 1.5, "length_controlled_winrate": None,
                         "lc_standard_error": None, "n_total": 805, "n_failed": 0,
                         "lc_unavailable": "length-controlled win rate unavailable: missing weights"}]}
    write_run(r, "20240506-ae-beta", "alpacaeval", no_lc, model="beta", revision="local:bbbb",
              judge_spec={**judge("weighted_alpaca_eval_gpt4_turbo"), "annotator": "weighted_alpaca_eval_gpt4_turbo"})
    write_run(r, "20240507-mt-gamma-incomplete", "mtbench", single("gamma", 9.9, n_failed=40), model="gamma",
              judge_spec=judge(), data_files=MT_FILES, status="incomplete")
    write_run(r, "20240508-mmlu-beta-old", "mmlu", mmlu("beta", 0.30), model="beta", revision="local:bbbb",
              finished="2024-05-08T10:00:00+0000")
    write_run(r, "20240509-mmlu-beta-new", "mmlu", mmlu("beta", 0.35), model="beta", revision="local:bbbb",
              finished="2024-05-09T10:00:00+0000")
    write_run(r, "20240510-running", "mtbench", None, model="delta", judge_spec=judge(), status="running")
    (r / "runs" / "not-a-run").mkdir()  # no manifest: not a run
    return r


def _value(lb, model: str, header: str):
    row = lb.row(model)
    (column,) = [c for c in lb.columns if c.header == header]
    cell = lb.cell(row, column)
    return None if cell is None else cell.value


def test_same_judge_is_one_column_with_a_row_per_model(root):
    lb = collect(root, benchmarks=["mtbench"], judge="gpt-4")
    assert [c.header for c in lb.columns] == ["mtbench.overall"]
    assert [(r.model, r.revision) for r in lb.rows] == [("alpha", "local:aaaa"), ("beta", "local:bbbb")]
    cell = lb.cell(lb.row("beta"), lb.columns[0])
    assert (cell.value, cell.n_failed, cell.judge, cell.run_id) == (6.5, 3, "gpt-4", "20240502-mt-beta")
    assert cell.ci95 == pytest.approx((6.3, 6.7)) and cell.date == "2024-05-01T12:00:00+0000"
    assert lb.columns[0].key["judge"]["model"] == "gpt-4" and lb.mismatches == []


def test_another_judge_is_another_column_never_averaged(root):
    lb = collect(root, benchmarks=["mtbench"])
    headers = [c.header for c in lb.columns]
    assert headers == ["mtbench.overall [judge gpt-4]", "mtbench.overall [judge gpt-4o]"]
    assert _value(lb, "alpha", headers[0]) == 8.09 and _value(lb, "alpha", headers[1]) == 7.5
    assert _value(lb, "beta", headers[1]) is None
    (mismatch,) = lb.mismatches
    assert mismatch["metric"] == "mtbench.overall" and mismatch["differs_in"] == ["judge"]
    assert len(mismatch["pairs"]) == 1 and mismatch["pairs"][0]["reasons"][0].startswith("judge: ")
    assert [c.differs for c in lb.columns] == [["judge gpt-4"], ["judge gpt-4o"]]


def test_every_benchmark_headline_in_one_table(root):
    lb = collect(root)
    metrics = [c.metric for c in lb.columns]
    assert metrics == ["mtbench.overall", "mtbench.overall", "alpacaeval.win_rate", "mmlu.acc", "hh.rm_accuracy"]
    assert _value(lb, "alpha", "mmlu.acc") == pytest.approx(45.6)
    rm = lb.row("tiny-rm")
    assert rm.revision == "local:cccc"
    assert lb.cell(rm, lb.columns_of("hh.rm_accuracy")[0]).value == pytest.approx(60.0)
    assert lb.cell(rm, lb.columns_of("hh.rm_accuracy")[0]).extra["length_baseline"] == pytest.approx(50.0)
    # AlpacaEval without LC: the raw win rate, in its own column, saying why
    ae = lb.cell(lb.row("beta"), lb.columns_of("alpacaeval.win_rate")[0])
    assert ae.value == 30.0 and ae.extra["fallback_for"] == "alpacaeval.lc_win_rate"
    assert "missing weights" in ae.extra["lc_unavailable"]
    assert not lb.columns_of("alpacaeval.lc_win_rate")
    # the incomplete run and the unfinished one are left out, and said so
    assert lb.row("gamma") is None and lb.row("delta") is None
    assert {s["run_id"] for s in lb.skipped} == {"20240507-mt-gamma-incomplete", "20240510-running"}


def test_the_newest_complete_run_wins_and_the_older_one_is_listed(root):
    lb = collect(root, benchmarks=["mmlu"])
    cell = lb.cell(lb.row("beta"), lb.columns_of("mmlu.acc")[0])
    assert cell.value == pytest.approx(35.0) and cell.run_id == "20240509-mmlu-beta-new"
    assert cell.superseded == ["20240508-mmlu-beta-old"]
    # rows sorted by the headline, best first
    assert [r.model for r in lb.rows] == ["alpha", "beta"]


def test_incomplete_runs_only_on_request_and_marked(root):
    lb = collect(root, benchmarks=["mtbench"], judge="gpt-4", include_incomplete=True)
    cell = lb.cell(lb.row("gamma"), lb.columns[0])
    assert cell.status == "incomplete" and cell.n_failed == 40
    assert "incomplete" in to_markdown(lb)
    # a complete run of the same cell wins over a newer incomplete one
    write_run(root, "20240601-mt-alpha-incomplete", "mtbench", single("alpha", 1.0), model="alpha", judge_spec=judge(),
              data_files=MT_FILES, status="incomplete", finished="2024-06-01T12:00:00+0000")
    lb = collect(root, benchmarks=["mtbench"], judge="gpt-4", include_incomplete=True)
    alpha = lb.cell(lb.row("alpha"), lb.columns[0])
    assert alpha.value == 8.09 and alpha.superseded == ["20240601-mt-alpha-incomplete"]


def test_filters(root):
    assert {c.metric for c in collect(root, benchmarks=["mmlu", "hh"]).columns} == {"mmlu.acc", "hh.rm_accuracy"}
    by_judge = collect(root, judge="GPT-4O")
    assert [c.header for c in by_judge.columns] == ["mtbench.overall"] and [r.model for r in by_judge.rows] == ["alpha"]
    assert collect(root, judge="gpt-4*").columns_of("mmlu.acc") == []  # runs without a judge are not gpt-4's
    by_model = collect(root, model_pattern="b*")
    assert {r.model for r in by_model.rows} == {"beta"}
    assert collect(root, model_pattern="nobody").rows == []
    everything = collect(root, benchmarks=["mtbench"], judge="gpt-4", metrics="all")
    assert [c.metric for c in everything.columns] == ["mtbench.overall", "mtbench.turn1", "mtbench.turn2"]
    with pytest.raises(ValueError):
        collect(root, metrics="some")


def test_differing_data_versions_and_limits_split_columns(tmp_path):
    r = tmp_path / "r"
    write_run(r, "1-full", "mmlu", mmlu("a", 0.5), model="a")
    write_run(r, "2-limited", "mmlu", mmlu("a", 0.9), model="a", limit=10)
    write_run(r, "3-other-data", "mmlu", mmlu("b", 0.4), model="b", data_files={"mmlu/data.jsonl": "e" * 64})
    lb = collect(r)
    assert len(lb.columns) == 3 and len({c.header for c in lb.columns}) == 3
    assert any("limit 10" in c.header for c in lb.columns)
    (mismatch,) = lb.mismatches
    assert set(mismatch["differs_in"]) == {"version", "limit"} and len(mismatch["pairs"]) == 3


def test_pairwise_all_win_rates_against_different_pools_are_not_mixed(tmp_path):
    def pool(*models):
        return {"mode": "pairwise-all", "baseline": None, "models": [
            {"model": m, "win": 1, "loss": 1, "tie": 0, "win_rate_adjusted": 0.5, "position_consistency": 1.0,
             "n_valid": 2, "n_failed": 0, "ci95": {"win_rate_adjusted": None}} for m in models]}

    r = tmp_path / "r"
    write_run(r, "1", "mtbench", pool("a", "b"), answers=["a", "b"], judge_spec=judge(mode="pairwise-all"),
              data_files=MT_FILES)
    write_run(r, "2", "mtbench", pool("a", "c"), answers=["a", "c"], judge_spec=judge(mode="pairwise-all"),
              data_files=MT_FILES)
    lb = collect(r)
    assert sorted(c.header for c in lb.columns) == ["mtbench.win_rate_adjusted [among a+b]",
                                                    "mtbench.win_rate_adjusted [among a+c]"]
    assert sorted((r.model, r.revision) for r in lb.rows) == [("a", None), ("b", None), ("c", None)]
    assert len([c for c in lb.columns if lb.cell(lb.row("a"), c)]) == 2  # a's two win rates, side by side
    assert len([c for c in lb.columns if lb.cell(lb.row("b"), c)]) == 1
    assert lb.mismatches[0]["differs_in"] == ["pool"] and "pool: a, b vs a, c" in lb.mismatches[0]["pairs"][0]["reasons"]


def test_renderers(root):
    write_run(root, "20240511-mt-evil", "mtbench", single("<script>alert(1)</script>", 5.0),
              model="<script>alert(1)</script>", judge_spec=judge(), data_files=MT_FILES)
    lb = collect(root)
    # markdown: a header, a rule and a line per row, all with the same number of cells
    md = to_markdown(lb)
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(lb.rows)
    assert len({line.count(" | ") for line in table if not line.startswith("|-") and "---" not in line}) == 1
    assert "8.09 (7.89–8.29)" in md and "3 failed" in md and "<script>" not in md
    # beta's three metrics (overall, turn 1, turn 2) come from one run: its three failed judgments count once
    every = to_json(collect(root, metrics="all"))
    beta = next(r for r in every["rows"] if r["model"] == "beta")
    assert beta["failed"] == 3 and len([c for c in beta["cells"].values() if c["n_failed"] == 3]) == 3
    assert "not comparable: mtbench.overall [judge gpt-4] vs mtbench.overall [judge gpt-4o]" in md
    # csv: parses back, a row per model, the values as numbers
    frame = pd.read_csv(io.StringIO(to_csv(lb)))
    assert list(frame["model"]) == [r.model for r in lb.rows]
    alpha = frame[frame["model"] == "alpha"].iloc[0]
    assert alpha["mtbench.overall [judge gpt-4]"] == 8.09 and alpha["mmlu.acc ci95_low"] == pytest.approx(43.6)
    long = pd.read_csv(io.StringIO(to_csv(lb, long=True)))
    assert len(long) == len(lb.cells) and set(long["metric"]) == {c.metric for c in lb.columns}
    # json: plain data that round-trips
    doc = to_json(lb)
    assert json.loads(json.dumps(doc)) == doc
    assert json.loads(render(lb, "json")) == doc
    col = next(c for c in doc["columns"] if c["header"] == "mtbench.overall [judge gpt-4]")
    alpha_row = next(r for r in doc["rows"] if r["model"] == "alpha")
    assert alpha_row["cells"][col["id"]]["value"] == 8.09 and alpha_row["cells"][col["id"]]["ci95"] == pytest.approx([7.89, 8.29])
    assert col["key"]["judge"]["model"] == "gpt-4" and doc["mismatches"][0]["metric"] == "mtbench.overall"
    # html: the untrusted name escaped everywhere
    page = to_html_table(lb)
    assert page.startswith('<table class="leaderboard">') and page.rstrip().endswith("</table>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr") == 1 + len(lb.rows)
    # rich: the name is text, not markup
    from rich.console import Console

    console = Console(record=True, width=400)
    console.print(to_rich_table(lb))
    text = console.export_text()
    assert "<script>alert(1)</script>" in text and "8.09 (7.89–8.29)" in text


def test_rich_does_not_read_markup_in_model_names(tmp_path):
    from rich.console import Console

    r = tmp_path / "r"
    write_run(r, "1", "mmlu", mmlu("[bold]x[/bold]", 0.5), model="[bold]x[/bold]")
    console = Console(record=True, width=300)
    console.print(to_rich_table(collect(r)))
    assert "[bold]x[/bold]" in console.export_text()


def test_format_value_and_an_empty_root(tmp_path):
    assert format_value(8.0912, (7.9, 8.3)) == "8.09 (7.90–8.30)"
    assert format_value(None) == "—" and format_value(50.0) == "50.00"
    lb = collect(tmp_path / "nothing")
    assert lb.rows == [] and lb.columns == []
    assert to_json(lb)["rows"] == [] and "model" in to_markdown(lb) and "<table" in to_html_table(lb)
    assert pd.read_csv(io.StringIO(to_csv(lb))).empty


def test_a_real_reward_model_run_is_read_back(tmp_path, data_dir):
    from starling_eval.testing.tiny_model import build_tiny_reward_classifier
    from tests.conftest import cli_env, run_cli

    rm = build_tiny_reward_classifier(tmp_path / "rm")
    results = tmp_path / "results"
    res = run_cli("--results", str(results), "run", "hh", "--reward-model", str(rm), "--limit", "10",
                  "--dtype", "float32", "--device", "cpu", "--json", env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    lb = collect(results)
    (column,) = lb.columns
    (row,) = lb.rows
    assert column.metric == "hh.rm_accuracy" and column.judge is None
    assert row.model == "rm" and row.revision and row.revision.startswith("local:")
    cell = lb.cell(row, column)
    assert cell.run_id == out["run_id"] and cell.n == 10 and cell.status == "complete"
    assert cell.value == pytest.approx(100 * out["models"][0]["accuracy"])
    assert cell.date and lb.skipped == []
    assert json.loads(json.dumps(to_json(lb))) == to_json(lb)


def test_generate_only_runs_are_not_listed_and_broken_runs_are(tmp_path):
    r = tmp_path / "r"
    folder = write_run(r, "1-generate", "mtbench", None, model="a")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "kind": "generate"}))
    broken = r / "runs" / "2-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    write_run(r, "3-incomplete-b", "mmlu", mmlu("b", 0.5), model="b", status="incomplete")
    lb = collect(r)
    assert lb.rows == [] and [s["run_id"] for s in lb.skipped] == ["2-broken", "3-incomplete-b"]
    assert lb.skipped[0]["reason"].startswith("unreadable")
    # a run of a model the pattern leaves out is not mentioned either
    assert [s["run_id"] for s in collect(r, model_pattern="a*").skipped] == ["2-broken"]
    assert render(collect(r, include_incomplete=True), "md").count("incomplete") >= 1
