"""When the results folder cannot be used: one line naming the path, never a sqlite3 or OSError traceback.

A read-only folder or a file without write permission is the user's to fix (exit 2); a full disk or a cache
locked by another process for longer than the busy timeout is the run's environment (exit 3).
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class StoreError(Exception):
    """The results folder (or a file in it) cannot be read or written as a run needs."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.exit_code = exit_code


def describe_os_error(path: Path | str, exc: OSError) -> StoreError:
    where = exc.filename or path
    if exc.errno in _FULL:
        return StoreError(f"{where}: no space left on the device; finished work is stored, free some space and "
                          "re-run", EXIT_INCOMPLETE)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(f"{where}: cannot write here (read-only or no permission); give a writable --results folder")
    return StoreError(f"{where}: {exc.strerror or exc}", EXIT_INCOMPLETE)


def describe_sqlite_error(path: Path | str, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "readonly" in text or "unable to open" in text or "read-only" in text:
        return StoreError(f"{path}: cannot write here (read-only or no permission); give a writable --results folder")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: locked by another process for longer than the busy timeout ({text}); re-run "
                          "when it is done", EXIT_INCOMPLETE)
    if "full" in text:
        return StoreError(f"{path}: no space left on the device ({text}); free some space and re-run", EXIT_INCOMPLETE)
    return StoreError(f"{path}: {text}", EXIT_INCOMPLETE)


@contextmanager
def guarded(path: Path | str) -> Iterator[None]:
    """Turn sqlite3 and OS errors met while using ``path`` into a StoreError naming it."""
    try:
        yield
    except sqlite3.Error as exc:
        raise describe_sqlite_error(path, exc) from exc
    except OSError as exc:
        raise describe_os_error(path, exc) from exc


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT on an autocommit connection; rolled back on any error (including one raised
    by BEGIN itself, when there is nothing to roll back, so the first error is the one reported)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
