"""Reward models: conversations in, one scalar each, independent of batch size and padding.

Two architectures:
- ``seq-cls``: ``AutoModelForSequenceClassification`` with one label. Decoder models (a ``score`` head on
  a backbone, as Llama/Mistral/Qwen classifiers) are pooled here at the last attended token, from the
  attention mask; transformers' own pooling looks for the last token that is not ``pad_token_id``, which
  goes wrong when the pad token is also the EOS that ends every conversation. Other models (encoders with
  their own pooler) use the model's logits as they are.
- ``value-head``: the Starling-RM architecture: a causal-LM backbone with a bias-free ``Linear(hidden, 1)``
  value head, both loaded from one checkpoint file (keys ``model.*``/``transformer.*`` and
  ``v_head.weight``), the reward read at the last real token.

Each text is tokenized alone, truncated on an explicit side to an explicit maximum length (inside the
tokenizer, so a BOS it adds stays at position 0, as in the Starling-RM model cards' code), then batched
with explicit padding; right padding is masked out by causal attention, and left padding gets position
ids counted from the first real token, so either side gives the same rewards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from starling_eval.backends.base import BackendError, folder_fingerprint, tokenizer_error
from starling_eval.backends.reward_formats import RewardFormat, load_format
from starling_eval.spec import Message, RewardSpec

CHECKPOINT_SUFFIXES = (".pt", "model.bin")


class RewardModel(Protocol):
    spec: RewardSpec

    def reward(self, chats: Sequence[Sequence[Message]]) -> list[float]: ...

    def identity(self) -> dict[str, Any]: ...


def find_checkpoint(source: str) -> list[Path]:
    """A value-head RM's checkpoint: a file given as such; else, in the folder, the first ``*.pt`` or
    ``*model.bin`` (Starling-RM-7B-alpha's loader's rule), else its ``*.safetensors`` shards (Starling-RM-34B)."""
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BackendError(f"--reward-model {source}: no such folder or checkpoint file")
    for item in sorted(path.iterdir()):
        if item.name.endswith(CHECKPOINT_SUFFIXES):
            return [item]
    shards = sorted(path.glob("*.safetensors"))
    if shards:
        return shards
    raise BackendError(f"--reward-model {source}: no value-head checkpoint (*.pt, *model.bin or *.safetensors)")


def _read_state(files: list[Path]) -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {}
    for file in files:
        try:
            if file.suffix == ".safetensors":
                from safetensors.torch import load_file

                state.update(load_file(file))
            else:
                state.update(torch.load(file, map_location="cpu", weights_only=True))
        except Exception as exc:
            raise BackendError(f"--rm-head-file {file}: not a readable checkpoint ({exc})") from exc
    return state


class HFRewardModel:
    """A transformers reward model, loaded at construction (scoring is the only thing it is for)."""

    def __init__(self, spec: RewardSpec):
        from starling_eval.backends.hf import quiet_transformers

        quiet_transformers()
        self.spec = spec
        self.truncated = 0  # texts cut to max_length so far
        # Starling's RM repos ship weights only: the tokenizer is the backbone's
        tokenizer_source = spec.backbone if spec.kind == "value-head" and spec.backbone else spec.name_or_path
        self.tokenizer = self._tokenizer(tokenizer_source)
        self.format: RewardFormat = load_format(spec.format, self.tokenizer)
        self.device = spec.device or _default_device()
        self.head_files: list[Path] = []
        if spec.kind == "value-head":
            self.head_files = find_checkpoint(spec.head_file or spec.name_or_path)
        self.model: Any = None  # loaded on the first reward() call: a warm re-run reads every reward from the cache
        self.head: Any = None
        self.loaded_keys = self.missing_keys = 0

    def _tokenizer(self, source: str) -> Any:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(source, revision=self.spec.revision,
                                                trust_remote_code=self.spec.trust_remote_code)
        except OSError as exc:
            raise tokenizer_error("--reward-model", source, exc) from exc
        tok.truncation_side = self.spec.truncation_side
        tok.padding_side = self.spec.padding_side
        return tok

    def _dtype(self) -> Any:
        import torch

        if self.spec.dtype == "auto":
            return "auto"
        dtype = getattr(torch, self.spec.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise BackendError(f"--rm-dtype {self.spec.dtype}: not a torch dtype (float32, bfloat16, float16, auto)")
        return dtype

    def _load(self) -> tuple[Any, Any]:
        from transformers import AutoModelForSequenceClassification

        spec = self.spec
        try:
            if spec.kind == "seq-cls":
                model = AutoModelForSequenceClassification.from_pretrained(
                    spec.name_or_path, revision=spec.revision, dtype=self._dtype(),
                    trust_remote_code=spec.trust_remote_code)
                if model.config.num_labels != 1:
                    raise BackendError(f"--reward-model {spec.name_or_path}: a classifier with "
                                       f"{model.config.num_labels} labels, not a reward model (1 label)")
                head = getattr(model, "score", None)
                return model.to(self.device).eval(), head
            module, head = self._value_head_module()
        except OSError as exc:
            raise BackendError(f"--reward-model {spec.name_or_path}: cannot load weights "
                               f"({str(exc).splitlines()[0]})") from exc
        return module.to(self.device).eval(), head.to(self.device)

    def _value_head_module(self) -> tuple[Any, Any]:
        """Starling's module layouts, so the checkpoint's keys land where its own code put them:
        - 7B-alpha: ``model`` (the whole causal LM, loaded first from the backbone), ``transformer`` (its
          decoder, the same tensors) and ``v_head``, from one ``.pt``/``.bin`` file;
        - 34B: ``transformer`` (a decoder built from the config, every weight from the checkpoint) and
          ``v_head``, from safetensors shards.
        Every checkpoint key must be used and the head must be there: a silent ``strict=False`` mismatch
        would score with the untrained backbone."""
        from torch import nn
        from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

        spec = self.spec
        where = ", ".join(str(f) for f in self.head_files)
        state = _read_state(self.head_files)
        if "v_head.weight" not in state:
            raise BackendError(f"--rm-head-file {where}: no v_head.weight (not a value-head reward model)")
        wrapper = nn.Module()
        whole_lm = any(k.startswith("model.") for k in state)
        if whole_lm:
            causal = AutoModelForCausalLM.from_pretrained(spec.backbone or spec.name_or_path, revision=spec.revision,
                                                          dtype=self._dtype(), trust_remote_code=spec.trust_remote_code)
            wrapper.model = causal
            wrapper.transformer = causal.model
            dtype = causal.dtype
        else:
            config_source = spec.name_or_path if (Path(spec.name_or_path) / "config.json").is_file() else spec.backbone
            config = AutoConfig.from_pretrained(config_source or spec.name_or_path,
                                                trust_remote_code=spec.trust_remote_code)
            wrapper.transformer = AutoModel.from_config(config, trust_remote_code=spec.trust_remote_code)
            dtype = state["v_head.weight"].dtype if spec.dtype == "auto" else self._dtype()
            wrapper.transformer.to(dtype)
        wrapper.v_head = nn.Linear(wrapper.transformer.config.hidden_size, 1, bias=False, dtype=dtype)
        missing, unexpected = wrapper.load_state_dict(state, strict=False)
        if unexpected:
            raise BackendError(f"--rm-head-file {where}: {len(unexpected)} keys do not fit the model "
                               f"(e.g. {unexpected[0]}); wrong --rm-backbone?")
        if not whole_lm and missing:
            raise BackendError(f"--rm-head-file {where}: {len(missing)} decoder weights missing (e.g. {missing[0]})")
        self.loaded_keys, self.missing_keys = len(state), len(missing)
        return wrapper, wrapper.v_head

    def encode(self, chats: Sequence[Sequence[Message]]) -> list[list[int]]:
        """Token ids per conversation, each truncated alone (so a batch never changes a text's tokens)."""
        texts = [self.format.render(chat) for chat in chats]
        out = []
        special = self.format.add_special_tokens
        for text in texts:
            ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
            if len(ids) > self.spec.max_length:
                # cut inside the tokenizer, as the Starling-RM cards' code does: the special tokens it adds (BOS
                # at position 0) are kept and the text itself is cut on the tokenizer's truncation side
                self.truncated += 1
                ids = self.tokenizer(text, add_special_tokens=special, truncation=True,
                                     max_length=self.spec.max_length)["input_ids"]
            out.append(ids)
        return out

    def reward(self, chats: Sequence[Sequence[Message]]) -> list[float]:
        if self.model is None:
            self.model, self.head = self._load()
        encoded = self.encode(chats)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # less padding; order does not matter
        rewards: dict[int, float] = {}
        size = self.spec.batch_size
        for start in range(0, len(order), size):
            batch = order[start: start + size]
            scores = self._forward([encoded[i] for i in batch])
            rewards.update(zip(batch, scores, strict=True))
        return [rewards[i] for i in range(len(encoded))]

    def _forward(self, batch: list[list[int]]) -> list[float]:
        import torch

        width = max(len(ids) for ids in batch)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        left = self.spec.padding_side == "left"
        rows, masks = [], []
        for ids in batch:
            fill = [pad] * (width - len(ids))
            rows.append(fill + ids if left else ids + fill)
            ones, zeros = [1] * len(ids), [0] * (width - len(ids))
            masks.append(zeros + ones if left else ones + zeros)
        input_ids = torch.tensor(rows, device=self.device)
        mask = torch.tensor(masks, device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        last = torch.full((len(batch),), width - 1, device=self.device) if left else mask.sum(-1) - 1
        with torch.inference_mode():
            if self.head is None:  # an encoder classifier: its own pooling
                return self.model(input_ids=input_ids, attention_mask=mask).logits[:, 0].float().tolist()
            decoder = self.model.transformer if self.spec.kind == "value-head" else self.model.base_model
            hidden = decoder(input_ids=input_ids, attention_mask=mask, position_ids=positions).last_hidden_state
            picked = hidden[torch.arange(len(batch), device=self.device), last]
            return self.head(picked)[:, 0].float().tolist()

    def identity(self) -> dict[str, Any]:
        """What makes two runs' rewards comparable: the weights, the head, the format, the tokenization."""
        spec = self.spec
        return {"kind": spec.kind, "model": spec.name_or_path, "backbone": spec.backbone,
                "weights": folder_fingerprint(spec.backbone or spec.name_or_path) or spec.revision,
                "head_files": [f.name for f in self.head_files], "format": self.format.source,
                "head_weights": folder_fingerprint(spec.name_or_path) if spec.kind == "value-head" else None,
                "format_sha256": self.format.fingerprint(), "max_length": spec.max_length,
                "truncation_side": spec.truncation_side, "dtype": spec.dtype}

    def provenance(self) -> dict[str, Any]:
        """The identity plus how the rewards were computed (padding and batch size leave them unchanged)."""
        return {**self.identity(), "padding_side": self.spec.padding_side, "batch_size": self.spec.batch_size,
                "device": self.device, "truncated": self.truncated, "checkpoint_keys": self.loaded_keys,
                "backbone_keys_not_in_checkpoint": self.missing_keys,
                "pooling": None if self.model is None else ("last-token" if self.head is not None else "model")}


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
