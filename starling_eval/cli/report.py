"""``leaderboard`` and ``report``: one table across runs (on the console, or as Markdown, CSV, JSON or HTML),
and the leaderboard report in one self-contained file."""

from __future__ import annotations

from pathlib import Path

import click

from starling_eval.cli.console import rich_console
from starling_eval.cli.errors import input_errors
from starling_eval.cli.options import run_filter_options


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv", "json", "html"]), default="table",
              show_default=True, help="Output: a rich table, Markdown, CSV, JSON or an HTML table fragment.")
@run_filter_options
@click.option("--all-metrics", is_flag=True, help="Every metric, not only each benchmark's headline.")
@click.option("--include-incomplete", is_flag=True, help="Also runs that did not finish (marked).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to this file.")
@click.pass_context
@input_errors
def leaderboard(ctx: click.Context, fmt: str, benchmarks: tuple[str, ...], judge: str | None, model_pattern: str | None,
                all_metrics: bool, include_incomplete: bool, out: Path | None) -> None:
    """One table across runs: a row per model (name + revision), a column per benchmark metric with its 95% CI,
    judge, date and failures. Runs whose benchmark version, judge or prompt differ get separate columns."""
    from starling_eval.report import leaderboard_render as render
    from starling_eval.report.leaderboard import collect

    board = collect(ctx.obj["results"], benchmarks=list(benchmarks) or None, judge=judge,
                    model_pattern=model_pattern, include_incomplete=include_incomplete,
                    metrics="all" if all_metrics else "headline")
    if fmt == "table" and out is None:
        rich_console().print(render.to_rich_table(board))
        for note in render.notes(board):
            rich_console(stderr=True).print(note, highlight=False, markup=False)
        return
    text = render.render(board, "md" if fmt == "table" else fmt)
    if out is None:
        click.echo(text)
    else:
        from starling_eval.store.files import write_text_atomic

        write_text_atomic(out, text)
        click.echo(f"wrote {out}", err=True)


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here [default: <results>/report.html, or report.md with --format md].")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="html: one self-contained page with plots; md: the table and the cards' flags.")
@run_filter_options
@click.option("--title", default="starling-eval report", show_default=True, help="The page's title.")
@click.pass_context
@input_errors
def report(ctx: click.Context, out: Path | None, fmt: str, benchmarks: tuple[str, ...], judge: str | None,
           model_pattern: str | None, title: str) -> None:
    """A leaderboard report: the table across runs, plots (MT-Bench radar, win rates with CIs, MMLU by group,
    RM accuracy vs the length baseline) and the Goodhart cards, in one file viewable offline."""
    from starling_eval.report.leaderboard import collect
    from starling_eval.store.files import write_text_atomic

    board = collect(ctx.obj["results"], benchmarks=list(benchmarks) or None, judge=judge, model_pattern=model_pattern)
    if fmt == "html":
        from starling_eval.report.html import render_report

        text = render_report(board, title=title)
    else:
        from starling_eval.report.leaderboard_render import to_markdown

        text = f"# {title}\n\n" + to_markdown(board)
    out = out or Path(ctx.obj["results"]) / f"report.{fmt}"
    write_text_atomic(out, text)
    click.echo(f"wrote {out} ({len(board.rows)} models, {len(board.columns)} columns)")
