"""The console, which only the command line touches: rich consoles (imported when first used, so ``--help``
stays instant), the progress bar long work reports to, JSON on stdout, and how shares print."""

from __future__ import annotations

import json
from typing import Any

import click


def rich_console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def progress_bar(enabled: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr (only on a terminal) and the callback the pipeline reports to."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = rich_console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, disable=not (enabled and err.is_terminal))
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, report


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def share_of(value: float | None, interval: Any, of: str | None = None) -> str:
    ci = f" ({interval[0]:.1%}–{interval[1]:.1%})" if interval else ""
    return f"{pct(value)}{ci}" + (f" of {of}" if of else "")
