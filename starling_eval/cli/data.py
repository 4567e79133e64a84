"""``data where|verify|pull``: the benchmark data folder, whether its files are intact, and fetching them."""

from __future__ import annotations

import sys
from typing import Any

import click

from starling_eval.cli.console import emit_json
from starling_eval.cli.errors import EXIT_CHECK_FAILED, EXIT_INCOMPLETE, input_errors


@click.group()
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Data folder [default: $STARLING_EVAL_DATA or the user cache].")
@click.pass_context
def data(ctx: click.Context, data_dir: str | None) -> None:
    """The benchmark data folder: where it is, whether it is intact, and fetching it."""
    ctx.obj["data_dir"] = data_dir


def _data_dir(ctx: click.Context) -> Any:
    from starling_eval.data import DataDir

    return DataDir(ctx.obj.get("data_dir"))


@data.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def where(ctx: click.Context, as_json: bool) -> None:
    """Print the data folder."""
    root = _data_dir(ctx).root
    if as_json:
        emit_json({"data_dir": str(root), "exists": root.is_dir()})
    else:
        click.echo(str(root))


@data.command()
@click.argument("paths", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@input_errors
def verify(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Check sha256 of data files (PATHS: files or folders like mt_bench; default all). Exit 1 if any is bad."""
    from starling_eval.data import manifest, select

    data_dir = _data_dir(ctx)
    status = data_dir.status(select(paths))
    bad = [(p, s) for p, s in status if s not in ("ok", "optional-missing")]
    optional = [p for p, s in status if s == "optional-missing"]
    if as_json:
        emit_json({"data_dir": str(data_dir.root), "files": [{"path": p, "status": s} for p, s in status]})
    else:
        for p, s in bad:
            click.echo(f"{s:8} {p}")
        for p in optional:
            click.echo(f"absent   {p} (optional: {manifest()[p].note.split(';')[0]})")
        ok = len(status) - len(bad) - len(optional)
        click.echo(f"{ok} ok, {sum(s == 'missing' for _, s in bad)} missing, {sum(s == 'corrupt' for _, s in bad)} corrupt, "
                   f"{len(optional)} optional absent in {data_dir.root}")
    if bad:
        sys.exit(EXIT_CHECK_FAILED)


@data.command()
@click.argument("paths", nargs=-1)
@click.option("--mirror", default=None, help="Fetch <mirror>/<path> instead of each file's upstream URL.")
@click.option("--force", is_flag=True, help="Download even files already present and intact.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@input_errors
def pull(ctx: click.Context, paths: tuple[str, ...], mirror: str | None, force: bool, as_json: bool) -> None:
    """Download data files (PATHS: files or folders; default all) and verify their sha256."""
    from starling_eval.data import select

    data_dir = _data_dir(ctx)
    chosen = select(paths)

    def show_file(rel: str, outcome: str) -> None:
        if not as_json and outcome != "present":
            click.echo(f"{outcome:11} {rel}", err=outcome.startswith("failed"))

    results = data_dir.pull(chosen, mirror=mirror, force=force, on_file=show_file)
    failed = [r for r in results if r[1].startswith("failed")]
    if as_json:
        emit_json({"data_dir": str(data_dir.root), "files": [{"path": p, "outcome": o} for p, o in results]})
    else:
        counts = {k: sum(o.startswith(k) for _, o in results) for k in ("downloaded", "present", "failed")}
        click.echo(f"{counts['downloaded']} downloaded, {counts['present']} already present, {counts['failed']} failed "
                   f"in {data_dir.root}")
    if failed:
        sys.exit(EXIT_INCOMPLETE)
