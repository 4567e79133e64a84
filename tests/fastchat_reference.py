"""FastChat's own show_result.py, as the reference our MT-Bench scores must equal."""

from __future__ import annotations

import argparse
from typing import Any


def fastchat_tables(function: str, **args: Any) -> list[Any]:
    """Call ``fastchat.llm_judge.show_result.<function>`` and return the DataFrames it prints."""
    from fastchat.llm_judge import show_result

    printed: list[Any] = []
    show_result.print = lambda *a, **k: printed.append(a[0] if a else None)
    try:
        getattr(show_result, function)(argparse.Namespace(bench_name="mt_bench", model_list=None, **args))
    finally:
        del show_result.print
    return [p for p in printed if hasattr(p, "columns")]
