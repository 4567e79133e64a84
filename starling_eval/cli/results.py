"""``show``, ``list`` and ``export``: one stored run, what is available and what has run, and a run's per-item
values as a file ``gate`` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from starling_eval.cli.console import emit_json, rich_console
from starling_eval.cli.errors import input_errors


@click.command()
@click.argument("run_ref")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (and scores) as JSON.")
@click.option("--answers", "n_answers", default=0, type=click.IntRange(min=0), metavar="N",
              help="Also print the first N generated answers, each under its question.")
@click.pass_context
@input_errors
def show(ctx: click.Context, run_ref: str, as_json: bool, n_answers: int) -> None:
    """Show one run: spec, provenance, counts and scores. RUN_REF is a run id, unique prefix or folder."""
    from starling_eval.store.runs import RunStore

    run_folder = RunStore(ctx.obj["results"]).require(run_ref)
    manifest = run_folder.read_manifest()
    scores = run_folder.scores()
    if as_json:
        from starling_eval.store.runs import live_status

        emit_json({"manifest": manifest, "status": live_status(manifest), "scores": scores,
                   "goodhart_card": _goodhart_card(run_folder), "path": str(run_folder.path)})
        return
    from rich.table import Table

    spec = manifest["spec"]
    model = manifest.get("model", {})
    env = manifest.get("environment", {})
    table = Table(title=f"run {manifest['run_id']}", show_header=False)
    from starling_eval.store.runs import live_status

    status = live_status(manifest)
    if manifest.get("stop_reason"):
        status += f" ({manifest['stop_reason']})"
    rows = [("benchmark", spec["benchmark"]), ("status", status)]
    if spec.get("model"):
        rows += [
            ("model", f"{model.get('label', spec['model']['name_or_path'])} ({spec['model']['backend']})"),
            ("revision", model.get("revision")),
            ("chat template", f"{model.get('chat_template_source', model.get('chat_template'))} "
                              f"{(model.get('chat_template') or '')[:16]}"),
            ("sampling", json.dumps(manifest.get("sampling", {}))),
        ]
    elif spec.get("reward_model"):
        rm = manifest.get("reward_model", {})
        rm_spec = spec["reward_model"]
        rows += [("reward model", f"{rm_spec['name_or_path']} ({rm_spec['kind']}"
                                  + (f" on {rm_spec['backbone']})" if rm_spec.get("backbone") else ")")),
                 ("format", f"{rm.get('format')} {(rm.get('format_sha256') or '')[:16]}"),
                 ("tokens", f"max {rm_spec['max_length']}, truncation {rm_spec['truncation_side']}, padding "
                            f"{rm_spec['padding_side']}, {rm.get('truncated', 0)} truncated")]
    else:  # judged existing answer files
        rows.append(("answers", ", ".join(f"{a['model']} ({a['path']})" for a in spec.get("answers", []))))
    if manifest.get("judging"):
        judge = manifest["judging"]["judge"]
        annotator = f", annotator {judge['annotator']}" if judge.get("annotator") else ""
        where = (f"reward model {judge['reward_model']['name_or_path']}" if judge.get("reward_model")
                 else judge["base_url"])
        cap = f", max_tokens {judge['max_tokens']}" if judge.get("max_tokens") else ""
        rows.append(("judge", f"{judge['model']} at {where} ({judge['mode']}{annotator}{cap})"))
        rows.append(("judgments", _judgment_counts(manifest["judging"]["counts"])))
        rows.append(("judge usage", json.dumps(manifest["judging"]["usage"]["all_judgments"])))
    rows += [
        ("counts", json.dumps(manifest.get("counts", {}))),
        ("usage", json.dumps(manifest.get("usage", {}))),
        ("timings", json.dumps(manifest.get("timings", {}))),
        ("data files", ", ".join(f"{k} {v[:12]}" for k, v in manifest.get("data_files", {}).items())),
        ("harness", f"{manifest.get('starling_eval')} git {((env.get('git') or {}).get('commit') or 'n/a')[:12]}"),
        ("folder", str(run_folder.path)),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    rich_console().print(table)
    if scores and scores.get("models") is not None:
        from starling_eval.report.tables import score_tables

        for score_table in score_tables(scores, f"{spec['benchmark']} scores"):
            rich_console().print(score_table)
    card = _goodhart_card(run_folder)
    if card is not None:
        from starling_eval.cli.cards import print_card

        print_card(card)
    if n_answers:
        _print_answers(run_folder, n_answers)


def _judgment_counts(counts: dict) -> str:
    """How many judgments were read, and why the others were not (each kind counted; re-askable)."""
    line = f"{counts.get('judged', 0)} judged, {counts.get('valid', 0)} with a readable verdict"
    failed = counts.get("failed_by_kind") or {}
    if failed:
        cut = counts.get("cut_at_max_tokens")
        line += "; failed: " + ", ".join(f"{n} {kind}" for kind, n in sorted(failed.items()))
        line += (f" ({cut} cut at max_tokens)" if cut else "") + "; --retry-failed asks them again"
    return line


def _print_answers(run_folder: Any, n: int) -> None:
    """The first N answers of the run, each under its question (model output is printed as text, not markup)."""
    rows = [r for r in run_folder.generations() if r.get("text") is not None][:n]
    if not rows:
        click.echo("(this run generated no answers)")
    for row in rows:
        click.echo(f"\n── item {row['item_id']} turn {row['turn']} ({row.get('category') or 'no category'}, "
                   f"{row.get('completion_tokens')} tokens, finish {row.get('finish_reason')}) ──")
        if row.get("question"):
            click.echo(f"Q: {row['question']}")
        click.echo(f"A: {row['text']}")


def _goodhart_card(run_folder: Any) -> dict | None:
    from starling_eval.goodhart.card import CARD

    path = run_folder.file(CARD)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@click.command(name="list")
@click.argument("what", type=click.Choice(["all", "benchmarks", "backends", "runs"]), default="all")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, what: str, as_json: bool) -> None:
    """List benchmarks, backends and stored runs."""
    from starling_eval import registry

    out: dict[str, Any] = {}
    if what in ("all", "benchmarks"):
        out["benchmarks"] = registry.benchmark_names()
        out["reward_model_benchmarks"] = sorted(registry.REWARD_BENCHMARKS)
    if what in ("all", "backends"):
        out["backends"] = [{"name": n, "about": registry.BACKEND_HELP.get(n, "plugin")} for n in registry.backend_names()]
    if what in ("all", "runs"):
        from starling_eval.store.index import RunIndex
        from starling_eval.store.runs import RunStore

        root = ctx.obj["results"]
        index = RunIndex(root / "index.sqlite") if root.is_dir() else None
        if index is not None and not index.runs():
            index.rebuild(RunStore(root).all_runs())
        out["runs"] = index.runs() if index else []
    if as_json:
        emit_json(out)
        return
    console = rich_console()
    if "benchmarks" in out:
        console.print("[bold]benchmarks[/bold]: " + ", ".join(out["benchmarks"]))
        console.print("[bold]reward-model benchmarks[/bold] (--reward-model): "
                      + ", ".join(out["reward_model_benchmarks"]))
    if "backends" in out:
        for b in out["backends"]:
            console.print(f"[bold]backend[/bold] {b['name']}: {b['about']}")
    if "runs" in out:
        from rich.table import Table

        table = Table(title=f"runs under {ctx.obj['results']}")
        for col in ("run_id", "benchmark", "model", "backend", "status", "created"):
            table.add_column(col)
        for r in out["runs"]:
            table.add_row(*(str(r[c]) for c in ("run_id", "benchmark", "model", "backend", "status", "created")))
        console.print(table)


@click.command()
@click.argument("run_ref")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The JSON file to write (commit it under results/ as a gate baseline).")
@click.pass_context
@input_errors
def export(ctx: click.Context, run_ref: str, out: Path) -> None:
    """Export a run's per-item values and comparability key as one JSON file, a baseline `gate` can read."""
    from starling_eval.gate import export_run
    from starling_eval.store.files import write_json_atomic
    from starling_eval.store.runs import RunStore

    write_json_atomic(out, export_run(RunStore(ctx.obj["results"]).require(run_ref)))
    click.echo(f"wrote {out}")
