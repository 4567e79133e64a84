"""``batches status|resume|cancel``: the judge batches a results root sent through OpenAI's Batch API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from starling_eval.cli.console import emit_json, rich_console
from starling_eval.cli.errors import EXIT_INCOMPLETE, InputError, input_errors


@click.group()
def batches() -> None:
    """Judge batches sent with --judge-batch: where they stand, collect them now, or cancel them.

    A run collects its own batches when run again; nothing here is needed for that."""


def _cache(ctx: click.Context) -> Any:
    from starling_eval.store.cache import CallCache

    root = Path(ctx.obj["results"])
    if not (root / "cache.sqlite").exists():
        raise InputError(f"{root}: no call cache here, so no batches (give the --results of the run)")
    return CallCache(root / "cache.sqlite")


def _select(cache: Any, ids: tuple[str, ...], open_only: bool) -> list[Any]:
    from starling_eval.judges.batch_admin import UnknownBatch, select

    try:
        return select(cache, ids, open_only=open_only)
    except UnknownBatch as exc:
        raise InputError(str(exc)) from None


@batches.command()
@click.option("--open", "open_only", is_flag=True, help="Only batches not collected yet.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.pass_context
@input_errors
def status(ctx: click.Context, open_only: bool, as_json: bool) -> None:
    """Every batch of this results root, newest first, as the log last saw it (`resume` asks the API)."""
    from starling_eval.judges.batch_admin import rows

    cache = _cache(ctx)
    try:
        table_rows = rows(_select(cache, (), open_only))
    finally:
        cache.close()
    if as_json:
        emit_json(table_rows)
        return
    if not table_rows:
        rich_console().print("no batches" + (" open" if open_only else ""), highlight=False)
        return
    _print(table_rows, "batches")


def _print(table_rows: list[dict[str, Any]], title: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for col in ("batch", "judge", "state", "status", "requests", "done / failed", "created", "note"):
        table.add_column(col)
    for r in table_rows:
        counts = r["counts"] or {}
        table.add_row(escape(r["batch_id"] or r["local_id"]), escape(r["judge"]), r["state"], r["status"] or "—",
                      str(r["requests"]), f"{counts.get('completed', 0)} / {counts.get('failed', 0)}" if counts else "—",
                      r["created"], escape(r["note"] or ""))
    rich_console().print(table)


def _pursue(ctx: click.Context, ids: tuple[str, ...], poll_s: float, as_json: bool, cancel: bool) -> None:
    from starling_eval.judges.batch_admin import pursue, rows

    cache = _cache(ctx)
    try:
        records = [r for r in _select(cache, ids, open_only=False) if r.is_open]
        if not records:
            click.echo("no open batches: nothing to " + ("cancel" if cancel else "collect"), err=True)
            return
        ended = pursue(cache, records, cancel=cancel, poll_s=poll_s)
    finally:
        cache.close()
    problems = [(record, why) for record, why in ended if why]
    if as_json:
        emit_json([{**row, "error": why} for row, (_, why) in zip(rows([r for r, _ in ended]), ended, strict=True)])
    else:
        _print(rows([r for r, _ in ended]), "batches cancelled" if cancel else "batches collected")
        for record, why in problems:
            click.echo(f"batch {record.batch_id or record.local_id}: {why}", err=True)
    if problems:
        sys.exit(EXIT_INCOMPLETE)


@batches.command()
@click.argument("ids", nargs=-1)
@click.option("--poll", "poll_s", default=5.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds before the first status poll (then 1.5x longer each time, up to a minute).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.pass_context
@input_errors
def resume(ctx: click.Context, ids: tuple[str, ...], poll_s: float, as_json: bool) -> None:
    """Wait for the open batches (or those IDS name) and read their replies into the cache; the next run of
    the same command then pays for nothing. Exit 3 when one could not be collected (it stays open)."""
    _pursue(ctx, ids, poll_s, as_json, cancel=False)


@batches.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "all_open", is_flag=True, help="Cancel every open batch.")
@click.option("--poll", "poll_s", default=5.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds before the first status poll while the cancellation completes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.pass_context
@input_errors
def cancel(ctx: click.Context, ids: tuple[str, ...], all_open: bool, poll_s: float, as_json: bool) -> None:
    """Cancel the batches IDS name (or --all open ones); what they finished first is still read into the cache."""
    if bool(ids) == all_open:
        raise InputError("give batch ids or --all, not both and not neither")
    _pursue(ctx, ids, poll_s, as_json, cancel=True)
