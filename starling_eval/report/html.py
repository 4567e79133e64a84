"""The HTML report: one self-contained file with the leaderboard, plots and Goodhart cards.

Self-contained means nothing is fetched when it is viewed: styles are inline and plots are PNGs drawn by
matplotlib (Agg) and embedded as data URIs. The page has no script of its own, and a Content-Security-Policy
allowing no scripts at all, so even a model answer that escaped escaping could not run; every piece of
text from a run (model names, answers, judge names) goes through ``html.escape``. The runs plotted are the
ones the leaderboard chose for its cells (the newest complete run per model and column), so the plots
and the table always show the same numbers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from starling_eval.report.figures import bars, figure, radar
from starling_eval.report.leaderboard import Leaderboard
from starling_eval.report.leaderboard_render import notes, to_html_table
from starling_eval.store.runs import RunFolder, RunStore

SAMPLE_ANSWERS = 3  # answers shown per chosen generation run
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child, td:nth-child(2) { text-align: left; }
td.failed { background: #fff3e0; } td.empty { color: #aaa; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 0.6em; max-width: 60em; }
.flag { color: #b71c1c; } .note { color: #555; font-size: 0.85em; }
figure { display: inline-block; margin: 0.5em; }
"""


def chosen_runs(lb: Leaderboard) -> list[RunFolder]:
    """The runs behind the leaderboard's cells, each once, in table order."""
    store = RunStore(Path(lb.results_root))
    ids = dict.fromkeys(cell.run_id for row in lb.rows for column in lb.columns
                        if (cell := lb.cell(row, column)) is not None)
    return [run for run_id in ids if (run := store.get(run_id)) is not None]


def _latest_models(runs: Iterable[RunFolder], mode: str) -> list[tuple[RunFolder, dict[str, Any]]]:
    found = []
    for run in runs:
        scores = run.scores() or {}
        if scores.get("mode") == mode:
            found += [(run, row) for row in scores.get("models", [])]
    return found


def plots(runs: Sequence[RunFolder]) -> list[str]:
    """Every plot the chosen runs allow, as figure HTML."""
    out = []
    by_category = {row["model"]: row["categories"] for run, row in _latest_models(runs, "single") if row.get("categories")}
    if by_category:
        out.append(figure(radar(by_category), "MT-Bench score by category (1-10)"))
    wins = [(f"{row['model']} vs {(run.scores() or {}).get('baseline')}", 100 * row["win_rate_adjusted"],
             [100 * x for x in (row.get("ci95") or {}).get("win_rate_adjusted") or []] or None)
            for run, row in _latest_models(runs, "pairwise-baseline") if row.get("win_rate_adjusted") is not None]
    wins += [(f"{row['model']} (AlpacaEval{' LC' if row.get('length_controlled_winrate') is not None else ''})",
              row.get("length_controlled_winrate") or row["win_rate"],
              None if row.get("length_controlled_winrate") is not None else
              [row["win_rate"] - 1.96 * row["standard_error"], row["win_rate"] + 1.96 * row["standard_error"]])
             for run, row in _latest_models(runs, "alpacaeval") if row.get("win_rate") is not None]
    wins += _style_controlled_bars(runs)
    if wins:
        out.append(figure(bars("win rate vs baseline (95% CI)", wins, "%", reference=50.0), "Win rates"))
    mmlu = [(f"{row['model']} · {group}", 100 * value, None) for run, row in _latest_models(runs, "mmlu")
            for group, value in sorted(row.get("groups", {}).items())]
    if mmlu:
        out.append(figure(bars("MMLU accuracy by group", mmlu, "%", reference=25.0), "MMLU by group"))
    rm_rows = [row for _, row in _latest_models(runs, "reward-pairs")]
    if rm_rows:
        items = [(f"{r['model']} · {r['track']}", 100 * r["accuracy"], [100 * x for x in r["ci95"]] if r["ci95"] else None)
                 for r in rm_rows]
        baseline = [(label, 100 * (r["length_baseline"] or 0.0)) for (label, _, _), r in zip(items, rm_rows, strict=True)]
        out.append(figure(bars("reward-model accuracy vs the longer-reply baseline", items, "%", reference=50.0,
                                 second=baseline), "RM accuracy vs length baseline"))
    safety = [(row["model"], 100 * row["harmless_rate"], [100 * x for x in row["harmless_ci95"] or []] or None)
              for _, row in _latest_models(runs, "safety") if row.get("harmless_rate") is not None]
    if safety:
        out.append(figure(bars("Safe-RLHF harmless rate", safety, "%"), "Harmless rate"))
    return out


def _style_controlled_bars(runs: Sequence[RunFolder]) -> list[tuple[str, float, list[float] | None]]:
    """The same win rates with answer length and markdown held equal, where the runs' scores have them."""
    found = [(f"{row['model']} vs {(run.scores() or {}).get('baseline')} (style-controlled)",
              100 * row["win_rate_style_controlled"],
              [100 * x for x in (row.get("ci95") or {}).get("win_rate_style_controlled") or []] or None)
             for run, row in _latest_models(runs, "pairwise-baseline") if row.get("win_rate_style_controlled") is not None]
    return found + [(f"{row['model']} (AlpacaEval, style-controlled)", row["style_controlled_winrate"],
                     row.get("style_controlled_ci"))
                    for _, row in _latest_models(runs, "alpacaeval") if row.get("style_controlled_winrate") is not None]


def goodhart_cards(runs: Sequence[RunFolder]) -> str:
    """The cards stored in the chosen runs, as tables with their flags."""
    from starling_eval.goodhart.card import CARD

    e = html.escape
    parts = []
    for run in runs:
        path = run.file(CARD)
        if not path.is_file():
            continue
        card = json.loads(path.read_text(encoding="utf-8"))
        parts.append(f"<h3>run {e(card['run_id'])}: judge {e(str(card['judge']))} vs {e(str(card['proxy']))}</h3>")
        parts.append("<table><tr><th>model</th><th>judge win rate</th><th>proxy win rate</th>"
                     "<th>judge − proxy (95% CI)</th><th>items</th></tr>")
        for row in card["rows"]:
            diff = row["difference_ci95"] or [float("nan")] * 2
            parts.append(f"<tr><td>{e(row['model'])}</td><td>{100 * row['judge_win_rate']:.1f}%</td>"
                         f"<td>{100 * row['proxy_win_rate']:.1f}%</td><td>{100 * row['difference']:+.1f} "
                         f"({100 * diff[0]:+.1f} to {100 * diff[1]:+.1f})</td><td>{row['n_items']}</td></tr>")
        parts.append("</table>")
        parts += [f'<p class="flag">{e(flag)}</p>' for row in card["rows"] for flag in row["flags"]]
    return "\n".join(parts) or '<p class="note">No Goodhart cards yet: <code>starling-eval goodhart card RUN</code>.</p>'


def _answers_of(run: RunFolder) -> list[tuple[str, str]]:
    """(where, text) of a run's answers: its generations, or the answer files it judged."""
    if run.file("generations.jsonl").is_file():
        return [(f"item {g.get('item_id')} turn {g.get('turn')}", g["text"]) for g in run.generations() if g.get("text")]
    from starling_eval.registry import benchmark

    spec = run.read_manifest().get("spec") or {}
    found = []
    for answer in spec.get("answers") or []:
        if Path(answer["path"]).is_file():
            read = benchmark(spec["benchmark"]).read_answers(Path(answer["path"]))
            found += [(f"{answer['model']} item {item}", turns[0]) for item, turns in read.items() if turns]
    return found


def sample_answers(runs: Sequence[RunFolder]) -> str:
    """A few answers of each chosen run: untrusted text, escaped."""
    e = html.escape
    parts = []
    for run in runs:
        answers = _answers_of(run)[:SAMPLE_ANSWERS]
        if answers:
            parts.append(f"<details open><summary>{e(run.run_id)}</summary>")
            parts += [f"<p>{e(where)}</p><pre>{e(text)}</pre>" for where, text in answers]
            parts.append("</details>")
    return "\n".join(parts) or '<p class="note">No answers among these runs.</p>'


def render_report(lb: Leaderboard, *, title: str = "starling-eval report") -> str:
    """The whole page: the leaderboard, the plots, the cards, then every judged item of the chosen runs in the
    item browser (its one script allowed by hash; without judged items the page has no script at all)."""
    from starling_eval.report.browser_page import csp, items_section
    from starling_eval.report.item_plots import run_plots
    from starling_eval.report.run_items import items_doc

    e = html.escape
    runs = chosen_runs(lb)
    doc = items_doc(runs)
    figures = plots(runs) + run_plots(doc)
    body = [
        f"<h1>{e(title)}</h1>",
        f'<p class="note">{len(lb.rows)} models, {len(lb.columns)} columns, {len(runs)} runs from {e(lb.results_root)}</p>',
        "<h2>Leaderboard</h2>", to_html_table(lb),
        *(f'<p class="note">{e(n)}</p>' for n in notes(lb)),
        "<h2>Plots</h2>", "\n".join(figures) or '<p class="note">Nothing to plot.</p>',
        "<h2>Goodhart cards</h2>", goodhart_cards(runs),
    ]
    scripts: list[str] = []
    if doc["items"]:
        fragment, script = items_section(doc)
        body += [f"<h2>Items ({len(doc['items'])})</h2>", fragment, script]
        scripts.append(script[len("<script>"):-len("</script>")])
    else:
        body += ["<h2>Sample answers</h2>", sample_answers(runs)]
    policy = csp(scripts) if scripts else CSP
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            f"<title>{e(title)}</title><style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
