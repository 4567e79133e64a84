"""A local OpenAI Batch-API server for tests: the Files and Batches endpoints beside all that ``server.py`` serves.

Batch judging fails in ways a chat server cannot show: a client killed between upload and create, before it saved
the batch id, or mid-download; a batch that fails validation, expires half answered or is cancelled. Tests provoke
each through the official ``openai`` SDK. Status is a function of a batch's age (no background thread); at its end
its lines are answered once, in file order, by ``server.complete()``, so they count as served on ``GET /stats``.
Each step appends an event before its hold, so a kill test can wait for one and kill the client during the hold
(an upload whose client leaves during ``upload_before`` is not stored). ``python -m starling_eval.testing.batch_server
--port 0 --port-file PATH`` runs it on loopback. Standard library only."""

from __future__ import annotations

import argparse
import copy
import email.parser
import email.policy
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starling_eval.testing.server import Behaviour, _Server, _wait_unless_client_leaves, complete, make_handler

ENDPOINT = "/v1/chat/completions"  # the only batch endpoint served: the judges only chat
HOLD_STEPS = ("upload_before", "upload_after", "create_after", "retrieve", "content")
COUNTERS = ("files_uploaded", "batches_created", "lines_submitted", "duplicate_custom_ids", "polls",
            "content_downloads", "cancels")
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."
INJECTED_ERROR = {"error": {"message": "server error (injected)", "type": "server_error"}}
_ROUTE = re.compile(r"^(?:/v1)?/(files|batches)(?:/([^/]+))?(?:/(content|cancel))?$")  # (kind, id, action)


def _error(status: int, message: str, code: str | None = None) -> tuple[int, dict]:
    """OpenAI's error document, so the SDK raises its matching exception (BadRequestError, NotFoundError)."""
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def _page(items: list[dict], query: dict[str, str], default: int, most: int) -> tuple[int, dict]:
    """A cursor page as OpenAI lists: the SDK asks again with ``after`` = the last id while ``has_more``."""
    if not (limit := query.get("limit", str(default))).isdigit():
        return _error(400, f"limit must be a positive integer, not {limit!r}.")
    count, ids = max(1, min(most, int(limit))), [item["id"] for item in items]
    if "after" in query:
        items = items[ids.index(query["after"]) + 1:] if query["after"] in ids else []
    page = items[:count]
    return 200, {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                 "last_id": page[-1]["id"] if page else None, "has_more": len(items) > count}


def parse_multipart(content_type: str, data: bytes) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The form fields and the ``file`` part (filename, exact bytes) of a multipart/form-data body. ``cgi`` left
    the standard library; ``email`` reads MIME once the request's Content-Type header makes the body a message."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    if not message.is_multipart():
        raise ValueError("expected a multipart/form-data body")
    fields, upload = {}, None
    for part in message.iter_parts():
        name, payload = part.get_param("name", header="content-disposition"), part.get_payload(decode=True) or b""
        if name == "file":
            upload = (part.get_filename() or "upload.jsonl", payload)
        elif name:
            fields[str(name)] = payload.decode("utf-8")
    return fields, upload


def validate_lines(data: bytes, max_requests: int) -> tuple[list[tuple[str, dict]], list[str], int, list[dict]]:
    """Check a batch input file as OpenAI does (any error fails the batch): the requests (custom_id, body), every
    custom_id seen (resubmissions count even on bad lines), the non-blank line count, errors naming 1-based lines."""
    requests, errors, seen = [], [], {}  # seen: custom_ids in file order, a dict for fast lookups in 50,000 lines
    lines = data.split(b"\n")
    numbers = [number for number, raw in enumerate(lines, 1) if raw.strip()]
    for number in numbers:
        try:
            line = json.loads(lines[number - 1])
        except ValueError:
            line = None
        cid = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(line, dict):
            problem = "This line is not a JSON object."
        elif not isinstance(cid, str) or not cid:
            problem = "custom_id must be a non-empty string."
        elif cid in seen:
            problem = f"The custom_id {cid!r} is used by an earlier line; custom_ids must be unique."
        elif line.get("method") != "POST" or line.get("url") != ENDPOINT:
            problem = f"method and url must be 'POST' and {ENDPOINT!r}, not {line.get('method')!r} {line.get('url')!r}."
        elif not isinstance(line.get("body"), dict):
            problem = "body must be a JSON object."
        else:
            problem = None
            requests.append((cid, line["body"]))
        if problem:
            errors.append({"code": "invalid_request", "message": problem, "param": None, "line": number})
        if isinstance(cid, str) and cid:
            seen[cid] = None
    if not numbers:
        errors.append({"code": "empty_file", "message": "The input file has no requests.", "param": None, "line": None})
    elif len(numbers) > max_requests:
        errors.append({"code": "too_many_requests", "param": None, "line": numbers[max_requests],
                       "message": f"The batch has {len(numbers)} requests; at most {max_requests} are allowed."})
    return requests, list(seen), len(numbers), errors


class _Batch:
    """One created batch: its public object, requests and verdict (fixed at creation), and its clock."""

    def __init__(self, obj: dict, requests: list[tuple[str, dict]], errors: list[dict]):
        self.obj, self.requests, self.errors, self.t0, self.wall0 = obj, requests, errors, time.monotonic(), time.time()
        self.cancel_t: float | None = None  # monotonic time of the cancel request
        self.done = False  # completed, expired, failed or cancelled: nothing changes any more


class BatchBehaviour:
    """Timing, faults, files, batches, counters: shared by the handler threads, guarded by ``lock`` (never taken
    while holding the chat Behaviour's lock)."""

    def __init__(self, validating_s: float = 0.0, in_progress_s: float = 0.0, finalizing_s: float = 0.0,
                 cancel_s: float = 0.0, max_requests: int = 50_000, line_error_every: int = 0,
                 expire_after: int | None = None, holds: dict[str, float] | None = None):
        if set(holds or {}) - set(HOLD_STEPS) or min(validating_s, in_progress_s, finalizing_s, cancel_s,
                                                     line_error_every, expire_after or 0, *(holds or {}).values()) < 0:
            raise ValueError(f"holds must be among {', '.join(HOLD_STEPS)}; durations, holds, line_error_every and "
                             "expire_after must be >= 0")
        self.validating_s, self.in_progress_s, self.finalizing_s = validating_s, in_progress_s, finalizing_s
        self.cancel_s, self.max_requests, self.line_error_every = cancel_s, max_requests, line_error_every
        self.expire_after, self.holds, self.lock = expire_after, dict(holds or {}), threading.Lock()
        self.files = dict[str, tuple[dict, bytes]]()
        self.batches = dict[str, _Batch]()  # in creation order, for newest-first listing
        self._submitted_ids, self.events = set[str](), list[str]()
        self.__dict__.update(dict.fromkeys(COUNTERS, 0))

    def stats(self) -> dict[str, Any]:
        """The ``GET /v1/batch_stats`` document: the counters and the events so far."""
        with self.lock:
            return {**{name: getattr(self, name) for name in COUNTERS}, "events": list(self.events)}

    def hold(self, step: str) -> None:
        """Sleep at a named step, outside the lock so other requests go on: the window a kill test uses."""
        time.sleep(self.holds.get(step, 0.0))

    def mark(self, event: str, step: str, counter: str | None = None) -> None:
        """Record (and count) a step, then hold there; the event first, so a test waiting for it kills in the hold."""
        with self.lock:
            self.events.append(event)
            setattr(self, counter, getattr(self, counter) + 1) if counter else None
        self.hold(step)

    def _store(self, data: bytes, filename: str, purpose: str) -> dict:
        """Store a file (the caller holds the lock); returns its FileObject."""
        obj = {"id": f"file-{uuid.uuid4().hex[:24]}", "object": "file", "bytes": len(data),
               "created_at": int(time.time()), "filename": filename, "purpose": purpose, "status": "processed"}
        self.files[obj["id"]] = (obj, data)
        return dict(obj)

    def upload(self, content_type: str, data: bytes) -> tuple[int, dict]:
        """Store, count and record (``upload_stored``) a file at once; then hold: stored, but the client has no id."""
        try:
            fields, upload = parse_multipart(content_type, data)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"Could not parse the upload: {exc}")
        if upload is None or not fields.get("purpose"):
            return _error(400, "An upload needs a 'file' and a 'purpose'.")
        with self.lock:
            self.files_uploaded += 1
            self.events.append("upload_stored")
            obj = self._store(upload[1], upload[0], fields["purpose"])
        self.hold("upload_after")
        return 200, obj

    def get_file(self, file_id: str, content: bool) -> tuple[int, dict | bytes]:
        """A FileObject, or its bytes: a download, counted and held (step ``content``) before they are sent."""
        with self.lock:
            found = self.files.get(file_id)
        if found and content:
            self.mark("content_served", "content", "content_downloads")
        return _error(404, f"No file {file_id}") if found is None else (200, found[1] if content else dict(found[0]))

    def list_files(self, query: dict[str, str]) -> tuple[int, dict]:
        """Newest first, filtered by ``purpose``, as OpenAI lists files."""
        with self.lock:
            objs = [dict(obj) for obj, _ in self.files.values() if query.get("purpose") in (None, obj["purpose"])]
        return _page(objs[::-1], query, 10_000, 10_000)

    def delete_file(self, file_id: str) -> tuple[int, dict]:
        with self.lock:
            gone = self.files.pop(file_id, None)
        return (200, {"id": file_id, "object": "file", "deleted": True}) if gone else _error(404, f"No file {file_id}")

    def create(self, body: Any, behaviour: Behaviour) -> tuple[int, dict]:
        """Check the create request (a 400 stores nothing), then store the batch with its lines' verdict."""
        body = body if isinstance(body, dict) else {}
        with self.lock:
            found = self.files.get(str(body.get("input_file_id")))
        for ok, message in ((found and found[0]["purpose"] == "batch", "input_file_id names no file of purpose batch."),
                            (body.get("endpoint") == ENDPOINT, f"endpoint must be {ENDPOINT!r}."),
                            (body.get("completion_window") == "24h", "completion_window must be '24h'."),
                            (isinstance(body.get("metadata") or {}, dict), "metadata must be an object.")):
            if not ok or found is None:  # found is None fails the first check: this is for the type checker
                return _error(400, message, "invalid_value")
        requests, custom_ids, lines, errors = validate_lines(found[1], self.max_requests)
        now = int(time.time())
        nulls = dict.fromkeys(("errors", "output_file_id", "error_file_id", "in_progress_at", "finalizing_at",
                               "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at"))
        obj = {"id": f"batch_{uuid.uuid4().hex[:24]}", "object": "batch", "endpoint": ENDPOINT, **nulls,
               "input_file_id": found[0]["id"], "completion_window": "24h", "status": "validating", "created_at": now,
               "expires_at": now + 24 * 3600, "request_counts": {"total": 0, "completed": 0, "failed": 0},
               "metadata": body.get("metadata")}
        with self.lock:
            batch = self.batches[obj["id"]] = _Batch(obj, requests, errors)
            self.batches_created += 1
            self.lines_submitted += lines
            self.duplicate_custom_ids += sum(c in self._submitted_ids for c in custom_ids)
            self._submitted_ids.update(custom_ids)
            self.events.append("batch_created")
            self._refresh(batch, behaviour)
            obj = copy.deepcopy(obj)
        self.hold("create_after")  # the batch exists but the client has not heard of it
        return 200, obj

    def retrieve(self, batch_id: str, behaviour: Behaviour) -> tuple[int, dict]:
        """One poll: counted and held (step ``retrieve``) first, so it answers the status after the hold."""
        self.mark("batch_polled", "retrieve", "polls")
        with self.lock:
            if (batch := self.batches.get(batch_id)) is None:
                return _error(404, f"No batch with id {batch_id!r}.")
            self._refresh(batch, behaviour)
            return 200, copy.deepcopy(batch.obj)

    def list_batches(self, query: dict[str, str], behaviour: Behaviour) -> tuple[int, dict]:
        """Newest first, as OpenAI lists them; listing refreshes each batch but counts no poll."""
        with self.lock:
            for batch in self.batches.values():
                self._refresh(batch, behaviour)
            objs = [copy.deepcopy(batch.obj) for batch in reversed(self.batches.values())]
        return _page(objs, query, 20, 100)

    def cancel(self, batch_id: str, behaviour: Behaviour) -> tuple[int, dict]:
        """Start cancelling a batch that has not ended (else 400); asking again while cancelling changes nothing."""
        with self.lock:
            if (batch := self.batches.get(batch_id)) is None:
                return _error(404, f"No batch with id {batch_id!r}.")
            self._refresh(batch, behaviour)
            if batch.done:
                return _error(400, f"Cannot cancel a batch with status {batch.obj['status']!r}.")
            if batch.cancel_t is None:
                batch.cancel_t, batch.obj["cancelling_at"] = time.monotonic(), int(time.time())
                self.cancels += 1
                self.events.append("batch_cancelled")
                self._refresh(batch, behaviour)
            return 200, copy.deepcopy(batch.obj)

    def _refresh(self, batch: _Batch, behaviour: Behaviour) -> None:
        """Bring a batch's status up to now; the caller holds the lock, which makes answering happen once."""
        if batch.done:
            return
        obj, wall, v = batch.obj, batch.wall0, self.validating_s
        p, f = v + self.in_progress_s, v + self.in_progress_s + self.finalizing_s
        reached = (time.monotonic() if batch.cancel_t is None else batch.cancel_t) - batch.t0  # a cancel stops time
        if batch.errors and reached >= v:
            obj.update(status="failed", failed_at=int(wall + v), errors={"object": "list", "data": batch.errors})
            batch.done = True
        elif not batch.errors:
            for offset, status, stamp in ((v, "in_progress", "in_progress_at"), (p, "finalizing", "finalizing_at")):
                if reached >= offset:
                    obj["status"], obj[stamp] = status, int(wall + offset)
                    obj["request_counts"]["total"] = len(batch.requests)  # known once validated
            if reached >= f:  # a cancel is only accepted before this point, so this batch was not cancelled
                obj["status"] = "completed" if self.expire_after is None else "expired"
                obj[obj["status"] + "_at"] = int(wall + f)
                self._answer(batch, behaviour)
                batch.done = True
        if batch.cancel_t is not None and not batch.done:
            obj["status"] = "cancelling"
            if time.monotonic() - batch.cancel_t >= self.cancel_s:  # nothing answered: no files, completed 0
                obj.update(status="cancelled", cancelled_at=int(wall + batch.cancel_t - batch.t0 + self.cancel_s),
                           request_counts={"total": len(batch.requests), "completed": 0, "failed": 0})
                batch.done = True

    def _answer(self, batch: _Batch, behaviour: Behaviour) -> None:
        """Answer every line once, in file order, into output and error files (none where empty). A line counts as a
        chat request but draws no chat fault, so live chat faults stay where their seed puts them."""
        output, failed = [], []
        for i, (custom_id, body) in enumerate(batch.requests, 1):
            row: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id}
            if self.expire_after is not None and i > self.expire_after:
                failed.append({**row, "response": None, "error": {"code": "batch_expired", "message": EXPIRED_MESSAGE}})
            elif self.line_error_every and i % self.line_error_every == 0:
                failed.append({**row, "response": {"status_code": 500, "request_id": uuid.uuid4().hex,
                                                   "body": INJECTED_ERROR}, "error": None})
            else:
                with behaviour.lock:
                    behaviour.requests += 1
                    n = behaviour.requests
                status, answer = complete(behaviour, body, n, unparsable=False)
                row.update(response={"status_code": status, "request_id": uuid.uuid4().hex, "body": answer}, error=None)
                (output if status == 200 else failed).append(row)  # a 400 (bad top_logprobs) is a failed line
        for key, rows, tag in (("output_file_id", output, "output"), ("error_file_id", failed, "error")):
            data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
            batch.obj[key] = self._store(data, f"{batch.obj['id']}_{tag}.jsonl", "batch_output")["id"] if rows else None
        batch.obj["request_counts"] = {"total": len(batch.requests), "completed": len(output), "failed": len(failed)}


def make_batch_handler(behaviour: Behaviour, batches: BatchBehaviour) -> type[BaseHTTPRequestHandler]:
    """The chat server's handler with the Files and Batches routes tried first; anything else falls through."""

    class BatchHandler(make_handler(behaviour)):  # type: ignore[misc]
        def _ours(self, method: str) -> tuple[int, dict | bytes] | None:
            """The answer to a Files, Batches or batch_stats request; None leaves the request to the parent."""
            match = _ROUTE.match(self._route())
            kind, ident, action = match.groups() if match else (None, None, None)
            route = (method, kind, ident is not None, action)
            query = {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}
            # read the whole body of a request of ours, so the keep-alive connection stays in step
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" and match else b""
            if route == ("GET", None, False, None) and self._route().endswith("/batch_stats"):
                return 200, batches.stats()
            if route in (("GET", "files", True, None), ("GET", "files", True, "content")):
                return batches.get_file(ident, content=action == "content")
            if route == ("DELETE", "files", True, None):
                return batches.delete_file(ident)
            if route == ("GET", "batches", True, None):
                return batches.retrieve(ident, behaviour)
            if route == ("POST", "batches", True, "cancel"):
                return batches.cancel(ident, behaviour)
            if route[:3] == ("GET", "files", False):
                return batches.list_files(query)
            if route[:3] == ("GET", "batches", False):
                return batches.list_batches(query, behaviour)
            if route[:3] == ("POST", "files", False):
                batches.mark("upload_received", "")  # body read; held while the client stays, nothing stored yet
                if not _wait_unless_client_leaves(self.connection, batches.holds.get("upload_before", 0.0)):
                    return 499, {"error": {"message": "the client left: nothing stored"}}
                return batches.upload(self.headers.get("Content-Type", ""), body)
            if route[:3] == ("POST", "batches", False):
                try:
                    return batches.create(json.loads(body or b"{}"), behaviour)
                except ValueError:
                    return _error(400, "The body is not JSON.")
            return None if not match else _error(404, f"No route {method} {self.path}")

        def do_GET(self) -> None:  # also do_POST and do_DELETE: ``self.command`` names the method
            answer = self._ours(self.command)
            if answer is None:
                getattr(super(), f"do_{self.command}")()
            elif isinstance(answer[1], bytes):
                self._send_raw("application/octet-stream", answer[1])
            else:
                self._send(*answer)

        do_POST = do_DELETE = do_GET

    return BatchHandler


def serve_batches(host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None,
                  batches: BatchBehaviour | None = None) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (its port, ``.behaviour`` and ``.batches``)."""
    behaviour, batches = behaviour or Behaviour(), batches or BatchBehaviour()
    server = _Server((host, port), make_batch_handler(behaviour, batches))
    server.behaviour, server.batches = behaviour, batches  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--seed", type=int, default=0, help="for random verdicts")
    parser.add_argument("--random-verdicts", choices=("single", "pair", "arena"), help="verdicts from --seed and the messages")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of live chat completions")
    for phase in ("validating", "in-progress", "finalizing", "cancel"):
        parser.add_argument(f"--{phase}-s", type=float, default=0.0, help=f"seconds a batch spends {phase}")
    parser.add_argument("--max-requests", type=int, default=50_000, help="lines allowed in one batch")
    parser.add_argument("--line-error-every", type=int, default=0, help="every Nth batch line fails with 500")
    parser.add_argument("--expire-after", type=int, help="the batch expires after answering this many lines")
    parser.add_argument("--hold", action="append", default=[], metavar="STEP=SECONDS",  # a ValueError: usage error
                        type=lambda spec: (spec.partition("=")[0], float(spec.partition("=")[2])),
                        help=f"sleep at a step ({', '.join(HOLD_STEPS)}); repeatable")
    args = parser.parse_args(argv)
    try:
        behaviour = Behaviour(latency_ms=args.latency_ms, random_verdicts=args.random_verdicts, seed=args.seed)
        batches = BatchBehaviour(args.validating_s, args.in_progress_s, args.finalizing_s, args.cancel_s,
                                 args.max_requests, args.line_error_every, args.expire_after, dict(args.hold))
    except ValueError as exc:  # bad settings: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
    server = _Server(("127.0.0.1", args.port), make_batch_handler(behaviour, batches))
    if args.port_file:  # written aside, then renamed: a reader never sees half a port number
        (tmp := args.port_file.with_suffix(".tmp")).write_text(str(server.server_address[1]))
        tmp.replace(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
