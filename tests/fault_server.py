"""An independent fault server for tests: raw bytes over a socket, written apart from the project's own test
server (``starling_eval.testing.server``), so a bug shared by our server and our client cannot hide.

Each connection gets the next reply of a list (the last one repeats): a reply is the raw bytes to send, or
None to close the connection at once. It counts the requests it read."""

from __future__ import annotations

import socket
import threading


class RawFaultServer:
    def __init__(self, replies: list[bytes | None]):
        self.replies = replies
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            while True:  # keep-alive: one reply per request read
                if not self._read_request(conn):
                    return
                with self._lock:
                    reply = self.replies[min(self.requests, len(self.replies) - 1)]
                    self.requests += 1
                if reply is None:
                    return
                conn.sendall(reply)
                if b"Connection: close" in reply.split(b"\r\n\r\n", 1)[0]:
                    return

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
        return True

    def close(self) -> None:
        self._sock.close()


def http(status: str, content_type: str, body: bytes, *, length: int | None = None, close: bool = False) -> bytes:
    """A raw HTTP/1.1 response; ``length`` other than len(body) announces bytes that never come."""
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: "
            f"{len(body) if length is None else length}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n")
    return head.encode() + body


def completion(text: str) -> bytes:
    import json

    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    return http("200 OK", "application/json", json.dumps(body).encode())
