"""Option decorators shared by the commands (each command module takes the ones it needs), the option families
a benchmark of another kind refuses, and the Starling reward-model presets.

Only click is imported here: the command modules decorate with these at import, and ``--help`` stays instant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

# conventional setups of the Starling reward models (their model cards): backbone, head and format
RM_PRESETS = {
    "starling-rm-7b": {"kind": "value-head", "backbone": "meta-llama/Llama-2-7b-chat-hf", "format": "starling-rm-7b"},
    "starling-rm-34b": {"kind": "value-head", "backbone": "01-ai/Yi-34B-Chat", "format": "starling-rm-34b"},
}

# options that belong to one family of benchmarks: (option key, its flag)
REWARD_OPTIONS = (("rm_preset", "--rm-preset"), ("rm_kind", "--rm-kind"), ("rm_backbone", "--rm-backbone"),
                  ("rm_head_file", "--rm-head-file"), ("rm_format", "--rm-format"),
                  ("rewardbench_json", "--rewardbench-json"))
LOGLIKELIHOOD_OPTIONS = (("apply_chat_template", "--apply-chat-template"),
                         ("fewshot_as_multiturn", "--fewshot-as-multiturn"), ("mmlu_dir", "--mmlu-dir"),
                         ("subjects", "--subject"))
JUDGE_OPTIONS = (("judge_model", "--judge-model"), ("judge_base_url", "--judge-base-url"),
                 ("judge_reward_model", "--judge-reward-model"),
                 ("judge_mode", "--judge-mode"), ("baseline", "--baseline"), ("ae_version", "--version"),
                 ("annotator", "--annotator"), ("judge_price", "--judge-price"), ("judge_max_tokens", "--judge-max-tokens"),
                 ("retry_failed", "--retry-failed"), ("judge_batch", "--judge-batch"))


def _apply(fn: Any, options: Sequence[Callable[[Any], Any]]) -> Any:
    """Decorate ``fn`` with ``options``, the first one listed first in ``--help``."""
    for option in reversed(options):
        fn = option(fn)
    return fn


# -- generate and run -------------------------------------------------------------------------------------


def endpoint_options(flags: tuple[str, str, str, str], who: str, *, concurrency: int, retries: int,
                     min_timeout: float, tokens: str, in_flight: str) -> list[Any]:
    """How hard an OpenAI-compatible endpoint is pushed (the served model's, or the judge's): requests in
    flight, the per-request timeout, retries, and re-sends after a client-side timeout."""
    concurrency_flag, timeout_flag, retries_flag, timeout_retries_flag = flags
    return [
        click.option(concurrency_flag, default=concurrency, show_default=True, type=click.IntRange(min=1),
                     help=who + in_flight),
        click.option(timeout_flag, default=None, type=click.FloatRange(min=min_timeout),
                     help=f"{who}seconds per request [default: 60 + {tokens}/4, enough for a slow server]."),
        click.option(retries_flag, default=retries, show_default=True, type=click.IntRange(min=0),
                     help=f"{who}retries after 429 (honouring Retry-After), 5xx, dropped connections and malformed "
                          "replies."),
        click.option(timeout_retries_flag, default=1, show_default=True, type=click.IntRange(min=0),
                     help=f"{who}re-sends after a client-side timeout (each may be billed again; counted as "
                          "possibly_billed_twice)."),
    ]


def batch_options(prefix: str) -> list[Any]:
    """--PREFIX-batch and its two settings: judging through OpenAI's Batch API."""
    return [
        click.option(f"--{prefix}-batch", "judge_batch", is_flag=True,
                     help="Send the judgments not in the cache through OpenAI's Batch API: half the price, done within "
                          "24 h. Interrupt any time: the batch runs on, and a re-run (or `starling-eval batches "
                          "resume`) collects it without submitting it again."),
        click.option(f"--{prefix}-batch-size", "judge_batch_size", default=None, type=click.IntRange(1, 50_000),
                     help="Requests per batch [default: the API's limit, 50,000; files are kept under 200 MB]."),
        click.option(f"--{prefix}-batch-poll", "judge_batch_poll", default=5.0, show_default=True,
                     type=click.FloatRange(min=0.01), help="Seconds before the first status poll; each wait is 1.5x "
                                                            "the last, up to a minute."),
    ]


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
        *endpoint_options(("--concurrency", "--request-timeout", "--max-retries", "--timeout-retries"), "openai: ",
                          concurrency=16, retries=6, min_timeout=1.0, tokens="max_new_tokens",
                          in_flight="requests in flight."),
        click.option("--tensor-parallel-size", default=1, show_default=True, type=click.IntRange(min=1), help="vllm."),
        click.option("--pipeline-parallel-size", default=1, show_default=True, type=click.IntRange(min=1), help="vllm."),
        click.option("--data-parallel-size", default=1, show_default=True, type=click.IntRange(min=1), help="vllm."),
        click.option("--gpu-memory-utilization", default=0.9, show_default=True, type=click.FloatRange(0.05, 1.0),
                     help="vllm."),
        click.option("--max-model-len", default=None, type=click.IntRange(min=16), help="vllm context length."),
        click.option("--enforce-eager/--no-enforce-eager", default=None,
                     help="vllm: no CUDA graphs / compilation (faster start) [default: on for vLLM's CPU build, off on "
                          "GPUs]."),
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
    return _apply(fn, options)


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
        click.option("--version", "ae_version", type=click.Choice(["1", "2", "0.1", "2.0"]), default=None,
                     help="alpacaeval: 2 (weighted_alpaca_eval_gpt4_turbo vs gpt4_1106_preview, the default) or 1 "
                          "(alpaca_eval_gpt4 vs text_davinci_003); arena-hard: 0.1 (the default: 500 prompts vs "
                          "gpt-4-0314) or 2.0 (500 hard prompts vs o3-mini, 250 creative ones vs gemini-2.0-flash)."),
        click.option("--annotator", default=None,
                     help="alpacaeval: another annotator from alpaca_eval's evaluators_configs (OpenAI-style, "
                          "logprob or ranking parser)."),
        *endpoint_options(("--judge-concurrency", "--judge-timeout", "--judge-max-retries", "--judge-timeout-retries"),
                          "judge: ", concurrency=32, retries=8, min_timeout=0.1, tokens="max_tokens",
                          in_flight="requests in flight (halved on HTTP 429, regrown on success)."),
        click.option("--judge-max-tokens", default=None, type=click.IntRange(min=1),
                     help="Cap each judgment at N tokens [default: the benchmark's: mtbench 2048 as FastChat, "
                          "alpacaeval the annotator's]. Another cap is another judge setup: its runs are compared "
                          "only with each other."),
        click.option("--judge-price", default=None, metavar="IN/OUT",
                     help="USD per 1M prompt/completion tokens, overriding the price table (e.g. 30/60); "
                          "IN/OUT/BATCH_IN/BATCH_OUT sets the Batch API's too [default: half]."),
        *batch_options("judge"),
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
    return _apply(fn, options)


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
    return _apply(fn, options)


# -- tables and reports across runs ------------------------------------------------------------------------


def run_filter_options(fn: Any) -> Any:
    """Which runs a table or report covers: --benchmark (repeatable), --judge and --model (fnmatch patterns)."""
    options = [
        click.option("--benchmark", "benchmarks", multiple=True, help="Only this benchmark (repeatable)."),
        click.option("--judge", default=None, help="Only runs whose judge matches this pattern (fnmatch, e.g. 'gpt-4*')."),
        click.option("--model", "model_pattern", default=None,
                     help="Only models whose name matches this pattern (fnmatch)."),
    ]
    return _apply(fn, options)


# -- goodhart: one judge (an OpenAI-compatible model or a reward model), and the report options --------------


def judge_choice_options(prefix: str, what: str) -> Any:
    """Options naming one judge: an OpenAI-compatible model, or a reward model with its --rm-* description."""

    def decorate(fn: Any) -> Any:
        options = [
            click.option(f"--{prefix}-model", "judge_model", default=None,
                         help=f"{what}: a judge model served by OpenAI or --{prefix}-base-url."),
            click.option(f"--{prefix}-base-url", "judge_base_url", default=None,
                         help="OpenAI-compatible endpoint of that judge [default: OpenAI's API]."),
            click.option(f"--{prefix}-api-key-env", "judge_api_key_env", default="OPENAI_API_KEY", show_default=True,
                         help="Environment variable holding its API key (never stored)."),
            click.option(f"--{prefix}-concurrency", "judge_concurrency", default=32, show_default=True,
                         type=click.IntRange(min=1), help="Judge requests in flight."),
            click.option(f"--{prefix}-price", "judge_price", default=None, metavar="IN/OUT",
                         help="USD per 1M prompt/completion tokens, overriding the price table "
                              "(IN/OUT/BATCH_IN/BATCH_OUT: the Batch API's too)."),
            *batch_options(prefix),
            click.option(f"--{prefix}-reward-model", "judge_reward_model", default=None,
                         help=f"{what}: a reward model instead (folder or hub id), described by the --rm-* options."),
            click.option("--rm-preset", type=click.Choice(["starling-rm-7b", "starling-rm-34b"]), default=None),
            click.option("--rm-kind", type=click.Choice(["seq-cls", "value-head"]), default=None),
            click.option("--rm-backbone", default=None),
            click.option("--rm-head-file", default=None, type=click.Path(dir_okay=False)),
            click.option("--rm-format", default=None),
            click.option("--rm-max-length", default=2048, show_default=True, type=click.IntRange(min=8)),
            click.option("--rm-truncation-side", type=click.Choice(["left", "right"]), default="left", show_default=True),
            click.option("--dtype", default="auto", show_default=True, help="Reward model dtype."),
            click.option("--device", default=None, help="Reward model device [default: cuda when available]."),
            click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1)),
        ]
        return _apply(fn, options)

    return decorate


def goodhart_report_options(fn: Any) -> Any:
    """--seed (the bootstrap's), --data-dir and --json, as every judge-running goodhart command takes them."""
    options = [
        click.option("--seed", default=0, show_default=True, help="Bootstrap seed."),
        click.option("--data-dir", default=None, type=click.Path(file_okay=False),
                     help="Data folder [default: $STARLING_EVAL_DATA or the user cache]."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON object."),
    ]
    return _apply(fn, options)

