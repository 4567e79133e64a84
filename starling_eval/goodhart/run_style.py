"""How much of a judged run's win rate is style: each model's raw win rate beside the one with answer length and
markdown held equal (``adapters.style_control``), for ``goodhart bias``.

A judge that rewards long, list-heavy answers lifts a verbose model's raw win rate without the content being better;
the style-controlled win rate is what is left when both answers of every comparison are made to look alike. The
numbers are the ones the run's own scorer writes to ``scores.json`` (MT-Bench pairwise: ``win_rate_adjusted`` and
``win_rate_style_controlled``; AlpacaEval: ``win_rate`` and ``style_controlled_winrate``), recomputed here from
``judgments.jsonl`` so that runs scored before style control existed get them too. A run whose rows cannot give
them (MT-Bench rows judged without GPT-4o's tokenizer file) says why in ``unavailable``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starling_eval.adapters.alpacaeval.score import style_controlled
from starling_eval.adapters.mtbench.score import pair_matches, score_pairwise
from starling_eval.data import DataDir

# the kinds of judgment row that carry pairwise verdicts (``run_bias`` reads the same two)
KIND_PAIR = "pair"
KIND_ALPACAEVAL = "alpacaeval"


def style_section(kind: str, rows: Sequence[Mapping[str, Any]], *, judge_mode: str | None = None,
                  data: DataDir | None = None, seed: int = 0) -> dict[str, Any]:
    """``models`` ([{model, raw, style_controlled, ci95, gap, gap_ci95, n_battles, n_longer, n_shorter, extrapolated,
    coefficients}]: fractions, gap = raw − style-controlled, the style coefficients per standard deviation of each
    style difference), ``unavailable`` (why no numbers, else None), ``notes`` and ``flags``. A model whose gap's 95%
    interval leaves out 0 is flagged, unless its answers were always the longer (or always the shorter): equal
    length was then never observed, the style-controlled rate is an extrapolation, and a note says so instead."""
    if kind == KIND_PAIR:
        found = _mtbench(rows, judge_mode, seed)
    elif kind == KIND_ALPACAEVAL:
        found = _alpacaeval(rows, data, seed)
    else:
        found = {"models": [], "unavailable": f"no style control for {kind} judgments"}
    found["flags"] = [_flag(m) for m in found["models"] if _outside(m) and not m["extrapolated"]]
    found["notes"] = [f"{m['model']}'s answer was the {'longer' if m['n_shorter'] == 0 else 'shorter'} in every "
                      f"battle: its style-controlled win rate extrapolates to an equal length never observed"
                      for m in found["models"] if m["extrapolated"]]
    return found


def _mtbench(rows: Sequence[Mapping[str, Any]], judge_mode: str | None, seed: int) -> dict[str, Any]:
    pairs = [r for r in rows if r.get("kind") == KIND_PAIR]
    opponents = {r.get("model_2") for r in pairs}
    baseline = next(iter(opponents)) if judge_mode == "pairwise-baseline" and len(opponents) == 1 else None
    scores = score_pairwise(pair_matches(pairs), baseline, seed=seed)
    if scores["style_unavailable"]:
        return {"models": [], "unavailable": f"style control unavailable: {scores['style_unavailable']}"}
    coefficients = scores["style_control"]["coefficients"]
    models = [_entry(m["model"], m["style_control"], coefficients) for m in scores["models"] if m["style_control"]]
    return {"models": models, "unavailable": None}


def _alpacaeval(rows: Sequence[Mapping[str, Any]], data: DataDir | None, seed: int) -> dict[str, Any]:
    """The latest row of every (model, instruction), as alpaca_eval annotation rows, per model."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r.get("kind") == KIND_ALPACAEVAL:
            latest[(str(r.get("model")), str(r.get("instruction")))] = {
                "instruction": r.get("instruction"), "output_1": r.get("output_1"), "output_2": r.get("output_2"),
                "generator_1": r.get("reference"),
                "preference": None if r.get("failure") is not None else r.get("verdict")}
    by_model: dict[str, list[dict[str, Any]]] = {}
    for (model, _), row in latest.items():
        by_model.setdefault(model, []).append(row)
    models, unavailable = [], None
    for model, model_rows in sorted(by_model.items()):
        fit = style_controlled(model, model_rows, data, seed=seed)
        if fit["style_unavailable"]:
            unavailable = fit["style_unavailable"]
            continue
        models.append(_entry(model, fit["style_control"], fit["style_coefficients"]))
    return {"models": models, "unavailable": unavailable}


def _entry(model: str, fit: Mapping[str, Any], coefficients: Mapping[str, float | None] | None) -> dict[str, Any]:
    """One model's numbers; ``fit`` is its entry of ``style_control.style_controlled_win_rates``, whose ``raw`` is
    the scorer's raw win rate (MT-Bench's ``win_rate_adjusted``, AlpacaEval's ``win_rate`` / 100)."""
    raw, controlled = fit["raw"], fit["style_controlled"]
    gap = raw - controlled
    return {"model": model, "raw": raw, "style_controlled": controlled, "ci95": fit["ci95"], "gap": gap,
            "gap_ci95": fit["gap_ci95"],
            "n_battles": fit["n_battles"], "n_longer": fit["n_longer"], "n_shorter": fit["n_shorter"],
            "extrapolated": not (fit["n_longer"] and fit["n_shorter"]),
            "coefficients": dict(coefficients) if coefficients else None}


def _outside(entry: Mapping[str, Any]) -> bool:
    """The gap raw − style-controlled is significant: its bootstrap interval leaves out 0."""
    ci = entry["gap_ci95"]
    return bool(ci) and not ci[0] <= 0 <= ci[1]


def _flag(entry: Mapping[str, Any]) -> str:
    direction = "lifts" if entry["gap"] > 0 else "lowers"
    low, high = entry["gap_ci95"]
    return (f"style {direction} {entry['model']}'s win rate: {entry['raw']:.1%} raw, {entry['style_controlled']:.1%} "
            f"with answer length and markdown held equal (gap {entry['gap']:+.1%}, 95% CI {low:+.1%} to {high:+.1%})")
