"""Plots of a run's items, beside the leaderboard's: what people would rather look at than read.

Per run (one figure row each): the score by category with 95% intervals (a bootstrap over questions, so the two
turns of a question move together), the distribution of scores or verdicts, answer length against score (is
the judge rewarding length?), and for pairwise runs the position-consistency breakdown: in how many matches
the two games (answers shown in both orders) agreed, and when they did not, which position the judge favoured.
Built from the item browser's document (``report.run_items``), so the plots and the browser show one truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from starling_eval.report.figures import bars, figure, png
from starling_eval.stats import cluster_bootstrap_ci

MIN_ITEMS = 3  # fewer valid items in a run: nothing worth plotting


def run_plots(doc: Mapping[str, Any]) -> list[str]:
    """Figure HTML for every run of an items document."""
    out: list[str] = []
    for index, run in enumerate(doc.get("runs", [])):
        items = [i for i in doc.get("items", []) if i.get("run") == index]
        valid = [i for i in items if i.get("value") is not None]
        if len(valid) < MIN_ITEMS:
            continue
        label = str(run.get("label") or run.get("id"))
        rating = run.get("mode") == "single"
        unit = "score (1-10)" if rating else "win rate %"
        out.append(figure(_by_category(valid, label, unit), f"{label}: by category (95% CI)"))
        out.append(figure(_distribution(valid, label, rating), f"{label}: distribution"))
        out.append(figure(_length_vs_score(valid, label, unit), f"{label}: answer length vs score"))
        games = [i for i in items if len(i.get("judgments", [])) == 2]
        if games:
            out.append(figure(_position(games, label), f"{label}: position consistency"))
    return out


def _cluster(item: Mapping[str, Any]) -> str:
    return str(item.get("key", "")).split("|", 1)[0]  # MT-Bench: the question; others: the item itself


def _by_category(items: Sequence[Mapping[str, Any]], label: str, unit: str) -> str:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        groups.setdefault(str(item.get("category")), []).append(item)
    rows = []
    for category, members in sorted(groups.items()):
        values = [float(i["value"]) for i in members]
        ci = cluster_bootstrap_ci(values, [_cluster(i) for i in members]) if len(values) > 1 else None
        rows.append((f"{category} (n={len(values)})", sum(values) / len(values), list(ci) if ci else None))
    return bars(f"{label}: by category", rows, unit)


def _distribution(items: Sequence[Mapping[str, Any]], label: str, rating: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    if rating:
        counts = Counter(round(float(i["value"])) for i in items)
        xs = list(range(1, 11))
        ax.bar(xs, [counts.get(x, 0) for x in xs], color="#1f77b4")
        ax.set_xticks(xs)
        ax.set_xlabel("score")
    else:
        counts = Counter(str(i.get("verdict")) for i in items)
        names = [n for n in ("win", "tie", "loss") if n in counts] + sorted(set(counts) - {"win", "tie", "loss"})
        ax.bar(names, [counts[n] for n in names], color=["#2e7d32", "#9e9e9e", "#c62828", *["#1f77b4"] * 8][: len(names)])
        ax.set_xlabel("verdict (the run's model's side)")
    ax.set_ylabel("items")
    ax.set_title(f"{label}: distribution", fontsize=10)
    return png(fig)


def _length_vs_score(items: Sequence[Mapping[str, Any]], label: str, unit: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lengths = np.array([float(i.get("length") or 0) for i in items])
    values = np.array([float(i["value"]) for i in items])
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.scatter(lengths, values, s=10, alpha=0.5, color="#1f77b4")
    title = f"{label}: length vs score"
    if len(set(lengths.tolist())) > 1 and len(set(values.tolist())) > 1:
        r = float(np.corrcoef(lengths, values)[0, 1])
        title += f" (Pearson r = {r:+.2f})"
    ax.set_xlabel("answer length (characters)")
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=9)
    return png(fig)


def position_breakdown(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Matches by what their two games said: agreed (a win, a loss or a tie for the same answer), or disagreed,
    and then whether the judge chose the answer shown first both times, the one shown second, or one game tied."""
    counts: Counter[str] = Counter()
    for item in items:
        first, second = (str(j.get("verdict")) for j in item["judgments"][:2])
        if "None" in (first, second):
            counts["a game failed"] += 1
        elif not item.get("inconsistent"):
            counts["consistent"] += 1
        elif first == second == "A":
            counts["favoured the first shown"] += 1
        elif first == second == "B":
            counts["favoured the second shown"] += 1
        else:
            counts["one game a tie"] += 1
    return dict(counts)


def _position(items: Sequence[Mapping[str, Any]], label: str) -> str:
    breakdown = position_breakdown(items)
    total = sum(breakdown.values())
    rows = [(f"{name} ({n})", 100.0 * n / total, None) for name, n in sorted(breakdown.items(), key=lambda kv: -kv[1])]
    return bars(f"{label}: the two orders of each match", rows, "% of matches")
