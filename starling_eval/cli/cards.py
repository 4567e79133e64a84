"""The Goodhart card on the console: ``goodhart card`` prints it, and ``show`` prints a run's stored card."""

from __future__ import annotations

from typing import Any

from starling_eval.cli.console import rich_console, share_of


def print_card(result: dict[str, Any]) -> None:
    """The card as a rich table and its flags (``show`` prints it too)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Goodhart card · run {escape(result['run_id'])} · judge {escape(result['judge'])} vs "
                        f"{escape(result['proxy'])}")
    for col in ("model", "judge win rate", "proxy win rate", "judge − proxy", "items", "questions"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in result["rows"]:
        table.add_row(escape(row["model"]), share_of(row["judge_win_rate"], row["judge_ci95"]),
                      share_of(row["proxy_win_rate"], row["proxy_ci95"]),
                      _signed(row["difference"], row["difference_ci95"]), str(row["n_items"]), str(row["n_questions"]))
    console = rich_console()
    console.print(table)
    for row in result["rows"]:
        for flag in row["flags"]:
            console.print(f"[bold red]goodhart:[/bold red] [yellow]{escape(flag)}[/yellow]")
    if not result["flagged"]:
        console.print("[green]judge and proxy agree within their intervals[/green]")


def _signed(value: float, interval: Any) -> str:
    ci = f" ({100 * interval[0]:+.1f} to {100 * interval[1]:+.1f})" if interval else ""
    return f"{100 * value:+.1f} pts{ci}"
