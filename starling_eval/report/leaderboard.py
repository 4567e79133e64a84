"""One table across runs and benchmarks: a row per model (name and revision), a column per metric and
comparability key.

Runs are comparable only when benchmark version, judge and prompt (and setting and limit) match
(:mod:`starling_eval.report.comparability`). A metric measured under several keys gets several columns, each
header naming what differs ("mtbench.overall [judge gpt-4]" beside "[judge gpt-4o]"), and a ``mismatches``
entry says why: numbers are never averaged or mixed across keys. Pairwise-all win rates depend on who else
was in the run, so the pool of models is part of their column too. When one model has several runs in one
column, the newest complete run gives the cell and the others are listed as ``superseded``. Incomplete runs
are left out unless asked for (and then marked).

The renderers are in :mod:`starling_eval.report.leaderboard_render`.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from starling_eval.report.comparability import comparability_key, differences, key_id
from starling_eval.report.metrics import (
    COMPANIONS,
    HEADLINE,
    Metric,
    all_metrics,
    benchmark_of,
    headline_metrics,
    metric_benchmark,
    model_label,
    run_model_key,
)
from starling_eval.store.runs import STATUS_COMPLETE, RunStore

BENCHMARK_ORDER = ("mtbench", "alpacaeval", "arena-hard-v0.1", "arena-hard-v2.0", "mmlu", "truthfulqa", "safe-rlhf",
                   "hh", "arena", "nectar", "rewardbench", "rewardbench-2")
_METRIC_ORDER = [name for kind, names in HEADLINE.items() for name in (*names, *COMPANIONS.get(kind, ()))]


@dataclass
class Row:
    """A model: its name and the revision its runs recorded (None: unknown, e.g. read from answer files)."""

    id: str
    model: str
    revision: str | None


@dataclass
class Column:
    """A metric under one comparability key. ``key`` is the comparability key (plus ``pool``, the models of
    a pairwise-all run); ``differs`` names what sets it apart from the metric's other columns (empty when
    the metric has one column)."""

    id: str
    metric: str
    key_id: str
    key: dict[str, Any]
    header: str
    unit: str
    higher_is_better: bool
    judge: str | None
    differs: list[str] = field(default_factory=list)


@dataclass
class Cell:
    value: float | None
    ci95: tuple[float, float] | None
    n: int | None
    n_failed: int
    run_id: str
    judge: str | None
    date: str | None  # the run's ``finished`` (else ``created``), ISO 8601
    status: str
    superseded: list[str] = field(default_factory=list)  # older (or incomplete) runs of this model in this column
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Leaderboard:
    rows: list[Row]
    columns: list[Column]
    cells: dict[tuple[str, str], Cell]  # (row id, column id) -> cell
    mismatches: list[dict[str, Any]]
    skipped: list[dict[str, str]]  # runs left out and why (incomplete, no scores, unreadable, unknown mode)
    filters: dict[str, Any]
    results_root: str

    def cell(self, row: Row | str, column: Column | str) -> Cell | None:
        row_id = row if isinstance(row, str) else row.id
        column_id = column if isinstance(column, str) else column.id
        return self.cells.get((row_id, column_id))

    def row(self, model: str, revision: str | None = None) -> Row | None:
        """The row of a model (the only row of that name when ``revision`` is not given and it is unique)."""
        found = [r for r in self.rows if r.model == model and (revision is None or r.revision == revision)]
        return found[0] if len(found) == 1 else None

    def columns_of(self, metric: str) -> list[Column]:
        return [c for c in self.columns if c.metric == metric]


# -- collecting -----------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    row: Row
    metric: Metric
    key: dict[str, Any]
    run_id: str
    judge: str | None
    date: str | None
    status: str


def collect(results_root: Path | str, *, benchmarks: Sequence[str] | None = None, judge: str | None = None,
            model_pattern: str | None = None, include_incomplete: bool = False, metrics: str = "headline",
            sort_by: str | None = None) -> Leaderboard:
    """Gather every run under ``results_root`` into a :class:`Leaderboard`.

    ``benchmarks``: keep runs of these benchmarks only. ``judge``: keep runs whose judge model matches
    (fnmatch, case-insensitive; runs without a judge, such as MMLU or reward-model pairs, are left out).
    ``model_pattern``: keep models whose name matches (fnmatch, case-insensitive). ``include_incomplete``:
    also show incomplete runs (marked; a complete run of the same cell still wins). ``metrics``: "headline" (the
    default) or "all" (every named metric of :mod:`starling_eval.report.metrics`). ``sort_by``: a column id or metric name to order rows by (default:
    the column with the most models)."""
    if metrics not in ("headline", "all"):
        raise ValueError(f"metrics={metrics!r}: headline or all")
    store = RunStore(Path(results_root))
    wanted = set(benchmarks) if benchmarks else None
    candidates: list[_Candidate] = []
    skipped: list[dict[str, str]] = []
    for run in store.all_runs():
        try:
            manifest = run.read_manifest()
            scores = run.scores()
        except (OSError, ValueError) as err:
            skipped.append({"run_id": run.run_id, "reason": f"unreadable: {err}"})
            continue
        bench = benchmark_of(manifest, scores)
        if wanted is not None and bench not in wanted:
            continue
        judge_model = ((manifest.get("spec") or {}).get("judge") or {}).get("model")
        if judge is not None and (judge_model is None or not _match(judge, judge_model)):
            continue
        if manifest.get("kind") == "generate":
            continue  # answers only: nothing scored
        if model_pattern is not None and not any(_match(model_pattern, m) for m in _run_models(manifest, scores)):
            continue
        status = manifest.get("status") or "unknown"
        if scores is None:
            skipped.append({"run_id": run.run_id, "benchmark": bench, "reason": f"no scores.json (status {status})"})
            continue
        if status != STATUS_COMPLETE and not include_incomplete:
            skipped.append({"run_id": run.run_id, "benchmark": bench, "reason": f"status {status}"})
            continue
        per_model = (all_metrics if metrics == "all" else headline_metrics)(manifest, scores)
        if not per_model and scores.get("models"):
            skipped.append({"run_id": run.run_id, "benchmark": bench,
                            "reason": f"unknown scores mode {scores.get('mode')!r}"})
            continue
        key = comparability_key(manifest)
        date = manifest.get("finished") or manifest.get("created")
        for label, model_metrics in per_model.items():  # (not `metrics`: the filter is reported as given)
            name, revision = run_model_key(manifest, label)
            if model_pattern is not None and not _match(model_pattern, name):
                continue
            row = Row(id=name if revision is None else f"{name}@{revision}", model=name, revision=revision)
            for metric in model_metrics:
                column_key = dict(key)
                if metric.extra.get("mode") == "pairwise-all":  # a win rate against these opponents only
                    column_key["pool"] = sorted([name, *metric.extra.get("opponents", [])])
                candidates.append(_Candidate(row, metric, column_key, run.run_id, judge_model, date, status))
    return _assemble(candidates, skipped, results_root, sort_by, {
        "benchmarks": sorted(wanted) if wanted else None, "judge": judge, "model_pattern": model_pattern,
        "include_incomplete": include_incomplete, "metrics": metrics})


def _run_models(manifest: Mapping[str, Any], scores: Mapping[str, Any] | None) -> list[str]:
    """Every model name a run is about (its scores' rows, else what its spec names)."""
    names = [str(r.get("model")) for r in (scores or {}).get("models") or [] if r.get("model") is not None]
    spec = manifest.get("spec") or {}
    names += [(manifest.get("model") or {}).get("label") or "", *(a.get("model") or "" for a in spec.get("answers") or [])]
    for which in ("model", "reward_model"):
        if spec.get(which):
            names.append(model_label(spec[which]))
    return [n for n in names if n]


def _match(pattern: str, text: str) -> bool:
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


def timestamp(date: str | None) -> float:
    """A run's ISO date as a sortable number (-inf when absent or unreadable)."""
    if not date:
        return float("-inf")
    try:
        return datetime.strptime(date, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        try:
            return datetime.fromisoformat(date).timestamp()
        except ValueError:
            return float("-inf")


def _assemble(candidates: list[_Candidate], skipped: list[dict[str, str]], results_root: Path | str,
              sort_by: str | None, filters: dict[str, Any]) -> Leaderboard:
    columns: dict[str, Column] = {}
    rows: dict[str, Row] = {}
    by_cell: dict[tuple[str, str], list[_Candidate]] = {}
    for c in candidates:
        kid = key_id(c.key)
        column_id = f"{c.metric.name}@{kid}"
        if column_id not in columns:
            columns[column_id] = Column(id=column_id, metric=c.metric.name, key_id=kid, key=c.key, header=c.metric.name,
                                        unit=c.metric.unit, higher_is_better=c.metric.higher_is_better,
                                        judge=(c.key.get("judge") or {}).get("model"))
        rows.setdefault(c.row.id, c.row)
        by_cell.setdefault((c.row.id, column_id), []).append(c)

    cells: dict[tuple[str, str], Cell] = {}
    for where, found in by_cell.items():
        # complete before incomplete, then the newest (finish time, then run id: ids start with a timestamp)
        found.sort(key=lambda c: (c.status == STATUS_COMPLETE, timestamp(c.date), c.run_id), reverse=True)
        best = found[0]
        m = best.metric
        cells[where] = Cell(value=m.value, ci95=m.ci95, n=m.n, n_failed=m.n_failed, run_id=best.run_id,
                            judge=best.judge, date=best.date, status=best.status,
                            superseded=list(dict.fromkeys(c.run_id for c in found[1:])), extra=m.extra)

    mismatches = _split_columns(list(columns.values()))
    ordered_columns = sorted(columns.values(), key=_column_order)
    ordered_rows = _order_rows(list(rows.values()), ordered_columns, cells, sort_by)
    return Leaderboard(rows=ordered_rows, columns=ordered_columns, cells=cells, mismatches=mismatches, skipped=skipped,
                       filters=filters, results_root=str(results_root))


def _column_order(column: Column) -> tuple:
    bench = metric_benchmark(column.metric)
    return (BENCHMARK_ORDER.index(bench) if bench in BENCHMARK_ORDER else len(BENCHMARK_ORDER), bench,
            _METRIC_ORDER.index(column.metric) if column.metric in _METRIC_ORDER else len(_METRIC_ORDER),
            column.metric, column.header)


def _order_rows(rows: list[Row], columns: list[Column], cells: Mapping[tuple[str, str], Cell],
                sort_by: str | None) -> list[Row]:
    rows.sort(key=lambda r: (r.model.lower(), r.revision or ""))
    if not columns:
        return rows
    pick = [c for c in columns if sort_by in (c.id, c.metric, c.header)] if sort_by else []
    column = pick[0] if pick else max(columns, key=lambda c: sum((r.id, c.id) in cells for r in rows))

    def key(row: Row) -> tuple:
        cell = cells.get((row.id, column.id))
        if cell is None or cell.value is None:
            return (1, 0.0)
        return (0, -cell.value if column.higher_is_better else cell.value)

    return sorted(rows, key=key)


def _split_columns(columns: list[Column]) -> list[dict[str, Any]]:
    """Give each column of a metric measured under several keys a header that says what differs, and
    describe each such split (``mismatches``)."""
    groups: dict[str, list[Column]] = {}
    for c in columns:
        groups.setdefault(c.metric, []).append(c)
    mismatches = []
    for metric, group in groups.items():
        if len(group) < 2:
            continue
        varying = [f for f in ("version", "judge", "prompt", "setting", "limit", "pool")
                   if len({json.dumps(c.key.get(f), sort_keys=True, default=str) for c in group}) > 1]
        judge_fields = sorted({k for c in group for k in (c.key.get("judge") or {})
                               if len({json.dumps((g.key.get("judge") or {}).get(k), sort_keys=True, default=str)
                                       for g in group}) > 1})
        for c in group:
            c.differs = [_tag(f, c.key.get(f), judge_fields) for f in varying]
            c.header = f"{metric} [{', '.join(c.differs)}]"
        seen: dict[str, int] = {}
        for c in group:
            seen[c.header] = seen.get(c.header, 0) + 1
        for c in group:
            if seen[c.header] > 1:
                c.header = f"{c.header[:-1]}, key {c.key_id}]"
        pairs = []
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                reasons = differences(a.key, b.key)
                if a.key.get("pool") != b.key.get("pool"):
                    reasons.append(f"pool: {', '.join(a.key.get('pool') or [])} vs {', '.join(b.key.get('pool') or [])}")
                pairs.append({"columns": [a.id, b.id], "headers": [a.header, b.header], "reasons": reasons})
        mismatches.append({"metric": metric, "columns": [c.id for c in group], "headers": [c.header for c in group],
                           "differs_in": varying, "pairs": pairs,
                           "note": "measured under different keys: shown side by side, never averaged"})
    return mismatches


def _tag(field_name: str, value: Any, judge_fields: list[str]) -> str:
    """A short header tag for one differing key field."""
    if field_name == "judge":
        if not value:
            return "no judge"
        parts = []
        for k in judge_fields or ["model"]:
            v = value.get(k)
            if k == "model":
                parts.append(f"judge {v}")
            elif k == "reward_model":
                parts.append(f"rm {(v or {}).get('name_or_path')}" if v else "no rm")
            else:
                parts.append(f"{k} {v}")
        return ", ".join(parts)
    if field_name == "version":
        return f"data {value}"
    if field_name == "prompt":
        return f"prompt {value}" if value else "no judge prompt"
    if field_name == "setting":
        return ", ".join(f"{k}={_short(v)}" for k, v in sorted((value or {}).items())) or "default setting"
    if field_name == "limit":
        return f"limit {value}" if value else "all items"
    if field_name == "pool":
        return "among " + "+".join(value or [])
    return f"{field_name} {_short(value)}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def metric_names(lb: Leaderboard) -> Iterable[str]:
    return list(dict.fromkeys(c.metric for c in lb.columns))
