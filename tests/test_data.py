"""The data directory: manifest checks, one-line errors, `data pull` from a local HTTP server, `data verify`."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from starling_eval.data import DataDir, DataError, manifest, select
from tests.conftest import cli_env, run_cli


def test_manifest_matches_the_real_data(data_dir):
    files = manifest()
    assert "mt_bench/question.jsonl" in files and len(files) > 200
    for rel in ("mt_bench/question.jsonl", "mt_bench_human/human.jsonl", "truthfulqa/mc_task.json"):
        assert hashlib.sha256((data_dir / rel).read_bytes()).hexdigest() == files[rel].sha256
    # every file either has an upstream URL or says why it has none
    assert all(f.url or f.note for f in files.values())


def test_require_names_file_and_fix(tmp_path):
    data = DataDir(tmp_path)
    with pytest.raises(DataError, match=r"missing data file .*question.jsonl: fetch it with "
                       r"`starling-eval data --data-dir .* pull mt_bench/question.jsonl`"):
        data.require("mt_bench/question.jsonl")
    with pytest.raises(DataError, match="not a file starling-eval knows"):
        data.require("mt_bench/nope.jsonl")


def test_given_data_dir_sets_hub_offline(tmp_path, monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    DataDir(tmp_path)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_select_patterns():
    assert select(["mt_bench/question.jsonl"]) == ["mt_bench/question.jsonl"]
    assert all(p.startswith("mmlu/") for p in select(["mmlu"])) and len(select(["mmlu"])) == 114
    with pytest.raises(DataError, match="no file in the data manifest matches"):
        select(["nothing_here"])


@pytest.fixture()
def mirror(tmp_path, data_dir):
    """A local HTTP server serving a folder in the upstream layout, with one corrupted file."""
    served = tmp_path / "served"
    for rel in ("mt_bench/question.jsonl", "mt_bench/judge_prompts.jsonl", "truthfulqa/mc_task.json"):
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / rel, served / rel)
    (served / "mt_bench/judge_prompts.jsonl").write_text("tampered\n")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_pull_downloads_verifies_and_never_leaves_a_bad_file(tmp_path, mirror):
    target = tmp_path / "data"
    res = run_cli("data", "--data-dir", str(target), "pull", "mt_bench/question.jsonl", "mt_bench/judge_prompts.jsonl",
                  "truthfulqa/mc_task.json", "mt_bench/reference_answer/gpt-4.jsonl", "--mirror", mirror, "--json",
                  env=cli_env())
    assert res.returncode == 3, res.stderr  # some files failed
    outcomes = {f["path"]: f["outcome"] for f in json.loads(res.stdout)["files"]}
    assert outcomes["mt_bench/question.jsonl"] == "downloaded"
    assert outcomes["truthfulqa/mc_task.json"] == "downloaded"
    assert outcomes["mt_bench/judge_prompts.jsonl"].startswith("failed: sha256 mismatch")
    assert outcomes["mt_bench/reference_answer/gpt-4.jsonl"].startswith("failed:")  # 404 on the mirror
    assert not (target / "mt_bench/judge_prompts.jsonl").exists()
    assert not list(target.rglob("*.part"))
    assert DataDir(target).require("mt_bench/question.jsonl").is_file()
    again = run_cli("data", "--data-dir", str(target), "pull", "mt_bench/question.jsonl", "--mirror", mirror,
                    env=cli_env())
    assert again.returncode == 0 and "1 already present" in again.stdout


def test_verify_reports_missing_and_corrupt(tmp_path, data_dir):
    target = tmp_path / "data"
    (target / "mt_bench").mkdir(parents=True)
    shutil.copy(data_dir / "mt_bench/question.jsonl", target / "mt_bench/question.jsonl")
    ok = run_cli("data", "--data-dir", str(target), "verify", "mt_bench/question.jsonl", env=cli_env())
    assert ok.returncode == 0 and "1 ok, 0 missing, 0 corrupt" in ok.stdout
    (target / "mt_bench/judge_prompts.jsonl").write_text("{}\n")
    bad = run_cli("data", "--data-dir", str(target), "verify", "mt_bench", "--json", env=cli_env())
    assert bad.returncode == 1
    status = {f["path"]: f["status"] for f in json.loads(bad.stdout)["files"]}
    assert status["mt_bench/question.jsonl"] == "ok"
    assert status["mt_bench/judge_prompts.jsonl"] == "corrupt"
    assert status["mt_bench/reference_answer/gpt-4.jsonl"] == "missing"


def test_shared_data_verifies_clean(data_dir):
    res = run_cli("data", "verify", env=cli_env(data_dir))
    assert res.returncode == 0, res.stdout[-2000:]


def test_where(tmp_path):
    res = run_cli("data", "where", env=cli_env(tmp_path / "d"))
    assert res.stdout.strip() == str((tmp_path / "d").resolve())
    default = run_cli("data", "where", "--json", env=cli_env())
    assert json.loads(default.stdout)["data_dir"].endswith(str(Path("starling-eval") / "data"))
