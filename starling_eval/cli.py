"""The ``starling-eval`` command line: builds a RunSpec or a query, calls the library, owns the console.

Heavy modules (pydantic, rich, torch, transformers, vllm) are imported inside the commands that need them
so ``starling-eval --help`` stays instant. Exit codes (DESIGN.md): 0 success, 1 a check failed, 2 bad
input or usage, 3 a run could not finish.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from starling_eval import __version__
from starling_eval.cli_errors import InputError, emit_json, input_errors

EXIT_CHECK_FAILED = 1
EXIT_INCOMPLETE = 3


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="starling-eval")
@click.option(
    "--results",
    "results",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    envvar="STARLING_EVAL_RESULTS",
    help="Results root: runs/, the shared call cache and the run index.",
)
@click.pass_context
def main(ctx: click.Context, results: Path) -> None:
    """Evaluate chat LLMs and reward models: MT-Bench, AlpacaEval, MMLU, TruthfulQA, safety, Arena."""
    ctx.obj = {"results": results}


# -- model options shared by `generate` and `run` ------------------------------------------------


def model_options(fn: Any) -> Any:
    options = [
        click.option("--model", "model", default=None, help="HF hub id, local checkpoint folder, or http(s) endpoint URL."),
        click.option("--backend", type=click.Choice(["hf", "openai", "vllm"]), default=None,
                     help="Model backend [default: openai for a URL or --base-url, else hf]."),
        click.option("--model-name", default=None, help="Name in results and answer files (default: folder name)."),
        click.option("--revision", default=None, help="Hub revision (commit, tag or branch)."),
        click.option("--chat-template", default=None,
                     help="Jinja file or FastChat template name (e.g. openchat_3.5) [default: the tokenizer's]."),
        click.option("--dtype", default="auto", show_default=True, help="float32, bfloat16, float16 or auto."),
        click.option("--device", default=None, help="hf: cpu, cuda, cuda:1 [default: cuda when available]."),
        click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1), help="hf batch size."),
        click.option("--trust-remote-code", is_flag=True, help="Allow custom model code from the checkpoint."),
        click.option("--base-url", default=None, help="OpenAI-compatible server URL (…/v1)."),
        click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable that holds the API key (the key itself is never stored)."),
        click.option("--concurrency", default=16, show_default=True, type=click.IntRange(min=1),
                     help="openai: requests in flight."),
        click.option("--request-timeout", default=600.0, show_default=True, type=click.FloatRange(min=1),
                     help="openai: seconds per request."),
        click.option("--max-retries", default=6, show_default=True, type=click.IntRange(min=0),
                     help="openai: retries after 429/5xx/timeouts."),
        click.option("--tensor-parallel-size", default=1, show_default=True, type=click.IntRange(min=1), help="vllm."),
        click.option("--pipeline-parallel-size", default=1, show_default=True, type=click.IntRange(min=1), help="vllm."),
        click.option("--data-parallel-size", default=1, show_default=True, type=click.IntRange(min=1), help="vllm."),
        click.option("--gpu-memory-utilization", default=0.9, show_default=True, type=click.FloatRange(0.05, 1.0),
                     help="vllm."),
        click.option("--max-model-len", default=None, type=click.IntRange(min=16), help="vllm context length."),
        click.option("--enforce-eager", is_flag=True, help="vllm: no CUDA graphs (faster start, CPU builds)."),
        click.option("--distributed-executor-backend", type=click.Choice(["mp", "ray"]), default=None,
                     help="vllm: ray to span nodes."),
        click.option("--max-new-tokens", default=None, type=click.IntRange(min=1),
                     help="Per turn [default: the benchmark's, 1024 for MT-Bench]."),
        click.option("--temperature", default=None, type=click.FloatRange(min=0),
                     help="Override the benchmark's per-item temperature (below 1e-4 is greedy)."),
        click.option("--limit", default=None, type=click.IntRange(min=1), help="Only the first N items."),
        click.option("--seed", default=0, show_default=True, help="Sampling seed."),
        click.option("--data-dir", default=None, type=click.Path(file_okay=False),
                     help="Benchmark data folder [default: $STARLING_EVAL_DATA or the user cache]."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_spec(benchmark: str, o: dict[str, Any], judge: Any = None, answers: list | None = None) -> Any:
    from starling_eval.data import DataDir
    from starling_eval.spec import RunSpec

    common = dict(benchmark=benchmark, max_new_tokens=o["max_new_tokens"], temperature=o["temperature"], judge=judge,
                  data_dir=str(DataDir(o["data_dir"]).root), limit=o["limit"], seed=o["seed"],
                  apply_chat_template=o.get("apply_chat_template", False),
                  fewshot_as_multiturn=_fewshot_as_multiturn(o), source=o.get("source"),
                  subjects=o.get("subject_list"))
    if answers:
        if o["model"]:
            raise InputError("give either --model (generate, then judge) or --answers (judge existing answers), not both")
        return RunSpec(model=None, answers=answers, **common)
    if not o["model"]:
        raise InputError("missing option --model (an HF hub id, a local checkpoint folder or an endpoint URL)")
    return RunSpec(model=_model_spec(o), **common)


def _fewshot_as_multiturn(o: dict[str, Any]) -> bool:
    """lm-eval's CLI rule: few-shot examples go as chat turns when the chat template is applied, unless told not."""
    given = o.get("fewshot_as_multiturn")
    return bool(o.get("apply_chat_template")) if given is None else given


def _model_spec(o: dict[str, Any]) -> Any:
    from starling_eval.spec import ModelSpec

    model, base_url, backend = o["model"], o["base_url"], o["backend"]
    name = model
    if model.startswith(("http://", "https://")):
        base_url, backend = model, backend or "openai"
        if not o["model_name"]:
            raise InputError("--model is an endpoint URL: also give --model-name, the model id the server serves")
        name = o["model_name"]
    backend = backend or ("openai" if base_url else "hf")
    if backend == "openai" and base_url is None and model.startswith(("/", ".")):
        raise InputError(f"--backend openai needs --base-url (got a local path {model})")
    model_spec = ModelSpec(
        backend=backend,
        name_or_path=name,
        display_name=o["model_name"],
        revision=o["revision"],
        chat_template=o["chat_template"],
        dtype=o["dtype"],
        device=o["device"],
        batch_size=o["batch_size"],
        trust_remote_code=o["trust_remote_code"],
        base_url=base_url,
        api_key_env=o["api_key_env"],
        concurrency=o["concurrency"],
        timeout_s=o["request_timeout"],
        max_retries=o["max_retries"],
        tensor_parallel_size=o["tensor_parallel_size"],
        pipeline_parallel_size=o["pipeline_parallel_size"],
        data_parallel_size=o["data_parallel_size"],
        gpu_memory_utilization=o["gpu_memory_utilization"],
        max_model_len=o["max_model_len"],
        enforce_eager=o["enforce_eager"],
        distributed_executor_backend=o["distributed_executor_backend"],
    )
    return model_spec


def _progress_bar(enabled: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr (only on a terminal) and the callback the pipeline reports to."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = _console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True, disable=not (enabled and console.is_terminal))
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, report


def _generate(ctx: click.Context, benchmark: str, options: dict[str, Any]) -> Any:
    from starling_eval import pipeline

    spec = build_spec(benchmark, options)
    bar, report = _progress_bar(not options["as_json"])
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
        _console().print(table)
        for failure in result.failures[:10]:
            _console(stderr=True).print(f"[red]failed[/red] item {failure['item_id']} turn {failure['turn']}: {failure['error']}",
                                       markup=True, highlight=False)
    if counts["failed"]:
        click.echo(f"{counts['failed']} call(s) failed; finished work is stored: re-run the same command to retry them",
                   err=True)
        sys.exit(EXIT_INCOMPLETE)


@main.command()
@click.argument("benchmark")
@model_options
@click.pass_context
@input_errors
def generate(ctx: click.Context, benchmark: str, **options: Any) -> None:
    """Generate a model's answers to BENCHMARK (no judging). Resumes an unfinished identical run."""
    _report_generation(_generate(ctx, benchmark, options), options["as_json"])


def run_filter_options(fn: Any) -> Any:
    """Which runs a table or report covers: --benchmark (repeatable), --judge and --model (fnmatch patterns)."""
    options = [
        click.option("--benchmark", "benchmarks", multiple=True, help="Only this benchmark (repeatable)."),
        click.option("--judge", default=None, help="Only runs whose judge matches this pattern (fnmatch, e.g. 'gpt-4*')."),
        click.option("--model", "model_pattern", default=None,
                     help="Only models whose name matches this pattern (fnmatch)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def judge_options(fn: Any) -> Any:
    options = [
        click.option("--judge-model", default=None,
                     help="Judge model name [default: mtbench gpt-4; alpacaeval the annotator's, e.g. gpt-4-1106-preview]."),
        click.option("--judge-base-url", default=None, help="OpenAI-compatible judge endpoint [default: OpenAI's API]."),
        click.option("--judge-reward-model", default=None,
                     help="A reward model as the pairwise judge (folder or hub id; the --rm-* options describe it): "
                          "the answer it rewards higher wins. mtbench then defaults to --judge-mode pairwise-baseline."),
        click.option("--judge-api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable holding the judge's API key (the key is never stored or printed)."),
        click.option("--judge-mode", type=click.Choice(["single", "pairwise-baseline", "pairwise-all"]), default=None,
                     help="mtbench: grade each answer 1-10 (single, the default) or compare answers pairwise (both "
                          "orders); alpacaeval is always pairwise-baseline."),
        click.option("--baseline", default=None,
                     help="mtbench pairwise-baseline: a model under mt_bench/model_answer/ or an answer file [default: "
                          "gpt-3.5-turbo]; alpacaeval: the reference outputs, a model under alpaca_eval/results/ or a "
                          "model_outputs.json [default: gpt4_1106_preview for --version 2, text_davinci_003 for 1]."),
        click.option("--reference", default="gpt-4", show_default=True,
                     help="mtbench: reference answers for math/reasoning/coding (gpt-4, or the corrected gpt-4-0125-preview)."),
        click.option("--version", "ae_version", type=click.Choice(["1", "2"]), default=None,
                     help="alpacaeval: 2 (weighted_alpaca_eval_gpt4_turbo vs gpt4_1106_preview, the default) or 1 "
                          "(alpaca_eval_gpt4 vs text_davinci_003)."),
        click.option("--annotator", default=None,
                     help="alpacaeval: another annotator from alpaca_eval's evaluators_configs (OpenAI-style, "
                          "logprob or ranking parser)."),
        click.option("--judge-concurrency", default=32, show_default=True, type=click.IntRange(min=1),
                     help="Judge requests in flight (halved on HTTP 429, regrown on success)."),
        click.option("--judge-timeout", default=120.0, show_default=True, type=click.FloatRange(min=0.1),
                     help="Seconds per judge request."),
        click.option("--judge-max-retries", default=8, show_default=True, type=click.IntRange(min=0),
                     help="Retries after 429/5xx/timeouts (honouring Retry-After)."),
        click.option("--judge-price", default=None, metavar="IN/OUT",
                     help="USD per 1M prompt/completion tokens, overriding the price table (e.g. 30/60)."),
        click.option("--answers", "answer_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                     help="Judge existing answers instead of generating (repeatable): FastChat model_answer JSONL "
                          "(mtbench), alpaca_eval model_outputs.json (alpacaeval)."),
        click.option("--retry-failed", is_flag=True, help="Ask again the judgments that failed or did not parse."),
        click.option("--apply-chat-template", is_flag=True,
                     help="mmlu/truthfulqa: render prompts with the model's chat template (lm-eval's option)."),
        click.option("--fewshot-as-multiturn/--no-fewshot-as-multiturn", default=None,
                     help="mmlu/truthfulqa: give few-shot examples as chat turns [default: on with "
                          "--apply-chat-template, as in lm-eval's CLI]."),
        click.option("--mmlu-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="mmlu: read MMLU from this folder instead of the data directory: the data directory's "
                          "CSVs, the original Hendrycks CSVs ({dev,test}/<subject>_<split>.csv) or cais/mmlu parquet."),
        click.option("--subject", "subjects", multiple=True,
                     help="mmlu: only this subject (repeatable), e.g. --subject virology [default: all 57]."),
        click.option("--dry-run", is_flag=True, help="Print calls, estimated tokens and cost; call nothing."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# conventional setups of the Starling reward models (their model cards): backbone, head and format
RM_PRESETS = {
    "starling-rm-7b": {"kind": "value-head", "backbone": "meta-llama/Llama-2-7b-chat-hf", "format": "starling-rm-7b"},
    "starling-rm-34b": {"kind": "value-head", "backbone": "01-ai/Yi-34B-Chat", "format": "starling-rm-34b"},
}


def reward_options(fn: Any) -> Any:
    options = [
        click.option("--reward-model", default=None,
                     help="Evaluate a reward model on BENCHMARK's preference pairs (truthfulqa, hh, safe-rlhf, arena, "
                          "nectar): a folder or hub id."),
        click.option("--rm-preset", type=click.Choice(sorted(RM_PRESETS)), default=None,
                     help="Starling-RM setup: value head on Llama-2-7b-chat (7b) or Yi-34B-Chat (34b), their format."),
        click.option("--rm-kind", type=click.Choice(["seq-cls", "value-head"]), default=None,
                     help="seq-cls: AutoModelForSequenceClassification; value-head: a causal LM with a linear head "
                          "from a checkpoint file (Starling-RM) [default: seq-cls, or the preset's]."),
        click.option("--rm-backbone", default=None, help="value-head: the causal LM under the head [default: the preset's]."),
        click.option("--rm-head-file", default=None, type=click.Path(dir_okay=False),
                     help="value-head: the checkpoint file [default: the *.pt or *model.bin in the reward-model folder]."),
        click.option("--rm-format", default=None,
                     help="Conversation format: starling-rm-7b, starling-rm-34b, a FastChat template name or a Jinja "
                          "file [default: the preset's, else the tokenizer's chat template]."),
        click.option("--rm-max-length", default=2048, show_default=True, type=click.IntRange(min=8),
                     help="Tokens per conversation; longer ones are cut (counted in the manifest)."),
        click.option("--rm-truncation-side", type=click.Choice(["left", "right"]), default="left", show_default=True,
                     help="Which end to cut: left keeps the replies being compared."),
        click.option("--rm-padding-side", type=click.Choice(["left", "right"]), default="right", show_default=True,
                     help="Padding side in a batch (rewards do not depend on it; recorded)."),
        click.option("--rewardbench-json", default=None, type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the accuracies as a RewardBench-style results JSON."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


REWARD_OPTIONS = (("rm_preset", "--rm-preset"), ("rm_kind", "--rm-kind"), ("rm_backbone", "--rm-backbone"),
                  ("rm_head_file", "--rm-head-file"), ("rm_format", "--rm-format"),
                  ("rewardbench_json", "--rewardbench-json"))


def build_reward_spec(o: dict[str, Any], name_or_path: str, display_name: str | None) -> Any:
    from starling_eval.spec import RewardSpec

    preset = RM_PRESETS.get(o["rm_preset"] or "", {})
    if (o["rm_kind"] or preset.get("kind", "seq-cls")) == "seq-cls":
        _refuse_options("--rm-kind seq-cls", o, (("rm_backbone", "--rm-backbone"), ("rm_head_file", "--rm-head-file")),
                        "--rm-kind value-head")
    return RewardSpec(name_or_path=name_or_path, display_name=display_name, revision=o["revision"],
                      kind=o["rm_kind"] or preset.get("kind", "seq-cls"), backbone=o["rm_backbone"] or preset.get("backbone"),
                      head_file=o["rm_head_file"], format=o["rm_format"] or preset.get("format"),
                      max_length=o["rm_max_length"], truncation_side=o["rm_truncation_side"],
                      padding_side=o["rm_padding_side"], dtype=o["dtype"], device=o["device"],
                      batch_size=o["batch_size"], trust_remote_code=o["trust_remote_code"])


def build_judge(bench: Any, o: dict[str, Any]) -> Any:
    """The JudgeSpec from the options, with what they leave out filled by the benchmark's defaults."""
    from starling_eval.judges.pricing import price_override
    from starling_eval.spec import JudgeSpec

    defaults = bench.judge_defaults(int(o["ae_version"]) if o["ae_version"] else None, o["annotator"])
    price_in, price_out = price_override(o["judge_price"])
    mode, model, reward_model = o["judge_mode"] or defaults["mode"], o["judge_model"] or defaults["model"], None
    if o["judge_reward_model"]:
        _refuse_options("--judge-reward-model", o, (("judge_model", "--judge-model"), ("judge_base_url", "--judge-base-url"),
                                                    ("judge_price", "--judge-price"), ("dry_run", "--dry-run")),
                        "API judges")
        if o["judge_mode"] == "single":
            raise InputError("--judge-mode single: a reward-model judge compares two answers; use pairwise-baseline "
                             "or pairwise-all")
        mode = "pairwise-baseline" if mode == "single" else mode
        reward_model = build_reward_spec(o, o["judge_reward_model"], None)
        model = reward_model.label
    return JudgeSpec(model=model, base_url=o["judge_base_url"], reward_model=reward_model,
                     api_key_env=o["judge_api_key_env"], mode=mode,
                     baseline=o["baseline"] or defaults["baseline"], reference=o["reference"],
                     annotator=defaults["annotator"], concurrency=o["judge_concurrency"], timeout_s=o["judge_timeout"],
                     max_retries=o["judge_max_retries"], price_in=price_in, price_out=price_out)


def answer_sources(bench: Any, paths: tuple[Path, ...]) -> list[Any]:
    from starling_eval.pipeline.common import answer_files

    return answer_files(bench, paths)


@main.command()
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
    _refuse_options(benchmark, options, REWARD_OPTIONS[-1:] if options["judge_reward_model"] else REWARD_OPTIONS,
                    "reward models (--reward-model, --judge-reward-model)")
    if benchmark in registry.REWARD_BENCHMARKS and benchmark not in registry.benchmark_names():
        raise InputError(f"{benchmark} scores reward models on preference pairs: give --reward-model")
    bench = registry.benchmark(benchmark)
    if getattr(bench, "kind", None) == "loglikelihood":
        _run_loglikelihood(ctx, benchmark, options)
        return
    _refuse_options(benchmark, options, LOGLIKELIHOOD_OPTIONS, "mmlu and truthfulqa")
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
    bar, report = _progress_bar(not options["as_json"])
    with bar:
        result = pipeline.evaluate(spec, ctx.obj["results"], retry_failed=options["retry_failed"], progress=report)
    _report_evaluation(result, options["as_json"])


# options that belong to one family of benchmarks: (option key, its flag)
LOGLIKELIHOOD_OPTIONS = (("apply_chat_template", "--apply-chat-template"),
                         ("fewshot_as_multiturn", "--fewshot-as-multiturn"), ("mmlu_dir", "--mmlu-dir"),
                         ("subjects", "--subject"))
JUDGE_OPTIONS = (("judge_model", "--judge-model"), ("judge_base_url", "--judge-base-url"),
                 ("judge_reward_model", "--judge-reward-model"),
                 ("judge_mode", "--judge-mode"), ("baseline", "--baseline"), ("ae_version", "--version"),
                 ("annotator", "--annotator"), ("judge_price", "--judge-price"), ("retry_failed", "--retry-failed"))


def _refuse_options(benchmark: str, options: dict[str, Any], family: tuple[tuple[str, str], ...], owner: str) -> None:
    """An option another kind of benchmark reads is an error here, not silently ignored."""
    for key, flag in family:
        if options.get(key):
            raise InputError(f"{flag}: {benchmark} does not use it (it is for {owner})")


def _mmlu_selection(benchmark: str, options: dict[str, Any]) -> None:
    """--mmlu-dir as a SourceDir (its content hashed, its layout checked) and --subject as checked names."""
    from starling_eval.adapters.multiple_choice import lm_eval_tasks, mmlu_data
    from starling_eval.spec import SourceDir

    if benchmark != "mmlu":
        _refuse_options(benchmark, options, LOGLIKELIHOOD_OPTIONS[2:], "mmlu")
        return
    if options["mmlu_dir"] is not None:
        root = options["mmlu_dir"].resolve()
        if not root.is_dir():
            raise InputError(f"--mmlu-dir {options['mmlu_dir']}: no such folder")
        hashes = mmlu_data.file_hashes(root)  # a DataError (no MMLU files there) names the folder
        options["source"] = SourceDir(path=str(root), sha256=mmlu_data.folder_sha256(hashes))
    known = lm_eval_tasks.mmlu_subjects()
    for subject in options["subjects"]:
        if subject not in known:
            raise InputError(f"--subject {subject}: not an MMLU subject (e.g. {', '.join(list(known)[:3])}, ...)")
    if options["subjects"]:
        options["subject_list"] = sorted(set(options["subjects"]))


def _run_reward_pairs(ctx: click.Context, benchmark: str, options: dict[str, Any]) -> None:
    """An RM on preference pairs: accuracy beside the longer-reply baseline, per track."""
    from starling_eval import registry
    from starling_eval.data import DataDir
    from starling_eval.pipeline.reward_pairs import evaluate_pairs
    from starling_eval.spec import RunSpec

    if options["model"] or options["answer_files"]:
        raise InputError("give either --reward-model (score preference pairs) or --model/--answers, not both")
    _refuse_options(benchmark, options, JUDGE_OPTIONS + LOGLIKELIHOOD_OPTIONS + (("dry_run", "--dry-run"),),
                    "other benchmarks")
    registry.reward_benchmark(benchmark)  # an unknown name is exit 2 before any model loads
    spec = RunSpec(benchmark=benchmark, reward_model=build_reward_spec(options, options["reward_model"],
                                                                       options["model_name"]),
                   data_dir=str(DataDir(options["data_dir"]).root), limit=options["limit"], seed=options["seed"])
    bar, report = _progress_bar(not options["as_json"])
    with bar:
        result = evaluate_pairs(spec, ctx.obj["results"], progress=report)
    scores = result.scores
    if options["rewardbench_json"]:
        from starling_eval.report.rewardbench import rewardbench_results
        from starling_eval.store.files import write_json_atomic

        path = options["rewardbench_json"]
        existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        results = rewardbench_results(result.manifest, scores, existing)
        if existing and existing.get("model") != results["model"]:
            raise InputError(f"--rewardbench-json {path}: holds results of {existing.get('model')!r}, "
                             f"not {results['model']!r}; give another file")
        write_json_atomic(path, results)
    if options["as_json"]:
        emit_json({"run_id": result.run.run_id, "path": str(result.run.path), "status": result.manifest["status"],
                    "benchmark": benchmark, "mode": scores["mode"], "models": scores["models"],
                    "counts": result.manifest["counts"], "timings": result.manifest["timings"]})
        return
    from starling_eval.report.tables import score_tables

    for table in score_tables(scores, f"{benchmark} · reward model"):
        _console().print(table)
    counts = result.manifest["counts"]
    _console().print(f"run {result.run.run_id}: {counts['pairs']} pairs, {counts['rewards_computed']} rewards computed, "
                     f"{counts['rewards_from_cache']} from the cache; {result.manifest['timings']['total_s']:.1f} s",
                     highlight=False)


def _run_loglikelihood(ctx: click.Context, benchmark: str, options: dict[str, Any]) -> None:
    """MMLU / TruthfulQA: lm-eval scores the model's log-likelihoods; no judge, no generation."""
    from starling_eval import pipeline

    _refuse_options(benchmark, options, JUDGE_OPTIONS, "judged benchmarks")
    _mmlu_selection(benchmark, options)
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
        _console().print(table)
    _console().print(f"run {result.run.run_id}: {result.manifest['counts']['items']} items; "
                     f"{result.manifest['timings']['total_s']:.1f} s", highlight=False)


def _report_plan(plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(plan)
        return
    from rich.table import Table

    table = Table(title=f"dry run · {plan['benchmark']} · {plan['model']} · judge {plan['judge']} ({plan['mode']})",
                  show_header=False)
    cost = plan["estimated_cost_usd"]
    for label, value in [
        ("items", plan["items"]),
        ("generation calls", plan["generation_calls"]),
        ("judge calls", f"{plan['judge_calls']} ({plan['judge_from_cache']} of {plan['judge_requests']} from the cache)"),
        ("estimated judge tokens (prompt / completion)",
         f"{plan['estimated_prompt_tokens']} / {plan['estimated_completion_tokens']}"),
        ("estimated judge cost", f"${cost:.2f}" if cost is not None else plan["price"]["source"]),
        ("note", plan["estimate_note"]),
    ]:
        table.add_row(label, str(value))
    _console().print(table)


def _report_evaluation(result: Any, as_json: bool) -> None:
    manifest, scores, judging = result.manifest, result.scores, result.judging
    counts = judging["counts"]
    gen_counts = result.generation.counts if result.generation else None
    failures = scores.get("failures", [])
    if as_json:
        emit_json({
            "run_id": result.run.run_id, "path": str(result.run.path), "status": manifest["status"],
            "benchmark": scores["benchmark"], "mode": scores["mode"], "models": scores["models"],
            "judging": judging, "generation": gen_counts, "timings": manifest["timings"],
            "n_failed": scores.get("n_failed", 0), "failures": failures[:50], "lc_unavailable": scores.get("lc_unavailable"),
        })
    else:
        from starling_eval.report.tables import score_tables

        console = _console()
        for table in score_tables(scores, f"{scores['benchmark']} · judge {judging['judge']['model']}"):
            console.print(table)
        usage = judging["usage"]
        cost = usage["paid_now"]["cost_usd"]
        console.print(
            f"run {result.run.run_id} ({manifest['status']}): {counts['called']} judge calls made, "
            f"{counts['from_cache']} from the cache, {usage['paid_now']['prompt_tokens']} + "
            f"{usage['paid_now']['completion_tokens']} tokens"
            + (f" ≈ ${cost:.4f}" if cost is not None else f" ({usage['price']['source']})")
            + f"; {manifest['timings']['total_s']:.1f} s", highlight=False)
        from rich.markup import escape

        err = _console(stderr=True)
        for failure in failures[:10]:  # reasons quote judge text such as [[rating]]: not markup
            err.print(f"[red]failed[/red] {escape(str(failure.get('model')))} question {failure.get('question_id')} "
                      f"turn {failure.get('turn')}: {escape(str(failure.get('reason')))}", highlight=False)
    if scores.get("n_failed"):
        click.echo(f"{scores['n_failed']} judgment(s) failed and are left out of the means (listed in "
                   f"{result.run.path / 'scores.json'}); `--retry-failed` asks them again", err=True)
    if scores.get("lc_unavailable"):
        click.echo(scores["lc_unavailable"], err=True)
    if manifest["status"] != "complete":
        click.echo("some calls failed for good; finished work is stored: re-run the same command to retry them", err=True)
        sys.exit(EXIT_INCOMPLETE)


@main.command()
@click.argument("benchmark")
@click.option("--judgments", "--annotations", "judgment_files", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="mtbench: FastChat model_judgment JSONL; alpacaeval: alpaca_eval annotations.json (repeatable).")
@click.option("--baseline", default=None,
              help="Pairwise files: score against this baseline [default: the model in every match, if any].")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Data folder, for per-category scores [default: $STARLING_EVAL_DATA or the user cache].")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of per-model scores.")
@input_errors
def score(benchmark: str, judgment_files: tuple[Path, ...], baseline: str | None, data_dir: str | None, seed: int,
          as_json: bool) -> None:
    """Re-score published or external judgments of BENCHMARK without calling anything."""
    from starling_eval.data import DataDir
    from starling_eval.registry import benchmark as get_benchmark

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
            _console().print(table)
    if scores.get("n_failed"):
        click.echo(f"{scores['n_failed']} judgment(s) failed (the reference tools drop them silently) and are left out "
                   "of the means", err=True)
    if scores.get("lc_unavailable"):
        click.echo(scores["lc_unavailable"], err=True)


@main.command()
@click.argument("run_ref")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (and scores) as JSON.")
@click.pass_context
@input_errors
def show(ctx: click.Context, run_ref: str, as_json: bool) -> None:
    """Show one run: spec, provenance, counts and scores. RUN_REF is a run id, unique prefix or folder."""
    from starling_eval.store.runs import RunStore

    run_folder = RunStore(ctx.obj["results"]).require(run_ref)
    manifest = run_folder.read_manifest()
    scores = run_folder.scores()
    if as_json:
        emit_json({"manifest": manifest, "scores": scores, "goodhart_card": _goodhart_card(run_folder),
                    "path": str(run_folder.path)})
        return
    from rich.table import Table

    spec = manifest["spec"]
    model = manifest.get("model", {})
    env = manifest.get("environment", {})
    table = Table(title=f"run {manifest['run_id']}", show_header=False)
    rows = [("benchmark", spec["benchmark"]), ("status", manifest.get("status"))]
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
        rows.append(("judge", f"{judge['model']} at {where} ({judge['mode']}{annotator})"))
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
    _console().print(table)
    if scores and scores.get("models") is not None:
        from starling_eval.report.tables import score_tables

        for score_table in score_tables(scores, f"{spec['benchmark']} scores"):
            _console().print(score_table)
    card = _goodhart_card(run_folder)
    if card is not None:
        from starling_eval.goodhart.commands import print_card

        print_card(card)


def _goodhart_card(run_folder: Any) -> dict | None:
    from starling_eval.goodhart.card import CARD

    path = run_folder.file(CARD)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@main.command()
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
    from starling_eval.report import leaderboard as lb_mod
    from starling_eval.store.files import write_text_atomic

    board = lb_mod.collect(ctx.obj["results"], benchmarks=list(benchmarks) or None, judge=judge,
                           model_pattern=model_pattern)
    if fmt == "html":
        from starling_eval.report.html import render_report

        text = render_report(board, title=title)
    else:
        text = f"# {title}\n\n" + lb_mod.to_markdown(board)
    out = out or Path(ctx.obj["results"]) / f"report.{fmt}"
    write_text_atomic(out, text)
    click.echo(f"wrote {out} ({len(board.rows)} models, {len(board.columns)} columns)")


@main.command()
@click.option("--baseline", "baseline_ref", required=True,
              help="The reference: a run id, unique prefix or folder, or a file written by `starling-eval export`.")
@click.option("--candidate", "candidate_ref", required=True, help="The run to check (id, prefix, folder or export).")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON: {metric: {max_drop: X}} [default: the benchmark's headline metric, max_drop 0].")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@input_errors
def gate(ctx: click.Context, baseline_ref: str, candidate_ref: str, rules_path: Path | None, seed: int,
         as_json: bool) -> None:
    """Fail a CI job when the candidate is worse than the baseline beyond a rule's max_drop, on the items both
    runs share (paired bootstrap 95% CI of candidate − baseline; McNemar shown for accuracies).

    Exit 0: every rule passes; 1: a regression; 2: bad input (runs not comparable, a metric missing). Writes a
    Markdown summary to $GITHUB_STEP_SUMMARY when it is set."""
    from starling_eval import gate as gate_mod

    result = gate_mod.gate(baseline_ref, candidate_ref, ctx.obj["results"], rules_path=rules_path, seed=seed)
    if as_json:
        emit_json(result.as_dict())
    else:
        _console().print(gate_mod.gate_table(result))
    gate_mod.write_step_summary(result)
    sys.exit(result.exit_code)


@main.command()
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


@main.command(name="list")
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
    console = _console()
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


# -- data ------------------------------------------------------------------------------------------


@main.command()
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
    from starling_eval.report import leaderboard as lb_mod

    board = lb_mod.collect(ctx.obj["results"], benchmarks=list(benchmarks) or None, judge=judge,
                           model_pattern=model_pattern, include_incomplete=include_incomplete,
                           metrics="all" if all_metrics else "headline")
    if fmt == "table" and out is None:
        _console().print(lb_mod.to_rich_table(board))
        for note in lb_mod.notes(board):
            _console(stderr=True).print(note, highlight=False, markup=False)
        return
    text = lb_mod.render(board, "md" if fmt == "table" else fmt)
    if out is None:
        click.echo(text)
    else:
        from starling_eval.store.files import write_text_atomic

        write_text_atomic(out, text)
        click.echo(f"wrote {out}", err=True)


@main.group()
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


from starling_eval.goodhart.commands import goodhart  # noqa: E402  (after main: the group hangs off it)

main.add_command(goodhart)
