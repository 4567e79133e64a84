"""Cross-process single flight on the call cache: claims, waiting, dead owners, expiry."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from starling_eval.store.cache import CallCache
from starling_eval.store.claims import HOST, OWNER, SingleFlight, pid_alive


def _other_owner(pid: int, host: str = HOST) -> str:
    return f"{host}:{pid}:othertoken"


def test_a_key_is_claimed_once_and_the_value_ends_the_claim(tmp_path):
    cache = CallCache(tmp_path / "cache.sqlite")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        mine, others, found = cache.claim(["a", "b"], _other_owner(sleeper.pid), 60)
        assert mine == ["a", "b"] and not others and not found
        mine, others, found = cache.claim(["a", "b", "c"], OWNER, 60)
        assert mine == ["c"] and others == ["a", "b"] and not found  # a live owner's claims are left alone
        cache.put_many("judgment", {"a": {"text": "x"}})  # stored by its owner
        mine, others, found = cache.claim(["a", "b"], OWNER, 60)
        assert found == {"a": {"text": "x"}} and others == ["b"] and not mine
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not pid_alive(sleeper.pid)
    mine, others, _ = cache.claim(["b"], OWNER, 60)
    assert mine == ["b"] and not others  # its owner died: taken over at once


def test_an_expired_claim_of_another_host_is_taken_over(tmp_path):
    cache = CallCache(tmp_path / "cache.sqlite")
    cache.claim(["k"], _other_owner(1, host="elsewhere"), ttl_s=0.05)
    assert cache.claim(["k"], OWNER, 60)[1] == ["k"]  # another host's pid cannot be checked: trusted until expiry
    time.sleep(0.1)
    assert cache.claim(["k"], OWNER, 60)[0] == ["k"]


def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 10
    while pid_alive(proc.pid) and time.time() < deadline:  # exited but not reaped: a zombie
        time.sleep(0.02)
    assert not pid_alive(proc.pid)
    proc.wait()


def test_settle_waits_for_the_value_or_takes_the_key_over(tmp_path):
    cache = CallCache(tmp_path / "cache.sqlite")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    cache.claim(["done-later", "owner-dies"], _other_owner(sleeper.pid), 60)

    async def main():
        seen_found, seen_mine = {}, []
        with SingleFlight(cache, poll_s=0.05) as flight:
            mine, others, _ = flight.claim(["done-later", "owner-dies"])
            assert not mine and sorted(others) == ["done-later", "owner-dies"]

            async def other_process():
                await asyncio.sleep(0.2)
                cache.put_many("judgment", {"done-later": {"text": "paid once"}})
                sleeper.kill()
                sleeper.wait()

            task = asyncio.ensure_future(other_process())
            async for found, taken in flight.settle(others):
                seen_found.update(found)
                seen_mine += taken
            await task
            assert flight.waited == 1
        return seen_found, seen_mine

    found, mine = asyncio.run(main())
    assert found == {"done-later": {"text": "paid once"}} and mine == ["owner-dies"]
    assert cache.claim(["owner-dies"], _other_owner(1, host="elsewhere"), 60)[0] == ["owner-dies"]  # released on exit


def test_the_heartbeat_keeps_a_long_call_claimed(tmp_path):
    cache = CallCache(tmp_path / "cache.sqlite")
    with SingleFlight(cache, ttl_s=0.4) as flight:
        flight.claim(["slow"])
        time.sleep(1.0)  # longer than the ttl: renewed meanwhile
        assert cache.claim(["slow"], _other_owner(1, host="elsewhere"), 60)[1] == ["slow"]
