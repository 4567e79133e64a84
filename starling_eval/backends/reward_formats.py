"""How a reward model sees a conversation: the exact text it was trained on, per model family.

A reward read from the wrong format is a wrong reward that looks fine, so each RM names its format:
- ``starling-rm-7b``: the Llama-2 chat format of Starling-RM-7B-alpha's reference code, literal ``<s>``
  included (the tokenizer adds its own BOS as well, as in that code);
- ``starling-rm-34b``: the Yi chat format (``<|im_start|>user ... <|im_end|>``) of Starling-RM-34B;
- a FastChat conversation-template name, a Jinja file, or (the default) the tokenizer's own chat template,
  rendered without a generation prompt: the conversation ends with the reply being scored.

The fingerprint (sha256 of a fixed probe rendered through the format) goes into the run's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starling_eval.backends.chat_template import PROBE, TemplateError, load_template
from starling_eval.spec import Chat, Message, sha256_text


def _starling_rm_7b(chat: Sequence[Message]) -> str:
    """``<s>[INST] {user} </s> [/INST] {assistant}</s>`` per exchange, as the model card's samples."""
    parts = []
    for m in chat:
        if m.role == "user":
            parts.append(f"<s>[INST] {m.content} </s> [/INST]")
        elif m.role == "assistant":
            parts.append(f" {m.content}</s>")
        elif m.content:
            parts.append(f"<s>[INST] <<SYS>>\n{m.content}\n<</SYS>>\n\n </s> [/INST]</s>")
    return "".join(parts)


def _starling_rm_34b(chat: Sequence[Message]) -> str:
    """``<|im_start|>{role}\\n{content}<|im_end|>`` turns joined by newlines, contents stripped (Yi-34B-Chat's
    format, as the Starling authors' reward code writes it; Yi's tokenizer adds no BOS)."""
    return "\n".join(f"<|im_start|>{m.role}\n{m.content.strip()}<|im_end|>" for m in chat
                     if m.role != "system" or m.content)


NAMED: dict[str, Callable[[Sequence[Message]], str]] = {
    "starling-rm-7b": _starling_rm_7b,
    "starling-rm-34b": _starling_rm_34b,
}


@dataclass
class RewardFormat:
    source: str  # "named:<name>", "tokenizer", "jinja:<file>", "fastchat:<name>"
    add_special_tokens: bool
    _render: Callable[[Sequence[Message]], str]

    def render(self, chat: Sequence[Message]) -> str:
        return self._render(chat)

    def fingerprint(self) -> str:
        return sha256_text(f"{self.source}|special={self.add_special_tokens}|{self.render(PROBE[1:] + _REPLY)}")


_REPLY: Chat = [Message(role="assistant", content="Goodbye.")]


def load_format(name: str | None, tokenizer: Any) -> RewardFormat:
    """The RM's format: a named one, else what ``--chat-template`` accepts (tokenizer template, Jinja file,
    FastChat name), rendered as a finished conversation rather than a prompt."""
    if name in NAMED:
        return RewardFormat(source=f"named:{name}", add_special_tokens=True, _render=NAMED[name])
    template = load_template(name, tokenizer)
    if template._fastchat is not None:
        conv = template._fastchat

        def render_fastchat(chat: Sequence[Message]) -> str:
            c = conv.copy()
            for m in chat:
                if m.role == "system":
                    c.set_system_message(m.content)
                else:
                    c.append_message(c.roles[0] if m.role == "user" else c.roles[1], m.content)
            return c.get_prompt()

        return RewardFormat(source=template.source, add_special_tokens=True, _render=render_fastchat)

    def render_jinja(chat: Sequence[Message]) -> str:
        messages = [{"role": m.role, "content": m.content} for m in chat if m.role != "system" or m.content]
        try:
            return tokenizer.apply_chat_template(messages, chat_template=template._jinja, tokenize=False,
                                                 add_generation_prompt=False)
        except Exception as exc:  # jinja errors
            raise TemplateError(f"chat template {template.source} failed to render: {exc}") from exc

    return RewardFormat(source=template.source, add_special_tokens=False, _render=render_jinja)


def format_names() -> list[str]:
    return sorted(NAMED)


__all__ = ["RewardFormat", "load_format", "format_names", "TemplateError"]
