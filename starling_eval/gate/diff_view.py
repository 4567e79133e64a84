"""Checkpoint A against checkpoint B, item by item: the document of the paired HTML view (``report --diff``,
``gate --html``).

The gate's own result sits at the top (its first rule: the headline metric's paired difference and 95% CI, and
whether it passes), then the per-category deltas and the change in answer length (a judge that likes longer
answers can hide a regression behind verbosity), then every shared item with both runs' answers and judgments,
the flipped ones first and then by the size of the change.

An item *flipped* when its outcome changed class: for pairwise and AlpacaEval verdicts, win / tie / loss; for
1-10 ratings, which side of the scale's midpoint it fell on (1-5 against 6-10); for any metric, valid against
failed. A side read from an exported file (no run folder) contributes its values only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starling_eval.gate.check import GateResult
from starling_eval.gate.sides import Side
from starling_eval.report.run_items import run_entry, run_items
from starling_eval.store.runs import RunFolder

RATING_MIDPOINT = 5.5


def diff_doc(result: GateResult, baseline: Side, candidate: Side) -> dict[str, Any]:
    """The paired view's document: the gate's summary, per-category and length deltas, the item pairs."""
    a_run, a_items = _side_items(baseline)
    b_run, b_items = _side_items(candidate)
    rule = result.rules[0]
    pairs = []
    for key in [k for k in a_items if k in b_items]:
        a, b = a_items[key], b_items[key]
        delta = None if a.get("value") is None or b.get("value") is None else b["value"] - a["value"]
        pairs.append({"key": key, "category": a.get("category") or b.get("category"), "title": a.get("title"),
                      "turns": a.get("turns") or b.get("turns") or [], "delta": delta, "flipped": _flipped(a, b),
                      "a": _side_view(a), "b": _side_view(b)})
    pairs.sort(key=lambda p: (not p["flipped"], -abs(p["delta"] or 0.0)))
    verdict = "regression" if not rule.passed else "improvement" if rule.ci_low > 0 else "pass"
    return {
        "runs": [a_run, b_run],
        "summary": {"metric": rule.metric, "unit": rule.unit, "a": rule.baseline_mean, "b": rule.candidate_mean,
                    "delta": rule.diff, "ci95": [rule.ci_low, rule.ci_high], "n": rule.n_shared,
                    "n_clusters": len({str(p["key"]).split("|", 1)[0] for p in pairs if p["delta"] is not None}),
                    "method": "paired cluster bootstrap", "verdict": verdict,
                    "note": f"the gate fails when the CI's lower end is below {(-rule.max_drop) or 0.0:g} (max_drop "
                            f"{rule.max_drop:g}); failed items left out: {rule.n_failed_baseline} in A, "
                            f"{rule.n_failed_candidate} in B"},
        "categories": _categories(pairs),
        "length": _lengths(pairs),
        "pairs": pairs,
    }


def _side_items(side: Side) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The side's run entry and items by key: from its run folder, or its exported values alone."""
    folder = Path(side.source)
    if folder.is_dir() and (folder / "manifest.json").is_file():
        run = RunFolder(folder)
        return run_entry(run), {item["key"]: item for item in run_items(run)}
    entry = {"id": side.run_id, "benchmark": side.benchmark, "mode": side.kind, "model": side.model, "judge": None,
             "label": f"{side.benchmark} · {side.model} (export)"}
    metric = next(iter(side.metrics.values()), None)
    items = {key: {"key": key, "category": "—", "title": key, "turns": [], "answers": [], "judgments": [],
                   "verdict": f"{value:g}", "value": value, "failed": False, "failure": None, "length": 0}
             for key, value in (metric.values.items() if metric else [])}
    return entry, items


def _side_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: item.get(name) for name in ("answers", "reference", "judgments", "verdict", "value", "failed",
                                              "failure", "length", "inconsistent")}


def _outcome(item: Mapping[str, Any]) -> str:
    if item.get("value") is None:
        return "failed"
    verdict = str(item.get("verdict"))
    if verdict in ("win", "tie", "loss", "harmless", "harmful"):
        return verdict
    return "high" if float(item["value"]) >= RATING_MIDPOINT else "low"


def _flipped(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _outcome(a) != _outcome(b)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _categories(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for pair in pairs:
        if pair["delta"] is not None:
            groups.setdefault(str(pair["category"]), []).append(pair)
    rows = []
    for category, members in sorted(groups.items()):
        a = _mean([p["a"]["value"] for p in members])
        b = _mean([p["b"]["value"] for p in members])
        rows.append({"category": category, "a": a, "b": b, "delta": None if a is None or b is None else b - a,
                     "n": len(members)})
    return rows


def _lengths(pairs: list[dict[str, Any]]) -> dict[str, float | None]:
    a = _mean([float(p["a"]["length"] or 0) for p in pairs])
    b = _mean([float(p["b"]["length"] or 0) for p in pairs])
    return {"a_mean": a, "b_mean": b, "delta": None if a is None or b is None else b - a}


def write_diff_page(result: GateResult, baseline_ref: str | Path, candidate_ref: str | Path,
                    results_root: Path | str, out: Path) -> None:
    """The paired view of a gate's two runs as one self-contained HTML file."""
    from starling_eval.gate.sides import load_side
    from starling_eval.report.browser_page import render_diff_page
    from starling_eval.store.files import write_text_atomic

    doc = diff_doc(result, load_side(baseline_ref, results_root), load_side(candidate_ref, results_root))
    a, b = (run["label"] for run in doc["runs"])
    write_text_atomic(out, render_diff_page(doc, title=f"A: {a} → B: {b}"))
