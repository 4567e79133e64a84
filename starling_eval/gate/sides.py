"""The two sides of a gate: a run (id, unique prefix or folder) or a file :func:`export_run` wrote, each read as
its identity, comparability key and per-metric item values; and :class:`GateError`, the gate's bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval import __version__
from starling_eval.data import DataError
from starling_eval.report.comparability import comparability_key
from starling_eval.report.items import ItemValues, read_items
from starling_eval.store.runs import RunFolder, RunStore

EXPORT_FORMAT = "starling-eval-run-items"
EXPORT_SCHEMA_VERSION = 1


class GateError(DataError):
    """Bad input to the gate (incomparable runs, a missing metric, a bad rules file): one line, exit 2."""



@dataclass
class Side:
    """One side of a gate: a run's identity, comparability key and per-metric item values."""

    run_id: str
    benchmark: str
    kind: str
    model: str | None
    key: dict[str, Any]
    metrics: dict[str, ItemValues]
    source: str  # the run folder or the exported file it was read from
    created: str | None = None
    finished: str | None = None
    status: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "model": self.model, "benchmark": self.benchmark, "kind": self.kind,
                "source": self.source, "created": self.created, "finished": self.finished, "status": self.status}


def side_from_run(run: RunFolder) -> Side:
    manifest = run.read_manifest()
    items = read_items(run)
    return Side(run_id=run.run_id, benchmark=manifest["spec"]["benchmark"], kind=items.kind, model=items.model,
                key=comparability_key(manifest), metrics=items.metrics, source=str(run.path),
                created=manifest.get("created"), finished=manifest.get("finished"), status=manifest.get("status"),
                summary=manifest.get("summary") or {})


def export_run(run_folder: Path | RunFolder) -> dict[str, Any]:
    """A run's gate-relevant content as one JSON document: identity, comparability key, summary, and per
    metric the item values and clusters. Committed under ``results/``, it is a baseline without the run."""
    run = run_folder if isinstance(run_folder, RunFolder) else RunFolder(Path(run_folder))
    side = side_from_run(run)
    return {
        "format": EXPORT_FORMAT, "schema_version": EXPORT_SCHEMA_VERSION, "starling_eval": __version__,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run_id": side.run_id, "benchmark": side.benchmark, "kind": side.kind, "model": side.model,
        "comparability": side.key, "created": side.created, "finished": side.finished, "status": side.status,
        "summary": side.summary,
        "metrics": {m: {"mean": v.mean, "n": len(v.values), "n_failed": v.n_failed, "unit": v.unit, "binary": v.binary}
                    for m, v in side.metrics.items()},
        "items": {m: v.values for m, v in side.metrics.items()},
        "clusters": {m: v.clusters for m, v in side.metrics.items()},
    }


def side_from_export(doc: Any, source: str) -> Side:
    """A Side from an :func:`export_run` document; a document of another format or version is a GateError."""
    if not isinstance(doc, Mapping) or doc.get("format") != EXPORT_FORMAT:
        raise GateError(f"{source}: not a starling-eval run export (no \"format\": \"{EXPORT_FORMAT}\"); write one "
                        "from a run with export_run")
    if doc.get("schema_version") != EXPORT_SCHEMA_VERSION:
        raise GateError(f"{source}: export schema_version {doc.get('schema_version')!r}; this starling-eval reads "
                        f"{EXPORT_SCHEMA_VERSION}")
    try:
        metrics = {m: ItemValues(values={k: float(v) for k, v in doc["items"][m].items()},
                                 clusters={k: str(c) for k, c in doc["clusters"][m].items()},
                                 unit=info["unit"], binary=bool(info["binary"]), n_failed=int(info["n_failed"]))
                   for m, info in doc["metrics"].items()}
        return Side(run_id=doc["run_id"], benchmark=doc["benchmark"], kind=doc["kind"], model=doc.get("model"),
                    key=dict(doc["comparability"]), metrics=metrics, source=source, created=doc.get("created"),
                    finished=doc.get("finished"), status=doc.get("status"), summary=doc.get("summary") or {})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GateError(f"{source}: malformed run export ({type(exc).__name__}: {exc})") from None


def load_side(ref: str | Path, results_root: Path | str) -> Side:
    """A run id, unique id prefix or run folder under ``results_root``, or an exported ``.json`` file."""
    path = Path(ref)
    if path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GateError(f"{path}: not a readable JSON run export ({exc})") from None
        return side_from_export(doc, str(path))
    return side_from_run(_find_run(str(ref), Path(results_root)))


def _find_run(ref: str, results_root: Path) -> RunFolder:
    store = RunStore(results_root)
    try:
        run = store.get(ref)
    except DataError as exc:  # a prefix of several runs: the store names them
        raise GateError(str(exc)) from exc
    if run is not None:
        return run
    raise GateError(f"{ref}: no such run in {store.runs_dir} and no such file (give a run id, a unique id prefix, a "
                    "run folder or an exported .json)")
