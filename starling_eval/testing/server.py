"""A local OpenAI-compatible chat server for tests and benchmarks: scripted replies, latency, faults.

Replies are deterministic: the first rule in ``--script`` (a JSON list of ``{"match": regex, "reply":
text}``) whose regex matches the last user message wins, otherwise the reply echoes that message. Faults
are injected by request number, so tests are repeatable: ``--fail-every N`` answers every Nth request with
HTTP 500, ``--rate-limit-every N`` with 429 and ``Retry-After``. ``GET /stats`` reports how many
completions were served, which is how tests prove that a resumed run paid for nothing twice.

Run it with ``python -m starling_eval.testing.server --port 0 --port-file PATH``. It listens on loopback only.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Behaviour:
    def __init__(self, script: list[dict] | None = None, latency_ms: float = 0.0, fail_every: int = 0,
                 rate_limit_every: int = 0, retry_after_s: float = 0.05, max_tokens_words: bool = True):
        self.rules = [(re.compile(r["match"], re.S), r["reply"]) for r in (script or [])]
        self.latency_s = latency_ms / 1000.0
        self.fail_every = fail_every
        self.rate_limit_every = rate_limit_every
        self.retry_after_s = retry_after_s
        self.max_tokens_words = max_tokens_words
        self.lock = threading.Lock()
        self.requests = 0
        self.served = 0
        self.faults = 0

    def reply_for(self, messages: list[dict]) -> str:
        last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        if isinstance(last_user, list):  # content parts
            last_user = " ".join(p.get("text", "") for p in last_user if isinstance(p, dict))
        for pattern, reply in self.rules:
            if pattern.search(last_user):
                return reply
        return f"Echo (turn {sum(m.get('role') == 'user' for m in messages)}): {last_user}"


def make_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every keep-alive response

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/stats"):
                with behaviour.lock:
                    stats = {"requests": behaviour.requests, "served": behaviour.served, "faults": behaviour.faults}
                self._send(200, stats)
            elif self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "local-test-model", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            with behaviour.lock:
                behaviour.requests += 1
                n = behaviour.requests
            if behaviour.latency_s:
                time.sleep(behaviour.latency_s)
            if behaviour.rate_limit_every and n % behaviour.rate_limit_every == 0:
                with behaviour.lock:
                    behaviour.faults += 1
                self._send(429, {"error": {"message": "rate limited (injected)", "type": "rate_limit_error"}},
                           {"Retry-After": str(behaviour.retry_after_s)})
                return
            if behaviour.fail_every and n % behaviour.fail_every == 0:
                with behaviour.lock:
                    behaviour.faults += 1
                self._send(500, {"error": {"message": "server error (injected)", "type": "server_error"}})
                return
            messages = body.get("messages") or []
            text = behaviour.reply_for(messages)
            if behaviour.max_tokens_words and body.get("max_tokens"):
                words = text.split(" ")
                finish = "length" if len(words) > body["max_tokens"] else "stop"
                text = " ".join(words[: body["max_tokens"]])
            else:
                finish = "stop"
            with behaviour.lock:
                behaviour.served += 1
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
            self._send(200, {
                "id": f"chatcmpl-local-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "local-test-model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                             "logprobs": None}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                          "total_tokens": prompt_tokens + len(text.split())},
            })

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections when many clients connect at once


def serve(host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (``server.server_address[1]`` is the port)."""
    server = _Server((host, port), make_handler(behaviour or Behaviour()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--script", type=Path, help="JSON list of {match, reply} rules")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--retry-after", type=float, default=0.05)
    args = parser.parse_args()
    script = json.loads(args.script.read_text()) if args.script else None
    behaviour = Behaviour(script, args.latency_ms, args.fail_every, args.rate_limit_every, args.retry_after)
    server = _Server(("127.0.0.1", args.port), make_handler(behaviour))
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(server.server_address[1]))
        tmp.replace(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
