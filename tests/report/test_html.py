"""The HTML report in a real headless browser (Debian's chromium): it renders, the plots are there, and a
<script> in a model answer does not run."""

from __future__ import annotations

import json
import re

import pytest

from starling_eval.testing.tiny_model import build_tiny_reward_classifier
from tests.conftest import cli_env, run_cli, start_server

EVIL = ("<script>document.title='PWNED';document.body.setAttribute('data-pwned','1')</script>"
        "<img src=x onerror=\"document.title='PWNED'\"> & <b>bold</b>")


@pytest.fixture(scope="module")
def results(tmp_path_factory, data_dir):
    """Real runs: MT-Bench single (answers with a <script>), pairwise with a Goodhart card, an RM on HH. Built
    once for the module: the tests only read them."""
    tmp_path = tmp_path_factory.mktemp("report-runs")
    servers: list = []
    try:
        yield _real_runs(tmp_path, data_dir, servers)
    finally:
        for server in servers:
            server.proc.kill()
            server.proc.wait()


def _real_runs(tmp_path, data_dir, servers: list):
    env = cli_env(data_dir)
    root = tmp_path / "res"
    rows = [json.loads(line) for line in (data_dir / "mt_bench/model_answer/alpaca-13b.jsonl").read_text().splitlines()]
    rows[0]["choices"][0]["turns"][0] = EVIL
    for row in rows:
        row["model_id"] = "evil-model"  # the file's own model name is the model's name
    evil = tmp_path / "evil-model.jsonl"
    evil.write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge_script = tmp_path / "judge.json"  # the judge explains itself with a payload, on one question
    judge_script.write_text(json.dumps([{"match": "Compose an engaging travel", "reply": EVIL + " Rating: [[5]]"}]))
    single = start_server(tmp_path, "--script", str(judge_script), "--random-verdicts", "single")
    pair = start_server(tmp_path, "--random-verdicts", "pair")
    servers += [single, pair]
    for args in (("--answers", str(evil), "--judge-base-url", single.base_url),
                 ("--answers", str(data_dir / "mt_bench/model_answer/alpaca-13b.jsonl"), "--judge-mode",
                  "pairwise-baseline", "--judge-base-url", pair.base_url)):
        res = run_cli("--results", str(root), "run", "mtbench", "--limit", "12", "--json", *args, env=env)
        assert res.returncode == 0, res.stderr[-2000:]
        run_id = json.loads(res.stdout)["run_id"]
    card = run_cli("--results", str(root), "goodhart", "card", run_id, env=env)
    assert card.returncode in (0, 1), card.stderr
    rm = build_tiny_reward_classifier(tmp_path / "rm")
    res = run_cli("--results", str(root), "run", "hh", "--reward-model", str(rm), "--limit", "20", "--dtype", "float32",
                  "--device", "cpu", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    return root


def test_report_renders_in_a_browser_with_its_plots_items_and_no_payload_runs(tmp_path, results, data_dir, open_page):
    from starling_eval.report.browser_page import APP_JS, csp

    page_file = tmp_path / "report.html"
    res = run_cli("--results", str(results), "report", "--out", str(page_file), env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    text = page_file.read_text()
    # one script, the item browser, allowed by its hash; the payloads only ever as escaped text or escaped JSON
    scripts = re.findall(r"<script(?: [^>]*)?>", text)
    assert scripts == ['<script type="application/json" id="starling-data">', "<script>"]
    assert f'content="{csp([APP_JS])}"' in text and "unsafe-inline'" not in text.split("script-src", 1)[1].split('"')[0]
    assert "<script>document.title" not in text and "\\u003cscript\\u003edocument.title" in text
    # leaderboard plots (radar, win rates, RM vs length baseline) and the item plots of the two judged runs
    assert text.count('<img src="data:image/png;base64,') == 3 + 3 + 4
    assert "Goodhart card" in text or "judge − proxy" in text
    assert "http://" not in text and "https://" not in text  # nothing to fetch when viewed

    page, errors = open_page(text)
    assert page.locator("#count").inner_text().startswith("48 of 48")  # 12 questions x 2 turns, single and pairwise
    page.fill("#search", "PWNED")
    page.wait_for_function("() => document.querySelector('#count').textContent.startsWith('2 of')")
    for row in page.locator("#list > .item").all():  # the answer's payload and the judge's, expanded
        row.locator("button.item-head").click()
    shown = page.locator("#list").inner_text()
    assert shown.count("document.title='PWNED'") >= 2 and "Rating: [[5]]" in shown
    page.select_option("#filter-run", index=1)
    page.fill("#search", "")
    page.wait_for_function("() => document.querySelector('#count').textContent.startsWith('24 of')")
    assert page.title() == "starling-eval report"
    assert page.evaluate("() => document.body.hasAttribute('data-pwned')") is False
    assert page.query_selector("img[src=x]") is None and errors == []
    shot = tmp_path / "shot.png"
    page.set_viewport_size({"width": 1280, "height": 3000})
    page.screenshot(path=str(shot))
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    colored = ((pixels.max(axis=2) - pixels.min(axis=2)) > 0.3).mean()
    assert colored > 0.002, "the plots did not render"  # the bars and radar are the only coloured pixels


def test_markdown_report_and_leaderboard_formats(tmp_path, results, data_dir):
    env = cli_env(data_dir)
    res = run_cli("--results", str(results), "report", "--format", "md", "--out", str(tmp_path / "r.md"), env=env)
    assert res.returncode == 0 and "| evil-model |" in (tmp_path / "r.md").read_text()
    out = run_cli("--results", str(results), "leaderboard", "--format", "json", env=env)
    board = json.loads(out.stdout)
    assert board["filters"]["metrics"] == "headline"  # the filter as given, not the metric objects
    assert {c["metric"] for c in board["columns"]} == {"mtbench.overall", "mtbench.win_rate_adjusted", "hh.rm_accuracy",
                                                       "mtbench.win_rate_style_controlled"}  # beside the headline
    csv = run_cli("--results", str(results), "leaderboard", "--format", "csv", "--benchmark", "hh", env=env)
    assert csv.returncode == 0 and "hh.rm_accuracy" in csv.stdout.splitlines()[0]
