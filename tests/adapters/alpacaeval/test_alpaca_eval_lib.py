"""The installed alpaca_eval, imported quietly and without reading a .env file into our environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import starling_eval


def test_importing_alpaca_eval_does_not_load_a_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-a-stray-dotenv\n")
    code = ("import os; from starling_eval.adapters.alpacaeval import alpaca_eval_lib; alpaca_eval_lib.module('utils'); "
            "print(os.environ.get('OPENAI_API_KEY'))")
    # a bare environment, but the same starling_eval as this test imports (a checkout, not only the installed one)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(starling_eval.__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None" and out.stderr == ""  # no key smuggled in, no import-time warning
