from __future__ import annotations

import pytest

from starling_eval.backends.base import BackendError, cut_at_stop, folder_fingerprint, resolve_local_model
from starling_eval.spec import ModelSpec


@pytest.mark.parametrize("hub_id", ["Qwen/Qwen2.5-7B", "berkeley-nest/Starling-LM-7B-alpha", "gpt2"])
def test_hub_ids_pass_through(hub_id):
    assert resolve_local_model(ModelSpec(name_or_path=hub_id)) == hub_id


@pytest.mark.parametrize("path", ["./nope", "/no/such/dir", "a/b/c", "~/nope"])
def test_missing_paths_are_input_errors(path):
    with pytest.raises(BackendError, match="no such model folder"):
        resolve_local_model(ModelSpec(name_or_path=path))


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(BackendError, match="no config.json"):
        resolve_local_model(ModelSpec(name_or_path=str(tmp_path)))


def test_fingerprint_changes_when_a_checkpoint_changes(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    before = folder_fingerprint(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"x" * 10)
    assert folder_fingerprint(str(tmp_path)) != before


def test_cut_at_earliest_stop():
    assert cut_at_stop("abc<|end|>def###", ["###", "<|end|>"]) == ("abc", True)
    assert cut_at_stop("abc", ["###"]) == ("abc", False)
