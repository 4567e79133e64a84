"""Turning a conversation into the exact prompt string a local model sees.

Three sources, chosen by ``--chat-template``: the tokenizer's own template (default), a Jinja file, or a
FastChat conversation-template name (``openchat_3.5`` is Starling-LM-7B-alpha's
``GPT4 Correct User: …<|end_of_turn|>GPT4 Correct Assistant:``). FastChat prompts are tokenized with the
tokenizer's special tokens added (as FastChat's own generation does); rendered Jinja templates already
carry them. The fingerprint is the sha256 of a fixed probe conversation rendered through the template,
so two runs compare equal exactly when their models saw identically formatted prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval.spec import Chat, Message, sha256_text

PROBE: Chat = [
    Message(role="system", content="You are a helpful assistant."),
    Message(role="user", content="Hello?"),
    Message(role="assistant", content="Hi."),
    Message(role="user", content="Bye."),
]


class TemplateError(Exception):
    """The requested chat template cannot be found or applied (a user input error)."""


@dataclass
class ChatTemplate:
    source: str  # "tokenizer", "jinja:<path>", "fastchat:<name>"
    add_special_tokens: bool
    stop_strings: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    _jinja: str | None = None
    _fastchat: Any = None
    _tokenizer: Any = field(default=None, repr=False)

    def render(self, chat: Chat) -> str:
        if self._fastchat is not None:
            return _render_fastchat(self._fastchat, chat)
        messages = [{"role": m.role, "content": m.content} for m in chat]
        if messages and messages[0]["role"] == "system" and not messages[0]["content"]:
            messages = messages[1:]
        try:
            return self._tokenizer.apply_chat_template(
                messages, chat_template=self._jinja, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # jinja errors, missing template
            raise TemplateError(f"chat template {self.source} failed to render: {exc}") from exc

    def fingerprint(self) -> str:
        probe = PROBE
        try:
            rendered = self.render(probe)
        except TemplateError:  # templates that reject a system turn
            probe = PROBE[1:]
            rendered = self.render(probe)
        return sha256_text(f"{self.source}|special={self.add_special_tokens}|{rendered}")


def load_template(spec_value: str | None, tokenizer: Any) -> ChatTemplate:
    """Resolve ``--chat-template`` (None, a Jinja file path, or a FastChat name) for ``tokenizer``."""
    if spec_value is None:
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError(
                "the tokenizer has no chat template: pass --chat-template with a Jinja file or a FastChat "
                "template name (e.g. openchat_3.5)"
            )
        return ChatTemplate(source="tokenizer", add_special_tokens=False, _tokenizer=tokenizer)
    path = Path(spec_value).expanduser()
    if path.suffix in {".jinja", ".j2", ".jinja2"} or path.is_file():
        if not path.is_file():
            raise TemplateError(f"--chat-template: file not found: {path}")
        return ChatTemplate(
            source=f"jinja:{path.name}",
            add_special_tokens=False,
            _jinja=path.read_text(encoding="utf-8"),
            _tokenizer=tokenizer,
        )
    return fastchat_template(spec_value)


def fastchat_template(name: str) -> ChatTemplate:
    from fastchat.conversation import conv_templates

    if name not in conv_templates:
        raise TemplateError(
            f"--chat-template: {name!r} is neither a file nor a FastChat conversation template "
            f"(e.g. openchat_3.5, vicuna_v1.1, llama-2, chatml)"
        )
    conv = conv_templates[name].copy()
    stops = conv.stop_str if isinstance(conv.stop_str, list) else ([conv.stop_str] if conv.stop_str else [])
    return ChatTemplate(
        source=f"fastchat:{name}",
        add_special_tokens=True,
        stop_strings=tuple(stops),
        stop_token_ids=tuple(conv.stop_token_ids or ()),
        _fastchat=conv,
    )


def _render_fastchat(template: Any, chat: Chat) -> str:
    conv = template.copy()
    for message in chat:
        if message.role == "system":
            conv.set_system_message(message.content)
        elif message.role == "user":
            conv.append_message(conv.roles[0], message.content)
        else:
            conv.append_message(conv.roles[1], message.content)
    conv.append_message(conv.roles[1], None)
    return conv.get_prompt()
