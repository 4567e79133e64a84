"""AlpacaEval leaderboard rows from annotations, computed by alpaca_eval's own metric code.

Raw metrics (win_rate, standard_error, n_wins, n_wins_base, n_draws, n_total, discrete_win_rate) come from
``alpaca_eval.metrics.get_winrate``; avg_length is the mean character length of the model's outputs,
truncated to an int, as alpaca_eval's leaderboard writes it. A preference that is not a preference (an
unparsed annotation, NaN) is dropped by alpaca_eval; here it is also counted (``n_failed``).

The length-controlled win rate is alpaca_eval's own GLM (``get_length_controlled_winrate``), with its two
Hugging Face downloads (``df_gamed.csv``, ``instruction_difficulty.csv``) read from the data directory.
Upstream featurizes by *row position*; we key every annotation on its instruction text and hand the GLM
the canonical AlpacaEval position of each one, so missing or reordered rows cannot misalign it. Without
those two files the LC win rate is reported as unavailable, with the command that fetches them.

Beside both, ``style_controlled_winrate``: the win rate with answer length (GPT-4o tokens) and markdown density
held equal, Arena-Hard's style features in ``adapters.style_control`` (a different control from the LC GLM, which
models length alone and each instruction's difficulty).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from starling_eval.adapters.alpacaeval import alpaca_eval_lib
from starling_eval.adapters.style_control import Battle, style_controlled_win_rates
from starling_eval.data import DataDir, DataError, read_json_list, require_keys

REFERENCE_OUTPUTS = "alpaca_eval/results/gpt4_1106_preview/model_outputs.json"
LC_FILES = {"df_gamed.csv": "alpaca_eval/df_gamed.csv", "instruction_difficulty.csv": "alpaca_eval/instruction_difficulty.csv"}
ANNOTATION_KEYS = ("instruction", "output_1", "output_2", "generator_2", "preference")


def read_annotations(path: Path) -> list[dict[str, Any]]:
    """An alpaca_eval ``annotations.json`` (a JSON list); a bad file or row is a DataError naming it."""
    rows = read_json_list(path, "annotations", "--annotations")
    for i, row in enumerate(rows):
        require_keys(row, ANNOTATION_KEYS, f"{path} row {i}")
    return rows


def read_eval_set(data: DataDir) -> list[dict[str, Any]]:
    """AlpacaEval's 805 rows (instruction, dataset) in canonical order, from a reference ``model_outputs.json``."""
    path = data.require(REFERENCE_OUTPUTS)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}); re-fetch with `starling-eval data pull {REFERENCE_OUTPUTS}`") from None
    seen = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str):
            raise DataError(f"{path} row {i}: expected an object with an instruction")
        if row["instruction"] in seen:
            raise DataError(f"{path} row {i}: duplicate instruction")
        seen.add(row["instruction"])
    return rows


def canonical_positions(data: DataDir) -> dict[str, int]:
    """Instruction text → its position in AlpacaEval's canonical 805 (the order the GLM's files use)."""
    return {row["instruction"]: i for i, row in enumerate(read_eval_set(data))}


def _is_preference(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def raw_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    get_winrate = alpaca_eval_lib.module("metrics").get_winrate
    with alpaca_eval_lib.quiet_root_logger(logging.WARNING):
        winrate = get_winrate([{"preference": _preference(r["preference"])} for r in rows])
    metrics = {k: _plain(v) for k, v in winrate.items()}
    lengths = [len(r["output_2"]) for r in rows]
    metrics["avg_length"] = int(sum(lengths) / len(lengths))
    metrics["n_failed"] = sum(not _is_preference(r["preference"]) for r in rows)
    return metrics


def read_preference(value: Any) -> float | None:
    """alpaca_eval's reading of one preference: 0 is AlpacaEval 1's draw (1.5); outside [1, 2], None or NaN is not
    one. ``preference - 1`` is then the model's share of the win, as ``win_rate`` counts it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    value = 1.5 if value == 0 else float(value)
    return value if 1.0 <= value <= 2.0 else None


def _preference(value: Any) -> Any:
    """A failed judgment (None) is NaN to alpaca_eval, which drops it from the counts (we count it apart)."""
    return float("nan") if value is None else value


def _plain(value: Any) -> Any:
    """numpy scalars → Python numbers (JSON and equality stay simple)."""
    return value.item() if hasattr(value, "item") else value


def lc_unavailable(data: DataDir | None) -> str | None:
    """Why the LC win rate cannot be computed (the missing file and the command), or None when it can."""
    if data is None:
        return "length-controlled win rate unavailable: no data directory (--data-dir)"
    for rel in LC_FILES.values():
        if not data.path(rel).is_file():
            return (f"length-controlled win rate unavailable: missing {rel}; fetch it with "
                    f"`starling-eval data pull {' '.join(LC_FILES.values())}`")
    return None


def length_controlled(rows: Sequence[Mapping[str, Any]], data: DataDir) -> dict[str, float]:
    """alpaca_eval's GLM on these annotations, indexed by canonical instruction position."""
    import pandas as pd

    glm_winrate = alpaca_eval_lib.module("metrics.glm_winrate")

    positions = canonical_positions(data)
    unknown = [r["instruction"][:60] for r in rows if r["instruction"] not in positions]
    if unknown:
        raise DataError(f"annotation for an instruction that is not in AlpacaEval: {unknown[0]!r}")
    frame = pd.DataFrame([{**{k: r.get(k) for k in ("instruction", "output_1", "output_2", "generator_1", "generator_2")},
                           "preference": _preference(r["preference"])} for r in rows])
    frame.index = [positions[r["instruction"]] for r in rows]
    frame = frame.sort_index()
    local = {name: str(data.require(rel)) for name, rel in LC_FILES.items()}

    def from_data_dir(*, filename: str, **_: Any) -> str:
        return local[filename]

    with mock.patch.object(glm_winrate, "hf_hub_download", from_data_dir), \
            alpaca_eval_lib.quiet_root_logger(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn deprecations inside alpaca_eval's GLM
        out = glm_winrate.get_length_controlled_winrate(frame, save_weights_dir=None, is_warn_extreme_changes=False)
    return {"length_controlled_winrate": _plain(out["length_controlled_winrate"]),
            "lc_standard_error": _plain(out["lc_standard_error"])}


def model_name(path: Path, rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The leaderboard name of a file in alpaca_eval's results layout, ``<model>/<annotator>/annotations.json``
    (the folder names the model; ``generator_2`` inside can differ, e.g. NullModel's says "example")."""
    path = Path(path)
    generators = {r["generator_2"] for r in rows}
    annotators = {r.get("annotator") for r in rows}
    if path.name == "annotations.json" and len(generators) == 1 and annotators == {path.parent.name}:
        return path.parent.parent.name
    return None


def style_controlled(model: str, rows: Sequence[Mapping[str, Any]], data: DataDir | None, *,
                     seed: int = 0) -> dict[str, Any]:
    """The model's win rate over the reference with length and markdown held equal (``adapters.style_control``),
    in percent like ``win_rate``: ``style_controlled_winrate``, ``style_controlled_ci``, ``style_coefficients``,
    ``style_control`` (the fit's entry for the model, fractions; its ``raw`` is ``win_rate`` / 100), or
    ``style_unavailable`` saying why not (GPT-4o's tokenizer file missing, no valid preference)."""
    from starling_eval.adapters.arena_hard.style import cached_answer_metadata, o200k_encoding

    out: dict[str, Any] = {"style_controlled_winrate": None, "style_controlled_ci": None, "style_coefficients": None,
                           "style_control": None, "style_unavailable": None}
    try:
        encoding = o200k_encoding(data)
    except DataError as exc:
        return {**out, "style_unavailable": f"style control unavailable: {exc}"}

    def style(text: Any) -> dict[str, Any]:
        return cached_answer_metadata(text if isinstance(text, str) else "", encoding)

    reference = f"{rows[0].get('generator_1') or 'reference'} (reference)"
    battles = [Battle(model, reference, preference - 1.0, style(r["output_2"]), style(r["output_1"]), r["instruction"])
               for r in rows if (preference := read_preference(r["preference"])) is not None]
    if not battles:
        return {**out, "style_unavailable": "style control unavailable: no valid preference"}
    fit = style_controlled_win_rates(battles, baseline=reference, seed=seed)
    mine = fit["models"][model]
    return {**out, "style_controlled_winrate": 100 * mine["style_controlled"],
            "style_controlled_ci": [100 * v for v in mine["ci95"]] if mine["ci95"] else None,
            "style_coefficients": fit["coefficients"], "style_control": mine}


def leaderboard(annotation_sets: Sequence[tuple[str | None, Sequence[Mapping[str, Any]]]],
                data: DataDir | None, *, seed: int = 0) -> list[dict[str, Any]]:
    """One leaderboard row per model, best first. Each set is (model name or None for ``generator_2``, rows)."""
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for name, rows in annotation_sets:
        for row in rows:
            by_model.setdefault(name or row["generator_2"], []).append(row)
    why_no_lc = lc_unavailable(data)
    table = []
    for model, rows in by_model.items():
        row: dict[str, Any] = {"model": model, **raw_metrics(rows)}
        row["annotator"] = rows[0].get("annotator")
        row["reference"] = rows[0].get("generator_1")
        if why_no_lc is None:
            assert data is not None
            row.update(length_controlled(rows, data), lc_unavailable=None)
        else:
            row.update(length_controlled_winrate=None, lc_standard_error=None, lc_unavailable=why_no_lc)
        row.update(style_controlled(model, rows, data, seed=seed))
        table.append(row)
    key = "length_controlled_winrate" if all(r["length_controlled_winrate"] is not None for r in table) else "win_rate"
    table.sort(key=lambda r: -r[key])
    return table
