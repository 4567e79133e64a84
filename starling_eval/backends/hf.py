"""Hugging Face transformers backend: AutoModelForCausalLM on CPU or CUDA, batched, left-padded.

Greedy below temperature 1e-4 (FastChat's rule), sampling otherwise with a seed set per batch so reruns
repeat. Prompts are rendered by the chat template and tokenized exactly once here; the vLLM backend feeds
the same token ids, which is why the two agree token for token under greedy decoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from starling_eval.backends.base import (
    BackendError,
    cut_at_stop,
    local_identity,
    resolve_local_model,
    resolved_dtype,
    tokenizer_error,
)
from starling_eval.backends.chat_template import load_template
from starling_eval.spec import Chat, Completion, ModelSpec, Sampling


def quiet_transformers() -> None:
    """No download/loading progress bars or advisory warnings on our console."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def load_tokenizer(name: str, spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, revision=spec.revision, trust_remote_code=spec.trust_remote_code)
    except OSError as exc:
        raise tokenizer_error("--model", spec.name_or_path, exc) from exc


def encode_prompts(tokenizer: Any, template: Any, chats: Sequence[Chat]) -> list[list[int]]:
    """Token ids of each rendered prompt, as both local backends feed them to the model."""
    prompts = [template.render(chat) for chat in chats]
    return [tokenizer(p, add_special_tokens=template.add_special_tokens)["input_ids"] for p in prompts]


def finish_text(tokenizer: Any, ids: list[int], params: Sampling, template: Any) -> tuple[str, list[int], str]:
    """Decode new tokens: stop at stop-token ids, cut at stop strings, drop special tokens (FastChat's cleanup)."""
    finish = "length"
    eos = set(template.stop_token_ids)
    if tokenizer.eos_token_id is not None:
        eos.add(tokenizer.eos_token_id)
    for i, tok in enumerate(ids):
        if tok in eos:
            ids, finish = ids[:i], "stop"
            break
    text = tokenizer.decode(ids, skip_special_tokens=True)
    text, stopped = cut_at_stop(text, tuple(params.stop) + template.stop_strings)
    return text.strip(), ids, "stop" if stopped else finish


class HFChatModel:
    """Tokenizer and template load at once (they define the cache identity); weights on the first miss."""

    def __init__(self, spec: ModelSpec):
        quiet_transformers()
        self.spec = spec
        self.chunk_size = max(1, spec.batch_size)
        self._name = resolve_local_model(spec)
        self.tokenizer = load_tokenizer(self._name, spec)
        self.template = load_template(spec.chat_template, self.tokenizer)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        self.model: Any = None
        self.device = spec.device
        self._lock = asyncio.Lock()

    def _load_weights(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        spec = self.spec
        device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
        name = resolved_dtype(spec, self._name)  # the same dtype the vllm backend runs
        dtype = "auto" if name == "auto" else getattr(torch, name, None)
        if not isinstance(dtype, str | torch.dtype):
            raise BackendError(f"--dtype {spec.dtype}: not a torch dtype (float32, bfloat16, float16, auto)")
        try:
            model = AutoModelForCausalLM.from_pretrained(
                self._name, revision=spec.revision, dtype=dtype, trust_remote_code=spec.trust_remote_code
            )
        except OSError as exc:
            raise BackendError(f"--model {spec.name_or_path}: cannot load weights ({str(exc).splitlines()[0]})") from exc
        self.model = model.to(device).eval()
        self.device = device

    def identity(self) -> dict[str, Any]:
        return local_identity("hf", self.spec, self._name, self.template)

    def provenance(self) -> dict[str, Any]:
        return {
            **self.identity(),
            "chat_template_source": self.template.source,
            "dtype_requested": self.spec.dtype,
            "device": self.device,
            "batch_size": self.spec.batch_size,
        }

    async def generate(self, chats: Sequence[Chat], params: Sampling) -> list[Completion]:
        # In the calling thread, not a worker thread: on a CPU, torch in a second thread runs beside the idle
        # OpenMP team of the first and was 1.3x slower than a bare model.generate (benchmarks/bench_backends.py).
        async with self._lock:  # one forward pass at a time
            return self._generate_sync(list(chats), params)

    def _generate_sync(self, chats: list[Chat], params: Sampling) -> list[Completion]:
        import torch

        if self.model is None:
            self._load_weights()
        out: list[Completion] = []
        encoded = encode_prompts(self.tokenizer, self.template, chats)
        for start in range(0, len(encoded), self.chunk_size):
            batch = encoded[start : start + self.chunk_size]
            width = max(len(ids) for ids in batch)
            pad = self.tokenizer.pad_token_id
            input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch], device=self.device)
            attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=self.device)
            kwargs: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "pad_token_id": pad}
            if params.greedy:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            else:
                torch.manual_seed(params.seed)
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=None)
            with torch.inference_mode():
                generated = self.model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
            for ids, row in zip(batch, generated[:, width:].tolist(), strict=True):
                text, kept, finish = finish_text(self.tokenizer, row, params, self.template)
                out.append(
                    Completion(
                        text=text,
                        finish_reason=finish,
                        prompt_tokens=len(ids),
                        completion_tokens=len(kept),
                        token_ids=kept,
                    )
                )
        return out

    def close(self) -> None:
        self.model = None
