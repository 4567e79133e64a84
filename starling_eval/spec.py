"""RunSpec and the small value types every layer shares.

A run is fully described by one :class:`RunSpec`: the CLI and config files only build one, and nothing
downstream reads the command line. Its hash (:meth:`RunSpec.spec_hash`) names a run for resuming.
Conversations, sampling parameters and completions live here too because backends, adapters and the
store all speak them, and this module is a leaf that imports nothing of ours.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Role = Literal["system", "user", "assistant"]
BackendName = Literal["hf", "openai", "vllm"]

# FastChat's rule (gen_model_answer.py): temperatures below this mean greedy decoding.
GREEDY_BELOW = 1e-4


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Role
    content: str


Chat = list[Message]


class Sampling(BaseModel):
    """Decoding parameters for one request. Part of every cache key."""

    model_config = ConfigDict(frozen=True)
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    stop: tuple[str, ...] = ()
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


class Completion(BaseModel):
    """What a backend returns for one chat. ``error`` is set (and ``text`` empty) when the call failed for good."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_ids: list[int] | None = None
    error: str | None = None


def canonical_json(obj: Any) -> str:
    """One spelling per value, so equal requests hash equally."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ModelSpec(BaseModel):
    """Which model answers, and how it is loaded. Backend-specific fields are ignored by the others."""

    backend: BackendName = "hf"
    name_or_path: str
    display_name: str | None = None
    revision: str | None = None
    chat_template: str | None = None  # None: the tokenizer's own; a Jinja file; or a FastChat template name
    dtype: str = "auto"
    device: str | None = None  # hf: cpu, cuda, cuda:1 ... (default: cuda when available)
    batch_size: int = 8
    trust_remote_code: bool = False
    # openai-compatible
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    timeout_s: float | None = None  # None: sized for max_new_tokens (backends.retry.timeout_for)
    max_retries: int = 6
    timeout_retries: int = 1  # re-sends after a client-side timeout (each may be billed again)
    # vllm
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool | None = None  # None: on for vLLM's CPU build (8 s engine start instead of 89 s), off on GPUs
    distributed_executor_backend: str | None = None  # "mp" or "ray" (multi-node)

    @property
    def label(self) -> str:
        return self.display_name or Path(self.name_or_path.rstrip("/")).name or self.name_or_path


class RewardSpec(BaseModel):
    """Which reward model scores conversations, and exactly how it sees them. Everything that can move a
    reward is explicit here and recorded: the conversation format, the padding and truncation sides and the
    maximum length (RewardBench #137/#226: rewards that moved with batch size and padding)."""

    name_or_path: str
    display_name: str | None = None
    revision: str | None = None
    # "seq-cls": AutoModelForSequenceClassification; "value-head": a causal-LM backbone with a bias-free
    # linear value head from a checkpoint file (the Starling-RM architecture)
    kind: Literal["seq-cls", "value-head"] = "seq-cls"
    backbone: str | None = None  # value-head: the causal LM the head sits on (default: name_or_path)
    head_file: str | None = None  # value-head: the checkpoint file (default: the *.pt / *model.bin in the folder)
    head_sha256: str | None = None  # filled when the run starts: the checkpoint's identity
    format: str | None = None  # a reward_formats name (starling-rm-7b, starling-rm-34b), a FastChat template
    #                            name or a Jinja file; None: the tokenizer's chat template
    max_length: int = Field(default=2048, ge=8)
    truncation_side: Literal["left", "right"] = "left"  # left keeps the replies being compared
    padding_side: Literal["left", "right"] = "right"
    dtype: str = "auto"
    device: str | None = None
    batch_size: int = Field(default=8, ge=1)
    trust_remote_code: bool = False

    # how the work is done, not what is computed: batch size and padding side move rewards by float rounding
    # only (tested), and the device not at all in intent; runs differing only in them are one run
    OPERATIONAL: ClassVar[tuple[str, ...]] = ("batch_size", "padding_side", "device")

    @property
    def label(self) -> str:
        return self.display_name or Path(self.name_or_path.rstrip("/")).name or self.name_or_path


JudgeMode = Literal["single", "pairwise-baseline", "pairwise-all"]

# JudgeSpec fields that change how fast or how expensive judging is, never what the judge says:
# left out of the spec hash so that changing them resumes the same run.
JUDGE_OPERATIONAL_FIELDS = {"concurrency", "timeout_s", "max_retries", "timeout_retries", "price_in", "price_out",
                            "batch", "batch_size", "batch_poll_s", "batch_price_in", "batch_price_out"}
# the same for a served model: how hard its endpoint is pushed, never what it answers
MODEL_OPERATIONAL_FIELDS = ("concurrency", "timeout_s", "max_retries", "timeout_retries")


class JudgeSpec(BaseModel):
    """Which judge grades the answers, how, and how hard we push its endpoint."""

    model: str = "gpt-4"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    mode: JudgeMode = "single"
    # pairwise-baseline: a model under mt_bench/model_answer/ or a file; AlpacaEval: the reference outputs
    baseline: str = "gpt-3.5-turbo"
    reference: str = "gpt-4"  # reference answers for math/reasoning/coding: mt_bench/reference_answer/<name>.jsonl
    annotator: str | None = None  # AlpacaEval: an alpaca_eval evaluators_configs name (None: the benchmark's default)
    concurrency: int = Field(default=32, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)  # None: sized for each request's max_tokens
    max_retries: int = Field(default=8, ge=0)
    timeout_retries: int = Field(default=1, ge=0)  # re-sends after a client-side timeout (each may be billed again)
    max_tokens: int | None = Field(default=None, ge=1)  # None: each benchmark's own (MT-Bench 2048, FastChat's)
    price_in: float | None = Field(default=None, ge=0)  # USD per 1M prompt tokens (overrides the price table)
    price_out: float | None = Field(default=None, ge=0)  # USD per 1M completion tokens
    # a reward model as the judge (pairwise modes): the answer it rewards higher wins; ``model`` is its label
    reward_model: RewardSpec | None = None
    # OpenAI's Batch API instead of one call per judgment: the same replies (and cache keys), at the batch price
    batch: bool = False
    batch_size: int | None = Field(default=None, ge=1, le=50_000)  # requests per batch [the API's limit]
    batch_poll_s: float = Field(default=5.0, gt=0)  # the first wait between polls; it grows to a minute
    batch_price_in: float | None = Field(default=None, ge=0)  # USD per 1M tokens at the batch rate (overrides)
    batch_price_out: float | None = Field(default=None, ge=0)


class AnswerFile(BaseModel):
    """Existing answers to judge instead of generating: an upstream-format answer file and its model name."""

    model: str
    path: str
    sha256: str


class SourceDir(BaseModel):
    """A benchmark's data read from a folder of the user's instead of the data directory (``--mmlu-dir``):
    where it lies, and a sha256 over the names and contents of its data files, so the run knows what it read."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Verdict:
    """What a judge's reply says, as the adapter that asked reads it."""

    value: Any  # e.g. a float rating, or "A" / "B" / "tie"; None when the reply held no verdict
    failure: str | None = None  # why there is no value: "unparsable: ..." or "unsupported: ..."


class JudgeRequest(BaseModel):
    """One call to a judge, as an adapter describes it: the conversation, the decoding, how to read the
    verdict (``output_format``, read by the module ``verdict_reader`` names), and what it is about (``meta``:
    item, turn, model or models, prompt name).

    ``verdict_reader`` is the dotted name of the adapter's module that reads this request's replies: its
    ``parse(output_format, reply) -> Verdict``, and for formats that compare two answers its
    ``winner_value(output_format, winner)`` ("A": the answer shown first, "B", "tie" written in the format's
    own vocabulary, for judges that decide without text). The judging engine imports it by that name, so
    it knows no benchmark and nothing is registered at import time."""

    model_config = ConfigDict(frozen=True)
    id: str
    messages: tuple[Message, ...]
    output_format: str
    verdict_reader: str | None = None
    max_tokens: int = 2048
    temperature: float = 0.0
    top_logprobs: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    # pairwise requests: the two conversations the judge compares, in the order it is shown them (A, B), for
    # a reward-model judge, which scores conversations rather than reading the judge prompt
    candidates: tuple[tuple[Message, ...], ...] | None = None

    def cache_request(self) -> dict[str, Any]:
        """What the judge is asked: the part of the cache key that is not the judge's identity."""
        return {"messages": [m.model_dump() for m in self.messages]}

    def cache_params(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_logprobs": self.top_logprobs}


class RunSpec(BaseModel):
    schema_version: int = SCHEMA_VERSION
    benchmark: str
    model: ModelSpec | None = None  # None when judging existing answers (``answers``)
    answers: list[AnswerFile] = Field(default_factory=list)
    max_new_tokens: int | None = None  # None: the benchmark's default
    temperature: float | None = None  # None: the benchmark's (per-sample) default
    judge: JudgeSpec | None = None
    data_dir: str
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    # log-likelihood benchmarks (lm-eval): render prompts with the chat template; few-shot examples as turns
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    # MMLU: read from this folder (any of the three layouts) instead of the data directory; only these subjects
    source: SourceDir | None = None
    subjects: list[str] | None = None
    # reward-model benchmarks: the RM whose rewards are compared on preference pairs (instead of ``model``)
    reward_model: RewardSpec | None = None

    @property
    def label(self) -> str:
        """The run's model name: the model's, or the answer files' models joined with +."""
        if self.model is not None:
            return self.model.label
        if self.reward_model is not None:
            return self.reward_model.label
        return "+".join(a.model for a in self.answers) or "answers"

    def spec_hash(self) -> str:
        """Identity of the work: the same hash means the same generations and judgments, so a run can resume."""
        payload = self.model_dump(mode="json", exclude={"data_dir"})
        if payload["model"] is not None:
            payload["model"].pop("display_name", None)
            for name in MODEL_OPERATIONAL_FIELDS:
                payload["model"].pop(name)
        for answer in payload["answers"]:
            answer.pop("path")  # the content (sha256) and name matter, not where the file lies
        if payload["judge"] is not None:
            for name in JUDGE_OPERATIONAL_FIELDS:
                payload["judge"].pop(name)
            if payload["judge"]["annotator"] is None:
                payload["judge"].pop("annotator")  # hashes of runs made before annotators existed stay valid
            _reward_identity_fields(payload["judge"])
        for flag in ("apply_chat_template", "fewshot_as_multiturn"):
            if not payload[flag]:
                payload.pop(flag)  # hashes of runs made before these options existed stay valid
        if payload["source"] is not None:
            payload["source"].pop("path")  # what the folder holds matters, not where it lies
        _reward_identity_fields(payload)
        for optional in ("source", "subjects"):
            if payload[optional] is None:
                payload.pop(optional)  # hashes of runs made before these options existed stay valid
        if not payload["answers"]:
            payload.pop("answers")  # hashes of generate-only runs made before answer files existed stay valid
        return sha256_text(canonical_json(payload))[:12]


def _reward_identity_fields(payload: dict[str, Any]) -> None:
    """The part of a dumped ``reward_model`` that names the work: no display name, no operational fields;
    an absent one is left out, so hashes of runs made before reward models existed stay valid."""
    if payload.get("reward_model") is None:
        payload.pop("reward_model", None)
        return
    payload["reward_model"].pop("display_name")
    for field in RewardSpec.OPERATIONAL:
        payload["reward_model"].pop(field)
