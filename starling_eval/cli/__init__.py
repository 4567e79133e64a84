"""The ``starling-eval`` command line: the click group and its global options; one module per command group.

``run`` (run, generate, score), ``results`` (show, list, export), ``report`` (leaderboard, report), ``gate``,
``goodhart``, ``data`` and ``batches`` each build a spec or a query from their options, call the library, and own the
console. What they share is in ``options`` (option decorators), ``specs`` (options to specs), ``errors`` (exit
codes, one-line input errors) and ``console`` (rich, progress, JSON); ``cards`` prints a Goodhart card for
``goodhart card`` and ``show``. No command module imports another, and nothing outside this package imports it.

Heavy modules (pydantic, rich, torch, transformers, vllm) are imported inside the commands that need them
so ``starling-eval --help`` stays instant. Exit codes (DESIGN.md): 0 success, 1 a check failed, 2 bad
input or usage, 3 a run could not finish.
"""

from __future__ import annotations

from pathlib import Path

import click

from starling_eval import __version__
from starling_eval.cli import batches, data, gate, goodhart, report, results, run
from starling_eval.cli.group import HouseGroup
from starling_eval.cli.group import _set_data_dir as set_data_dir


@click.group(cls=HouseGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="starling-eval")
@click.option(
    "--results",
    "results",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    envvar="STARLING_EVAL_RESULTS",
    help="Results root: runs/, the shared call cache and the run index (also accepted after the command).",
)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, expose_value=False, is_eager=True,
              callback=set_data_dir, help="Benchmark data folder [default: $STARLING_EVAL_DATA or the user cache] "
                                          "(also accepted after the command).")
@click.pass_context
def main(ctx: click.Context, results: Path) -> None:
    """Evaluate chat LLMs and reward models: MT-Bench, AlpacaEval, MMLU, TruthfulQA, safety, Arena."""
    ctx.ensure_object(dict).setdefault("results", results)


for command in (run.run, run.generate, run.score, results.show, results.list_, results.export, report.leaderboard,
                report.report, gate.gate, goodhart.goodhart, data.data, batches.batches):
    main.add_command(command)
