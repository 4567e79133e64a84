"""Checkpoint A against B item by item, from real runs: the gate's paired CI on top, per-category and length
deltas, every shared item with both sides, the flipped ones first; `report --diff` and `gate --html` write it."""

from __future__ import annotations

import json

import pytest

from starling_eval import gate as gate_mod
from starling_eval.gate.diff_view import diff_doc
from tests.conftest import cli_env, run_cli


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, data_dir):
    """The same answers judged by two seeded judges: two checkpoints whose ratings differ item by item."""
    from tests.conftest import start_server

    tmp = tmp_path_factory.mktemp("diff")
    root = tmp / "res"
    ids = []
    for seed, model in ((1, "alpaca-13b"), (2, "vicuna-13b-v1.3")):
        server = start_server(tmp, "--random-verdicts", "single", "--seed", str(seed))
        try:
            answers = tmp / str(seed) / "ckpt.jsonl"  # both "checkpoints" under one name: runs of one model
            answers.parent.mkdir()
            rows = [json.loads(line) for line in (data_dir / f"mt_bench/model_answer/{model}.jsonl").read_text().splitlines()]
            answers.write_text("".join(json.dumps({**r, "model_id": "ckpt"}) + "\n" for r in rows))
            res = run_cli("--results", str(root), "run", "mtbench", "--answers", str(answers), "--limit", "8",
                          "--judge-base-url", server.base_url, "--json", env=cli_env(data_dir))
            assert res.returncode == 0, res.stderr[-2000:]
            ids.append(json.loads(res.stdout)["run_id"])
        finally:
            server.proc.kill()
    return root, ids


def test_the_diff_document_pairs_items_and_puts_flips_first(two_runs):
    root, (a, b) = two_runs
    result = gate_mod.gate(a, b, root)
    doc = diff_doc(result, gate_mod.load_side(a, root), gate_mod.load_side(b, root))
    rule = result.rules[0]
    assert doc["summary"]["metric"] == "mtbench.overall" and doc["summary"]["n"] == rule.n_shared == len(doc["pairs"])
    assert doc["summary"]["delta"] == pytest.approx(rule.diff) and doc["summary"]["n_clusters"] == 8
    assert doc["summary"]["ci95"] == [rule.ci_low, rule.ci_high]
    assert doc["summary"]["verdict"] in ("pass", "regression", "improvement")
    pairs = doc["pairs"]
    assert all(p["delta"] == pytest.approx(p["b"]["value"] - p["a"]["value"]) for p in pairs)
    flips = [p["flipped"] for p in pairs]
    assert flips == sorted(flips, reverse=True) and any(flips)  # flipped first
    within = [abs(p["delta"]) for p in pairs if p["flipped"]]
    assert within == sorted(within, reverse=True)
    assert pairs[0]["a"]["answers"][0]["turns"] != pairs[0]["b"]["answers"][0]["turns"]  # the two checkpoints' answers
    assert pairs[0]["a"]["judgments"][0]["text"] and pairs[0]["turns"]
    writing = next(c for c in doc["categories"] if c["category"] == "writing")
    assert writing["n"] == 2 * 8 and writing["delta"] == pytest.approx(writing["b"] - writing["a"])
    assert doc["length"]["delta"] == pytest.approx(doc["length"]["b_mean"] - doc["length"]["a_mean"])


def test_report_diff_and_gate_html_write_the_paired_page(two_runs, data_dir, tmp_path):
    root, (a, b) = two_runs
    out = tmp_path / "diff.html"
    res = run_cli("--results", str(root), "report", "--diff", a, b, "--out", str(out), env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    assert "mtbench.overall" in res.stdout and out.is_file()
    page = out.read_text()
    assert "script-src 'sha256-" in page and "unsafe-inline'" not in page.split("script-src", 1)[1].split(";")[0]
    gate_html = tmp_path / "gate.html"
    res = run_cli("--results", str(root), "gate", "--baseline", a, "--candidate", b, "--html", str(gate_html),
                  env=cli_env(data_dir))
    assert res.returncode in (0, 1), res.stderr
    assert gate_html.is_file() and "starling-data" in gate_html.read_text()
    bad = run_cli("--results", str(root), "report", "--diff", a, "nope", env=cli_env(data_dir))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_the_paired_page_of_real_runs_in_a_browser(two_runs, data_dir, tmp_path, open_page):
    root, (a, b) = two_runs
    out = tmp_path / "diff.html"
    res = run_cli("--results", str(root), "report", "--diff", a, b, "--out", str(out), env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr
    result = gate_mod.gate(a, b, root)
    page, errors = open_page(out.read_text())
    assert page.locator("#count").inner_text().startswith("16 of 16")
    delta = page.locator("#summary-delta").inner_text()
    assert delta.lstrip("+−-").startswith(f"{abs(result.rules[0].diff):.2f}"[:3])
    first = page.locator("#list > .item").first
    assert "flipped" in (first.get_attribute("class") or "")
    first.locator("button.item-head").click()
    left = first.locator(".side-left").inner_text()
    assert first.locator(".side-left").get_attribute("data-side") == "a"
    assert left and first.locator(".side-right").inner_text() != left
    page.click("#swap")  # B on the left now: the first pair's sides trade places
    page.wait_for_function("() => document.querySelector('#swap').getAttribute('aria-pressed') === 'true'")
    first = page.locator("#list > .item").first
    if "expanded" not in (first.get_attribute("class") or ""):
        first.locator("button.item-head").click()
    assert first.locator(".side-right").get_attribute("data-side") == "a"
    # run A's answers and judgments, now on the right (the letters name positions: "A" is whatever is on the left)
    assert first.locator(".side-right").inner_text().split("\n", 1)[1] == left.split("\n", 1)[1]
    assert errors == []
