"""``run``, ``generate`` and ``score``: a benchmark end to end, a model's answers only, and re-scoring
judgment files. Each builds a spec from its options (``specs``) and hands it to the pipeline; what comes back
is printed here (a rich table, or ``--json``), and a run that could not finish exits 3.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from starling_eval.cli.console import emit_json, progress_bar, rich_console
from starling_eval.cli.errors import EXIT_INCOMPLETE, InputError, input_errors
from starling_eval.cli.options import (
    JUDGE_OPTIONS,
    LOGLIKELIHOOD_OPTIONS,
    REWARD_OPTIONS,
    judge_options,
    model_options,
    reward_options,
)
from starling_eval.cli.specs import (
    answer_sources,
    build_judge,
    build_reward_run_spec,
    build_spec,
    mmlu_selection,
    refuse_options,
)


@click.command()
@click.argument("benchmark")
@model_options
@click.pass_context
@input_errors
def generate(ctx: click.Context, benchmark: str, **options: Any) -> None:
    """Generate a model's answers to BENCHMARK (no judging). Resumes an unfinished identical run."""
    _report_generation(_generate(ctx, benchmark, options), options["as_json"])


def _generate(ctx: click.Context, benchmark: str, options: dict[str, Any]) -> Any:
    from starling_eval import pipeline

    spec = build_spec(benchmark, options)
    bar, report = progress_bar(not options["as_json"])
    with bar:
        return pipeline.generate(spec, ctx.obj["results"], progress=report)


def _report_generation(result: Any, as_json: bool) -> None:
    manifest, counts = result.manifest, result.counts
    answers_file = next(iter(result.run.path.glob("model_answer/*.jsonl")), None)
    payload = {
        "run_id": result.run.run_id,
        "path": str(result.run.path),
        "status": manifest["status"],
        "benchmark": manifest["spec"]["benchmark"],
        "model": manifest["model"]["label"],
        "counts": counts,
        "new_generations": counts["generated"],
        "usage": manifest["usage"],
        "timings": manifest["timings"],
        "answers_file": str(answers_file) if answers_file else None,
        "failures": result.failures,
    }
    if as_json:
        emit_json(payload)
    else:
        from rich.table import Table

        table = Table(title=f"{payload['benchmark']} · {payload['model']}", show_header=False)
        for label, value in [
            ("run", payload["run_id"]),
            ("folder", payload["path"]),
            ("status", payload["status"]),
            ("items answered", f"{counts['answered_items']} of {manifest['n_samples']}"),
            ("turns generated now", counts["generated"]),
            ("turns from cache", counts["cache_hits"]),
            ("turns kept from this run", counts["reused_from_run"]),
            ("failed calls", counts["failed"]),
            ("tokens (prompt / completion)", f"{payload['usage']['prompt_tokens']} / {payload['usage']['completion_tokens']}"),
            ("time", f"{payload['timings']['total_s']:.1f} s (backend start {payload['timings']['backend_init_s']:.1f} s)"),
            ("FastChat answers", payload["answers_file"]),
        ]:
            table.add_row(label, str(value))
        rich_console().print(table)
        for failure in result.failures[:10]:
            rich_console(stderr=True).print(f"[red]failed[/red] item {failure['item_id']} turn {failure['turn']}: {failure['error']}",
                                       markup=True, highlight=False)
    if counts["failed"]:
        click.echo(f"{counts['failed']} call(s) failed; finished work is stored: re-run the same command to retry them",
                   err=True)
        sys.exit(EXIT_INCOMPLETE)


@click.command()
@click.argument("benchmark")
@model_options
@judge_options
@reward_options
@click.pass_context
@input_errors
def run(ctx: click.Context, benchmark: str, **options: Any) -> None:
    """Run BENCHMARK end to end: generate → judge → score → store. Resumes an unfinished identical run.

    With --reward-model, score a reward model on BENCHMARK's preference pairs instead."""
    from starling_eval import pipeline, registry

    if options["reward_model"]:
        _run_reward_pairs(ctx, benchmark, options)
        return
    benchmark = versioned_name(benchmark, options)
    refuse_options(benchmark, options, REWARD_OPTIONS[-1:] if options["judge_reward_model"] else REWARD_OPTIONS,
                    "reward models (--reward-model, --judge-reward-model)")
    if benchmark in registry.REWARD_BENCHMARKS and benchmark not in registry.benchmark_names():
        raise InputError(f"{benchmark} scores reward models on preference pairs: give --reward-model")
    bench = registry.benchmark(benchmark)
    if getattr(bench, "kind", None) == "loglikelihood":
        _run_loglikelihood(ctx, benchmark, options)
        return
    refuse_options(benchmark, options, LOGLIKELIHOOD_OPTIONS, "mmlu and truthfulqa")
    if not hasattr(bench, "score"):
        raise InputError(
            f"{benchmark}: judging and scoring are not available in this version; "
            f"`starling-eval generate {benchmark}` produces the answers"
        )
    spec = build_spec(benchmark, options, judge=build_judge(bench, options),
                      answers=answer_sources(bench, options["answer_files"]))
    if options["dry_run"]:
        _report_plan(pipeline.plan(spec, ctx.obj["results"]), options["as_json"])
        return
    bar, report = progress_bar(not options["as_json"])
    with bar:
        result = pipeline.evaluate(spec, ctx.obj["results"], retry_failed=options["retry_failed"], progress=report)
    _report_evaluation(result, options["as_json"])


def _run_reward_pairs(ctx: click.Context, benchmark: str, options: dict[str, Any]) -> None:
    """An RM on preference pairs: accuracy beside the longer-reply baseline, per track."""
    from starling_eval.pipeline.reward_pairs import evaluate_pairs

    spec = build_reward_run_spec(benchmark, options)
    bar, report = progress_bar(not options["as_json"])
    with bar:
        result = evaluate_pairs(spec, ctx.obj["results"], progress=report)
    scores = result.scores
    if options["rewardbench_json"]:
        from starling_eval.report.rewardbench import update_results_file

        update_results_file(options["rewardbench_json"], result.manifest, scores, result.run.path)
    if options["as_json"]:
        emit_json({"run_id": result.run.run_id, "path": str(result.run.path), "status": result.manifest["status"],
                    "benchmark": benchmark, "mode": scores["mode"], "models": scores["models"],
                    "counts": result.manifest["counts"], "timings": result.manifest["timings"]})
        return
    from starling_eval.report.tables import score_tables

    for table in score_tables(scores, f"{benchmark} · reward model"):
        rich_console().print(table)
    counts = result.manifest["counts"]
    rich_console().print(f"run {result.run.run_id}: {counts['pairs']} pairs, {counts['rewards_computed']} rewards computed, "
                     f"{counts['rewards_from_cache']} from the cache; {result.manifest['timings']['total_s']:.1f} s",
                     highlight=False)


def _run_loglikelihood(ctx: click.Context, benchmark: str, options: dict[str, Any]) -> None:
    """MMLU / TruthfulQA: lm-eval scores the model's log-likelihoods; no judge, no generation."""
    from starling_eval import pipeline

    refuse_options(benchmark, options, JUDGE_OPTIONS, "judged benchmarks")
    mmlu_selection(benchmark, options)
    if options["answer_files"]:
        raise InputError(f"--answers: {benchmark} scores a model's log-likelihoods; give --model")
    if options["fewshot_as_multiturn"] is True and not options["apply_chat_template"]:
        raise InputError("--fewshot-as-multiturn needs --apply-chat-template")
    if options["dry_run"]:
        raise InputError(f"--dry-run: {benchmark} calls no paid API; run it")
    result = pipeline.evaluate_loglikelihood(build_spec(benchmark, options), ctx.obj["results"])
    scores = result.scores
    if options["as_json"]:
        emit_json({"run_id": result.run.run_id, "path": str(result.run.path), "status": result.manifest["status"],
                    "benchmark": benchmark, "mode": scores["mode"], "models": scores["models"],
                    "timings": result.manifest["timings"]})
        return
    from starling_eval.report.tables import score_tables

    for table in score_tables(scores, f"{benchmark} · lm-eval {result.manifest['lm_eval']['model']}"):
        rich_console().print(table)
    rich_console().print(f"run {result.run.run_id}: {result.manifest['counts']['items']} items; "
                     f"{result.manifest['timings']['total_s']:.1f} s", highlight=False)


def _report_plan(plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(plan)
        return
    from rich.table import Table

    table = Table(title=f"dry run · {plan['benchmark']} · {plan['model']} · judge {plan['judge']} ({plan['mode']})",
                  show_header=False)
    def usd(cost: float | None) -> str:
        return f"${cost:.2f}" if cost is not None else plan["price"]["source"]

    chosen = " (--judge-batch)" if plan["batch"] else ""
    for label, value in [
        ("items", plan["items"]),
        ("generation calls", plan["generation_calls"]),
        ("judge calls", f"{plan['judge_calls']} ({plan['judge_from_cache']} of {plan['judge_requests']} from the cache)"),
        ("estimated judge tokens (prompt / completion)",
         f"{plan['estimated_prompt_tokens']} / {plan['estimated_completion_tokens']}"),
        ("estimated judge cost", f"{usd(plan['estimated_cost_usd'])} interactive · "
                                 f"{usd(plan['estimated_batch_cost_usd'])} through the Batch API{chosen}"),
        ("note", plan["estimate_note"]),
    ]:
        table.add_row(label, str(value))
    rich_console().print(table)


def _batches_line(batches: dict[str, int]) -> str:
    """``2 batches submitted, 1 resumed, at the batch price``"""
    parts = [f"{batches.get('batches_submitted', 0)} batch(es) submitted"]
    if batches.get("batches_adopted"):
        parts.append(f"{batches['batches_adopted']} resumed")
    return ", ".join(parts) + ", at the batch price"


def _report_evaluation(result: Any, as_json: bool) -> None:
    manifest, scores, judging = result.manifest, result.scores, result.judging
    counts = judging["counts"]
    gen_counts = result.generation.counts if result.generation else None
    failures = scores.get("failures", [])
    none_valid = bool(counts.get("judged")) and not counts.get("valid")
    if as_json:
        emit_json({
            "run_id": result.run.run_id, "path": str(result.run.path), "status": manifest["status"],
            "benchmark": scores["benchmark"], "mode": scores["mode"], "models": scores["models"],
            "judging": judging, "generation": gen_counts, "timings": manifest["timings"],
            "n_failed": scores.get("n_failed", 0), "failures": failures[:50], "lc_unavailable": scores.get("lc_unavailable"),
            "style_unavailable": scores.get("style_unavailable"),
        })
    else:
        from starling_eval.report.tables import score_tables

        console = rich_console()
        for table in score_tables(scores, f"{scores['benchmark']} · judge {judging['judge']['model']}"):
            console.print(table)
        usage = judging["usage"]
        cost = usage["paid_now"]["cost_usd"]
        console.print(
            f"run {result.run.run_id} ({manifest['status']}): {counts['called']} judge calls made"
            + (f" (through {_batches_line(counts['batches'])})" if counts.get("batches") else "") + ", "
            f"{counts['from_cache']} from the cache, {usage['paid_now']['prompt_tokens']} + "
            f"{usage['paid_now']['completion_tokens']} tokens"
            + (f" ≈ ${cost:.4f}" if cost is not None else f" ({usage['price']['source']})")
            + f"; {manifest['timings']['total_s']:.1f} s", highlight=False)
        from rich.markup import escape

        err = rich_console(stderr=True)
        for failure in [] if none_valid else failures[:10]:  # reasons quote judge text such as [[rating]]: not markup
            err.print(f"[red]failed[/red] {escape(str(failure.get('model')))} question {failure.get('question_id')} "
                      f"turn {failure.get('turn')}: {escape(str(failure.get('reason')))}", highlight=False)
    if none_valid:
        cut = counts.get("cut_at_max_tokens")
        click.echo(f"Error: not one of {counts['judged']} judgments held a readable verdict"
                   + (f" ({cut} cut at max_tokens)" if cut else "") + f"; they are stored in {result.run.path}: check "
                   "the judge (and its max_tokens), then re-run with --retry-failed", err=True)
        sys.exit(EXIT_INCOMPLETE)
    for warning in [judging.get("format_warning"), *judging.get("warnings", [])]:
        if warning:
            click.echo(f"warning: {warning}", err=True)
    for lacking in judging.get("not_answered", {}).get("files", []):
        click.echo(f"{lacking['questions']} of {lacking['of']} questions have no answer in {lacking['file']}: not "
                   f"answered, left out of the scores (e.g. {', '.join(map(str, lacking['examples']))}); complete "
                   "the file or give --limit", err=True)
    if "retry_failed" in judging:
        asked = judging["retry_failed"]["re_asked"]
        click.echo(f"--retry-failed: {asked} failed judgment(s) asked again" if asked else
                   "--retry-failed: no failed judgments to ask again", err=True)
    if scores.get("n_failed"):
        click.echo(f"{scores['n_failed']} judgment(s) failed and are left out of the means (listed in "
                   f"{result.run.path / 'scores.json'}); `--retry-failed` asks them again", err=True)
    for note in (scores.get("lc_unavailable"), scores.get("style_unavailable"), *(scores.get("notes") or [])):
        if note:
            click.echo(note, err=True)
    if manifest["status"] != "complete":
        click.echo("some calls failed for good; finished work is stored: re-run the same command to retry them", err=True)
        sys.exit(EXIT_INCOMPLETE)


def versioned_name(benchmark: str, options: dict[str, Any]) -> str:
    """``arena-hard`` with ``--version 0.1|2.0`` is the benchmark ``arena-hard-v0.1`` or ``-v2.0`` (the version
    chooses the prompts); the option is consumed. Other benchmarks keep their name and their --version."""
    version = options.get("ae_version")
    if benchmark != "arena-hard":
        if version in ("0.1", "2.0"):
            raise InputError(f"--version {version}: that is an arena-hard version; {benchmark} takes 1 or 2")
        return benchmark
    if version in ("1", "2"):
        raise InputError(f"--version {version}: arena-hard's versions are 0.1 and 2.0")
    options["ae_version"] = None
    return f"arena-hard-v{version or '0.1'}"


@click.command()
@click.argument("benchmark")
@click.option("--judgments", "--annotations", "judgment_files", multiple=True, required=True,
              type=click.Path(path_type=Path),
              help="mtbench: FastChat model_judgment JSONL; alpacaeval: alpaca_eval annotations.json; arena-hard: "
                   "a model_judgment/<judge> folder or its JSONL files (repeatable).")
@click.option("--version", "ae_version", type=click.Choice(["0.1", "2.0"]), default=None,
              help="arena-hard: 0.1 (the default) or 2.0.")
@click.option("--baseline", default=None,
              help="Pairwise files: score against this baseline [default: the model in every match, if any].")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Data folder, for per-category scores [default: $STARLING_EVAL_DATA or the user cache].")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of per-model scores.")
@input_errors
def score(benchmark: str, judgment_files: tuple[Path, ...], ae_version: str | None, baseline: str | None,
          data_dir: str | None, seed: int, as_json: bool) -> None:
    """Re-score published or external judgments of BENCHMARK without calling anything."""
    from starling_eval.data import DataDir
    from starling_eval.registry import benchmark as get_benchmark

    benchmark = versioned_name(benchmark, {"ae_version": ae_version})

    bench = get_benchmark(benchmark)
    if not hasattr(bench, "score_judgment_files"):
        raise InputError(f"{benchmark}: re-scoring judgment files is not available for this benchmark")
    data = DataDir(data_dir)
    scores = bench.score_judgment_files(list(judgment_files), data if data.root.is_dir() else None,
                                        baseline=baseline, seed=seed)
    if as_json:
        emit_json(scores["models"])
    else:
        from starling_eval.report.tables import score_tables

        for table in score_tables(scores, f"{benchmark} · {', '.join(p.name for p in judgment_files)}"):
            rich_console().print(table)
    if scores.get("n_failed"):
        click.echo(f"{scores['n_failed']} judgment(s) failed (the reference tools drop them silently) and are left out "
                   "of the means", err=True)
    for note in (scores.get("lc_unavailable"), scores.get("style_unavailable"), *(scores.get("notes") or [])):
        if note:
            click.echo(note, err=True)
