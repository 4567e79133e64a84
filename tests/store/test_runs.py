from __future__ import annotations

from starling_eval.store.index import RunIndex
from starling_eval.store.runs import STATUS_COMPLETE, RunStore


def _manifest(run_id: str, status: str, spec_hash: str = "abc") -> dict:
    return {"run_id": run_id, "spec_hash": spec_hash, "status": status, "created": "2026-11-21T00:00:00",
            "spec": {"benchmark": "mtbench", "model": {"name_or_path": "m", "backend": "hf"}}, "model": {"label": "m"}}


def test_resumable_run_is_the_unfinished_one_with_the_same_hash(tmp_path):
    store = RunStore(tmp_path)
    done = store.new_run("mtbench", "m", "abc")
    done.write_manifest(_manifest(done.run_id, STATUS_COMPLETE))
    assert store.find_resumable("abc") is None
    open_run = store.new_run("mtbench", "m/with space", "abc")
    open_run.write_manifest(_manifest(open_run.run_id, "running"))
    assert store.find_resumable("abc").run_id == open_run.run_id
    assert store.find_resumable("other") is None
    assert "m-with-space" in open_run.run_id
    assert store.get(open_run.run_id).path == open_run.path
    assert store.get(str(open_run.path)).run_id == open_run.run_id


def test_index_round_trip(tmp_path):
    index = RunIndex(tmp_path / "index.sqlite")
    index.upsert_run(_manifest("r1", "complete"), tmp_path / "r1", {"answered": 5})
    index.put_item_scores("r1", [("81", "score", 7.0), ("82", "score", None)])
    assert index.runs()[0]["summary"] == {"answered": 5}
    assert index.item_scores("r1") == [("81", "score", 7.0), ("82", "score", None)]
    assert index.runs("alpacaeval") == []
