"""Cross-process single flight: one paid call per cache key, even when two processes want it at once.

Two CI jobs on the same checkpoint, or a user re-running in a second terminal, share the results root and
so the call cache. Before a process calls a model or judge for a key it *claims* the key: a row in the
cache database's ``claims`` table naming the owner (host, pid, a per-process token) and an expiry that a
heartbeat thread pushes forward while the owner lives. A process that finds a live claim of another waits
for the value to appear in the cache instead of calling; a claim whose owner is dead (same host, pid gone
or a zombie) or whose expiry has passed (another host that stopped renewing) is taken over at once.

The value and the end of the claim are one transaction (:meth:`CallCache.put_many` deletes the claims of
the keys it stores), so a waiter sees either the claim or the value, never neither while the call is in
flight. A call that failed releases its claim without a value: a waiter then claims it and asks itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

HOST = socket.gethostname()
# one owner per process: a process may always take back its own claims (left by an earlier run in it)
OWNER = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust kill(0)


def claim_alive(host: str, pid: int, expires: float, now: float) -> bool:
    if expires < now:
        return False
    return pid_alive(pid) if host == HOST else True


class SingleFlight:
    """Claims on cache keys for this process, renewed by a heartbeat thread while the context is open."""

    def __init__(self, cache: Any, *, ttl_s: float = 60.0, poll_s: float = 0.2):
        self.cache = cache
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.waited = 0  # keys another process was already calling: their values were waited for, not paid again
        self._claimed: set[str] = set()  # keys this context claimed (a stored value ends a claim in the cache)

    def __enter__(self) -> SingleFlight:
        self._thread = threading.Thread(target=self._heartbeat, name="starling-eval-claims", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # only this context's claims: another context of the same process (judging beside generation) may still
        # be calling for its own keys, and a claim dropped under it would let a second process pay again
        self.cache.release_claims(OWNER, sorted(self._claimed))

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            try:
                self.cache.renew_claims(OWNER, time.time() + self.ttl_s)
            except Exception:  # a locked database for a moment: the next beat renews; expiry is ttl_s away
                continue

    def claim(self, keys: Iterable[str]) -> tuple[list[str], list[str], dict[str, Any]]:
        """(keys now ours to call, keys another live process is calling, values that appeared meanwhile)."""
        mine, others, found = self.cache.claim(list(keys), OWNER, self.ttl_s)
        self._claimed.update(mine)
        return mine, others, found

    def release(self, keys: Iterable[str]) -> None:
        """Give up claims without a value (the call failed): a waiting process takes them over."""
        keys = list(keys)
        self.cache.release_claims(OWNER, keys)
        self._claimed.difference_update(keys)

    async def settle(self, others: list[str]) -> AsyncIterator[tuple[dict[str, Any], list[str]]]:
        """Wait for keys another process claimed: yields (values that appeared, keys that became ours because
        their owner died or let go) until every key is one or the other."""
        waiting = list(others)
        self.waited += len(waiting)
        while waiting:
            await asyncio.sleep(self.poll_s)
            mine, still, found = self.claim(waiting)
            if found or mine:
                self.waited -= len(mine)
                yield found, mine
            waiting = still
