"""A GGUF file as a model: converted once to a transformers checkpoint folder, then loaded like any other.

transformers reads GGUF (``gguf_file=``, with the ``gguf`` package) and dequantizes the weights to float32.
The converted folder is cached under ``$STARLING_EVAL_CACHE/gguf/<sha256 prefix>/<file name>`` (default: the
user cache), so a file is converted once per machine and every backend (hf, vllm) gets a normal folder.
``save_pretrained`` refuses a model that still carries the GGUF quantizer marker although its tensors are
already plain float32, so the marker is dropped before saving. The folder is written beside its final place
and renamed into it: a kill mid-conversion leaves no half folder that a later run would trust.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from starling_eval.backends.errors import BackendError
from starling_eval.data import sha256_file

SOURCE_FILE = "starling_eval_source.json"  # what a converted folder was made from


def cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("STARLING_EVAL_CACHE") or user_cache_dir("starling-eval")) / "gguf"


def default_folder(gguf: Path, digest: str) -> Path:
    """Where a GGUF file's conversion is cached: a folder per content, holding one named as the file (the
    folder's name is the model's name in results)."""
    return cache_root() / digest[:16] / Path(gguf).stem


def converted_folder(gguf: Path, out: Path | None = None) -> Path:
    """The transformers folder for ``gguf`` (converting it on first use); ``out`` overrides the cache place."""
    gguf = Path(gguf).expanduser().resolve()
    if not gguf.is_file():
        raise BackendError(f"--model {gguf}: no such GGUF file")
    digest = sha256_file(gguf)
    out = Path(out) if out is not None else default_folder(gguf, digest)
    source = out / SOURCE_FILE
    if source.is_file() and json.loads(source.read_text(encoding="utf-8")).get("gguf_sha256") == digest:
        return out
    convert(gguf, out, digest)
    return out


def convert(gguf: Path, out: Path, digest: str) -> None:
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise BackendError(f"--model {gguf}: reading GGUF needs the gguf package (pip install gguf)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise BackendError(f"--model {gguf}: cannot convert this GGUF file ({str(exc).splitlines()[0]})") from exc
        # the tensors are dequantized already: drop the quantizer marker so save_pretrained writes plain weights
        model.hf_quantizer = None
        for holder in (model, model.config):
            if hasattr(holder, "quantization_config"):
                delattr(holder, "quantization_config")
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps({"gguf": str(gguf), "gguf_sha256": digest}, indent=2) + "\n",
                                       encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
