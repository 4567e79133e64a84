"""The gate itself: comparability of the two sides, the rules that apply, and each rule's verdict."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starling_eval.gate.paired import CONFIDENCE, N_RESAMPLES, mcnemar, paired_bootstrap
from starling_eval.gate.rules import Rule, default_rules, read_rules
from starling_eval.gate.sides import GateError, Side, load_side
from starling_eval.report.comparability import differences
from starling_eval.report.items import NOT_ITEM_MEANS, known_metrics

TOLERANCE = 1e-9  # float noise in an interval's end never decides a rule

EXIT_PASS, EXIT_REGRESSION = 0, 1  # bad input is a GateError: the CLI's exit 2


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
