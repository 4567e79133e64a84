"""Build a tiny random Llama with a trained BPE tokenizer and a chat template, in a second or two.

Used by the tests and the benchmarks to exercise the real loading and generation code without any
download. head_dim is 32 (vLLM's CPU attention needs at least that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

CORPUS = [
    "Compose an engaging travel blog post about a recent trip to Hawaii.",
    "Rewrite your previous response. Start every sentence with the letter A.",
    "The quick brown fox jumps over the lazy dog while the model writes an answer.",
    "Explain the difference between supervised learning and reinforcement learning from human feedback.",
    "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "Solve for x: 3x + 7 = 22. Then describe each step of the algebra in plain words.",
    "Write a persuasive essay, an email, a poem, a story, a summary and a list of numbers 0123456789.",
]


def _tiny_tokenizer(folder: Path, vocab_size: int, chat_template: bool, add_bos: bool = False) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    if add_bos:  # as Llama-2's tokenizer does: BOS before every encoded text
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                           special_tokens=[("<s>", tok.token_to_id("<s>"))])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def _tiny_config(fast: Any, **extra: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
        **extra,
    )


def build_tiny_llama(folder: Path, *, vocab_size: int = 512, seed: int = 0, chat_template: bool = True,
                     add_bos: bool = False) -> Path:
    """A random 2-layer Llama with a BPE tokenizer trained on a small corpus (``add_bos``: the tokenizer adds
    BOS to every text, as Llama-2's does)."""
    import torch
    from transformers import LlamaForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fast = _tiny_tokenizer(folder, vocab_size, chat_template, add_bos)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_tiny_config(fast))
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_reward_classifier(folder: Path, *, seed: int = 0) -> Path:
    """A Llama with a one-label sequence-classification head: the common open reward-model layout."""
    import torch
    from transformers import LlamaForSequenceClassification

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fast = _tiny_tokenizer(folder, 512, True)
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(_tiny_config(fast, num_labels=1))
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_starling_rm(folder: Path, backbone: Path, *, seed: int = 0, layout: str = "7b") -> Path:
    """Starling-RM's layout: a folder holding only ``pytorch_model.bin``, the state dict of a module with
    ``model`` (the causal LM), ``transformer`` (its decoder) and a bias-free ``v_head``, to be loaded onto
    the backbone named separately (Llama-2-7b-chat for Starling-RM-7B-alpha). ``layout="34b"``: Starling-RM-34B's,
    ``config.json`` and a safetensors file of ``transformer.*`` and ``v_head.weight`` only."""
    import torch
    from torch import nn
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    causal = AutoModelForCausalLM.from_pretrained(backbone, dtype=torch.float32)
    for p in causal.parameters():  # the RM's own fine-tuned weights differ from the backbone's
        p.data.add_(torch.randn_like(p) * 0.02)
    wrapper = nn.Module()
    wrapper.model = causal
    wrapper.transformer = causal.model
    wrapper.v_head = nn.Linear(causal.config.hidden_size, 1, bias=False)
    if layout == "7b":
        torch.save(wrapper.state_dict(), folder / "pytorch_model.bin")
        return folder
    from safetensors.torch import save_file

    causal.config.save_pretrained(folder)
    state = {k: v.contiguous() for k, v in wrapper.state_dict().items() if k.startswith(("transformer.", "v_head."))}
    save_file(state, folder / "model.safetensors")
    return folder


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m starling_eval.testing.tiny_model",
                                     description="Build a tiny random Llama (for tests and the demo) in FOLDER.")
    parser.add_argument("folder", type=Path, help="where to write the model (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--add-bos", action="store_true", help="the tokenizer adds BOS to every text (as Llama-2)")
    args = parser.parse_args(argv)
    print(build_tiny_llama(args.folder, seed=args.seed, add_bos=args.add_bos))


if __name__ == "__main__":
    main()
