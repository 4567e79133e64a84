"""MT-Bench scores from judgment rows, with FastChat's ``show_result.py`` semantics, plus what it hides.

Single mode: a failed judgment (FastChat's score -1) is left out of every mean, exactly as FastChat does,
so the numbers match; but it is counted per model (``n_failed``) and listed with its reason. Turn 1 and
turn 2 are means of their rows; ``overall`` is the mean of all valid rows of both turns (not the mean of
the two turn means). Pairwise: a match counts as a tie when game 1 is a tie or the two games (answers in
both orders) disagree; a match with a failed game is left out and counted. Position consistency is the
share of valid matches whose two games agree. Intervals are percentile bootstraps over questions. Beside the
adjusted win rate, ``win_rate_style_controlled`` is the same matches' win rate with answer length and markdown
held equal (``adapters.style_control``), where every valid match records both answers' style.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starling_eval.adapters.style_control import Battle, style_controlled_win_rates
from starling_eval.stats import bootstrap_ci, mean, pooled_mean

ERROR = "error"
TIE = "tie"


def _failure_entry(row: Mapping[str, Any], model: str) -> dict[str, Any]:
    return {"model": model, "question_id": row.get("question_id"), "turn": row.get("turn"),
            "reason": row.get("failure") or "failed"}


def _ci(clusters: Mapping[Any, list[float]], seed: int) -> list[float] | None:
    return _rounded(bootstrap_ci(clusters, pooled_mean, seed=seed))


def score_single(rows: Iterable[Mapping[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    """Rows: {model, question_id, turn, category?, verdict (number or None), failure}."""
    valid: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    failures: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        model = row["model"]
        if row.get("failure") is None and row.get("verdict") is not None:
            valid[model].append(row)
        else:
            failures[model].append(_failure_entry(row, model))
    table = []
    for model in sorted(set(valid) | set(failures)):
        mine = valid[model]
        by_turn = {t: [float(r["verdict"]) for r in mine if r["turn"] == t] for t in (1, 2)}
        by_question: dict[Any, list[float]] = defaultdict(list)
        by_category: dict[str, list[float]] = defaultdict(list)
        for r in mine:
            by_question[r["question_id"]].append(float(r["verdict"]))
            if r.get("category"):
                by_category[r["category"]].append(float(r["verdict"]))
        turn_clusters = {t: {r["question_id"]: [float(r["verdict"])] for r in mine if r["turn"] == t} for t in (1, 2)}
        table.append({
            "model": model,
            "turn1": mean(by_turn[1]),
            "turn2": mean(by_turn[2]),
            "overall": mean([float(r["verdict"]) for r in mine]),
            "n_valid": len(mine),
            "n_failed": len(failures[model]),
            "n_turn1": len(by_turn[1]),
            "n_turn2": len(by_turn[2]),
            "categories": {c: mean(v) for c, v in sorted(by_category.items())} or None,
            "ci95": {"overall": _ci(by_question, seed), "turn1": _ci(turn_clusters[1], seed),
                     "turn2": _ci(turn_clusters[2], seed)},
        })
    table.sort(key=lambda r: (r["overall"] is None, -(r["overall"] or 0.0)))
    return {
        "mode": "single",
        "models": table,
        "failures": [f for m in sorted(failures) for f in failures[m]],
        "n_failed": sum(len(f) for f in failures.values()),
        "items": [{"model": r["model"], "question_id": r["question_id"], "turn": r["turn"], "score": float(r["verdict"])}
                  for m in sorted(valid) for r in valid[m]],
    }


# which model a game's "A"/"B" verdict names: game 2 shows the answers swapped (FastChat's g1_map, g2_map)
GAME_WINNER = {1: {"A": "model_1", "B": "model_2"}, 2: {"A": "model_2", "B": "model_1"}}
STYLE_FIELDS = ("style_1", "style_2")


def group_games(rows: Iterable[Mapping[str, Any]]) -> dict[tuple, dict[int, Mapping[str, Any]]]:
    """Per-game judgment rows → {(model_1, model_2, question_id, turn): {game: row}}."""
    games: dict[tuple, dict[int, Mapping[str, Any]]] = defaultdict(dict)
    for row in rows:
        games[(row["model_1"], row["model_2"], row["question_id"], row["turn"])][int(row["game"])] = row
    return games


def game_winner(row: Mapping[str, Any] | None, game: int) -> str:
    """A game's winner in FastChat's vocabulary: model_1, model_2, tie, or error (failed or not judged)."""
    if row is None or row.get("failure") is not None or row.get("verdict") is None:
        return ERROR
    return GAME_WINNER[game].get(row["verdict"], row["verdict"])


def pair_matches(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-game judgment rows (verdict A/B/tie, game 1 or 2) → FastChat match rows with g1/g2 winners."""
    matches = []
    for (m1, m2, qid, turn), pair in group_games(rows).items():
        winners = [game_winner(pair.get(game), game) for game in (1, 2)]
        reasons = [f"game {game}: {(pair.get(game) or {}).get('failure') or 'not judged'}"
                   for game, winner in zip((1, 2), winners, strict=True) if winner == ERROR]
        category = next((r.get("category") for r in pair.values()), None)
        styles = next(({k: r[k] for k in STYLE_FIELDS} for r in pair.values()
                       if all(isinstance(r.get(k), Mapping) for k in STYLE_FIELDS)), {})
        matches.append({"model_1": m1, "model_2": m2, "question_id": qid, "turn": turn, "category": category,
                        "g1_winner": winners[0], "g2_winner": winners[1], "failure": "; ".join(reasons) or None,
                        **styles})
    return matches


def score_pairwise(matches: Sequence[Mapping[str, Any]], baseline: str | None, *, seed: int = 0) -> dict[str, Any]:
    """FastChat's display_result_pairwise over match rows (g1_winner / g2_winner in its vocabulary)."""
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: {"win": 0, "loss": 0, "tie": 0, "consistent": 0, "failed": 0})
    outcomes: dict[str, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    failures: list[dict] = []
    items: list[dict] = []
    battles: list[Battle] = []
    for m in matches:
        m1, m2 = m["model_1"], m["model_2"]
        if baseline is not None and baseline not in (m1, m2):
            continue
        if ERROR in (m["g1_winner"], m["g2_winner"]):
            for model in (m1, m2):
                tallies[model]["failed"] += 1
            failures.append({"model": m1, "model_2": m2, "question_id": m["question_id"], "turn": m["turn"],
                             "reason": m.get("failure") or "a game's verdict is an error"})
            continue
        agree = m["g1_winner"] == m["g2_winner"]
        for model in (m1, m2):
            tallies[model]["consistent"] += agree
        if m["g1_winner"] == TIE or not agree:
            results = {m1: 0.5, m2: 0.5}
            tallies[m1]["tie"] += 1
            tallies[m2]["tie"] += 1
        else:
            winner, loser = (m1, m2) if m["g1_winner"] == "model_1" else (m2, m1)
            results = {winner: 1.0, loser: 0.0}
            tallies[winner]["win"] += 1
            tallies[loser]["loss"] += 1
        for model, value in results.items():
            outcomes[model][m["question_id"]].append(value)
        if all(k in m for k in STYLE_FIELDS):
            battles.append(Battle(m1, m2, results[m1], m["style_1"], m["style_2"], str(m["question_id"])))
        items.append({"model_1": m1, "model_2": m2, "question_id": m["question_id"], "turn": m["turn"],
                      "g1_winner": m["g1_winner"], "g2_winner": m["g2_winner"], "model_1_result": results[m1]})
    style, why_no_style = _style_control(battles, len(items), baseline, seed)
    table = []
    for model, t in tallies.items():
        if model == baseline:
            continue
        n = t["win"] + t["loss"] + t["tie"]
        controlled = (style or {}).get("models", {}).get(model) or {}
        table.append({
            "model": model,
            "win": t["win"], "loss": t["loss"], "tie": t["tie"],
            "win_rate": t["win"] / n if n else None,
            "loss_rate": t["loss"] / n if n else None,
            "win_rate_adjusted": (t["win"] + 0.5 * t["tie"]) / n if n else None,
            "position_consistency": t["consistent"] / n if n else None,
            "n_valid": n,
            "n_failed": t["failed"],
            "win_rate_style_controlled": controlled.get("style_controlled"),
            "style_control": controlled or None,
            "ci95": {"win_rate_adjusted": _ci(outcomes[model], seed),
                     "win_rate_style_controlled": _rounded(controlled.get("ci95"))},
        })
    table.sort(key=lambda r: (r["win_rate_adjusted"] is None, -(r["win_rate_adjusted"] or 0.0)))
    return {
        "mode": "pairwise-baseline" if baseline else "pairwise-all",
        "baseline": baseline,
        "models": table,
        "position_consistency": (sum(i["g1_winner"] == i["g2_winner"] for i in items) / len(items)) if items else None,
        "style_control": style and {k: v for k, v in style.items() if k != "models"},
        "style_unavailable": why_no_style,
        "failures": failures,
        "n_failed": len(failures),
        "items": items,
    }


def _style_control(battles: Sequence[Battle], n_matches: int, baseline: str | None, seed: int
                   ) -> tuple[dict[str, Any] | None, str | None]:
    """The style-controlled fit over the valid matches (``adapters.style_control``), or why there is none:
    every valid match must record both answers' style (rows judged by this harness with GPT-4o's tokenizer)."""
    if not n_matches:
        return None, "no valid matches"
    if len(battles) < n_matches:
        return None, (f"{n_matches - len(battles)} of {n_matches} valid matches record no answer style (judged "
                      "without GPT-4o's tokenizer file, `make tokenizer`, or read from FastChat judgment files)")
    return style_controlled_win_rates(battles, baseline=baseline, seed=seed), None


def _rounded(interval: Sequence[float] | None) -> list[float] | None:
    return [round(interval[0], 6), round(interval[1], 6)] if interval else None
