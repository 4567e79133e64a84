"""Reward backends on tiny random RMs built here: the two Starling layouts and a sequence classifier give
the rewards their own reference forward gives, whatever the batch size or padding side."""

from __future__ import annotations

import pytest
import torch

from starling_eval.backends.base import BackendError
from starling_eval.backends.reward import HFRewardModel
from starling_eval.backends.reward_formats import load_format
from starling_eval.spec import Message, RewardSpec
from starling_eval.testing.tiny_model import build_tiny_llama, build_tiny_reward_classifier, build_tiny_starling_rm


def _chat(user: str, reply: str) -> list[Message]:
    return [Message(role="user", content=user), Message(role="assistant", content=reply)]


CHATS = [_chat("Hello? " * k, "The quick brown fox jumps over the lazy dog. " * (k % 4 + 1)) for k in range(1, 10)] + [
    _chat("Solve for x: 3x + 7 = 22.", "x = 5") + _chat("Explain each step.", "Subtract 7, then divide by 3.")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("rms")
    backbone = build_tiny_llama(root / "backbone")
    return {"seq-cls": build_tiny_reward_classifier(root / "cls"), "backbone": backbone,
            "7b": build_tiny_starling_rm(root / "rm7b", backbone, layout="7b"),
            "34b": build_tiny_starling_rm(root / "rm34b", backbone, layout="34b")}


def _spec(models, kind: str, **extra) -> RewardSpec:
    base = {"dtype": "float32", "device": "cpu"}
    if kind == "seq-cls":
        return RewardSpec(name_or_path=str(models["seq-cls"]), **base, **extra)
    return RewardSpec(name_or_path=str(models[kind]), kind="value-head", backbone=str(models["backbone"]),
                      format="starling-rm-7b" if kind == "7b" else "starling-rm-34b", **base, **extra)


@pytest.mark.parametrize("kind", ["seq-cls", "7b", "34b"])
def test_rewards_do_not_depend_on_batch_size_or_padding_side(models, kind):
    runs = {(bs, side): HFRewardModel(_spec(models, kind, batch_size=bs, padding_side=side)).reward(CHATS)
            for bs in (1, 3, 16) for side in ("left", "right")}
    alone = runs[(1, "right")]
    assert len(set(alone)) == len(CHATS)  # the rewards do tell the conversations apart
    for rewards in runs.values():
        assert rewards == pytest.approx(alone, abs=1e-5)


def test_sequence_classifier_rewards_equal_its_own_forward_on_each_text_alone(models):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rm = HFRewardModel(_spec(models, "seq-cls", batch_size=4))
    ours = rm.reward(CHATS)
    model = AutoModelForSequenceClassification.from_pretrained(models["seq-cls"], dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(models["seq-cls"])
    for chat, reward in zip(CHATS, ours, strict=True):
        text = tok.apply_chat_template([m.model_dump() for m in chat], tokenize=False)
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            assert model(**ids).logits[0, 0].item() == pytest.approx(reward, abs=1e-5)


def _starling_reference(models, kind: str, chats, *, checkpoint_decoder: bool = True) -> list[float]:
    """The model card's GPTRewardModel.forward: the decoder over right-padded ids, the value head on every
    position, the reward read just before the first pad."""
    from safetensors.torch import load_file
    from torch import nn
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    if kind == "7b":
        state = torch.load(models["7b"] / "pytorch_model.bin", weights_only=True)
        causal = AutoModelForCausalLM.from_pretrained(models["backbone"], dtype=torch.float32)
        if checkpoint_decoder:
            causal.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
        decoder = causal.model
    else:
        state = load_file(models["34b"] / "model.safetensors")
        decoder = AutoModel.from_pretrained(models["backbone"], dtype=torch.float32)
        if checkpoint_decoder:
            decoder.load_state_dict({k[len("transformer."):]: v for k, v in state.items()
                                     if k.startswith("transformer.")})
    v_head = nn.Linear(decoder.config.hidden_size, 1, bias=False)
    v_head.load_state_dict({"weight": state["v_head.weight"]})
    tok = AutoTokenizer.from_pretrained(models["backbone"])
    fmt = load_format("starling-rm-7b" if kind == "7b" else "starling-rm-34b", tok)
    enc = tok([fmt.render(c) for c in chats], padding=True, return_tensors="pt")
    with torch.inference_mode():
        rewards = v_head(decoder(enc["input_ids"], attention_mask=enc["attention_mask"])[0]).squeeze(-1)
    out = []
    for i in range(len(chats)):
        pads = (enc["input_ids"][i] == tok.pad_token_id).nonzero()
        c_ind = pads[0].item() if len(pads) else enc["input_ids"].shape[1]
        out.append(rewards[i, c_ind - 1].item())
    return out


@pytest.mark.parametrize("kind", ["7b", "34b"])
def test_starling_layouts_equal_the_model_cards_forward(models, kind):
    ours = HFRewardModel(_spec(models, kind, batch_size=4)).reward(CHATS)
    assert ours == pytest.approx(_starling_reference(models, kind, CHATS), abs=1e-5)
    # the checkpoint's decoder weights are the ones used, not the backbone's
    assert ours != pytest.approx(_starling_reference(models, kind, CHATS, checkpoint_decoder=False), abs=1e-3)
    identity = HFRewardModel(_spec(models, kind)).identity()
    assert identity["head_files"] == (["pytorch_model.bin"] if kind == "7b" else ["model.safetensors"])


def test_the_starling_formats_are_the_model_cards_strings(models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models["backbone"])
    chat = _chat("Hello?", "Hi, how can I help you?")
    assert load_format("starling-rm-7b", tok).render(chat) == "<s>[INST] Hello? </s> [/INST] Hi, how can I help you?</s>"
    assert load_format("starling-rm-34b", tok).render(chat) == (
        "<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\nHi, how can I help you?<|im_end|>")
    two = load_format("starling-rm-7b", tok).render(chat + _chat("More?", "Yes."))
    assert two == "<s>[INST] Hello? </s> [/INST] Hi, how can I help you?</s><s>[INST] More? </s> [/INST] Yes.</s>"
    # the tokenizer's own template renders a finished conversation, no generation prompt
    assert not load_format(None, tok).render(chat).endswith("<|assistant|>\n")


def test_truncation_is_explicit_and_counted(models):
    long = [_chat("Hello? " * 200, "The end.")]
    left = HFRewardModel(_spec(models, "seq-cls", max_length=32))
    right = HFRewardModel(_spec(models, "seq-cls", max_length=32, truncation_side="right"))
    ids = left.encode(long)[0]
    assert len(ids) == 32 and left.truncated == 1
    assert left.tokenizer.decode(ids).endswith("The end.</s>\n")  # left keeps the reply
    assert left.reward(long) != right.reward(long)


def test_starling_rm_7b_truncates_as_the_model_card_keeping_bos(tmp_path):
    """The card's code: ``tokenizer.truncation_side = "left"`` and ``tokenizer(text, truncation=True,
    max_length=2048)``: the BOS the tokenizer adds stays at position 0 and the text is cut after it."""
    from transformers import AutoTokenizer

    backbone = build_tiny_llama(tmp_path / "llama-with-bos", add_bos=True)  # Llama-2's tokenizer adds BOS
    rm_folder = build_tiny_starling_rm(tmp_path / "rm7b", backbone, layout="7b")
    long = [_chat("Tell me more. " * 300, "The end.")]
    rm = HFRewardModel(_spec({"7b": rm_folder, "backbone": backbone}, "7b", max_length=64))
    ids = rm.encode(long)[0]
    card = AutoTokenizer.from_pretrained(backbone)
    card.truncation_side = "left"
    text = load_format("starling-rm-7b", card).render(long[0])
    assert ids == card(text, truncation=True, max_length=64)["input_ids"]
    assert len(ids) == 64 and ids[0] == card.bos_token_id and rm.truncated == 1
    assert card.decode(ids).endswith("The end.</s>")


def test_broken_checkpoints_are_clear_errors(models, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(models["34b"] / "model.safetensors")
    no_head = tmp_path / "no_head"
    no_head.mkdir()
    save_file({k: v for k, v in state.items() if k != "v_head.weight"}, no_head / "model.safetensors")
    with pytest.raises(BackendError, match="no v_head.weight"):
        HFRewardModel(_spec({**models, "34b": no_head}, "34b")).reward(CHATS[:1])
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    save_file({k.replace("transformer.", "backbone."): v for k, v in state.items()}, renamed / "model.safetensors")
    with pytest.raises(BackendError, match="keys do not fit the model"):
        HFRewardModel(_spec({**models, "34b": renamed}, "34b")).reward(CHATS[:1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="no value-head checkpoint"):
        HFRewardModel(_spec({**models, "7b": tmp_path / "empty"}, "7b"))
