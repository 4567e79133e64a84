"""``gate``: the regression gate for CI (exit 1 on a regression beyond a rule's max_drop)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from starling_eval.cli.console import emit_json, rich_console
from starling_eval.cli.errors import input_errors


@click.command()
@click.option("--baseline", "baseline_ref", required=True,
              help="The reference: a run id, unique prefix or folder, or a file written by `starling-eval export`.")
@click.option("--candidate", "candidate_ref", required=True, help="The run to check (id, prefix, folder or export).")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON: {metric: {max_drop: X}} [default: the benchmark's headline metric, max_drop 0].")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the paired view here: the gate's result on top, then every shared item of both runs "
                   "side by side, the flipped ones first (one self-contained HTML file, a CI artifact).")
@click.pass_context
@input_errors
def gate(ctx: click.Context, baseline_ref: str, candidate_ref: str, rules_path: Path | None, seed: int,
         as_json: bool, html_out: Path | None) -> None:
    """Fail a CI job when the candidate is worse than the baseline beyond a rule's max_drop, on the items both
    runs share (paired bootstrap 95% CI of candidate − baseline; McNemar shown for accuracies).

    Exit 0: every rule passes; 1: a regression; 2: bad input (runs not comparable, a metric missing). Writes a
    Markdown summary to $GITHUB_STEP_SUMMARY when it is set."""
    from starling_eval import gate as gate_mod

    result = gate_mod.gate(baseline_ref, candidate_ref, ctx.obj["results"], rules_path=rules_path, seed=seed)
    if html_out is not None:
        from starling_eval.gate.diff_view import write_diff_page

        write_diff_page(result, baseline_ref, candidate_ref, ctx.obj["results"], html_out)
        click.echo(f"wrote {html_out}", err=True)
    if as_json:
        emit_json(result.as_dict())
    else:
        rich_console().print(gate_mod.gate_table(result))
    gate_mod.write_step_summary(result)
    sys.exit(result.exit_code)
