"""``leaderboard`` and ``report``: one table across runs (on the console, or as Markdown, CSV, JSON or HTML),
and the leaderboard report in one self-contained file."""

from __future__ import annotations

from pathlib import Path

import click

from starling_eval.cli.console import rich_console
from starling_eval.cli.errors import InputError, input_errors
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
@click.option("--diff", "diff_runs", nargs=2, default=None, metavar="RUN_A RUN_B",
              help="Instead: checkpoint A against B item by item (run ids, prefixes or folders): the paired CI of "
                   "the headline metric, per-category and length deltas, the items side by side, flipped first "
                   "[default --out: <results>/diff.html].")
@click.option("--seed", default=0, show_default=True, help="--diff: the paired bootstrap's seed.")
@click.pass_context
@input_errors
def report(ctx: click.Context, out: Path | None, fmt: str, benchmarks: tuple[str, ...], judge: str | None,
           model_pattern: str | None, title: str, diff_runs: tuple[str, str] | None, seed: int) -> None:
    """A leaderboard report: the table across runs, plots (MT-Bench radar, win rates with CIs, MMLU by group,
    RM accuracy vs the length baseline; per run: categories, score distribution, length vs score, position
    consistency), the Goodhart cards and a browser of every judged item, in one file viewable offline."""
    from starling_eval.report.leaderboard import collect
    from starling_eval.store.files import write_text_atomic

    if diff_runs:
        from starling_eval import gate as gate_mod
        from starling_eval.gate.diff_view import write_diff_page

        if fmt != "html":
            raise InputError("--diff writes an HTML page: drop --format md")
        result = gate_mod.gate(diff_runs[0], diff_runs[1], ctx.obj["results"], seed=seed)
        out = out or Path(ctx.obj["results"]) / "diff.html"
        write_diff_page(result, diff_runs[0], diff_runs[1], ctx.obj["results"], out)
        rule = result.rules[0]
        click.echo(f"wrote {out} ({rule.metric}: {rule.baseline_mean:.3f} → {rule.candidate_mean:.3f}, "
                   f"Δ {rule.diff:+.3f} [{rule.ci_low:+.3f}, {rule.ci_high:+.3f}] on {rule.n_shared} items)")
        return

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
