"""The local Batch-API server, driven through the official openai SDK as a batch judge would drive it: uploads,
the status timeline, answers equal to live chat completions, injected line faults, expiry, validation failures,
cancelling, the resubmission counter, holds with their events, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from starling_eval.testing import batch_server
from starling_eval.testing.batch_server import BatchBehaviour, serve_batches
from starling_eval.testing.server import Behaviour

TERMINAL = ("completed", "failed", "expired", "cancelled")


@pytest.fixture()
def local():
    """Start an in-process batch server from BatchBehaviour keywords; returns (batches, client, base_url)."""
    servers = []

    def start(**kwargs):
        batches = BatchBehaviour(**kwargs)
        server = serve_batches(behaviour=Behaviour(random_verdicts="single"), batches=batches)
        servers.append(server)
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return batches, OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=5.0), base_url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def request(custom_id: str, content: str, **body) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "judge", "messages": [{"role": "user", "content": content}], **body}}


def jsonl(rows: list) -> bytes:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows).encode()


def submit(client: OpenAI, rows: list, **kwargs):
    uploaded = client.files.create(file=("requests.jsonl", jsonl(rows)), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h", **kwargs)


def wait(client: OpenAI, batch_id: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while (batch := client.batches.retrieve(batch_id)).status not in TERMINAL:
        assert time.monotonic() < deadline, f"batch still {batch.status}"
        time.sleep(0.01)
    return batch


def lines_of(client: OpenAI, file_id: str | None) -> list[dict]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()] if file_id else []


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_timeline_and_answers_equal_live_chat_completions(local):
    batches, client, base_url = local(validating_s=0.08, in_progress_s=0.08, finalizing_s=0.08)
    rows = [request(f"q{i}", f"question {i}: é and \"quotes\"") for i in range(3)]
    uploaded = client.files.create(file=("requests.jsonl", jsonl(rows)), purpose="batch")
    assert (uploaded.object, uploaded.purpose, uploaded.status, uploaded.bytes) == ("file", "batch", "processed",
                                                                                   len(jsonl(rows)))
    assert client.files.content(uploaded.id).content == jsonl(rows)  # the exact bytes, non-ASCII included
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"run": "t1"})
    assert batch.id.startswith("batch_") and batch.status == "validating" and batch.metadata == {"run": "t1"}
    assert batch.output_file_id is None and batch.completed_at is None and batch.expires_at > batch.created_at
    seen = [batch.status]
    while (batch := client.batches.retrieve(batch.id)).status not in TERMINAL:
        if batch.status != seen[-1]:
            seen.append(batch.status)
        time.sleep(0.005)
    assert seen + [batch.status] == ["validating", "in_progress", "finalizing", "completed"]
    assert None not in (batch.in_progress_at, batch.finalizing_at, batch.completed_at)
    assert batch.failed_at is batch.expired_at is batch.cancelled_at is batch.error_file_id is None
    assert batch.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}

    out = lines_of(client, batch.output_file_id)
    assert [line["custom_id"] for line in out] == ["q0", "q1", "q2"]  # file order
    for line, row in zip(out, rows, strict=True):
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
        live = client.chat.completions.with_raw_response.create(**row["body"]).http_response.json()
        answer = line["response"]["body"]
        assert answer["choices"][0]["message"]["content"].startswith("The answer is relevant")
        assert {k: answer[k] for k in ("choices", "usage", "model", "object")} == \
               {k: live[k] for k in ("choices", "usage", "model", "object")}
    chat = http_json(f"{base_url}/stats")
    assert chat["served"] == 6 and chat["requests"] == 6  # 3 batch lines + 3 live completions, all paid
    assert client.batches.retrieve(batch.id).output_file_id == batch.output_file_id  # answered once only
    assert http_json(f"{base_url}/stats")["served"] == 6
    assert http_json(f"{base_url}/models")["data"][0]["id"] == "local-test-model"  # the chat routes still answer


def test_files_and_batches_listing_and_pagination(local):
    batches, client, base_url = local()
    ids = [submit(client, [request("a", f"batch {i}")]).id for i in range(5)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[::-1][:2] and first.has_more
    raw = http_json(f"{base_url}/batches?limit=2&after={ids[3]}")
    assert (raw["first_id"], raw["last_id"], raw["has_more"]) == (ids[2], ids[1], True)
    assert [b.id for b in client.batches.list(limit=2)] == ids[::-1]  # auto-pagination walks all three pages
    assert all(b.status == "completed" for b in client.batches.list())

    inputs = list(client.files.list(purpose="batch"))
    outputs = list(client.files.list(purpose="batch_output"))
    assert len(inputs) == 5 and len(outputs) == 5 and len(list(client.files.list())) == 10
    assert client.files.retrieve(inputs[0].id).filename == "requests.jsonl"
    assert client.files.delete(inputs[0].id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(inputs[0].id)
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-missing")
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
    with pytest.raises(openai.BadRequestError):
        client.batches.list(limit="many")  # type: ignore[arg-type]


def test_line_error_every_sends_lines_to_the_error_file_unanswered(local):
    _, client, base_url = local(line_error_every=2)
    batch = wait(client, submit(client, [request(f"q{i}", f"question {i}") for i in range(1, 6)]).id)
    assert batch.status == "completed"
    assert batch.request_counts.model_dump() == {"total": 5, "completed": 3, "failed": 2}
    assert [line["custom_id"] for line in lines_of(client, batch.output_file_id)] == ["q1", "q3", "q5"]
    errors = lines_of(client, batch.error_file_id)
    assert [line["custom_id"] for line in errors] == ["q2", "q4"]
    assert errors[0]["response"]["status_code"] == 500 and errors[0]["error"] is None
    assert errors[0]["response"]["body"] == {"error": {"message": "server error (injected)", "type": "server_error"}}
    assert http_json(f"{base_url}/stats")["served"] == 3  # the failed lines were not paid for


def test_expire_after_answers_the_first_lines_and_expires_the_rest(local):
    _, client, base_url = local(expire_after=2)
    batch = wait(client, submit(client, [request(f"q{i}", f"question {i}") for i in range(4)]).id)
    assert batch.status == "expired" and batch.expired_at and batch.completed_at is None
    assert batch.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 2}
    assert [line["custom_id"] for line in lines_of(client, batch.output_file_id)] == ["q0", "q1"]
    expired = lines_of(client, batch.error_file_id)
    assert [line["custom_id"] for line in expired] == ["q2", "q3"]
    assert expired[0]["response"] is None and expired[0]["error"] == {
        "code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
    assert http_json(f"{base_url}/stats")["served"] == 2

    _, client, _ = local(expire_after=0)  # nothing answered: no output file at all
    batch = wait(client, submit(client, [request("q0", "x")]).id)
    assert batch.output_file_id is None and len(lines_of(client, batch.error_file_id)) == 1


def test_invalid_lines_fail_the_batch_naming_them(local):
    _, client, base_url = local(validating_s=0.05)
    rows = [request("a", "fine"), "{not json", {**request("c", "x"), "url": "/v1/embeddings"}, request("a", "again")]
    batch = submit(client, rows)
    assert batch.status == "validating" and batch.errors is None  # revealed when validating ends
    batch = wait(client, batch.id)
    assert batch.status == "failed" and batch.failed_at and batch.in_progress_at is None
    assert [(e.code, e.line) for e in batch.errors.data] == [("invalid_request", 2), ("invalid_request", 3),
                                                             ("invalid_request", 4)]
    assert "custom_id 'a'" in batch.errors.data[2].message and batch.errors.data[0].param is None
    assert batch.output_file_id is batch.error_file_id is None
    assert http_json(f"{base_url}/stats")["served"] == 0

    _, client, _ = local(max_requests=2)
    batch = wait(client, submit(client, [request(f"q{i}", "x") for i in range(3)]).id)
    assert batch.status == "failed" and [(e.code, e.line) for e in batch.errors.data] == [("too_many_requests", 3)]


def test_bad_create_requests_are_400_and_store_nothing(local):
    batches, client, _ = local()
    uploaded = client.files.create(file=("r.jsonl", jsonl([request("a", "x")])), purpose="batch")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                              completion_window="1h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")
    other = client.files.create(file=("r.jsonl", jsonl([request("a", "x")])), purpose="user_data")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=other.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batches.stats()["batches_created"] == 0 and list(client.batches.list()) == []


def test_cancel_goes_through_cancelling_and_answers_nothing(local):
    batches, client, base_url = local(validating_s=0.02, in_progress_s=5.0, cancel_s=0.05)
    batch = submit(client, [request("q0", "x"), request("q1", "y")])
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelling" and cancelled.cancelling_at
    assert client.batches.cancel(batch.id).status == "cancelling"  # asking again changes nothing
    batch = wait(client, batch.id)
    assert batch.status == "cancelled" and batch.cancelled_at and batch.completed_at is None
    assert batch.output_file_id is batch.error_file_id is None
    assert batch.request_counts.completed == 0 and batch.request_counts.failed == 0
    assert batches.stats()["cancels"] == 1 and http_json(f"{base_url}/stats")["served"] == 0
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch.id)  # it has ended
    _, client, _ = local()
    done = wait(client, submit(client, [request("q0", "x")]).id)
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(done.id)
    with pytest.raises(openai.NotFoundError):
        client.batches.cancel("batch_missing")


def test_duplicate_custom_ids_count_resubmissions_across_batches(local):
    batches, client, _ = local()
    submit(client, [request("q0", "x"), request("q1", "y")])
    submit(client, [request("q1", "y"), request("q2", "z")])  # q1 again: a resumed run that submitted twice
    stats = batches.stats()
    assert (stats["batches_created"], stats["lines_submitted"], stats["duplicate_custom_ids"]) == (2, 4, 1)
    assert stats["files_uploaded"] == 2


def test_holds_delay_their_steps_and_events_come_in_order(local):
    hold = 0.15
    batches, client, base_url = local(holds=dict.fromkeys(
        ("upload_before", "upload_after", "create_after", "retrieve", "content"), hold))
    uploaded = {}
    thread = threading.Thread(target=lambda: uploaded.update(
        file=client.files.create(file=("r.jsonl", jsonl([request("q0", "x")])), purpose="batch")))
    start = time.monotonic()
    thread.start()
    while "upload_received" not in batches.stats()["events"]:
        time.sleep(0.005)
    assert batches.stats()["files_uploaded"] == 0  # held before anything is stored: a kill here leaves no file
    thread.join()
    assert time.monotonic() - start >= 2 * hold and batches.stats()["files_uploaded"] == 1

    start = time.monotonic()
    batch = client.batches.create(input_file_id=uploaded["file"].id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    assert time.monotonic() - start >= hold
    start = time.monotonic()
    batch = client.batches.retrieve(batch.id)
    assert time.monotonic() - start >= hold and batch.status == "completed"
    start = time.monotonic()
    assert len(lines_of(client, batch.output_file_id)) == 1
    assert time.monotonic() - start >= hold
    client.batches.list()  # neither a poll nor held
    stats = http_json(f"{base_url}/batch_stats")
    assert stats["events"] == ["upload_received", "upload_stored", "batch_created", "batch_polled", "content_served"]
    assert (stats["polls"], stats["content_downloads"]) == (1, 1)


def test_bad_settings_are_refused():
    for kwargs in ({"holds": {"nowhere": 1.0}}, {"holds": {"retrieve": -1.0}}, {"validating_s": -1.0},
                   {"expire_after": -1}):
        with pytest.raises(ValueError):
            BatchBehaviour(**kwargs)


def test_cli_starts_and_serves_chat_and_batches(tmp_path: Path):
    port_file = tmp_path / "port"
    root = Path(batch_server.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "starling_eval.testing.batch_server", "--port", "0",
                             "--port-file", str(port_file), "--random-verdicts", "single", "--line-error-every", "2",
                             "--hold", "retrieve=0.01"], env=env)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the batch server did not start"
            time.sleep(0.02)
        client = OpenAI(base_url=f"http://127.0.0.1:{port_file.read_text()}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert "Rating: [[" in reply.choices[0].message.content
        batch = wait(client, submit(client, [request("q0", "x"), request("q1", "y")]).id)
        assert batch.request_counts.model_dump() == {"total": 2, "completed": 1, "failed": 1}
        assert http_json(f"{client.base_url}batch_stats")["polls"] >= 1
    finally:
        proc.terminate()
        proc.wait(10)
