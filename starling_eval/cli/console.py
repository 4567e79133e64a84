"""The console, which only the command line touches: rich consoles (imported when first used, so ``--help``
stays instant), the progress bar long work reports to, JSON on stdout, and how shares print."""

from __future__ import annotations

import json
from typing import Any

import click

# a pipe or a CI log has no width: lay tables out as wide as their content, so no cell is cut
NON_TERMINAL_WIDTH = 10_000
ID_HEADERS = ("run_id", "run", "id", "baseline", "candidate")


def rich_console(stderr: bool = False) -> Any:
    """A rich console that never cuts a table cell: on a terminal, cells that do not fit wrap (run ids are
    given their full width first, so they can be copied); elsewhere (a pipe, a CI log) rows are as wide as
    their content."""
    from rich.console import Console
    from rich.table import Table

    class ReadableConsole(Console):
        def print(self, *objects: Any, **kwargs: Any) -> None:
            for obj in objects:
                if isinstance(obj, Table):
                    readable(obj)
            super().print(*objects, **kwargs)

    console = ReadableConsole(stderr=stderr)
    if not console.is_terminal:
        console = ReadableConsole(stderr=stderr, width=NON_TERMINAL_WIDTH)
    return console


def readable(table: Any) -> None:
    """Cells wrap instead of ending in "…"; id columns keep their longest value on one line."""
    for column in table.columns:
        column.overflow = "fold"
        if str(column.header).strip().lower() in ID_HEADERS:
            column.no_wrap = True
            column.min_width = max((len(str(cell)) for cell in column._cells), default=0) or None


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def progress_bar(enabled: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr (only on a terminal) and the callback the pipeline reports to: one line per
    stream (answers, judgments), each with its rate and time left, both moving at once when judging overlaps
    generation."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f}/s" if task.speed else "", style="progress.data.speed")

    err = rich_console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), console=err, transient=True,
                   disable=not (enabled and err.is_terminal))
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
