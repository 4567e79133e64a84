"""Chat templates: the tokenizer's own, a Jinja file, and FastChat's (Starling-LM's openchat_3.5)."""

from __future__ import annotations

import pytest

from starling_eval.backends.chat_template import TemplateError, load_template
from starling_eval.backends.hf import encode_prompts
from starling_eval.spec import Message


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


CHAT = [Message(role="user", content="Hi there"), Message(role="assistant", content="Hello!"),
        Message(role="user", content="Tell me more")]


def test_tokenizer_template_is_the_default(tokenizer):
    t = load_template(None, tokenizer)
    assert t.render(CHAT) == "<s><|user|>\nHi there</s>\n<|assistant|>\nHello!</s>\n<|user|>\nTell me more</s>\n<|assistant|>\n"
    assert not t.add_special_tokens
    ids = encode_prompts(tokenizer, t, [CHAT])[0]
    assert ids.count(tokenizer.bos_token_id) == 1  # no doubled BOS


def test_starling_openchat_template(tokenizer):
    t = load_template("openchat_3.5", tokenizer)
    assert t.render(CHAT) == ("GPT4 Correct User: Hi there<|end_of_turn|>GPT4 Correct Assistant: Hello!<|end_of_turn|>"
                              "GPT4 Correct User: Tell me more<|end_of_turn|>GPT4 Correct Assistant:")
    assert t.add_special_tokens and t.source == "fastchat:openchat_3.5"


def test_jinja_file_and_fingerprints_differ(tokenizer, tmp_path):
    path = tmp_path / "plain.jinja"
    path.write_text("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:")
    t = load_template(str(path), tokenizer)
    assert t.render(CHAT).endswith("user: Tell me more\nassistant:")
    prints = {load_template(x, tokenizer).fingerprint() for x in (None, str(path), "openchat_3.5", "vicuna_v1.1")}
    assert len(prints) == 4
    assert load_template(None, tokenizer).fingerprint() == load_template(None, tokenizer).fingerprint()


def test_unknown_template_and_missing_file(tokenizer, tmp_path):
    with pytest.raises(TemplateError, match="neither a file nor a FastChat"):
        load_template("not-a-template", tokenizer)
    with pytest.raises(TemplateError, match="file not found"):
        load_template(str(tmp_path / "missing.jinja"), tokenizer)


def test_tokenizer_without_template_needs_an_explicit_one(tokenizer):
    bare = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    bare.chat_template = None
    with pytest.raises(TemplateError, match="has no chat template"):
        load_template(None, bare)
