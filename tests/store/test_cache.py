"""The shared call cache: content addressing, and two processes writing at once without corruption."""

from __future__ import annotations

import multiprocessing
import sqlite3

from starling_eval.store.cache import CallCache, call_key


def test_key_is_content_addressed():
    a = call_key({"backend": "hf", "model": "m"}, [{"role": "user", "content": "hi"}], {"temperature": 0.0})
    b = call_key({"model": "m", "backend": "hf"}, [{"content": "hi", "role": "user"}], {"temperature": 0.0})
    c = call_key({"backend": "hf", "model": "m"}, [{"role": "user", "content": "hi"}], {"temperature": 0.7})
    assert a == b != c and len(a) == 64


def test_put_get_roundtrip_and_first_write_wins(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    cache.put_many("generation", {"k1": {"text": "one"}, "k2": {"text": "two"}})
    cache.put_many("generation", {"k1": {"text": "changed"}})
    assert cache.get_many(["k1", "k2", "k3"]) == {"k1": {"text": "one"}, "k2": {"text": "two"}}
    assert cache.count() == 2 and cache.count("judgment") == 0


def _writer(path: str, prefix: str, n: int) -> None:
    cache = CallCache(path)
    for i in range(n):
        cache.put_many("generation", {f"{prefix}-{i}": {"text": f"{prefix} {i}", "pad": "x" * 500}})
        if i % 10 == 0:
            cache.get_many([f"{prefix}-{i}"])
    cache.close()


def test_two_processes_share_the_cache_safely(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    CallCache(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, 300)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = CallCache(path)
    assert cache.count() == 600
    got = cache.get_many([f"a-{i}" for i in range(300)] + [f"b-{i}" for i in range(300)])
    assert len(got) == 600 and got["b-299"]["text"] == "b 299"
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_store_errors_name_the_path_and_pick_the_exit_code(tmp_path):
    import errno

    from starling_eval.store.errors import describe_os_error, describe_sqlite_error

    db = tmp_path / "cache.sqlite"
    readonly = describe_sqlite_error(db, sqlite3.OperationalError("attempt to write a readonly database"))
    assert str(readonly).startswith(f"{db}: cannot write here") and readonly.exit_code == 2
    locked = describe_sqlite_error(db, sqlite3.OperationalError("database is locked"))
    assert "locked by another process" in str(locked) and locked.exit_code == 3
    full = describe_sqlite_error(db, sqlite3.OperationalError("database or disk is full"))
    assert "no space left" in str(full) and full.exit_code == 3
    disk = describe_os_error(db, OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.json")))
    assert str(disk).startswith(str(tmp_path / "x.json")) and disk.exit_code == 3


def test_a_lock_held_past_the_busy_timeout_is_a_store_error(tmp_path):
    import pytest

    from starling_eval.store.errors import StoreError

    cache = CallCache(tmp_path / "cache.sqlite", busy_timeout_s=0.2)
    holder = sqlite3.connect(tmp_path / "cache.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another process") as err:
            cache.put_many("judgment", {"k": {"text": "x"}})
        assert err.value.exit_code == 3
    finally:
        holder.execute("ROLLBACK")
    cache.put_many("judgment", {"k": {"text": "x"}})  # the transaction was rolled back cleanly: usable again
    assert cache.get_many(["k"]) == {"k": {"text": "x"}}
