"""The installed alpaca_eval package, used quietly: its modules, its config folders, its root-logger chatter.

alpaca_eval is the reference for AlpacaEval's numbers, so its own code computes them (metrics, the GLM,
the completion parsers, the prompt formatting). Importing it prints a pkg_resources deprecation warning
and its parsers log every unparsable completion on the root logger; we count those instead of printing
them. Configs (annotators, model generation settings) are read from the package's folders, never copied.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import ModuleType


def module(name: str) -> ModuleType:
    """``alpaca_eval.<name>``, imported without its import-time warnings on stderr, and without its
    ``load_dotenv()``: a ``.env`` file in the working folder must not put API keys or endpoints into our
    environment behind the user's back (keys come only from the variable named on the command line)."""
    import sys
    from unittest import mock

    first = "alpaca_eval" not in sys.modules  # only the package's first import runs its load_dotenv
    guard = mock.patch("dotenv.load_dotenv", lambda *args, **kwargs: False) if first else nullcontext()
    with warnings.catch_warnings(), guard:
        warnings.simplefilter("ignore")
        return importlib.import_module(f"alpaca_eval.{name}")


def package_dir() -> Path:
    """The installed package's folder, found without importing it (its import takes about a second)."""
    from importlib.util import find_spec

    spec = find_spec("alpaca_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("alpaca_eval is not installed (it is a dependency of starling-eval: reinstall)")
    return Path(next(iter(spec.submodule_search_locations)))


@contextmanager
def quiet_root_logger(level: int = logging.CRITICAL) -> Iterator[None]:
    """alpaca_eval logs per-row INFO/ERROR lines on the root logger; the caller counts those rows instead."""
    root = logging.getLogger()
    previous = root.level
    root.setLevel(max(previous, level))
    try:
        yield
    finally:
        root.setLevel(previous)
