"""AlpacaEval's annotators, read from the installed alpaca_eval package's ``evaluators_configs/``.

An annotator is a judge model, its decoding, a prompt template and a parser. The two the leaderboards
use are the defaults of ``--version``: AlpacaEval 2's ``weighted_alpaca_eval_gpt4_turbo`` (gpt-4-1106-preview,
one token with its top-5 logprobs, preference = 2 − P(m)/(P(m)+P(M))) against gpt4_1106_preview's outputs,
and AlpacaEval 1's ``alpaca_eval_gpt4`` (gpt-4, temperature 0, a Python-literal ranking) against
text_davinci_003's. Any other config of the same shape (OpenAI-style completions, one example per prompt,
the logprob or ranking parser) works too; one that needs machinery we do not implement is refused by name.

As in alpaca_eval (``RandomSwitchTwoColumnsProcessor``, annotator seed 0), the two outputs are shown to the
judge in an order drawn per instruction from ``"is_switched_outputs" + instruction + "0"``, and the verdict
is un-swapped (3 − x) afterwards. Parsing wraps alpaca_eval's own ``logprob_parser`` and ``ranking_parser``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from starling_eval.adapters.alpacaeval import alpaca_eval_lib
from starling_eval.data import DataError
from starling_eval.spec import Verdict

# --version -> (annotator, reference outputs), as alpaca_eval's leaderboards pair them
VERSIONS = {2: ("weighted_alpaca_eval_gpt4_turbo", "gpt4_1106_preview"), 1: ("alpaca_eval_gpt4", "text_davinci_003")}
PARSERS = ("logprob_parser", "ranking_parser")
# config keys whose meaning we implement (others would silently change the annotator: refused)
KNOWN_KEYS = {"prompt_template", "fn_completions", "completions_kwargs", "fn_completion_parser",
              "completion_parser_kwargs", "completion_key", "batch_size", "is_randomize_output_order"}
KNOWN_COMPLETION_KWARGS = {"model_name", "max_tokens", "temperature", "logprobs", "top_logprobs"}
SWITCH_COLUMN = "is_switched_outputs"  # alpaca_eval's name; part of its swap seed
ANNOTATOR_SEED = 0  # alpaca_eval's BaseAnnotator default, which it hands to every single annotator
NO_LOGPROBS = "unsupported"  # failure kind: the endpoint cannot serve this annotator at all


@dataclass(frozen=True)
class Annotator:
    name: str
    model: str
    template: str
    max_tokens: int
    temperature: float
    top_logprobs: int | None
    parser: str
    parser_kwargs: dict[str, Any] = field(hash=False)
    randomize: bool = True


def names() -> list[str]:
    root = alpaca_eval_lib.package_dir() / "evaluators_configs"
    return sorted(p.parent.name for p in root.glob("*/configs.yaml"))


@functools.cache
def load(name: str) -> Annotator:
    """The named config of the installed alpaca_eval, or a DataError saying why it cannot be used."""
    import yaml

    root = alpaca_eval_lib.package_dir() / "evaluators_configs"
    path = root / name / "configs.yaml"
    if not path.is_file():
        raise DataError(f"--annotator {name}: not an alpaca_eval annotator (see {root})")
    configs = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if len(configs) != 1:
        raise DataError(f"--annotator {name}: {path} pools {len(configs)} annotators; starling-eval runs single ones")
    config = next(iter(configs.values()))
    unknown = sorted(set(config) - KNOWN_KEYS) + sorted(set(config.get("completions_kwargs") or {}) - KNOWN_COMPLETION_KWARGS)
    why = None
    if config.get("fn_completions") != "openai_completions":
        why = f"completions by {config.get('fn_completions')!r} (only OpenAI-compatible endpoints)"
    elif config.get("fn_completion_parser") not in PARSERS:
        why = f"the {config.get('fn_completion_parser')!r} parser (supported: {', '.join(PARSERS)})"
    elif int(config.get("batch_size", 1)) != 1:
        why = f"batch_size {config['batch_size']} (several examples per prompt)"
    elif unknown:
        why = f"config keys {', '.join(unknown)}"
    if why:
        raise DataError(f"--annotator {name}: uses {why}, which starling-eval does not implement")
    kwargs = config["completions_kwargs"]
    template = (root / config["prompt_template"]).read_text(encoding="utf-8")
    if not template.strip().startswith("<|im_start|>"):
        raise DataError(f"--annotator {name}: its prompt is not in ChatML, which starling-eval sends as chat messages")
    return Annotator(
        name=name,
        model=kwargs["model_name"],
        template=template,
        max_tokens=int(kwargs.get("max_tokens", 100)),
        temperature=float(kwargs.get("temperature", 0.0)),
        top_logprobs=kwargs.get("top_logprobs") if kwargs.get("logprobs") else None,
        parser=config["fn_completion_parser"],
        parser_kwargs=dict(config.get("completion_parser_kwargs") or {}),
        randomize=bool(config.get("is_randomize_output_order", True)),
    )


def is_switched(annotator: Annotator, instruction: str) -> bool:
    """alpaca_eval's per-instruction coin: are the two outputs shown to the judge in swapped order?"""
    if not annotator.randomize:
        return False
    utils = alpaca_eval_lib.module("utils")
    return utils.random_seeded_choice(seed=SWITCH_COLUMN + instruction + str(ANNOTATOR_SEED), choices=[False, True])


def prompts(annotator: Annotator, rows: list[dict[str, str]]) -> list[list[dict[str, Any]]]:
    """Chat messages for each row (instruction, output_1, output_2 as shown), by alpaca_eval's own formatting."""
    import pandas as pd

    utils = alpaca_eval_lib.module("utils")
    texts, _ = utils.make_prompts(pd.DataFrame(rows), template=annotator.template, batch_size=1)
    return [utils.prompt_to_chatml(text) for text in texts]


# -- verdicts (this module is the verdict_reader of AlpacaEval's judge requests) ------------------------

OUTPUT_FORMAT_PREFIX = "alpaca_eval:"


def output_format(annotator: Annotator, switched: bool) -> str:
    """How to read a reply: the annotator, and whether to un-swap (so a stored verdict is alpaca_eval's preference)."""
    return f"{OUTPUT_FORMAT_PREFIX}{annotator.name}" + (":switched" if switched else "")


def parse(fmt: str, reply: dict[str, Any]) -> Verdict:
    """A judge reply → alpaca_eval's preference (1: the reference output is better, 2: the model's), un-swapped."""
    name, _, switched = fmt[len(OUTPUT_FORMAT_PREFIX):].partition(":")
    annotator = load(name)
    verdict = _parse_logprobs(annotator, reply) if annotator.parser == "logprob_parser" else _parse_ranking(reply)
    if verdict.value is not None and switched:
        return Verdict(3 - verdict.value)
    return verdict


def winner_value(fmt: str, winner: str) -> float:
    """A pairwise winner ("A": the output shown first) as alpaca_eval's preference, un-swapped: what a judge
    that decides without text (a reward model) means in this annotator's vocabulary."""
    shown = {"A": 1.0, "B": 2.0, "tie": 1.5}[winner]
    return 3 - shown if fmt.endswith(":switched") else shown


def _parse_logprobs(annotator: Annotator, reply: dict[str, Any]) -> Verdict:
    content = reply.get("logprobs")
    if not content:
        return Verdict(None, f"{NO_LOGPROBS}: the judge endpoint returned no logprobs; annotator {annotator.name} "
                             "needs an OpenAI-compatible endpoint that serves logprobs with top_logprobs")
    completion = {"logprobs": {"content": [
        {"token": t["token"], "logprob": t["logprob"], "top_logprobs": t["top"]} for t in content[:1]]}}
    parser = alpaca_eval_lib.module("completion_parsers").logprob_parser
    with alpaca_eval_lib.quiet_root_logger():
        value = parser(completion, **annotator.parser_kwargs)[0]
    if value is None or math.isnan(value):
        tokens = [annotator.parser_kwargs.get("numerator_token"), *annotator.parser_kwargs.get("denominator_tokens", [])]
        return Verdict(None, f"unparsable: none of {sorted(set(tokens))} among the top logprobs "
                             f"{[t['token'] for t in content[0]['top']]}")
    return Verdict(float(value))


def _parse_ranking(reply: dict[str, Any]) -> Verdict:
    text = reply.get("text") or ""
    if not text:
        return Verdict(None, "unparsable: empty judgment")
    parser = alpaca_eval_lib.module("completion_parsers").ranking_parser
    with alpaca_eval_lib.quiet_root_logger():
        value = parser(text)[0]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Verdict(None, "unparsable: no ranking of model_1 as 1 or 2 in the judgment")
    return Verdict(int(value))
