"""RunSpec and the small value types every layer shares.

A run is fully described by one :class:`RunSpec`: the CLI and config files only build one, and nothing
downstream reads the command line. Its hash (:meth:`RunSpec.spec_hash`) names a run for resuming.
Conversations, sampling parameters and completions live here too because backends, adapters and the
store all speak them, and this module is a leaf that imports nothing of ours.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

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
    timeout_s: float = 600.0
    max_retries: int = 6
    # vllm
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool = False
    distributed_executor_backend: str | None = None  # "mp" or "ray" (multi-node)

    @property
    def label(self) -> str:
        return self.display_name or Path(self.name_or_path.rstrip("/")).name or self.name_or_path


class JudgeSpec(BaseModel):
    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    prompt_version: str | None = None
    concurrency: int = 32


class RunSpec(BaseModel):
    schema_version: int = SCHEMA_VERSION
    benchmark: str
    model: ModelSpec
    max_new_tokens: int | None = None  # None: the benchmark's default
    temperature: float | None = None  # None: the benchmark's (per-sample) default
    judge: JudgeSpec | None = None
    data_dir: str
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0

    def spec_hash(self) -> str:
        """Identity of the work: the same hash means the same generations, so a run can resume."""
        payload = self.model_dump(mode="json", exclude={"data_dir"})
        payload["model"].pop("display_name", None)
        return sha256_text(canonical_json(payload))[:12]
