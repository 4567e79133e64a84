"""The Batch-API log: each step of a batch written down, found again by key or id, in the cache's database."""

from __future__ import annotations

import pytest

from starling_eval.store.batches import DONE, DROPPED, SUBMITTED, UPLOADED, WRITING, BatchLog, input_filename
from starling_eval.store.cache import CallCache


@pytest.fixture()
def log(tmp_path):
    cache = CallCache(tmp_path / "cache.sqlite")
    yield BatchLog(cache)
    cache.close()


def test_a_batch_moves_through_its_states_and_is_read_back_by_another_connection(log, tmp_path):
    log.begin("b1", "gpt-4", None, "OPENAI_API_KEY", {"k1": False, "k2": True})
    assert log.get("b1").state == WRITING and log.get("b1").requests == 2
    assert log.get("b1").filename == input_filename("b1") == "starling-eval-b1.jsonl"
    log.update("b1", state=UPLOADED, file_id="file-1")
    log.update("b1", state=SUBMITTED, batch_id="batch_1", status="validating")
    log.update("b1", status="in_progress", counts={"total": 2, "completed": 1, "failed": 0})

    other = BatchLog(CallCache(tmp_path / "cache.sqlite"))  # a second process sees every committed step
    record = other.get("b1")
    assert (record.state, record.file_id, record.batch_id, record.status) == (SUBMITTED, "file-1", "batch_1", "in_progress")
    assert record.counts == {"total": 2, "completed": 1, "failed": 0}
    assert other.keys("b1") == {"k1": False, "k2": True}
    assert other.find("batch_1").local_id == "b1" and other.find("b1").batch_id == "batch_1"
    assert other.find("nope") is None


def test_open_for_finds_the_open_batch_covering_each_key_and_forgets_finished_ones(log):
    log.begin("a", "gpt-4", None, "OPENAI_API_KEY", {"k1": False, "k2": False})
    log.begin("b", "gpt-4", None, "OPENAI_API_KEY", {"k3": False})
    log.begin("c", "gpt-4", None, "OPENAI_API_KEY", {"k4": False})
    log.update("b", state=DONE, status="completed")
    log.update("c", state=DROPPED)
    assert log.open_for(["k1", "k2", "k3", "k4", "k5"]) == {"k1": "a", "k2": "a"}
    assert [r.local_id for r in log.records(open_only=True)] == ["a"]
    assert {r.local_id for r in log.records()} == {"a", "b", "c"}
    many = [f"x{i}" for i in range(1200)]  # more keys than one SQL statement takes
    log.begin("big", "gpt-4", None, "OPENAI_API_KEY", dict.fromkeys(many, False))
    assert len(log.open_for(many)) == 1200


def test_the_log_refuses_unknown_fields_and_never_holds_a_key_value(log):
    log.begin("a", "gpt-4", "http://127.0.0.1:1/v1", "MY_JUDGE_KEY", {"k": False})
    with pytest.raises(ValueError, match="unknown batch record fields"):
        log.update("a", api_key="sk-secret")
    assert log.get("a").api_key_env == "MY_JUDGE_KEY"
