"""``gate``: is a candidate checkpoint's run worse than a baseline's, beyond what its rules allow? (CI gates)

The two runs are compared on the items both scored (a paired comparison: the candidate's and the
baseline's value of the same item are differenced, which removes the item-difficulty variance a
comparison of two headline numbers carries). For each rule's metric the difference of means
Δ = candidate − baseline gets a 95% paired bootstrap interval, resampling clusters (the two turns of an
MT-Bench question, the pairs cut from one prompt) with replacement. A rule **fails when the interval's
lower end is below −max_drop**: the data cannot rule out a drop larger than allowed. ``max_drop`` is in the
metric's own unit: percentage points for percent metrics (accuracies, win rates, harmless rate), score
points for 1-10 scores (MT-Bench, Safe-RLHF helpfulness).

Without rules the gate checks the benchmark's headline metric(s) (``report.items.HEADLINE``; every track of
a reward-model run) at ``max_drop`` 0: pure non-inferiority, passing only a candidate whose whole interval
is at or above the baseline (identical results, or a clear improvement). That is strict on purpose (a gate
that passes by default protects nothing); a project states its tolerances in a rules file (YAML or JSON)::

    mtbench.overall: {max_drop: 0.15}
    mmlu.acc: {max_drop: 1.0}

or as a list, ``[{metric: mtbench.overall, max_drop: 0.15}, ...]``. One rules file can serve every
benchmark: rules for another benchmark (or another kind of run of it) are skipped and listed. For 0/1
metrics (MMLU, MC1, RM accuracy, harmless rate) McNemar's test on the discordant items is reported too, as
information; the pass/fail decision is the bootstrap's. McNemar ignores clusters.

Refused, as bad input (exit 2): runs that are not comparable (``report.comparability``: other benchmark
version, judge or prompt; ``limit`` is ignored since only shared items are compared), a rule whose metric
a run lacks, a metric that is not a mean over items, no shared items. Exit 0 when every rule passes, 1 on
a regression. A baseline can be a run (id, unique id prefix, folder) or a file written from
:func:`export_run`, so a project can commit its reference run's per-item values under ``results/``.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starling_eval import __version__
from starling_eval.data import DataError
from starling_eval.report.comparability import comparability_key, differences
from starling_eval.report.items import NOT_ITEM_MEANS, ItemValues, headline_metrics, known_metrics, read_items
from starling_eval.store.runs import RunFolder, RunStore

DEFAULT_MAX_DROP = 0.0
CONFIDENCE = 0.95
N_RESAMPLES = 2000
EXACT_BELOW = 25  # McNemar: exact binomial test below this many discordant items, chi-square from there
TOLERANCE = 1e-9  # float noise in an interval's end never decides a rule
EXPORT_FORMAT = "starling-eval-run-items"
EXPORT_SCHEMA_VERSION = 1

EXIT_PASS, EXIT_REGRESSION = 0, 1  # bad input is a GateError: the CLI's exit 2


class GateError(DataError):
    """Bad input to the gate (incomparable runs, a missing metric, a bad rules file): one line, exit 2."""


# -- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Fail when the 95% CI of candidate − baseline reaches below −max_drop (in the metric's own unit)."""

    metric: str
    max_drop: float = DEFAULT_MAX_DROP


def read_rules(path: Path | str) -> list[Rule]:
    """A rules file (YAML, or JSON by its ``.json`` suffix): mapping ``{metric: {max_drop: x}}`` or list
    ``[{metric: m, max_drop: x}]``. Anything else, an unknown metric (a typo) or a bad number is a GateError
    naming the file, so CI fails on the file rather than silently gating nothing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GateError(f"rules file {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise GateError(f"rules file {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except Exception as exc:  # yaml.YAMLError: its message spans lines; keep the first and the position
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise GateError(f"rules file {path}: not valid YAML ({problem}{where})") from None
    return rules_from(doc, str(path))


def rules_from(doc: Any, source: str = "rules") -> list[Rule]:
    """Rules from a parsed document (see :func:`read_rules`); errors name ``source``."""
    if isinstance(doc, Mapping):
        entries = [(metric, spec) for metric, spec in doc.items()]
    elif isinstance(doc, list):
        entries = []
        for i, entry in enumerate(doc):
            if not isinstance(entry, Mapping) or "metric" not in entry:
                raise GateError(f"rules file {source}: entry {i + 1} must be a mapping with a metric and a max_drop")
            entries.append((entry["metric"], {k: v for k, v in entry.items() if k != "metric"}))
    else:
        raise GateError(f"rules file {source}: expected a mapping {{metric: {{max_drop: x}}}} or a list of "
                        "{metric, max_drop} entries")
    if not entries:
        raise GateError(f"rules file {source}: no rules")
    rules, seen = [], set()
    for metric, spec in entries:
        rule = _rule(metric, spec, source)
        if rule.metric in seen:
            raise GateError(f"rules file {source}: two rules for {rule.metric}")
        seen.add(rule.metric)
        rules.append(rule)
    return rules


def _rule(metric: Any, spec: Any, source: str) -> Rule:
    known = known_metrics()
    if not isinstance(metric, str) or metric not in known:
        close = difflib.get_close_matches(str(metric), list(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"
        raise GateError(f"rules file {source}: unknown metric {metric!r}{hint}")
    if metric in NOT_ITEM_MEANS:
        raise GateError(f"rules file {source}: {NOT_ITEM_MEANS[metric]}")
    if not isinstance(spec, Mapping) or set(spec) != {"max_drop"}:
        extra = sorted(set(spec) - {"max_drop"}) if isinstance(spec, Mapping) else []
        what = f"unknown key {extra[0]!r}" if extra else "expected {max_drop: <number>}"
        raise GateError(f"rules file {source}: {metric}: {what}")
    value = spec["max_drop"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise GateError(f"rules file {source}: {metric}: max_drop must be a number >= 0 (got {value!r})")
    return Rule(metric, float(value))


def default_rules(side: Side) -> list[Rule]:
    """No rules file: the headline metric(s) of the run's kind at max_drop 0 (non-inferiority)."""
    return [Rule(m, DEFAULT_MAX_DROP) for m in headline_metrics(side.kind, side.benchmark)]


# -- the two sides ----------------------------------------------------------------------------------


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
    run = store.get(ref)
    if run is not None:
        return run
    prefixed = [r.run_id for r in store.all_runs() if r.run_id.startswith(ref)]
    if len(prefixed) > 1:
        raise GateError(f"{ref}: ambiguous run id prefix ({', '.join(prefixed[:3])}{', ...' if len(prefixed) > 3 else ''})")
    raise GateError(f"{ref}: no such run in {store.runs_dir} and no such file (give a run id, a unique id prefix, a "
                    "run folder or an exported .json)")


# -- statistics -------------------------------------------------------------------------------------


def paired_bootstrap(base: Mapping[str, float], cand: Mapping[str, float], clusters: Mapping[str, str], *,
                     n_resamples: int = N_RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """(Δ, CI low, CI high, n shared items) for Δ = mean(cand) − mean(base) over the items both have.

    Each resample draws clusters with replacement and takes the mean per-item difference over the items of
    the drawn clusters (vectorised: ``stats.cluster_bootstrap_ci`` on the differences). Items missing from
    ``clusters`` are their own cluster. Fewer than two shared clusters give no interval: a GateError."""
    from starling_eval.stats import cluster_bootstrap_ci

    keys = [k for k in base if k in cand]
    if not keys:
        raise GateError("no items in common: the two runs share no scored item")
    deltas = [cand[k] - base[k] for k in keys]
    groups = [str(clusters.get(k, k)) for k in keys]
    interval = cluster_bootstrap_ci(deltas, groups, seed=seed, n_resamples=n_resamples, confidence=confidence)
    if interval is None:
        raise GateError(f"only {len(set(groups))} shared cluster of items: too few for a bootstrap interval")
    return math.fsum(deltas) / len(deltas), interval[0], interval[1], len(keys)


def mcnemar(base: Mapping[str, float], cand: Mapping[str, float]) -> dict[str, Any]:
    """McNemar's test on the shared items of a 0/1 metric (any non-zero value is a 1, so 0/100 works).

    b: items right in the baseline and wrong in the candidate (regressions); c: the reverse. Two-sided p:
    the exact binomial test (b ~ Bin(b + c, 1/2)) when b + c < 25, where the chi-square approximation is
    poor; from 25 on, chi-square with 1 df and Edwards' continuity correction, (|b − c| − 1)² / (b + c)."""
    b = c = 0
    for k in base:
        if k in cand:
            was, now = bool(base[k]), bool(cand[k])
            b += was and not now
            c += now and not was
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "p_value": 1.0, "method": "no discordant items"}
    if n < EXACT_BELOW:
        tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
        return {"b": b, "c": c, "p_value": min(1.0, 2 * tail / 2**n), "method": "exact binomial"}
    statistic = (abs(b - c) - 1) ** 2 / n
    return {"b": b, "c": c, "p_value": math.erfc(math.sqrt(statistic / 2)), "method": "chi-square, continuity-corrected"}


# -- the gate ---------------------------------------------------------------------------------------


@dataclass
class RuleResult:
    metric: str
    unit: str
    max_drop: float
    baseline_mean: float  # on the shared items
    candidate_mean: float
    diff: float  # candidate − baseline
    ci_low: float
    ci_high: float
    passed: bool
    n_shared: int
    n_only_baseline: int
    n_only_candidate: int
    n_failed_baseline: int
    n_failed_candidate: int
    mcnemar: dict[str, Any] | None = None


@dataclass
class GateResult:
    baseline: dict[str, Any]
    candidate: dict[str, Any]
    rules: list[RuleResult]
    skipped: list[str]  # rules for another benchmark or kind of run, with why
    seed: int
    n_resamples: int
    confidence: float = CONFIDENCE
    default_rules: bool = False

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rules)

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_REGRESSION

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "exit_code": self.exit_code, "baseline": self.baseline,
                "candidate": self.candidate, "rules": [asdict(r) for r in self.rules], "skipped": self.skipped,
                "default_rules": self.default_rules,
                "method": {"test": "paired cluster bootstrap of candidate - baseline", "n_resamples": self.n_resamples,
                           "seed": self.seed, "confidence": self.confidence,
                           "fails_when": "ci_low < -max_drop (max_drop in the metric's unit)"}}


def evaluate_gate(baseline: Side, candidate: Side, rules: Iterable[Rule] | None = None, seed: int = 0, *,
                  n_resamples: int = N_RESAMPLES) -> GateResult:
    """Check comparability, pick the rules that apply (None: the headline defaults) and test each one."""
    _check_comparable(baseline, candidate)
    given = rules is not None
    applied, skipped = _applicable(list(rules) if given else default_rules(baseline), baseline)
    results = [_evaluate_rule(rule, baseline, candidate, seed, n_resamples) for rule in applied]
    return GateResult(baseline=baseline.info(), candidate=candidate.info(), rules=results, skipped=skipped, seed=seed,
                      n_resamples=n_resamples, default_rules=not given)


def gate(baseline_ref: str | Path, candidate_ref: str | Path, results_root: Path | str, *,
         rules_path: Path | str | None = None, seed: int = 0, n_resamples: int = N_RESAMPLES) -> GateResult:
    """The whole gate as the CLI runs it: load both sides and the rules (if any), evaluate."""
    rules = read_rules(rules_path) if rules_path is not None else None
    baseline = load_side(baseline_ref, results_root)
    candidate = load_side(candidate_ref, results_root)
    return evaluate_gate(baseline, candidate, rules, seed, n_resamples=n_resamples)


def _check_comparable(baseline: Side, candidate: Side) -> None:
    reasons = differences(baseline.key, candidate.key, ignore=("limit",))
    if not reasons and baseline.kind != candidate.kind:
        reasons = [f"kind of run: {baseline.kind} vs {candidate.kind}"]
    if reasons:
        raise GateError(f"runs {baseline.run_id} and {candidate.run_id} are not comparable: {'; '.join(reasons)}")


def _applicable(rules: list[Rule], side: Side) -> tuple[list[Rule], list[str]]:
    """The rules about this benchmark and kind of run; the others are skipped (one rules file serves all)."""
    known = known_metrics()
    applied, skipped = [], []
    for rule in rules:
        if rule.metric not in known:
            raise GateError(f"unknown metric {rule.metric!r}")
        if rule.metric in NOT_ITEM_MEANS:  # refused whatever the run: such a rule could never be checked
            raise GateError(NOT_ITEM_MEANS[rule.metric])
        benchmark, kind = known[rule.metric]
        if benchmark != side.benchmark:
            skipped.append(f"{rule.metric}: another benchmark")
        elif kind != side.kind:
            skipped.append(f"{rule.metric}: not measured by a {side.kind} run")
        else:
            applied.append(rule)
    if not applied:
        raise GateError(f"no rule applies to a {side.benchmark} run ({side.kind}); its metrics: "
                        f"{', '.join(sorted(side.metrics)) or 'none'}")
    return applied, skipped


def _evaluate_rule(rule: Rule, baseline: Side, candidate: Side, seed: int, n_resamples: int) -> RuleResult:
    for side, name in ((baseline, "baseline"), (candidate, "candidate")):
        if rule.metric not in side.metrics:
            raise GateError(f"metric {rule.metric} is not in the {name} run {side.run_id} (it has: "
                            f"{', '.join(sorted(side.metrics)) or 'none'})")
    base, cand = baseline.metrics[rule.metric], candidate.metrics[rule.metric]
    shared = [k for k in base.values if k in cand.values]
    if not shared:
        raise GateError(f"{rule.metric}: the runs {baseline.run_id} and {candidate.run_id} share no scored item")
    diff, low, high, n = paired_bootstrap(base.values, cand.values, base.clusters, n_resamples=n_resamples, seed=seed)
    return RuleResult(
        metric=rule.metric, unit=base.unit, max_drop=rule.max_drop,
        baseline_mean=math.fsum(base.values[k] for k in shared) / n,
        candidate_mean=math.fsum(cand.values[k] for k in shared) / n,
        diff=diff, ci_low=low, ci_high=high, passed=low >= -rule.max_drop - TOLERANCE, n_shared=n,
        n_only_baseline=len(base.values) - n, n_only_candidate=len(cand.values) - n,
        n_failed_baseline=base.n_failed, n_failed_candidate=cand.n_failed,
        mcnemar=mcnemar(base.values, cand.values) if base.binary and cand.binary else None)


# -- output -----------------------------------------------------------------------------------------


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
