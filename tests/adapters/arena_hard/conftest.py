"""arena-hard-auto's own scoring code as the oracle: imported from ../shared/reference (tests only)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

# shared/ holds data/ (the benchmark data) and reference/ (upstream code that tests run beside ours)
DATA = Path(os.environ.get("STARLING_EVAL_DATA") or Path(__file__).resolve().parents[4] / "shared" / "data")
REFERENCE = DATA.parent / "reference" / "arena-hard-auto"


@pytest.fixture(scope="module")
def ref():
    """arena-hard-auto's show_result, math_utils and add_markdown_info, imported from the reference copy (its
    modules import each other as ``utils.*``, so the folder goes on sys.path while they load)."""
    if not (REFERENCE / "show_result.py").is_file():
        pytest.fail(f"reference code missing: {REFERENCE}")
    sys.path.insert(0, str(REFERENCE))
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "utils" or k.startswith("utils.")}
    try:
        import show_result
        import utils.add_markdown_info as add_markdown_info
        import utils.math_utils as math_utils
    finally:
        sys.path.remove(str(REFERENCE))
    from glob import glob

    show_result.glob = lambda pattern: sorted(glob(pattern))  # upstream reads in file-system order; fix it
    yield {"show": show_result, "math": math_utils, "markdown": add_markdown_info}
    for k in [k for k in sys.modules if k in ("show_result", "utils") or k.startswith("utils.")]:
        del sys.modules[k]
    sys.modules.update(saved)


@contextlib.contextmanager
def in_folder(folder):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


