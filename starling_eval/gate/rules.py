"""Gate rules: ``{metric: {max_drop: x}}`` from a YAML or JSON file, checked against the known metrics, or
the headline metric(s) of a run's kind at max_drop 0 when there is no rules file."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_eval.gate.sides import GateError, Side
from starling_eval.report.items import NOT_ITEM_MEANS, headline_metrics, known_metrics

DEFAULT_MAX_DROP = 0.0


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
