"""The HTML report in a real headless browser (Debian's chromium): it renders, the plots are there, and a
<script> in a model answer does not run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from starling_eval.testing.tiny_model import build_tiny_reward_classifier
from tests.conftest import cli_env, run_cli

EVIL = ("<script>document.title='PWNED';document.body.setAttribute('data-pwned','1')</script>"
        "<img src=x onerror=\"document.title='PWNED'\"> & <b>bold</b>")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def _browser(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--user-data-dir=" + str(page.parent / "profile"), *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture()
def results(tmp_path, data_dir, server_factory):
    """Real runs: MT-Bench single (answers with a <script>), pairwise with a Goodhart card, an RM on HH."""
    env = cli_env(data_dir)
    root = tmp_path / "res"
    rows = [json.loads(line) for line in (data_dir / "mt_bench/model_answer/alpaca-13b.jsonl").read_text().splitlines()]
    rows[0]["choices"][0]["turns"][0] = EVIL
    for row in rows:
        row["model_id"] = "evil-model"  # the file's own model name is the model's name
    evil = tmp_path / "evil-model.jsonl"
    evil.write_text("".join(json.dumps(r) + "\n" for r in rows))
    single, pair = server_factory("--random-verdicts", "single"), server_factory("--random-verdicts", "pair")
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


def test_report_renders_in_a_browser_with_its_plots_and_no_script_runs(tmp_path, results, data_dir):
    chromium = _chromium()
    page = tmp_path / "report.html"
    res = run_cli("--results", str(results), "report", "--out", str(page), env=cli_env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    text = page.read_text()
    assert "<script" not in text.replace("&lt;script", "")  # the page has none; the answer's is escaped
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;" in text
    assert text.count('<img src="data:image/png;base64,') == 3  # radar, win rates, RM vs length baseline
    assert "Goodhart card" in text or "judge − proxy" in text
    assert "http://" not in text and "https://" not in text  # nothing to fetch when viewed
    dom = _browser(chromium, page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<table" in dom.stdout and "alpaca-13b" in dom.stdout
    # had the answer's script (or its onerror) run, the title would say PWNED and <body> would carry data-pwned
    assert re.search(r"<title>(.*?)</title>", dom.stdout).group(1) == "starling-eval report"
    body_tag = dom.stdout.split("<body", 1)[1].split(">", 1)[0]
    assert "data-pwned" not in body_tag and "&lt;script&gt;document.title" in dom.stdout
    shot = tmp_path / "shot.png"
    _browser(chromium, page, f"--screenshot={shot}", "--window-size=1280,3000", "--hide-scrollbars")
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
    assert {c["metric"] for c in board["columns"]} == {"mtbench.overall", "mtbench.win_rate_adjusted", "hh.rm_accuracy"}
    csv = run_cli("--results", str(results), "leaderboard", "--format", "csv", "--benchmark", "hh", env=env)
    assert csv.returncode == 0 and "hh.rm_accuracy" in csv.stdout.splitlines()[0]
