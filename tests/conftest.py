"""Shared fixtures: the real data directory, a tiny random model, the local OpenAI-compatible server,
and a helper that runs the real ``starling-eval`` console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VLLM_CLI = Path(os.environ.get("STARLING_EVAL_VLLM_VENV", REPO / ".venv-vllm")) / "bin" / "starling-eval"
# vLLM on CPU in tests: the engine in-process, a 1 GiB KV cache
VLLM_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}


def _data_root() -> Path | None:
    for candidate in (os.environ.get("STARLING_EVAL_DATA"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark data (../shared/data). Skipped when absent, except in CI where that is a failure."""
    return required(_data_root(), "no benchmark data directory (set STARLING_EVAL_DATA, or put shared/data "
                                  "beside the checkout)")


def required(found: Path | None, missing: str) -> Path:
    """What a test needs from this machine: skipped when absent, a failure under CI=true (CI must have it)."""
    if found is None:
        if IN_CI:
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    return found


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from starling_eval.testing.tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def real_model() -> Path:
    """SmolLM2-135M-Instruct as `make real-model` built it on this machine (the tests download nothing);
    skipped without it, a failure under CI=true."""
    from starling_eval.testing.real_model import built_real_model

    return required(built_real_model(), "SmolLM2 is not built on this machine (`make real-model`, part of `make test`)")


@pytest.fixture()
def mini_data(tmp_path: Path, data_dir: Path) -> Path:
    """A private copy of the MT-Bench questions, safe to corrupt."""
    (tmp_path / "data" / "mt_bench").mkdir(parents=True)
    shutil.copy(data_dir / "mt_bench" / "question.jsonl", tmp_path / "data" / "mt_bench" / "question.jsonl")
    return tmp_path / "data"


class Server:
    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"{self.base_url}/stats", timeout=10) as resp:
            return json.loads(resp.read())


def start_server(tmp_path: Path, *args: str) -> Server:
    import time

    port_file = tmp_path / f"port-{len(list(tmp_path.glob('port-*')))}"
    proc = subprocess.Popen([sys.executable, "-m", "starling_eval.testing.server", "--port-file", str(port_file), *args])
    for _ in range(200):
        if port_file.exists():
            return Server(proc, int(port_file.read_text()))
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("test server did not start")


@pytest.fixture()
def server_factory(tmp_path: Path):
    servers: list[Server] = []

    def make(*args: str) -> Server:
        servers.append(start_server(tmp_path, *args))
        return servers[-1]

    yield make
    for s in servers:
        s.proc.kill()
        s.proc.wait()


def cli_env(data: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARLING_EVAL_", "OPENAI_"))}
    if data is not None:
        env["STARLING_EVAL_DATA"] = str(data)
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, exe: str | None = None, timeout: int = 600,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real console script (from the venv running the tests, or ``exe``)."""
    script = exe or str(Path(sys.executable).with_name("starling-eval"))
    return subprocess.run([script, *args], capture_output=True, text=True, env=env or cli_env(), timeout=timeout, cwd=cwd)


@pytest.fixture(scope="session")
def vllm_cli() -> str:
    """The starling-eval of the vLLM environment (.venv-vllm); skipped without it, a failure under CI=true."""
    if not VLLM_CLI.exists():
        if IN_CI:
            pytest.fail(f"CI=true but {VLLM_CLI} is missing (make vllm-env)")
        pytest.skip("no vLLM environment (make vllm-env)")
    return str(VLLM_CLI)


# -- a real browser: Debian's chromium (`make browser`) driven by Playwright, which downloads nothing -----------


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser():
    chromium = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is missing: it is in the dev extra (pip install -e .[dev])")
        pytest.skip("playwright is not installed (pip install -e .[dev])")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture()
def open_page(browser, tmp_path):
    """Write the HTML to a file and open it; returns (page, errors): console errors/warnings and page errors,
    which is where a CSP violation or a JS exception shows up."""
    pages = []

    def opener(text: str, name: str = "page.html"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(page)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.goto(path.as_uri())
        page.wait_for_function("() => window.__starlingReady > 0", timeout=10_000)
        return page, errors

    yield opener
    for page in pages:
        page.close()




@pytest.fixture()
def batch_server():
    """Start in-process local Batch-API servers (chat + Files + Batches): ``start(seed=0, **BatchBehaviour kwargs)``
    returns (chat behaviour, batch behaviour, base URL); the chat side gives seeded single-grading verdicts."""
    from starling_eval.testing.batch_server import BatchBehaviour, serve_batches
    from starling_eval.testing.server import Behaviour

    servers = []

    def start(seed: int = 0, **kwargs):
        behaviour, batches = Behaviour(random_verdicts="single", seed=seed), BatchBehaviour(**kwargs)
        server = serve_batches(behaviour=behaviour, batches=batches)
        servers.append(server)
        return behaviour, batches, f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
