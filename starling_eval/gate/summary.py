"""The gate's result as text: Markdown for ``$GITHUB_STEP_SUMMARY`` (or a PR comment) and a rich Table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starling_eval.gate.check import GateResult


def _f(value: float) -> str:
    return f"{value:.4f}".replace("-", "−")


def _mcnemar_text(m: dict[str, Any] | None) -> str:
    return "—" if m is None else f"b={m['b']} c={m['c']} p={m['p_value']:.4g}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def markdown_summary(result: GateResult) -> str:
    """The gate as GitHub-flavoured Markdown (for ``$GITHUB_STEP_SUMMARY`` or a PR comment)."""
    verdict = "✅ pass" if result.passed else "❌ regression"
    b, c = result.baseline, result.candidate
    lines = [
        f"### starling-eval gate: {verdict}",
        "",
        f"**{_cell(b['benchmark'])}** · baseline `{_cell(b['run_id'])}` ({_cell(b['model'])}) · candidate "
        f"`{_cell(c['run_id'])}` ({_cell(c['model'])})",
        "",
        "| metric | unit | baseline | candidate | Δ | 95% CI of Δ | max drop | shared items | only base / cand "
        "| McNemar | result |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in result.rules:
        lines.append(f"| {r.metric} | {r.unit} | {_f(r.baseline_mean)} | {_f(r.candidate_mean)} | {_f(r.diff)} | "
                     f"[{_f(r.ci_low)}, {_f(r.ci_high)}] | {r.max_drop:g} | {r.n_shared} | "
                     f"{r.n_only_baseline} / {r.n_only_candidate} | {_mcnemar_text(r.mcnemar)} | "
                     f"{'pass' if r.passed else '**FAIL**'} |")
    lines += ["", f"Δ = candidate − baseline on the shared items; a rule fails when the {result.confidence:.0%} "
                  f"paired bootstrap interval ({result.n_resamples} resamples of clusters, seed {result.seed}) reaches "
                  "below −max drop. Max drop is in the metric's unit: percentage points for a percent, points of a 1-10 score."]
    if result.default_rules:
        lines.append("No rules file: the headline metric at max drop 0 (non-inferiority).")
    if result.skipped:
        lines.append(f"Skipped rules: {'; '.join(result.skipped)}.")
    return "\n".join(lines) + "\n"


def write_step_summary(result: GateResult, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when it is set (GitHub Actions shows it on the
    run's page); returns the file written, or None outside Actions."""
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown_summary(result) + "\n")
    return path


def gate_table(result: GateResult) -> Any:
    """The gate as a rich Table (the CLI prints it)."""
    from rich.table import Table

    b, c = result.baseline, result.candidate
    table = Table(title=f"gate {b['benchmark']}: {c['run_id']} ({c['model']}) vs baseline {b['run_id']} ({b['model']})"
                        f" — {'PASS' if result.passed else 'REGRESSION'}")
    for col in ("metric", "unit", "baseline", "candidate", "Δ", "95% CI", "max drop", "shared", "only b/c",
                "failed b/c", "McNemar", "result"):
        table.add_column(col, justify="left" if col in ("metric", "unit", "McNemar", "result") else "right")
    for r in result.rules:
        table.add_row(r.metric, r.unit, _f(r.baseline_mean), _f(r.candidate_mean), _f(r.diff),
                      f"[{_f(r.ci_low)}, {_f(r.ci_high)}]", f"{r.max_drop:g}", str(r.n_shared),
                      f"{r.n_only_baseline}/{r.n_only_candidate}", f"{r.n_failed_baseline}/{r.n_failed_candidate}",
                      _mcnemar_text(r.mcnemar), "pass" if r.passed else "[bold red]FAIL[/]")
    return table
