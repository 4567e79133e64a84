"""A run's Arena-Hard judgments in arena-hard-auto's own shape, and the run's scores from them.

Our ``judgments.jsonl`` holds one row per game (each game is one judge call, cached on its own); arena-hard's
``model_judgment/<judge>/<model>.jsonl`` holds one row per prompt with its two ``games``, each game's ``score``
the verdict label (null when it could not be read) and ``judgment`` the judge's text. ``upstream_rows`` turns the
one into the other; the scores are then computed from those rows by ``score`` (the Bradley-Terry fit over battles
that arena-hard's show_result.py makes), so a run and a folder of published judgments are scored by one code path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.data import DataDir, DataError, iter_jsonl_objects


def upstream_rows(rows: Sequence[Mapping[str, Any]], judge_model: str | None = None) -> list[dict[str, Any]]:
    """One arena-hard judgment row per (model, prompt), games in order; a game that failed has score null."""
    matches: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row.get("kind") != "arena-hard" or row.get("game") is None:
            continue
        key = (str(row["model"]), str(row["uid"]))
        match = matches.setdefault(key, {"uid": row["uid"], "category": row.get("category"),
                                         "judge": judge_model or row.get("judge_model"), "model": row["model"],
                                         "baseline": row.get("baseline"), "games": [None, None]})
        match["games"][int(row["game"]) - 1] = {
            "score": row.get("verdict") if row.get("failure") is None else None,
            "judgment": {"answer": row.get("judgment")}, "failure": row.get("failure")}
    return list(matches.values())


def upstream_judgments(rows: Sequence[Mapping[str, Any]], requests: Mapping[str, Any],
                       judge_model: str) -> dict[str, list[dict]]:
    """{``model_judgment/<judge>/<model>.jsonl``: rows}: files arena-hard's show_result.py reads."""
    files: dict[str, list[dict]] = {}
    for match in upstream_rows(rows, judge_model):
        files.setdefault(f"model_judgment/{judge_model}/{match['model']}.jsonl", []).append(match)
    return files


def read_judgment_files(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """arena-hard judgment rows from files, or from every ``*.jsonl`` of a folder given instead."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        files = sorted(Path(path).glob("*.jsonl")) if Path(path).is_dir() else [Path(path)]
        if not files:
            raise DataError(f"{path}: no arena-hard judgment files (*.jsonl) here")
        for file in files:
            if not file.is_file():
                raise DataError(f"{file}: no such file")
            for lineno, row in iter_jsonl_objects(file):
                games = row.get("games")
                if "model" not in row or not isinstance(games, list) or len(games) != 2:
                    raise DataError(f"{file} line {lineno}: expected an arena-hard judgment (model, games: [two])")
                rows.append(row)
    return rows


BOOTSTRAP_ROUNDS = 100  # show_result's default


def score_matches(matches: Sequence[Mapping[str, Any]], *, seed: int = 0,
                  metadata: Mapping[str, Mapping[Any, Mapping[str, Any]]] | None = None,
                  rounds: int = BOOTSTRAP_ROUNDS) -> dict[str, Any]:
    """Scores of arena-hard judgment rows, per baseline (v2.0 judges each category against its own): the plain
    score and 90% interval as show_result prints them and, where every answer has style metadata, the
    style-controlled one. A null game is counted (``n_failed``, ``failures``), never dropped unseen."""
    from starling_eval.adapters.arena_hard.score import leaderboard

    models: list[dict[str, Any]] = []
    failures = [{"model": m["model"], "uid": m["uid"], "game": i + 1,
                 "reason": (g or {}).get("failure") or "no verdict label"}
                for m in matches for i, g in enumerate(m["games"]) if g is None or g.get("score") is None]
    by_baseline: dict[str, list[Mapping[str, Any]]] = {}
    for match in matches:
        by_baseline.setdefault(str(match.get("baseline")), []).append(match)
    notes = []
    for baseline, group in sorted(by_baseline.items()):
        try:
            plain = leaderboard(group, baseline, rounds=rounds, seed=seed)
        except DataError as exc:  # every game of this baseline failed
            notes.append(f"{baseline}: {exc}")
            continue
        styled = None
        if metadata and all(m["model"] in metadata and m["uid"] in metadata[m["model"]] for m in group):
            try:
                styled = leaderboard(group, baseline, style_control=True, answers_metadata=metadata, rounds=rounds,
                                     seed=seed)
            except ValueError as exc:  # e.g. no markdown anywhere: a feature that never varies has no coefficient
                notes.append(f"{baseline}: style control undefined here ({exc})")
        elif metadata is not None:
            notes.append(f"{baseline}: style control unavailable (no style metadata for some answers)")
        sc = {r["Model"]: r for r in styled.table.to_dict("records")} if styled else {}
        categories = sorted({str(m.get("category")) for m in group})
        for row in plain.table.to_dict("records"):
            if row["Model"] == baseline:
                continue
            style_row = sc.get(row["Model"])
            models.append({
                "model": row["Model"], "baseline": baseline, "categories": categories,
                "score": row["Scores (%)"], "ci": row["CI (%)"], "ci90": [100 * row["lower"], 100 * row["upper"]],
                "score_exact": 100 * row["score"], "battles": plain.battles,
                "style_controlled": style_row["Scores (%)"] if style_row else None,
                "style_controlled_ci": style_row["CI (%)"] if style_row else None,
                "style_coefficients": styled.style_coefficients if styled else None})
    return {"mode": "arena-hard", "models": models, "failures": failures, "n_failed": len(failures),
            "notes": notes, "items": []}


def score_run(rows: Sequence[Mapping[str, Any]], version: str, *, seed: int = 0,
              data: DataDir | None = None) -> dict[str, Any]:
    """The run's table: each model's score against its baseline, plain and (with style metadata, which the
    requests carry when GPT-4o's tokenizer file is on this machine) style-controlled."""
    matches = upstream_rows(rows)
    metadata: dict[str, dict[Any, Any]] = {}
    for row in rows:
        style = row.get("style")
        if row.get("kind") == "arena-hard" and style:
            metadata.setdefault(str(row["model"]), {})[row["uid"]] = style["model"]
            metadata.setdefault(str(row["baseline"]), {})[row["uid"]] = style["baseline"]
    out = score_matches(matches, seed=seed, metadata=metadata)
    out["version"] = version
    return out
