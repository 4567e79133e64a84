"""``starling-eval goodhart``: judge–human agreement on MT-Bench human votes (of GPT-4, or of any judge or
reward model run on the voted pairs), a run judge's position and length bias, the verbosity probe, and a run's
Goodhart card. The checks are ``starling_eval.goodhart``'s; this module reads options and prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from starling_eval.cli.cards import print_card
from starling_eval.cli.console import emit_json, pct, rich_console, share_of
from starling_eval.cli.errors import InputError, input_errors
from starling_eval.cli.options import goodhart_report_options, judge_choice_options
from starling_eval.cli.specs import judge_spec
from starling_eval.goodhart import GPT4_VOTES, HUMAN_VOTES

GPT4_NAME = "gpt-4"


def _results_root(ctx: click.Context) -> Path:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    return Path(obj.get("results") or os.environ.get("STARLING_EVAL_RESULTS") or "results")


@click.group()
def goodhart() -> None:
    """Does the judge prefer what humans prefer? Agreement with human votes, position and length bias."""


@goodhart.command()
@click.option("--votes", "votes_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help=f"Human votes, JSONL in lmsys/mt_bench_human_judgments' layout [default: {HUMAN_VOTES} in the data "
                   "folder].")
@click.option("--judge-votes", "judge_votes_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help=f"The judge's votes, same layout, one per (question, turn, pair) [default: GPT-4's, {GPT4_VOTES}].")
@click.option("--judge-name", default=None,
              help=f"The judge's label in the table [default: {GPT4_NAME} for the default votes, else the file's stem].")
@click.option("--include-authors", is_flag=True,
              help="Count the paper's authors' votes as human too (Table 5 uses the experts only).")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Data folder [default: $STARLING_EVAL_DATA or the user cache].")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list (agreement as a 0..1 fraction).")
@input_errors
def agreement(votes_path: Path | None, judge_votes_path: Path | None, judge_name: str | None, include_authors: bool,
              seed: int, data_dir: str | None, as_json: bool) -> None:
    """Agreement of a judge's pairwise votes with the MT-Bench experts' (Zheng et al. 2023, Table 5): per turn,
    with ties (S1) and without (S2), beside the humans' agreement with each other."""
    from starling_eval.data import DataDir
    from starling_eval.goodhart.agreement import agreement_table, read_votes

    if votes_path is None or judge_votes_path is None:
        data = DataDir(data_dir)
        votes_path = votes_path or data.require(HUMAN_VOTES)
        if judge_votes_path is None:
            judge_votes_path = data.require(GPT4_VOTES)
            judge_name = judge_name or GPT4_NAME
    judge_name = judge_name or judge_votes_path.stem
    human = read_votes(votes_path)
    judge = read_votes(judge_votes_path)
    try:
        rows = agreement_table(judge, human, judge_name=judge_name, experts_only=not include_authors, seed=seed)
    except ValueError as exc:
        raise InputError(f"{judge_votes_path}: {exc}") from None
    if as_json:
        emit_json(rows)
        return
    _agreement_console(rows, judge_name, include_authors)


def _agreement_console(rows: list[dict[str, Any]], judge_name: str, include_authors: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    who = "experts and authors" if include_authors else "experts"
    table = Table(title=f"MT-Bench judge–human agreement ({who})",
                  caption="S1 counts ties, S2 drops them; humans: the humans' agreement with each other")
    for col in ("judge", "turn", "setup", "agreement", "95% CI", "kappa", "n", "questions"):
        table.add_column(col, justify="left" if col == "judge" else "right")
    for i, r in enumerate(rows):
        judge = "humans" if r["judge"] == "human" else r["judge"]
        table.add_row(escape(judge), str(r["turn"]), r["setup"], pct(r["agreement"], 2), _pct_ci(r["ci_low"], r["ci_high"]),
                      _num(r["kappa"], 3), str(r["n"]), str(r["n_questions"]), end_section=i + 1 < len(rows)
                      and rows[i + 1]["judge"] != r["judge"])
    console = rich_console()
    console.print(table)
    if not any(r["n"] for r in rows if r["judge"] != "human"):
        click.echo(f"{judge_name}: none of its votes is on a (question, turn, pair) the humans voted on", err=True)


def _pct_ci(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"{100 * low:.1f}–{100 * high:.1f}"


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"



@goodhart.command()
@click.argument("run_ref")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON object.")
@click.pass_context
@input_errors
def bias(ctx: click.Context, run_ref: str, seed: int, as_json: bool) -> None:
    """Position and length bias of the judge of one judged run (MT-Bench pairwise or AlpacaEval). RUN_REF is a
    run id, unique prefix or folder."""
    from starling_eval.goodhart.run_bias import run_bias_report
    from starling_eval.store.runs import RunStore

    report = run_bias_report(RunStore(_results_root(ctx)).require(run_ref), seed=seed)
    if as_json:
        emit_json(report)
        return
    _bias_console(report)


def _bias_console(report: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"judge bias · run {escape(report['run_id'])}", show_header=False)
    table.add_column("measure")
    table.add_column("value")
    for label, value in _bias_rows(report):
        table.add_row(escape(label), escape(value))
    console = rich_console()
    console.print(table)
    for note in (report["length_unavailable"], report["lc_unavailable"], report["style"]["unavailable"],
                 *report["style"]["notes"]):
        if note:
            click.echo(note, err=True)
    for flag in report["flags"]:
        console.print(f"[bold red]bias:[/bold red] [yellow]{escape(flag)}[/yellow]")
    if not report["flags"]:
        console.print("[green]no position, length or style bias flagged[/green]")


def _bias_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("benchmark", str(report["benchmark"])), ("judge", str(report["judge"] or "—")),
            ("judgments", f"{report['n_judgments']} ({'both orders' if report['kind'] == 'pair' else 'one order each'})")]
    p = report["position"]
    if report["kind"] == "pair":
        rows += [
            ("position: consistent", share_of(p["consistency"], p["consistency_ci"], f"{p['n']} pairs")),
            ("position: biased first / second", f"{pct(p['biased_first'])} / {pct(p['biased_second'])}"),
            ("position: other inconsistent", pct(p["other_inconsistent"])),
            ("position: failed", str(p["n_failed"])),
        ]
    else:
        rows += [
            ("position: first shown wins", share_of(p["first_shown_wins"], p["first_shown_wins_ci"],
                                                     f"{p['n']} decided (sign test p = {p['p_value']:.2g})")),
            ("position: model wins shown first / second", f"{pct(p['b_wins_shown_first'])} / "
                                                          f"{pct(p['b_wins_shown_second'])}"),
            ("position: ties / failed", f"{p['n_ties']} / {p['n_failed']}"),
        ]
    length = report["length"]
    if length is None:
        rows.append(("length", "unavailable"))
    else:
        rows.append(("length: longer wins", share_of(length["longer_wins"], length["longer_wins_ci"],
                                                      f"{length['n']} decided pairs")))
        fit = length["logistic"]
        if fit is not None:
            se = f" ± {fit['se']:.3f}" if fit["se"] is not None else " (not converged: separated)"
            rows.append(("length: logit slope on log(len A / len B)", f"{fit['coefficient']:.3f}{se}"))
        rows.append(("length: ties / equal length / failed",
                     f"{length['n_ties']} / {length['n_equal_length']} / {length['n_failed']}"))
    for gap in report["lc_gap"] or ():
        value = "—" if gap["gap"] is None else (f"{gap['gap']:+.2f} points (raw {gap['win_rate']:.2f}, "
                                                f"LC {gap['length_controlled_winrate']:.2f})")
        rows.append((f"raw − LC win rate: {gap['model']}", value))
    for entry in report["style"]["models"]:
        rows.append((f"style-controlled win rate: {entry['model']}",
                     f"{share_of(entry['style_controlled'], entry['ci95'], '')} (raw {pct(entry['raw'])})"))
        coefficients = entry.get("coefficients") or {}
        rows.append((f"style coefficients: {entry['model']}",
                     ", ".join(f"{k} {'—' if v is None else f'{v:+.2f}'}" for k, v in coefficients.items())))
    return rows




@goodhart.command()
@judge_choice_options("judge", "The judge to measure")
@click.option("--include-regenerated", is_flag=True,
              help="Also judge pairs with gpt-4 and claude-v1, whose answer files were regenerated after the human "
                   "study (the voters read other answers).")
@click.option("--include-authors", is_flag=True, help="Count the paper's authors' votes as human too.")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Only the first N voted questions.")
@goodhart_report_options
@click.pass_context
@input_errors
def judge(ctx: click.Context, include_regenerated: bool, include_authors: bool, limit: int | None, seed: int,
          data_dir: str | None, as_json: bool, **options: Any) -> None:
    """Run a judge (OpenAI-compatible) or a reward model on the MT-Bench pairs the experts voted on, and put its
    agreement beside GPT-4's and the humans' on the same pairs, with its position and length bias."""
    from starling_eval.data import DataDir
    from starling_eval.goodhart.human_pairs import AS_SEEN, REGENERATED, judge_human_pairs

    spec = judge_spec(options, "judge")
    models = AS_SEEN + REGENERATED if include_regenerated else AS_SEEN
    report = judge_human_pairs(spec, DataDir(data_dir), _results_root(ctx), models=models,
                               experts_only=not include_authors, limit=limit, seed=seed)
    if as_json:
        emit_json(report)
        return
    from rich.markup import escape

    c = report["counts"]
    _agreement_console(report["agreement"], report["judge"], include_authors)
    console = rich_console()
    console.print(f"{c['judged_keys']} of {c['voted_keys']} voted (question, turn, pair) keys judged "
                  f"({', '.join(c['models'])}): {c['votes']} votes, {c['pairs_with_failed_game']} with a failed game; "
                  f"{report['judging']['counts']['called']} calls now; votes in {escape(report['votes_file'])}",
                  highlight=False)
    click.echo(report["note"], err=True)
    for flag in report["bias"]["flags"]:
        console.print(f"[bold red]bias:[/bold red] [yellow]{escape(flag)}[/yellow]")


@goodhart.command()
@judge_choice_options("judge", "The judge to measure")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Only the first N battles.")
@goodhart_report_options
@click.pass_context
@input_errors
def arena(ctx: click.Context, limit: int | None, seed: int, data_dir: str | None, as_json: bool,
          **options: Any) -> None:
    """Run a judge or reward model on Chatbot Arena battles (lmsys/chatbot_arena_conversations in the data
    folder) and report its agreement with the human winners, by number of turns, with and without ties."""
    from starling_eval.data import DataDir
    from starling_eval.goodhart.arena_agreement import judge_arena

    report = judge_arena(judge_spec(options, "judge"), DataDir(data_dir), _results_root(ctx), limit=limit, seed=seed)
    if as_json:
        emit_json(report)
        return
    _agreement_console(report["agreement"], report["judge"], True)
    click.echo(f"{report['judged']} of {report['battles']} battles judged; skipped: {report['skipped']}; "
               f"{report['pairs_with_failed_game']} with a failed game", err=True)


@goodhart.command()
@judge_choice_options("judge", "The judge to probe")
@click.option("--answers", "answers_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="MT-Bench answers to pad and list-ify (FastChat model_answer JSONL, e.g. a run's model_answer/*.jsonl).")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Only the first N questions.")
@goodhart_report_options
@click.pass_context
@input_errors
def verbosity(ctx: click.Context, answers_path: Path, limit: int | None, seed: int, data_dir: str | None,
              as_json: bool, **options: Any) -> None:
    """Verbosity probe: does the judge prefer answers padded or list-ified without new content? 50% is no bias."""
    from starling_eval.data import DataDir
    from starling_eval.goodhart.verbosity_probe import probe_verbosity

    if not answers_path.is_file():
        raise InputError(f"--answers {answers_path}: no such file")
    report = probe_verbosity(judge_spec(options, "judge"), DataDir(data_dir), _results_root(ctx), answers_path,
                             limit=limit, seed=seed)
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    table = Table(title=f"verbosity probe · judge {report['judge']} · {report['questions']} questions")
    for col in ("transform", "prefers transformed", "95% CI", "transformed / original / ties", "failed"):
        table.add_column(col, justify="left" if col == "transform" else "right")
    for name, r in report["shift"].items():
        ci = r["prefers_transformed_ci"]
        table.add_row(name, pct(r["prefers_transformed"]), f"{ci[0]:.1%}–{ci[1]:.1%}" if ci else "—",
                      f"{r['n_transformed']} / {r['n_original']} / {r['n_ties']}", str(r["n_failed"]))
    rich_console().print(table)


@goodhart.command()
@click.argument("run_ref")
@judge_choice_options("proxy", "The human proxy")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the card as a JSON object.")
@click.pass_context
@input_errors
def card(ctx: click.Context, run_ref: str, seed: int, as_json: bool, **options: Any) -> None:
    """The Goodhart card of a pairwise run (MT-Bench pairwise-baseline, AlpacaEval): the judge's win rate beside a
    human proxy's on the same items: the MT-Bench human votes where the run's answers are the ones the voters
    read, else --proxy-model or --proxy-reward-model re-judging the run's answers. Stored in the run folder
    (``show`` prints it); exits 1 when flagged."""
    from starling_eval.goodhart.card import make_card
    from starling_eval.store.runs import RunStore

    results = _results_root(ctx)
    run_folder = RunStore(results).require(run_ref)
    proxy = judge_spec(options, "proxy") if options["judge_model"] or options["judge_reward_model"] else None
    result = make_card(run_folder, results, proxy, seed=seed)
    if as_json:
        emit_json(result)
    else:
        print_card(result)
    if result["flagged"]:
        ctx.exit(1)

