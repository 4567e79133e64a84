"""The ChatModel interface and what every backend shares: identity for the cache, model lookup, stop strings.

A backend turns conversations into completions and knows nothing about benchmarks or the cache. Its
``identity()`` is what makes a cached answer valid: backend kind, model, revision (or a fingerprint of a
local checkpoint folder) and the chat-template fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from starling_eval.backends.errors import BackendError
from starling_eval.spec import Chat, Completion, ModelSpec, Sampling


class ChatModel(Protocol):
    spec: ModelSpec
    #: how many requests the pipeline should hand over at once (None: everything, e.g. vLLM batches itself)
    chunk_size: int | None

    async def generate(self, chats: Sequence[Chat], params: Sampling) -> list[Completion]: ...

    def identity(self) -> dict[str, Any]: ...

    def provenance(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def resolve_local_model(spec: ModelSpec) -> str:
    """The folder or hub id to load; a path that does not exist is a clear input error."""
    name = spec.name_or_path
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        from starling_eval.backends.gguf import converted_folder

        return str(converted_folder(path))  # converted once, cached by the file's sha256
    if path.is_file():
        raise BackendError(f"--model {name}: a file, not a model folder (give a transformers checkpoint folder, "
                           "a hub id, or a .gguf file)")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BackendError(f"--model {name}: folder has no config.json (not a transformers checkpoint)")
        return str(path.resolve())
    # a hub id is "name" or "org/name" (dots allowed: Qwen/Qwen2.5-7B); anything else is a path
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name):
        raise BackendError(f"--model {name}: no such model folder")
    return name  # resolved from the local HF cache (offline) by transformers


def resolved_dtype(spec: ModelSpec, resolved: str) -> str:
    """The dtype the weights are run in, the same for every backend: ``--dtype`` when given, else the
    checkpoint's own (``config.json``'s ``dtype``/``torch_dtype``; float32 when it names none). vLLM's own
    "auto" would run a float32 checkpoint in bfloat16 (and disagree with hf); this is what is recorded."""
    if spec.dtype != "auto":
        return spec.dtype
    config = Path(resolved) / "config.json"
    if not config.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(resolved, "config.json", revision=spec.revision)
        except Exception:  # not a hub id
            cached = None
        if not isinstance(cached, str):
            return "auto"  # unknown until the model loads: the backend's own default
        config = Path(cached)
    try:
        fields = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "float32"
    named = fields.get("dtype") or fields.get("torch_dtype") or (fields.get("text_config") or {}).get("dtype")
    return named if named in ("float32", "bfloat16", "float16") else "float32"


def tokenizer_error(option: str, name: str, exc: Exception) -> BackendError:
    """Why a tokenizer did not load, in one line. A hub id that is not in the local Hugging Face cache is said
    to be exactly that (transformers' own text talks of connecting to huggingface.co, even offline)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not Path(name).expanduser().exists() and ("connect" in text or "cached files" in text or "offline" in text):
        from huggingface_hub.constants import HF_HUB_CACHE

        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        return BackendError(f"{option} {name}: not a local folder, and not in the local Hugging Face cache "
                            f"({HF_HUB_CACHE}); " + ("running offline (HF_HUB_OFFLINE=1), nothing is downloaded: "
                                                      if offline else "it could not be downloaded either: ")
                            + "give a checkpoint folder, or fetch the model into the cache first")
    return BackendError(f"{option} {name}: cannot load tokenizer ({text})")


def folder_fingerprint(folder: str) -> str | None:
    """Cheap identity of a local checkpoint: names, sizes and mtimes of its files (no hashing of GBs)."""
    path = Path(folder)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = item.stat()
        digest.update(f"{item.relative_to(path)}|{stat.st_size}|{int(stat.st_mtime)}\n".encode())
    return digest.hexdigest()[:16]


def hub_revision(name: str) -> str | None:
    """Commit hash of a hub model already in the local HF cache (no network)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True)).name
    except Exception:  # not cached, not a hub id, or hub not installed
        return None


def model_revision(spec: ModelSpec, resolved: str) -> str | None:
    if spec.revision:
        return spec.revision
    if Path(resolved).is_dir():
        return f"local:{folder_fingerprint(resolved)}"
    return hub_revision(resolved)


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Truncate at the earliest stop string (as FastChat and vLLM do); True when one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def local_identity(backend: str, spec: ModelSpec, resolved: str, template: Any) -> dict[str, Any]:
    """Cache identity of a locally run model: what makes a stored answer valid for this exact setup."""
    return {
        "backend": backend,
        "model": resolved,
        "revision": model_revision(spec, resolved),
        "chat_template": template.fingerprint(),
        "dtype": resolved_dtype(spec, resolved),
    }
