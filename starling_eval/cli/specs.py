"""Options to specs: the RunSpec, ModelSpec, JudgeSpec and RewardSpec a command's options describe, and the
options a benchmark of another kind refuses (an error, never silently ignored). Nothing downstream reads the
command line (DESIGN.md); what is wrong with the options is an :class:`InputError` here, before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starling_eval.cli.errors import InputError
from starling_eval.cli.options import JUDGE_OPTIONS, LOGLIKELIHOOD_OPTIONS, RM_PRESETS


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
        timeout_retries=o["timeout_retries"],
        tensor_parallel_size=o["tensor_parallel_size"],
        pipeline_parallel_size=o["pipeline_parallel_size"],
        data_parallel_size=o["data_parallel_size"],
        gpu_memory_utilization=o["gpu_memory_utilization"],
        max_model_len=o["max_model_len"],
        enforce_eager=o["enforce_eager"],
        distributed_executor_backend=o["distributed_executor_backend"],
    )
    return model_spec


def build_reward_spec(o: dict[str, Any], name_or_path: str, display_name: str | None) -> Any:
    from starling_eval.spec import RewardSpec

    preset = RM_PRESETS.get(o["rm_preset"] or "", {})
    if (o["rm_kind"] or preset.get("kind", "seq-cls")) == "seq-cls":
        refuse_options("--rm-kind seq-cls", o, (("rm_backbone", "--rm-backbone"), ("rm_head_file", "--rm-head-file")),
                        "--rm-kind value-head")
    return RewardSpec(name_or_path=name_or_path, display_name=display_name, revision=o["revision"],
                      kind=o["rm_kind"] or preset.get("kind", "seq-cls"), backbone=o["rm_backbone"] or preset.get("backbone"),
                      head_file=o["rm_head_file"], format=o["rm_format"] or preset.get("format"),
                      max_length=o["rm_max_length"], truncation_side=o["rm_truncation_side"],
                      padding_side=o["rm_padding_side"], dtype=o["dtype"], device=o["device"],
                      batch_size=o["batch_size"], trust_remote_code=o["trust_remote_code"])


def build_reward_run_spec(benchmark: str, o: dict[str, Any]) -> Any:
    """The RunSpec of a reward model on ``benchmark``'s preference pairs (``run --reward-model``)."""
    from starling_eval import registry
    from starling_eval.data import DataDir
    from starling_eval.spec import RunSpec

    if o["model"] or o["answer_files"]:
        raise InputError("give either --reward-model (score preference pairs) or --model/--answers, not both")
    refuse_options(benchmark, o, JUDGE_OPTIONS + LOGLIKELIHOOD_OPTIONS + (("dry_run", "--dry-run"),), "other benchmarks")
    registry.reward_benchmark(benchmark)  # an unknown name is exit 2 before any model loads
    return RunSpec(benchmark=benchmark, reward_model=build_reward_spec(o, o["reward_model"], o["model_name"]),
                   data_dir=str(DataDir(o["data_dir"]).root), limit=o["limit"], seed=o["seed"])


def build_judge(bench: Any, o: dict[str, Any]) -> Any:
    """The JudgeSpec from the options, with what they leave out filled by the benchmark's defaults."""
    from starling_eval.judges.pricing import price_override
    from starling_eval.spec import JudgeSpec

    defaults = bench.judge_defaults(int(o["ae_version"]) if o["ae_version"] else None, o["annotator"])
    price_in, price_out, batch_in, batch_out = price_override(o["judge_price"])
    mode, model, reward_model = o["judge_mode"] or defaults["mode"], o["judge_model"] or defaults["model"], None
    if o["judge_reward_model"]:
        refuse_options("--judge-reward-model", o, (("judge_model", "--judge-model"), ("judge_base_url", "--judge-base-url"),
                                                    ("judge_price", "--judge-price"), ("dry_run", "--dry-run"),
                                                    ("judge_max_tokens", "--judge-max-tokens"),
                                                    ("judge_batch", "--judge-batch")),
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
                     max_retries=o["judge_max_retries"], timeout_retries=o["judge_timeout_retries"],
                     max_tokens=o["judge_max_tokens"], price_in=price_in, price_out=price_out,
                     **batch_fields(o, batch_in, batch_out))


def answer_sources(bench: Any, paths: tuple[Path, ...]) -> list[Any]:
    from starling_eval.pipeline.common import answer_files

    return answer_files(bench, paths)


def refuse_options(benchmark: str, options: dict[str, Any], family: tuple[tuple[str, str], ...], owner: str) -> None:
    """An option another kind of benchmark reads is an error here, not silently ignored."""
    for key, flag in family:
        if options.get(key):
            raise InputError(f"{flag}: {benchmark} does not use it (it is for {owner})")


def mmlu_selection(benchmark: str, options: dict[str, Any]) -> None:
    """--mmlu-dir as a SourceDir (its content hashed, its layout checked) and --subject as checked names."""
    from starling_eval.adapters.multiple_choice import lm_eval_tasks, mmlu_data
    from starling_eval.spec import SourceDir

    if benchmark != "mmlu":
        refuse_options(benchmark, options, LOGLIKELIHOOD_OPTIONS[2:], "mmlu")
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


def judge_spec(o: dict[str, Any], flag: str) -> Any:
    """The JudgeSpec the options name (exactly one of a model or a reward model)."""
    from starling_eval.judges.pricing import price_override
    from starling_eval.spec import JudgeSpec

    if bool(o["judge_model"]) == bool(o["judge_reward_model"]):
        raise InputError(f"give exactly one of --{flag}-model or --{flag}-reward-model")
    if o["judge_reward_model"]:
        if o.get("judge_batch"):
            raise InputError(f"--{flag}-batch: a reward-model judge runs here, not through the Batch API")
        options = {"revision": None, "rm_padding_side": "right", "trust_remote_code": False, **o}
        reward = build_reward_spec(options, o["judge_reward_model"], None)
        return JudgeSpec(model=reward.label, reward_model=reward)
    price_in, price_out, batch_in, batch_out = price_override(o["judge_price"])
    return JudgeSpec(model=o["judge_model"], base_url=o["judge_base_url"], api_key_env=o["judge_api_key_env"],
                     concurrency=o["judge_concurrency"], price_in=price_in, price_out=price_out,
                     **batch_fields(o, batch_in, batch_out))


def batch_fields(o: dict[str, Any], batch_in: float | None, batch_out: float | None) -> dict[str, Any]:
    """The JudgeSpec's Batch-API fields from --judge-batch, --judge-batch-size, --judge-batch-poll."""
    for key, flag in (("judge_batch_size", "--judge-batch-size"),):
        if o.get(key) is not None and not o.get("judge_batch"):
            raise InputError(f"{flag}: only with --judge-batch")
    return {"batch": bool(o.get("judge_batch")), "batch_size": o.get("judge_batch_size"),
            "batch_poll_s": o.get("judge_batch_poll") or 5.0, "batch_price_in": batch_in, "batch_price_out": batch_out}
