"""Rich tables of benchmark scores; the CLI prints them (library code never prints).

Numbers are shown to six decimals, as FastChat's show_result prints them, so a table can be checked
against a published leaderboard digit for digit. Failed judgments have their own column in every table:
they are left out of the means as FastChat does, but never out of sight.
"""

from __future__ import annotations

from typing import Any

from starling_eval.report.metrics import BENCHMARK_SCORE_COUNTS


def _num(value: float | None, digits: int = 6) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(interval: list[float] | None) -> str:
    return "—" if not interval else f"{interval[0]:.2f}–{interval[1]:.2f}"


def score_tables(scores: dict[str, Any], title: str) -> list[Any]:
    """The leaderboard table (and, for single grading, the per-category table)."""
    from rich.table import Table

    models = scores.get("models", [])
    if scores.get("mode") == "alpacaeval":
        return [_alpacaeval_table(models, title)]
    if scores.get("mode") in ("mmlu", "truthfulqa"):
        return _multiple_choice_tables(scores["mode"], models, title)
    if scores.get("mode") == "reward-pairs":
        return _benchmark_scores_table(scores.get("benchmark_scores")) + _reward_pairs_tables(models, title)
    if scores.get("mode") == "safety":
        return _safety_tables(models, title)
    if scores.get("mode") == "arena-hard":
        return [_arena_hard_table(models, title)]
    if scores.get("mode") == "single":
        table = Table(title=title)
        for col in ("model", "turn 1", "turn 2", "overall", "95% CI", "valid", "failed"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for m in models:
            table.add_row(m["model"], _num(m["turn1"]), _num(m["turn2"]), _num(m["overall"]),
                          _ci((m.get("ci95") or {}).get("overall")), str(m["n_valid"]), str(m["n_failed"]))
        tables = [table]
        categories = sorted({c for m in models for c in (m.get("categories") or {})})
        if categories:
            by_cat = Table(title="by category (mean of both turns)")
            by_cat.add_column("model")
            for c in categories:
                by_cat.add_column(c, justify="right")
            for m in models:
                cats = m.get("categories") or {}
                by_cat.add_row(m["model"], *(_num(cats.get(c), 2) for c in categories))
            tables.append(by_cat)
        return tables
    table = Table(title=f"{title} · {scores.get('mode')}" + (f" vs {scores['baseline']}" if scores.get("baseline") else ""))
    for col in ("model", "win", "loss", "tie", "win_rate", "loss_rate", "win_rate_adjusted", "95% CI",
                "style-controlled", "95% CI ", "position consistency", "failed"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m in models:
        ci = m.get("ci95") or {}
        table.add_row(m["model"], str(m["win"]), str(m["loss"]), str(m["tie"]), _num(m["win_rate"]),
                      _num(m["loss_rate"]), _num(m["win_rate_adjusted"]), _ci(ci.get("win_rate_adjusted")),
                      _num(m.get("win_rate_style_controlled")), _ci(ci.get("win_rate_style_controlled")),
                      _num(m["position_consistency"], 3), str(m["n_failed"]))
    return [table]


def _alpacaeval_table(models: list[dict[str, Any]], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", "LC win rate", "win rate", "std err", "style-controlled", "95% CI", "wins", "base wins",
                "draws", "total", "discrete", "avg length", "failed"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m in models:
        table.add_row(m["model"], _num(m["length_controlled_winrate"], 2), _num(m["win_rate"], 2),
                      _num(m["standard_error"], 2), _num(m.get("style_controlled_winrate"), 2),
                      _ci(m.get("style_controlled_ci")), str(m["n_wins"]), str(m["n_wins_base"]), str(m["n_draws"]),
                      str(m["n_total"]), _num(m["discrete_win_rate"], 2), str(m["avg_length"]), str(m["n_failed"]))
    return table


def _reward_pairs_tables(rows: list[dict[str, Any]], title: str) -> list[Any]:
    """Per track: RM accuracy (chosen strictly higher) beside the longer-reply baseline, with intervals."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("reward model", "track", "accuracy", "95% CI", "longer wins", "95% CI ", "pairs", "prompts", "ties",
                "skipped"):
        table.add_column(col, justify="left" if col in ("reward model", "track") else "right")
    for m in rows:
        skipped = ", ".join(f"{k} {v}" for k, v in m["skipped"].items()) or "-"
        table.add_row(m["model"], m["track"], _pct(m["accuracy"]), _ci_pct(m["ci95"]), _pct(m["length_baseline"]),
                      _ci_pct(m["length_baseline_ci95"]), str(m["n"]), str(m["n_prompts"]), str(m["ties"]), skipped)
    tables = [table]
    for m in rows:
        if len(m["subsets"]) > 1:
            by_subset = Table(title=f"{m['track']} by subset")
            for col in ("subset", "accuracy", "longer wins", "pairs"):
                by_subset.add_column(col, justify="left" if col == "subset" else "right")
            for name, sub in m["subsets"].items():
                by_subset.add_row(name, _pct(sub["accuracy"]), _pct(sub["length_baseline"]), str(sub["n"]))
            tables.append(by_subset)
    return tables


def _benchmark_scores_table(found: dict[str, Any] | None) -> list[Any]:
    """RewardBench's own numbers (v1 sections, v2 best-of-n subsets) and Score, first: they are its headline."""
    from rich.table import Table

    if not found:
        return []
    version = found.get("version")
    table = Table(title=f"RewardBench{' 2' if version == 2 else ''} score")
    names = [k for k in found if k not in BENCHMARK_SCORE_COUNTS]
    for name in names:
        table.add_column(name, justify="right")
    table.add_row(*(_pct(found[name]) for name in names))
    return [table]


def _safety_tables(models: list[dict[str, Any]], title: str) -> list[Any]:
    """Safe-RLHF for policies: harmless rate (%) and helpfulness (1-10) with intervals; harmless rate by category."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", "harmless %", "95% CI", "helpfulness", "95% CI ", "helpfulness if harmless", "valid", "failed"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m in models:
        table.add_row(m["model"], _pct(m["harmless_rate"]), _ci_pct(m["harmless_ci95"]), _num(m["helpfulness"], 2),
                      _ci(m["helpfulness_ci95"]), _num(m["helpfulness_when_harmless"], 2), str(m["n_valid"]),
                      str(m["n_failed"]))
    by_category = Table(title="harmless % by harm category (of the dataset's own responses to the prompt)")
    by_category.add_column("category")
    for m in models:
        by_category.add_column(m["model"], justify="right")
    for category in sorted({c for m in models for c in m["categories"]}):
        by_category.add_row(category, *(f"{_pct(m['categories'][category]['harmless_rate'])} "
                                         f"({m['categories'][category]['n']})" if category in m["categories"] else "—"
                                         for m in models))
    return [table, by_category]


def _multiple_choice_tables(mode: str, models: list[dict[str, Any]], title: str) -> list[Any]:
    """MMLU: micro, macro and the four groups (accuracy, %); TruthfulQA: MC1 and MC2."""
    from rich.table import Table

    table = Table(title=title)
    if mode == "mmlu":
        groups = sorted({g for m in models for g in m["groups"]})
        for col in ("model", "micro", "95% CI", "macro", *groups, "questions"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for m in models:
            table.add_row(m["model"], _pct(m["micro"]), _ci_pct(m["ci95"]), _pct(m["macro"]),
                          *(_pct(m["groups"].get(g)) for g in groups), str(m["n"]))
        return [table]
    for col in ("model", "MC1", "95% CI", "MC2", "95% CI", "questions"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m in models:
        table.add_row(m["model"], _pct(m["mc1"]), _ci_pct(m["mc1_ci95"]), _pct(m["mc2"]), _ci_pct(m["mc2_ci95"]),
                      str(m["n_mc1"]))
    return [table]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _ci_pct(interval: list[float] | None) -> str:
    return "—" if not interval else f"{100 * interval[0]:.2f}–{100 * interval[1]:.2f}"


def _arena_hard_table(models: list[dict[str, Any]], title: str) -> Any:
    """arena-hard-auto's show_result columns: score and 90% interval against the baseline, plain and
    style-controlled (length and markdown held equal)."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", "baseline", "score (%)", "CI (%)", "style-controlled (%)", "CI (%) ", "battles"):
        table.add_column(col, justify="left" if col in ("model", "baseline") else "right")
    for m in models:
        table.add_row(m["model"], m["baseline"], _num(m["score"], 1), m["ci"], _num(m["style_controlled"], 1),
                      m["style_controlled_ci"] or "—", str(m["battles"]))
    return table
