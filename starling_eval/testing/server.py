"""A local OpenAI-compatible chat server for tests and benchmarks: the stand-in for an LLM judge.

It answers ``POST /v1/chat/completions`` deterministically, so judge pipelines (MT-Bench single ratings,
AlpacaEval / MT-Bench pairwise verdicts) can be tested without paying anyone. The reply text comes from the
first of these that applies:

1. ``--script FILE``: a JSON list of rules ``{"match": regex, "reply": text, "top_logprobs": {tok: lp}}``;
   the first whose regex matches the last user message wins (``reply`` defaults to the likeliest token).
2. ``reply_fn``: a callable given the list of message dicts (``--reply-fn module:function`` on the CLI).
3. ``--reply TEXT``: one fixed text for every request.
4. ``--random-verdicts single|pair|arena``: "... Rating: [[7]]" (1..10), "... [[A]]" / "[[B]]" / "[[C]]", or an
   Arena-Hard label "... [[A>B]]" (``A>>B`` … ``B>>A``), chosen from ``--seed`` and a hash of the messages, so a
   re-asked prompt gets the same verdict.
5. otherwise an echo of the last user message.

Logprobs: a request with ``"logprobs": true`` gets OpenAI-shaped ``choices[0].logprobs.content``, one entry
per token, a token being a whitespace-delimited word with its leading whitespace (so the tokens join back
into the text); ``top_logprobs`` (0..20) alternatives each. ``--no-logprobs`` answers ``null`` regardless.

Faults, by request number (``--fail-every N``: 500, ``--rate-limit-every N``: 429 with ``Retry-After:
--retry-after``) or by rate from a ``random.Random(--seed)`` stream, one draw per request, at most one fault
each: ``--rate-429 P``, ``--rate-500 P``, ``--rate-timeout P`` (wait ``--hang-s`` then 500; other requests
go on meanwhile), ``--rate-unparsable P`` (a paid 200 whose text holds no verdict), ``--rate-malformed P``
(a 200 that is no chat completion: a proxy's HTML page, invalid or truncated JSON, no choices, empty content,
wrong types; ``--malformed`` names which, used in turn). ``--latency-ms`` delays every answer.

``GET /stats`` counts requests, served (paid) completions, faults by kind, unparsable replies, requests
abandoned by a client that hung up during the latency (not served, not billed), distinct and duplicate
paid requests (how tests prove a resumed run paid for nothing twice) and tokens; ``POST
/stats/reset`` or ``DELETE /stats`` zeroes them. ``GET /models`` lists one model.

Run it with ``python -m starling_eval.testing.server --port 0 --port-file PATH``. It listens on loopback only.
Standard library only, so importing it is cheap.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

UNPARSABLE_REPLY = "I am unable to judge this response."
CHOSEN_LOGPROB = -0.01  # a near-certain token, as a greedy judge's verdict usually is
MAX_TOP_LOGPROBS = 20  # OpenAI's limit
# Keys that do not change what a completion would be, left out when deciding whether a request was paid before.
_BOOKKEEPING_KEYS = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})
FAULT_KINDS = ("429", "500", "timeout", "malformed")
VERDICT_KINDS = ("single", "pair", "arena")  # MT-Bench rating, MT-Bench pair, Arena-Hard label
ARENA_LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
# what a malformed reply looks like: HTTP 200 whose body is not a chat completion (``--malformed`` picks, in turn)
MALFORMED_KINDS = ("html", "bad-json", "truncated", "no-choices", "empty", "wrong-types")


class Rule:
    """One ``--script`` rule: a regex over the last user message, its reply and optional first-token logprobs."""

    def __init__(self, spec: dict):
        self.pattern = re.compile(spec["match"], re.S)
        top = spec.get("top_logprobs")
        self.top_logprobs = {str(k): float(v) for k, v in top.items()} if top else None
        if "reply" in spec:
            self.reply = str(spec["reply"])
        elif self.top_logprobs:  # a logprob-only rule answers with its likeliest token
            self.reply = max(self.top_logprobs, key=self.top_logprobs.__getitem__)
        else:
            raise ValueError(f"script rule {spec!r} needs a 'reply' (or 'top_logprobs')")


class Behaviour:
    """What the server answers and the counters it keeps; shared by every handler thread, guarded by ``lock``.

    The first six arguments are the original ones (positional order kept); the rest are keyword-only.
    """

    def __init__(self, script: list[dict] | None = None, latency_ms: float = 0.0, fail_every: int = 0,
                 rate_limit_every: int = 0, retry_after_s: float = 0.05, max_tokens_words: bool = True, *,
                 reply: str | None = None, reply_fn: Callable[[list[dict]], str] | None = None,
                 random_verdicts: str | None = None, seed: int = 0, logprobs: bool = True,
                 rate_429: float = 0.0, rate_500: float = 0.0, rate_timeout: float = 0.0,
                 rate_unparsable: float = 0.0, hang_s: float = 30.0, rate_malformed: float = 0.0,
                 malformed: tuple[str, ...] = MALFORMED_KINDS):
        if random_verdicts not in (None, *VERDICT_KINDS):
            raise ValueError(f"random_verdicts must be one of {', '.join(VERDICT_KINDS)}, not {random_verdicts!r}")
        rates = (rate_429, rate_500, rate_timeout, rate_unparsable, rate_malformed)
        unknown = [k for k in malformed if k not in MALFORMED_KINDS]
        if unknown or not malformed:
            raise ValueError(f"malformed kinds must be among {', '.join(MALFORMED_KINDS)}, got {malformed!r}")
        self.malformed = tuple(malformed)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must each be in [0, 1] and sum to at most 1, got {rates}")
        self.rules = [Rule(r) for r in (script or [])]
        self.latency_s = latency_ms / 1000.0
        self.fail_every = fail_every
        self.rate_limit_every = rate_limit_every
        self.retry_after_s = retry_after_s
        self.max_tokens_words = max_tokens_words
        self.reply = reply
        self.reply_fn = reply_fn
        self.random_verdicts = random_verdicts
        self.seed = seed
        self.logprobs = logprobs
        self.rate_429, self.rate_500, self.rate_timeout, self.rate_unparsable, self.rate_malformed = rates
        self.hang_s = hang_s
        self.lock = threading.Lock()
        self.reset()

    # -- counters ------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Zero every counter and restart the fault stream, so a benchmark phase starts as a fresh server would."""
        with self.lock:
            self.requests = 0
            self.served = 0
            self.faults = 0
            self.faults_by_kind = dict.fromkeys(FAULT_KINDS, 0)
            self.unparsable = 0
            self.abandoned = 0
            self.prompt_tokens = 0
            self.completion_tokens = 0
            self._paid: set[str] = set()
            self._fault_rng = random.Random(self.seed)

    def stats(self) -> dict[str, Any]:
        """The ``GET /stats`` document."""
        with self.lock:
            return {
                "requests": self.requests, "served": self.served, "faults": self.faults,
                "faults_by_kind": dict(self.faults_by_kind), "unparsable": self.unparsable, "abandoned": self.abandoned,
                "distinct_served": len(self._paid), "duplicate_served": self.served - len(self._paid),
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            }

    def begin_request(self) -> tuple[int, str | None]:
        """Number the request and decide its fault (None, "429", "500", "timeout" or "unparsable").

        The uniform draw happens for every request under the lock, so the same seed and request order give
        the same faults whatever the rates; the every-Nth options take precedence, as they always have.
        """
        with self.lock:
            self.requests += 1
            n = self.requests
            u = self._fault_rng.random()
            kind = None
            if self.rate_limit_every and n % self.rate_limit_every == 0:
                kind = "429"
            elif self.fail_every and n % self.fail_every == 0:
                kind = "500"
            else:
                edge = 0.0
                for name, rate in (("429", self.rate_429), ("500", self.rate_500),
                                   ("timeout", self.rate_timeout), ("unparsable", self.rate_unparsable),
                                   ("malformed", self.rate_malformed)):
                    edge += rate
                    if u < edge:
                        kind = name
                        break
            if kind in FAULT_KINDS:
                self.faults += 1
                self.faults_by_kind[kind] += 1
            if kind == "malformed":  # the kinds in turn, so a handful of requests covers them all
                kind = "malformed:" + self.malformed[(self.faults_by_kind[kind] - 1) % len(self.malformed)]
            return n, kind

    def record_served(self, body: dict, prompt_tokens: int, completion_tokens: int, unparsable: bool) -> None:
        """Count one paid completion; a body already paid for counts as a duplicate."""
        key = {k: v for k, v in body.items() if k not in _BOOKKEEPING_KEYS}
        with self.lock:
            self.served += 1
            self._paid.add(_digest(key))
            self.unparsable += unparsable
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens

    # -- replies -------------------------------------------------------------------------------------------

    def match_rule(self, messages: list[dict]) -> Rule | None:
        """The first script rule whose regex matches the last user message."""
        last_user = _last_user_text(messages)
        return next((rule for rule in self.rules if rule.pattern.search(last_user)), None)

    def reply_for(self, messages: list[dict]) -> str:
        """The reply text, by precedence: script rule, reply_fn, fixed reply, random verdict, echo."""
        rule = self.match_rule(messages)
        if rule is not None:
            return rule.reply
        if self.reply_fn is not None:
            return str(self.reply_fn(messages))
        if self.reply is not None:
            return self.reply
        if self.random_verdicts:
            return self.random_verdict(messages)
        return f"Echo (turn {sum(m.get('role') == 'user' for m in messages)}): {_last_user_text(messages)}"

    def random_verdict(self, messages: list[dict]) -> str:
        """A judge-like verdict that depends only on the seed and the messages: re-asking reproduces it."""
        h = int.from_bytes(hashlib.sha256(f"{self.seed}\0{_digest(messages)}".encode()).digest()[:8], "big")
        if self.random_verdicts == "pair":
            return f"Both assistants address the question; weighing accuracy and helpfulness, my final verdict is: [[{'ABC'[h % 3]}]]"
        if self.random_verdicts == "arena":
            return f"Comparing both answers with my own, my final verdict is: [[{ARENA_LABELS[h % len(ARENA_LABELS)]}]]"
        return f"The answer is relevant and mostly accurate, with room for more detail. Rating: [[{1 + h % 10}]]"


# -- helpers -------------------------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    """sha256 of canonical JSON: equal requests hash equal whatever their key order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _content_text(content: Any) -> str:
    """Message content as text; OpenAI content parts (a list of {type, text}) are joined."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _last_user_text(messages: list[dict]) -> str:
    return next((_content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")


def tokenize(text: str) -> list[str]:
    """Split into "tokens": each whitespace-delimited word with the whitespace before it (trailing whitespace
    goes on the last), so ``"".join(tokenize(t)) == t`` as with real BPE tokens."""
    tokens = re.findall(r"\s*\S+", text)
    rest = text[sum(map(len, tokens)):]
    if rest and tokens:
        tokens[-1] += rest
    return tokens


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _made_up(count: int, below: float) -> list[dict[str, Any]]:
    """Alternative tokens that were "not chosen": each less likely than ``below`` and than the one before."""
    return [_entry(f"<alt{i + 1}>", round(below - 1.0 - i, 4)) for i in range(count)]


def build_logprobs(text: str, top_k: int, first_top: dict[str, float] | None) -> dict[str, Any]:
    """OpenAI's ``choices[0].logprobs``: per token its logprob and ``top_k`` alternatives.

    Without rule-given logprobs each token is near-certain (``CHOSEN_LOGPROB``) and its alternatives are
    made up, each less likely. With them (``first_top``), the first token's alternatives are those, most
    likely first, padded with made-up ones; its own logprob is its value there (or lower than all of them
    if the rule's reply starts with a token it does not list).
    """
    content = []
    for i, token in enumerate(tokenize(text)):
        if i == 0 and first_top:
            ranked = sorted(first_top.items(), key=lambda kv: -kv[1])
            listed = [_entry(t, lp) for t, lp in ranked[:top_k]]
            floor = ranked[-1][1]
            own = first_top.get(token, first_top.get(token.strip(), floor - 0.5))
            top = listed + _made_up(top_k - len(listed), min(floor, own))
        else:
            own = CHOSEN_LOGPROB
            top = ([_entry(token, own)] + _made_up(top_k - 1, -5.0)) if top_k else []
        content.append({**_entry(token, own), "top_logprobs": top})
    return {"content": content, "refusal": None}


def _wait_unless_client_leaves(conn: socket.socket, seconds: float) -> bool:
    """Sleep up to ``seconds`` as a hung upstream would; returns False early if the client hangs up.

    Each connection has its own thread, so this blocks no other request; returning early frees the thread
    as soon as a client that timed out closes its socket.
    """
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            readable, _, _ = select.select([conn], [], [], left)
            if readable and not conn.recv(1, socket.MSG_PEEK):
                return False
        except (OSError, ValueError):
            return False
        if readable:  # the client sent more (pipelined): nothing to learn from the socket, just wait
            time.sleep(max(0.0, deadline - time.monotonic()))
    return True


def _bad_request(message: str) -> tuple[int, dict]:
    return 400, {"error": {"message": message, "type": "invalid_request_error"}}


def complete(behaviour: Behaviour, body: dict, n: int, unparsable: bool) -> tuple[int, dict]:
    """The (status, JSON) answer to one chat-completion request that drew no HTTP fault; counts it as served."""
    want_logprobs = bool(body.get("logprobs"))
    top_k = body.get("top_logprobs") or 0
    if not isinstance(top_k, int) or not 0 <= top_k <= MAX_TOP_LOGPROBS:
        return _bad_request(f"top_logprobs must be an integer in 0..{MAX_TOP_LOGPROBS}")
    messages = body.get("messages") or []
    rule = None if unparsable else behaviour.match_rule(messages)
    text = UNPARSABLE_REPLY if unparsable else behaviour.reply_for(messages)
    finish = "stop"
    if behaviour.max_tokens_words and body.get("max_tokens"):
        words = text.split(" ")
        finish = "length" if len(words) > body["max_tokens"] else "stop"
        text = " ".join(words[: body["max_tokens"]])
    logprobs = None
    if want_logprobs and behaviour.logprobs:
        logprobs = build_logprobs(text, top_k, rule.top_logprobs if rule else None)
    prompt_tokens = sum(len(_content_text(m.get("content")).split()) for m in messages)
    completion_tokens = len(tokenize(text))
    behaviour.record_served(body, prompt_tokens, completion_tokens, unparsable)
    return 200, {
        "id": f"chatcmpl-local-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "local-test-model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                     "logprobs": logprobs}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def make_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every keep-alive response

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (e.g. timed out): nobody to answer
                self.close_connection = True

        def _send_raw(self, content_type: str, data: bytes, length: int | None = None) -> None:
            """A 200 with this body; ``length`` larger than the body announces bytes that never come."""
            try:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data) if length is None else length))
                self.end_headers()
                self.wfile.write(data)
                if length is not None and length > len(data):
                    self.wfile.flush()
                    self.close_connection = True  # hang up mid-body
            except OSError:
                self.close_connection = True

        def _send_malformed(self, kind: str, n: int) -> None:
            good = {"id": f"chatcmpl-local-{n}", "object": "chat.completion", "created": int(time.time()),
                    "model": "local-test-model"}
            if kind == "html":  # a proxy's error page, served as 200
                self._send_raw("text/html", b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")
            elif kind == "bad-json":
                self._send_raw("application/json", b'{"id": "chatcmpl-local", "choices": [{"index": 0, "mess')
            elif kind == "truncated":
                self._send_raw("application/json", b'{"id": "chatcmpl-local", "choi', length=4096)
            elif kind == "no-choices":
                self._send(200, {**good, "choices": []})
            elif kind == "empty":
                self._send(200, {**good, "choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
                                                      "finish_reason": "stop"}]})
            else:  # wrong types
                self._send(200, {**good, "choices": "none", "usage": "n/a"})

        def _route(self) -> str:
            return self.path.split("?", 1)[0].rstrip("/")

        def do_GET(self) -> None:
            if self._route().endswith("/stats"):
                self._send(200, behaviour.stats())
            elif self._route().endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "local-test-model", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def _reset_stats(self) -> None:
            behaviour.reset()
            self._send(200, behaviour.stats())

        def do_DELETE(self) -> None:
            if self._route().endswith("/stats"):
                self._reset_stats()
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(*_bad_request("invalid JSON"))
                return
            if self._route().endswith("/stats/reset"):
                self._reset_stats()
                return
            if not self._route().endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            if not isinstance(body, dict):
                self._send(*_bad_request("the body must be a JSON object"))
                return
            n, fault = behaviour.begin_request()
            if behaviour.latency_s and not _wait_unless_client_leaves(self.connection, behaviour.latency_s):
                # the client died or gave up while "the model was thinking": nothing is delivered or billed,
                # so a resumed run that asks again is not paying twice for a judgment it ever received
                with behaviour.lock:
                    behaviour.abandoned += 1
                self.close_connection = True
                return
            if fault == "429":
                self._send(429, {"error": {"message": "rate limited (injected)", "type": "rate_limit_error"}},
                           {"Retry-After": f"{behaviour.retry_after_s:g}"})
            elif fault == "500":
                self._send(500, {"error": {"message": "server error (injected)", "type": "server_error"}})
            elif fault == "timeout":
                if _wait_unless_client_leaves(self.connection, behaviour.hang_s):
                    self._send(500, {"error": {"message": "upstream timed out (injected)", "type": "server_error"}})
                else:
                    self.close_connection = True
            elif fault and fault.startswith("malformed:"):
                self._send_malformed(fault.split(":", 1)[1], n)
            else:
                self._send(*complete(behaviour, body, n, unparsable=fault == "unparsable"))

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections when many clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that died mid-request (the kill tests do it on purpose) is not a server error."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def serve(host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (``server.server_address[1]`` is the port)."""
    server = _Server((host, port), make_handler(behaviour or Behaviour()))
    # A short poll interval only makes ``server.shutdown()`` return sooner (the default waits up to 0.5 s).
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server



@contextmanager
def server_process(*args: str, start_timeout_s: float = 30.0) -> Iterator[str]:
    """The server in its own process (its threads then share no GIL with the caller), started with the CLI
    ``args``; yields its base URL and stops it on exit."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen([sys.executable, "-m", "starling_eval.testing.server", "--port-file", str(port_file),
                                 *args])
        try:
            deadline = time.monotonic() + start_timeout_s
            while not port_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the local server did not start")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        finally:
            proc.terminate()
            proc.wait(10)


def load_reply_fn(spec: str) -> Callable[[list[dict]], str]:
    """Import ``module:function`` for ``--reply-fn``."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise SystemExit(f"--reply-fn wants module:function, got {spec!r}")
    return getattr(importlib.import_module(module), name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--script", type=Path, help="JSON list of {match, reply, top_logprobs} rules")
    parser.add_argument("--reply", help="answer every completion with this text")
    parser.add_argument("--reply-fn", help="module:function called with the messages, returning the text")
    parser.add_argument("--random-verdicts", choices=VERDICT_KINDS,
                        help="judge-like verdicts chosen from --seed and the messages")
    parser.add_argument("--seed", type=int, default=0, help="for random verdicts and rate-based faults")
    parser.add_argument("--no-logprobs", action="store_true", help='answer "logprobs": null even when asked')
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-every", type=int, default=0, help="HTTP 500 on every Nth request")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="HTTP 429 on every Nth request")
    parser.add_argument("--retry-after", type=float, default=0.05, help="Retry-After seconds sent with 429")
    parser.add_argument("--rate-429", type=float, default=0.0, help="fraction of requests answered 429")
    parser.add_argument("--rate-500", type=float, default=0.0, help="fraction of requests answered 500")
    parser.add_argument("--rate-timeout", type=float, default=0.0, help="fraction that hang --hang-s, then 500")
    parser.add_argument("--rate-unparsable", type=float, default=0.0, help="fraction served a reply with no verdict")
    parser.add_argument("--hang-s", type=float, default=30.0, help="how long a timeout fault hangs")
    parser.add_argument("--rate-malformed", type=float, default=0.0,
                        help="fraction answered 200 with a body that is not a chat completion")
    parser.add_argument("--malformed", default=",".join(MALFORMED_KINDS),
                        help=f"comma-separated kinds of malformed reply, used in turn ({', '.join(MALFORMED_KINDS)})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        behaviour = Behaviour(
            json.loads(args.script.read_text()) if args.script else None, args.latency_ms, args.fail_every,
            args.rate_limit_every, args.retry_after,
            reply=args.reply, reply_fn=load_reply_fn(args.reply_fn) if args.reply_fn else None,
            random_verdicts=args.random_verdicts, seed=args.seed, logprobs=not args.no_logprobs,
            rate_429=args.rate_429, rate_500=args.rate_500, rate_timeout=args.rate_timeout,
            rate_unparsable=args.rate_unparsable, hang_s=args.hang_s, rate_malformed=args.rate_malformed,
            malformed=tuple(k for k in args.malformed.split(",") if k),
        )
    except ValueError as exc:  # bad rates or script rules: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
    server = _Server(("127.0.0.1", args.port), make_handler(behaviour))
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(server.server_address[1]))
        tmp.replace(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
