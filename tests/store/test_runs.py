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


def test_an_ambiguous_prefix_names_the_runs_it_matches(tmp_path):
    import pytest

    from starling_eval.data import DataError

    store = RunStore(tmp_path)
    a, b = store.new_run("mtbench", "m", "abc"), store.new_run("mtbench", "m", "abd")
    for run in (a, b):
        run.write_manifest(_manifest(run.run_id, STATUS_COMPLETE))
    with pytest.raises(DataError, match=r"'2\d*' matches 2 runs .*give more of the run id") as err:
        store.require(a.run_id[:2])
    assert a.run_id in str(err.value) and b.run_id in str(err.value)
    assert store.require(a.run_id).path == a.path  # an exact id is never ambiguous


def test_an_exact_id_is_found_without_listing_every_run(tmp_path, monkeypatch):
    import pytest

    store = RunStore(tmp_path)
    runs = [store.new_run("mtbench", f"m{i}", "abc") for i in range(3)]
    for run in runs:
        run.write_manifest(_manifest(run.run_id, STATUS_COMPLETE))
    (store.runs_dir / "no-manifest").mkdir()  # a folder without a manifest is no run, exact name or not

    def listing(self):
        raise AssertionError("listed every run to resolve an exact id")

    with monkeypatch.context() as patch:
        patch.setattr(RunStore, "all_runs", listing)
        assert [store.get(r.run_id).path for r in runs] == [r.path for r in runs]
    assert store.get("no-manifest") is None
    assert store.get("..") is None
    assert store.get(runs[0].run_id[:-3]).run_id == runs[0].run_id  # a unique prefix still resolves
    with pytest.raises(Exception, match="matches 3 runs"):
        store.get(runs[0].run_id[:4])


def test_running_is_only_shown_while_the_owner_lives(tmp_path):
    import subprocess
    import sys

    from starling_eval.store.runs import STATUS_INTERRUPTED, live_status, owner

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        me = owner()
        assert live_status({"status": "running", "owner": me}) == "running"
        assert live_status({"status": "running", "owner": {**me, "pid": alive.pid}}) == "running"
        assert live_status({"status": "running", "owner": {**me, "pid": gone.pid}}) == STATUS_INTERRUPTED
        assert live_status({"status": "running"}) == STATUS_INTERRUPTED  # no owner recorded: nothing runs it
        assert live_status({"status": "complete", "owner": {**me, "pid": gone.pid}}) == "complete"
        store = RunStore(tmp_path)
        busy = store.new_run("mtbench", "m", "abc")
        busy.write_manifest({**_manifest(busy.run_id, "running"), "owner": {**me, "pid": alive.pid}})
        assert store.find_resumable("abc") is None  # another live process works on it: not resumed under it
        busy.write_manifest({**_manifest(busy.run_id, "running"), "owner": {**me, "pid": gone.pid}})
        assert store.find_resumable("abc").run_id == busy.run_id
        index = RunIndex(tmp_path / "index.sqlite")
        index.upsert_run(busy.read_manifest(), busy.path)
        assert index.runs()[0]["status"] == STATUS_INTERRUPTED
    finally:
        alive.kill()
        alive.wait()


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = RunStore(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: store.new_run("mtbench", "m", "abc"), range(16)))
    assert len({r.path for r in runs}) == 16
