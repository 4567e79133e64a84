"""Position and length bias of the judge of a stored run, from its ``judgments.jsonl`` alone.

Two kinds of judged run carry what :mod:`starling_eval.goodhart.bias` needs:

- MT-Bench pairwise (rows of kind ``pair``): every pair of answers is judged in both orders (game 1 shows
  ``model_1`` first, game 2 ``model_2`` first), so Zheng et al.'s position-consistency breakdown applies
  directly. ``chars_1`` / ``chars_2`` (what each model wrote up to the judged turn) give the lengths; runs
  judged before those fields existed get no length result, and say so.
- AlpacaEval (rows of kind ``alpacaeval``): each instruction is judged in one order, drawn by a coin
  (``is_switched``: the model's output was shown first). Consistency cannot be measured, but with the order
  random the answer *shown first* should win half of the decided verdicts; the share that it did, with a
  sign test, is the position estimate (``first_shown_wins``). The raw minus length-controlled win rate of
  each model (``lc_gap``) comes from ``scores.json``.

Both kinds also get each model's raw win rate beside its style-controlled one (``goodhart.run_style``).

MT-Bench single-answer grading (rows of kind ``single``) has no pairwise verdict, so no bias check applies;
nor does any benchmark without a judge. Those runs raise :class:`~starling_eval.data.DataError` with one
line naming the run.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from starling_eval.data import DataError, require_keys
from starling_eval.goodhart.bias import (
    PairJudgment,
    flags,
    lc_gap,
    length_bias,
    position_consistency,
    sign_test_p,
)
from starling_eval.goodhart.run_style import KIND_ALPACAEVAL, KIND_PAIR, style_section
from starling_eval.stats import cluster_bootstrap_ci
from starling_eval.store.files import read_jsonl
from starling_eval.store.runs import JUDGMENTS, RunFolder

KIND_SINGLE = "single"
ALPHA = 0.05
_PAIR_FIELDS = ("question_id", "turn", "model_1", "model_2", "game")
_ALPACA_FIELDS = ("instruction", "model", "is_switched")


def judgments_for_bias(run_folder: RunFolder) -> tuple[str, list[PairJudgment], dict[str, Any]]:
    """(kind, judgments, extras) of a judged run: kind ``"pair"`` (MT-Bench, both orders) or
    ``"alpacaeval"`` (one order each, A = the reference's output_1, B = the model's output_2, un-swapped).

    ``extras`` holds ``run_id``, ``benchmark``, ``manifest``, ``rows`` (the judgments file's rows), ``n_rows``
    (rows of that kind), ``no_length`` (keys of judgments whose lengths the rows do not record; their ``len_a``/``len_b`` are
    placeholders of 0 and must be left out of a length analysis), ``length_unavailable`` (why no judgment
    has lengths, else None) and, for AlpacaEval, ``shown_first`` (key → "A" or "B": the answer the judge
    saw first) and ``not_judged`` (keys decided without asking the judge: identical outputs).
    Raises DataError (one line naming the run) where the run has no pairwise verdicts to check."""
    manifest = _manifest(run_folder)
    run_id = manifest.get("run_id") or run_folder.run_id
    benchmark = (manifest.get("spec") or {}).get("benchmark")
    path = run_folder.file(JUDGMENTS)
    try:
        rows = read_jsonl(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"run {run_id}: {path} is not valid JSONL ({exc})") from None
    for index, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise DataError(f"{_where(path, index)}: not a JSON object")
    kinds = Counter(r.get("kind") for r in rows)
    extras: dict[str, Any] = {"run_id": run_id, "benchmark": benchmark, "manifest": manifest, "rows": rows}
    if kinds[KIND_PAIR]:
        return KIND_PAIR, *_pair_judgments(rows, path, run_id, extras)
    if kinds[KIND_ALPACAEVAL]:
        return KIND_ALPACAEVAL, *_alpaca_judgments(rows, path, run_id, extras)
    if kinds[KIND_SINGLE]:
        raise DataError(f"run {run_id}: bias checks are not applicable to MT-Bench single-answer grading (no pairwise "
                        "verdicts); judge it with --judge-mode pairwise-baseline or pairwise-all")
    if benchmark not in ("mtbench", "alpacaeval"):
        raise DataError(f"run {run_id}: bias checks are not applicable to {benchmark} runs (they need pairwise judge "
                        "verdicts: MT-Bench pairwise or AlpacaEval)")
    raise DataError(f"run {run_id}: no judgments to check ({path} is missing or empty; is the run judged yet?)")


def run_bias_report(run_folder: RunFolder, *, seed: int = 0) -> dict[str, Any]:
    """The judge's position and length bias on one run (see the module's docstring), with flags.

    Keys: run_id, benchmark, judge, kind, n_judgments, position, length, length_unavailable, lc_gap,
    lc_unavailable, style, flags. For MT-Bench ``position`` is :func:`~starling_eval.goodhart.bias.position_consistency`;
    for AlpacaEval it is the first-shown-wins estimate (``measure: "first_shown_wins"``). ``length`` is
    :func:`~starling_eval.goodhart.bias.length_bias` over the judgments with known lengths (plus
    ``n_length_unknown``), or None with the reason in ``length_unavailable``. ``lc_gap`` (AlpacaEval only)
    is one :func:`~starling_eval.goodhart.bias.lc_gap` row per model of ``scores.json``. ``style`` is each model's raw
    and style-controlled win rate (:func:`~starling_eval.goodhart.run_style.style_section`)."""
    kind, judgments, extras = judgments_for_bias(run_folder)
    manifest = extras["manifest"]
    judge = ((manifest.get("judging") or {}).get("judge") or {}).get("model")
    no_length = extras["no_length"]
    length = None
    if extras["length_unavailable"] is None:
        length = length_bias([j for j in judgments if j.key not in no_length], seed=seed)
        length["n_length_unknown"] = len(no_length)
    gaps = lc_unavailable = None
    judge_mode = ((manifest.get("judging") or {}).get("judge") or {}).get("mode")
    style = style_section(kind, extras["rows"], judge_mode=judge_mode, seed=seed)
    if kind == KIND_PAIR:
        position = position_consistency(judgments, seed=seed)
        found = flags(position, length)
    else:
        position = first_shown_wins(judgments, extras["shown_first"], extras["not_judged"], seed=seed)
        found = flags(None, length)
        if position["p_value"] < ALPHA:
            found.insert(0, _first_shown_flag(position))
        gaps, lc_unavailable = _lc_gaps(run_folder, extras["run_id"])
    return {
        "run_id": extras["run_id"],
        "benchmark": extras["benchmark"],
        "judge": judge,
        "kind": kind,
        "n_judgments": len(judgments),
        "position": position,
        "length": length,
        "length_unavailable": extras["length_unavailable"],
        "lc_gap": gaps,
        "lc_unavailable": lc_unavailable,
        "style": style,
        "flags": found + style["flags"],
    }


def first_shown_wins(judgments: list[PairJudgment], shown_first: dict[str, str], not_judged: set[str] | frozenset[str]
                     = frozenset(), *, seed: int = 0) -> dict[str, Any]:
    """Position bias of single-order judgments whose order was random: the share of decided verdicts won by
    the answer shown first (0.5 for a judge without a position preference), with a cluster-bootstrap
    interval and a two-sided sign test. Ties (``n_ties``), failures (``n_failed``) and pairs decided without
    the judge (``n_not_judged``) are left out of ``n``. ``b_wins_shown_first`` / ``b_wins_shown_second``
    (B's win share by where it was shown) separate position from B simply being better or worse."""
    n_failed = n_ties = n_not_judged = 0
    won: list[float] = []
    clusters: list[str] = []
    b_won: dict[str, list[float]] = {"A": [], "B": []}  # by the answer shown first
    for j in judgments:
        if j.key in not_judged:
            n_not_judged += 1
        elif j.verdict_ab is None:
            n_failed += 1
        elif j.verdict_ab == "tie":
            n_ties += 1
        else:
            first = shown_first[j.key]
            won.append(float(j.verdict_ab == first))
            clusters.append(j.group)
            b_won[first].append(float(j.verdict_ab == "B"))
    n = len(won)
    k = int(sum(won))
    ci = cluster_bootstrap_ci(won, clusters, seed=seed) if n else None
    return {
        "measure": "first_shown_wins",
        "n": n,
        "n_first_wins": k,
        "first_shown_wins": k / n if n else None,
        "first_shown_wins_ci": ci,
        "p_value": sign_test_p(k, n),
        "n_ties": n_ties,
        "n_failed": n_failed,
        "n_not_judged": n_not_judged,
        "n_b_shown_first": len(b_won["B"]),
        "b_wins_shown_first": sum(b_won["B"]) / len(b_won["B"]) if b_won["B"] else None,
        "b_wins_shown_second": sum(b_won["A"]) / len(b_won["A"]) if b_won["A"] else None,
    }


def _first_shown_flag(position: dict[str, Any]) -> str:
    side = "first" if position["n_first_wins"] * 2 > position["n"] else "second"
    return (f"position bias toward the {side} answer: the answer shown first won {position['n_first_wins']} of "
            f"{position['n']} decided verdicts ({position['first_shown_wins']:.1%}, sign test p = "
            f"{position['p_value']:.2g}) though the order was random")


def _manifest(run_folder: RunFolder) -> dict[str, Any]:
    try:
        manifest = run_folder.read_manifest()
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"run {run_folder.run_id}: unreadable manifest.json ({exc})") from None
    if not isinstance(manifest, dict):
        raise DataError(f"run {run_folder.run_id}: manifest.json is not a JSON object")
    return manifest


def _where(path: Any, index: int) -> str:
    return f"{path} row {index}"


def _pair_judgments(rows: list[dict], path: Any, run_id: str, extras: dict[str, Any]
                    ) -> tuple[list[PairJudgment], dict[str, Any]]:
    """MT-Bench pair rows grouped by (model_1, model_2, question_id, turn); the last row of a game wins
    (as the scorer reads them). Lengths are known for a pair when both of its rows record them."""
    games: dict[tuple, dict[int, dict]] = {}
    has_length_fields = False
    n_rows = 0
    for index, row in enumerate(rows, 1):
        if row.get("kind") != KIND_PAIR:
            continue
        n_rows += 1
        require_keys(row, _PAIR_FIELDS, _where(path, index))
        game = row["game"]
        if game not in (1, 2, "1", "2"):
            raise DataError(f"{_where(path, index)}: game must be 1 or 2, got {game!r}")
        verdict = row.get("verdict")
        if row.get("failure") is None and verdict not in (None, "A", "B", "tie"):
            raise DataError(f"{_where(path, index)}: verdict must be A, B, tie or null, got {verdict!r}")
        has_length_fields |= "chars_1" in row and "chars_2" in row
        key = (row["model_1"], row["model_2"], row["question_id"], row["turn"])
        games.setdefault(key, {})[int(game)] = row
    judgments = []
    no_length: set[str] = set()
    for (m1, m2, qid, turn), pair in games.items():
        key = f"{m1}|{m2}|{qid}|{turn}"
        lengths = _pair_lengths(pair.values())
        if lengths is None:
            no_length.add(key)
        len_a, len_b = lengths or (0.0, 0.0)
        judgments.append(PairJudgment(key=key, len_a=len_a, len_b=len_b, verdict_ab=_pair_verdict(pair.get(1)),
                                      verdict_ba=_pair_verdict(pair.get(2)), cluster=str(qid)))
    unavailable = None
    if not has_length_fields:
        unavailable = (f"run {run_id} was judged before judgment rows recorded answer lengths (chars_1/chars_2): "
                       "re-judge it for a length-bias check")
    elif len(no_length) == len(judgments):
        unavailable = f"run {run_id}: no judged pair records both answers' lengths"
    extras.update(n_rows=n_rows, no_length=no_length, length_unavailable=unavailable)
    return judgments, extras


def _pair_lengths(rows: Any) -> tuple[float, float] | None:
    found = None
    for row in rows:
        a, b = row.get("chars_1"), row.get("chars_2")
        if not _is_length(a) or not _is_length(b):
            return None
        found = (float(a), float(b))
    return found


def _is_length(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 and math.isfinite(value)


def _pair_verdict(row: dict | None) -> str | None:
    if row is None or row.get("failure") is not None:
        return None
    return row.get("verdict")


def _alpaca_judgments(rows: list[dict], path: Any, run_id: str, extras: dict[str, Any]
                      ) -> tuple[list[PairJudgment], dict[str, Any]]:
    """AlpacaEval rows: one single-order judgment per (model, instruction), A = output_1 (the reference),
    B = output_2 (the model), verdict un-swapped from alpaca_eval's preference (> 1.5: B, < 1.5: A)."""
    latest: dict[str, tuple[int, dict]] = {}
    n_rows = 0
    for index, row in enumerate(rows, 1):
        if row.get("kind") != KIND_ALPACAEVAL:
            continue
        n_rows += 1
        require_keys(row, _ALPACA_FIELDS, _where(path, index))
        latest[f"{row['model']}|{row['instruction']}"] = (index, row)
    judgments = []
    shown_first: dict[str, str] = {}
    not_judged: set[str] = set()
    no_length: set[str] = set()
    for key, (index, row) in latest.items():
        out_1, out_2 = row.get("output_1"), row.get("output_2")
        if not isinstance(out_1, str) or not isinstance(out_2, str):
            no_length.add(key)
        judgments.append(PairJudgment(key=key, len_a=float(len(out_1 or "")), len_b=float(len(out_2 or "")),
                                      verdict_ab=_preference_verdict(row, path, index), cluster=row["instruction"],
                                      swapped=False))
        shown_first[key] = "B" if row["is_switched"] else "A"
        if row.get("decided"):
            not_judged.add(key)
    unavailable = f"run {run_id}: no judged pair has both outputs" if len(no_length) == len(judgments) else None
    extras.update(n_rows=n_rows, no_length=no_length, length_unavailable=unavailable, shown_first=shown_first,
                  not_judged=not_judged)
    return judgments, extras


def _preference_verdict(row: dict, path: Any, index: int) -> str | None:
    value = row.get("verdict")
    if row.get("failure") is not None or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{_where(path, index)}: verdict must be an alpaca_eval preference (1 to 2), got {value!r}")
    if math.isnan(value):
        return None
    return "B" if value > 1.5 else "A" if value < 1.5 else "tie"


def _lc_gaps(run_folder: RunFolder, run_id: str) -> tuple[list[dict[str, Any]], str | None]:
    """One lc_gap row per model of scores.json (gap None where the LC win rate is missing), and why some or
    all are missing."""
    try:
        scores = run_folder.scores()
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"run {run_id}: unreadable scores.json ({exc})") from None
    if not scores or not isinstance(scores.get("models"), list):
        return [], f"run {run_id} has no scores.json with per-model win rates (is it finished?)"
    gaps = []
    for row in scores["models"]:
        if not isinstance(row, dict):
            continue
        gap = lc_gap(row)
        gaps.append(gap if gap is not None else {"model": row.get("model"), "win_rate": row.get("win_rate"),
                                                  "length_controlled_winrate": row.get("length_controlled_winrate"),
                                                  "gap": None})
    reason = None
    if any(g["gap"] is None for g in gaps):
        reason = scores.get("lc_unavailable") or "no length-controlled win rate in scores.json"
    return gaps, reason
