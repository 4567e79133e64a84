"""`run arena-hard` end to end on the tiny model with the local judge: both games per prompt, the exported
judgment files read by arena-hard-auto's own loader as our scorer reads them, and `score arena-hard` on them
giving the run's numbers."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

from starling_eval.adapters.arena_hard import score
from starling_eval.adapters.arena_hard.results import read_judgment_files
from tests.adapters.arena_hard.conftest import in_folder
from tests.conftest import cli_env, run_cli


def test_run_arena_hard_on_the_tiny_model_and_rescore_its_judgments(tmp_path, data_dir, tiny_model, server_factory,
                                                                     ref):
    server = server_factory("--random-verdicts", "arena", "--seed", "3")
    env = cli_env(data_dir)
    res = run_cli("--results", str(tmp_path / "res"), "run", "arena-hard", "--model", str(tiny_model), "--limit", "8",
                  "--max-new-tokens", "8", "--judge-base-url", server.base_url, "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["benchmark"] == "arena-hard-v0.1" and out["judging"]["counts"]["called"] == 16 == server.stats()["served"]
    (row,) = out["models"]
    assert row["model"] == tiny_model.name and row["baseline"] == "gpt-4-0314" and 0 <= row["score"] <= 100
    run = Path(out["path"])
    judged = run / "model_judgment" / "gpt-4-1106-preview"
    matches = read_judgment_files([judged])
    assert len(matches) == 8 and all(len(m["games"]) == 2 for m in matches)
    requests = [json.loads(line) for line in (run / "judgments.jsonl").read_text().splitlines()]
    g1 = next(r for r in requests if r["game"] == 1)
    assert g1["judgment"].endswith(f"[[{g1['verdict']}]]")

    # arena-hard-auto's loader reads the exported files into the battles our scorer builds
    layout = tmp_path / "upstream" / "data" / "arena-hard-v0.1" / "model_judgment" / "gpt-4-1106-preview"
    shutil.copytree(judged, layout)
    with in_folder(tmp_path / "upstream"), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        theirs = ref["show"].load_judgments(["gpt-4-1106-preview"], "arena-hard-v0.1")
    ours, nulls = score.battles(matches)
    assert nulls == 0 and len(ours) == len(theirs)
    assert ours["scores"].astype(float).tolist() == theirs["scores"].astype(float).tolist()

    # the report's item browser: one item per prompt, both games, both answers
    from starling_eval.report.run_items import items_doc
    from starling_eval.store.runs import RunFolder

    items = items_doc([RunFolder(run)])["items"]
    assert len(items) == 8 and all(len(i["judgments"]) == 2 and all(a["turns"] for a in i["answers"]) for i in items)
    assert items[0]["answers"][1]["label"] == "gpt-4-0314 (baseline)" and items[0]["turns"][0]
    assert {i["verdict"] for i in items} <= {"win", "loss", "tie"}

    rescored = run_cli("score", "arena-hard", "--judgments", str(judged), "--json", env=env)
    assert rescored.returncode == 0, rescored.stderr
    (again,) = json.loads(rescored.stdout)
    assert (again["score"], again["ci"]) == (row["score"], row["ci"])
    bad = run_cli("run", "arena-hard", "--version", "2", "--model", str(tiny_model), env=env)
    assert bad.returncode == 2 and "arena-hard's versions are 0.1 and 2.0" in bad.stderr
