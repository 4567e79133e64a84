from __future__ import annotations

from starling_eval.spec import ModelSpec, RunSpec, Sampling


def _spec(**kw):
    return RunSpec(benchmark="mtbench", model=ModelSpec(name_or_path="m", **kw), data_dir="/d")


def test_spec_hash_ignores_display_name_and_data_location():
    a = _spec(display_name="A")
    b = _spec(display_name="B").model_copy(update={"data_dir": "/elsewhere"})
    assert a.spec_hash() == b.spec_hash()
    assert a.spec_hash() != _spec(chat_template="openchat_3.5").spec_hash()


def test_greedy_threshold_is_fastchats():
    assert Sampling(temperature=0.0).greedy and Sampling(temperature=9e-5).greedy
    assert not Sampling(temperature=1e-4).greedy
