"""The leaderboard as text: :func:`to_rich_table`, :func:`to_markdown`, :func:`to_csv`, :func:`to_json` and
:func:`to_html_table` (and :func:`render` by format name), with :func:`notes` under a table. Model names are
untrusted text in each (escaped for HTML, Markdown and rich markup).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from starling_eval.report.leaderboard import Cell, Column, Leaderboard, Row, timestamp
from starling_eval.store.runs import STATUS_COMPLETE


def format_value(value: float | None, ci95: Sequence[float] | None = None) -> str:
    """``8.09 (7.90–8.30)``; ``—`` when there is no value."""
    if value is None:
        return "—"
    text = f"{value:.2f}"
    return f"{text} ({ci95[0]:.2f}–{ci95[1]:.2f})" if ci95 else text


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    text = format_value(cell.value, cell.ci95)
    if cell.n_failed:
        text += f" · {cell.n_failed} failed"
    if cell.status != STATUS_COMPLETE:
        text += f" · {cell.status}"
    if cell.extra.get("fallback_for"):
        text += " · no LC"
    return text


def _short_date(date: str | None) -> str:
    return (date or "")[:10]


def _row_summary(lb: Leaderboard, row: Row) -> tuple[int, str | None]:
    mine = [c for c in (lb.cell(row, col) for col in lb.columns) if c is not None]
    per_run: dict[str, int] = {}  # several metrics of one run share its failed judgments: count them once
    for c in mine:
        per_run[c.run_id] = max(per_run.get(c.run_id, 0), c.n_failed)
    failed = sum(per_run.values())
    newest = max((c.date for c in mine if c.date), key=timestamp, default=None)
    return failed, newest


def _column_note(column: Column) -> str:
    unit = "%" if column.unit == "percent" else "score"
    judge = f"judge {column.judge}" if column.judge else "no judge"
    return f"{unit}; {judge}; key {column.key_id}"


def notes(lb: Leaderboard) -> list[str]:
    """Plain-text lines under a table: each column's unit, judge and key; splits; superseded and skipped runs."""
    out = [f"{c.header}: {_column_note(c)}" for c in lb.columns]
    for m in lb.mismatches:
        for pair in m["pairs"]:
            out.append(f"not comparable: {pair['headers'][0]} vs {pair['headers'][1]}: {'; '.join(pair['reasons'])}")
    superseded = sum(len(c.superseded) for c in lb.cells.values())
    if superseded:
        out.append(f"{superseded} older run(s) superseded by a newer complete run of the same model and column")
    for cell in lb.cells.values():
        if cell.extra.get("fallback_for"):
            out.append(f"run {cell.run_id}: {cell.extra.get('lc_unavailable')}; showing the raw win rate")
    if lb.skipped:
        out.append(f"{len(lb.skipped)} run(s) left out: " + "; ".join(f"{s['run_id']} ({s['reason']})" for s in lb.skipped))
    return out


def to_rich_table(lb: Leaderboard, title: str = "leaderboard") -> Any:
    """A rich Table (model names go in as Text: no markup is interpreted)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, caption=None)
    table.add_column("model")
    table.add_column("revision")
    for c in lb.columns:
        table.add_column(Text(f"{c.header}\n{_column_note(c)}"), justify="right")
    table.add_column("failed", justify="right")
    table.add_column("last run")
    for row in lb.rows:
        failed, newest = _row_summary(lb, row)
        table.add_row(Text(row.model), Text(row.revision or "—"),
                      *(Text(cell_text(lb.cell(row, c)) or "—") for c in lb.columns),
                      str(failed), _short_date(newest))
    return table


def _md(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def to_markdown(lb: Leaderboard, *, with_notes: bool = True) -> str:
    """A GitHub-flavoured Markdown table, then the notes as a list."""
    header = ["model", "revision", *(c.header for c in lb.columns), "failed", "last run"]
    lines = ["| " + " | ".join(_md(h) for h in header) + " |",
             "|" + "|".join([" --- ", " --- ", *(" ---: " for _ in lb.columns), " ---: ", " --- "]) + "|"]
    for row in lb.rows:
        failed, newest = _row_summary(lb, row)
        cells = [row.model, row.revision or "—", *(cell_text(lb.cell(row, c)) or "—" for c in lb.columns),
                 str(failed), _short_date(newest)]
        lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
    if with_notes:
        extra = notes(lb)
        if extra:
            lines += ["", *(f"- {_md(n)}" for n in extra)]
    return "\n".join(lines) + "\n"


def _long_records(lb: Leaderboard) -> list[dict[str, Any]]:
    out = []
    for row in lb.rows:
        for c in lb.columns:
            cell = lb.cell(row, c)
            if cell is None:
                continue
            out.append({"model": row.model, "revision": row.revision, "metric": c.metric, "column": c.header,
                        "key_id": c.key_id, "unit": c.unit, "value": cell.value,
                        "ci95_low": cell.ci95[0] if cell.ci95 else None, "ci95_high": cell.ci95[1] if cell.ci95 else None,
                        "n": cell.n, "n_failed": cell.n_failed, "judge": cell.judge, "date": cell.date,
                        "status": cell.status, "run_id": cell.run_id, "superseded": " ".join(cell.superseded)})
    return out


def to_frame(lb: Leaderboard, *, long: bool = False) -> Any:
    """A pandas DataFrame: wide (a row per model; per column: value, CI bounds, n, failed, judge, date, run)
    or long (a row per cell)."""
    import pandas as pd

    if long:
        return pd.DataFrame(_long_records(lb), columns=["model", "revision", "metric", "column", "key_id", "unit",
                                                        "value", "ci95_low", "ci95_high", "n", "n_failed", "judge",
                                                        "date", "status", "run_id", "superseded"])
    records = []
    for row in lb.rows:
        rec: dict[str, Any] = {"model": row.model, "revision": row.revision}
        for c in lb.columns:
            cell = lb.cell(row, c)
            h = c.header
            rec.update({h: cell.value if cell else None,
                        f"{h} ci95_low": cell.ci95[0] if cell and cell.ci95 else None,
                        f"{h} ci95_high": cell.ci95[1] if cell and cell.ci95 else None,
                        f"{h} n": cell.n if cell else None, f"{h} failed": cell.n_failed if cell else None,
                        f"{h} judge": cell.judge if cell else None, f"{h} date": cell.date if cell else None,
                        f"{h} run": cell.run_id if cell else None})
        records.append(rec)
    columns = ["model", "revision"] + [f"{c.header}{s}" for c in lb.columns
                                       for s in ("", " ci95_low", " ci95_high", " n", " failed", " judge", " date", " run")]
    return pd.DataFrame(records, columns=columns)


def to_csv(lb: Leaderboard, *, long: bool = False) -> str:
    return to_frame(lb, long=long).to_csv(index=False)


def to_json(lb: Leaderboard) -> dict[str, Any]:
    """Plain dicts and lists (JSON-serialisable)::

        {"results_root", "filters",
         "columns": [{"id", "metric", "header", "unit", "higher_is_better", "judge", "key_id", "key", "differs"}],
         "rows": [{"id", "model", "revision", "failed", "last_run",
                   "cells": {column id: {"value", "ci95": [lo, hi] | null, "n", "n_failed", "run_id", "judge",
                                         "date", "status", "superseded": [run ids], "extra"}}}],
         "mismatches": [{"metric", "columns", "headers", "differs_in", "pairs": [{"columns", "headers", "reasons"}],
                         "note"}],
         "skipped": [{"run_id", "benchmark"?, "reason"}]}
    """
    rows = []
    for row in lb.rows:
        failed, newest = _row_summary(lb, row)
        cells = {}
        for c in lb.columns:
            cell = lb.cell(row, c)
            if cell is not None:
                cells[c.id] = {"value": cell.value, "ci95": list(cell.ci95) if cell.ci95 else None, "n": cell.n,
                               "n_failed": cell.n_failed, "run_id": cell.run_id, "judge": cell.judge, "date": cell.date,
                               "status": cell.status, "superseded": list(cell.superseded), "extra": _plain(cell.extra)}
        rows.append({"id": row.id, "model": row.model, "revision": row.revision, "failed": failed, "last_run": newest,
                     "cells": cells})
    return _plain({
        "results_root": lb.results_root,
        "filters": lb.filters,
        "columns": [{"id": c.id, "metric": c.metric, "header": c.header, "unit": c.unit,
                     "higher_is_better": c.higher_is_better, "judge": c.judge, "key_id": c.key_id, "key": c.key,
                     "differs": c.differs} for c in lb.columns],
        "rows": rows,
        "mismatches": lb.mismatches,
        "skipped": lb.skipped,
    })


def _plain(value: Any) -> Any:
    """Tuples to lists, non-JSON leaves to strings: what json.dumps takes and json.loads gives back."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    return str(value)


def to_html_table(lb: Leaderboard, *, css_class: str = "leaderboard") -> str:
    """An HTML ``<table>`` fragment; every piece of text is escaped (model names are untrusted)."""
    e = html.escape
    out = [f'<table class="{e(css_class)}">', "<thead><tr>", "<th>model</th><th>revision</th>"]
    for c in lb.columns:
        out.append(f'<th title="{e(_column_note(c))}" data-column="{e(c.id)}">{e(c.header)}</th>')
    out += ["<th>failed</th><th>last run</th>", "</tr></thead>", "<tbody>"]
    for row in lb.rows:
        failed, newest = _row_summary(lb, row)
        out.append(f'<tr data-row="{e(row.id)}"><td>{e(row.model)}</td><td>{e(row.revision or "—")}</td>')
        for c in lb.columns:
            cell = lb.cell(row, c)
            if cell is None:
                out.append('<td class="empty">—</td>')
                continue
            title = f"run {cell.run_id}; {cell.date or ''}; n={cell.n}" + (
                f"; superseded {' '.join(cell.superseded)}" if cell.superseded else "")
            classes = " ".join(k for k, on in (("failed", cell.n_failed), (cell.status, cell.status != STATUS_COMPLETE),
                                                ("fallback", cell.extra.get("fallback_for"))) if on)
            attr = f' class="{e(classes)}"' if classes else ""
            out.append(f'<td{attr} title="{e(title)}">{e(cell_text(cell))}</td>')
        out.append(f"<td>{failed}</td><td>{e(_short_date(newest))}</td></tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out) + "\n"


def render(lb: Leaderboard, fmt: str) -> str:
    """md, csv, json or html as text (``table`` is :func:`to_rich_table`, printed by the caller)."""
    if fmt == "md":
        return to_markdown(lb)
    if fmt == "csv":
        return to_csv(lb)
    if fmt == "json":
        return json.dumps(to_json(lb), indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        return to_html_table(lb)
    raise ValueError(f"unknown leaderboard format {fmt!r} (md, csv, json, html; table is rich)")
