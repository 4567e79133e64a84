"""Per-item metric values of a finished run, read back from its folder, for paired comparisons (``gate``).

A headline score is a mean over items; two checkpoints evaluated on the same items are compared item by
item (a paired test), which needs every item's value under a key both runs spell the same way, and the
cluster each item belongs to (items that are not independent draws are resampled together). Metric names
are the shared scheme the leaderboard uses too (``mtbench.overall``, ``mmlu.acc``, ``hh.rm_accuracy``...).

Where the values come from, per kind of run:

* MT-Bench single grading: ``judgments.jsonl`` rows ``kind: "single"`` (rating in ``verdict``). Key
  ``question_id|turn``, cluster ``question_id``: the two turns of a question move together.
* MT-Bench pairwise-baseline: ``scores.json`` ``items`` (one per valid match, ``model_1_result``) seen from
  the non-baseline model, in percent (win 100, tie 50, loss 0). Same keys and clusters.
* AlpacaEval: ``judgments.jsonl`` rows ``kind: "alpacaeval"``; value ``(preference - 1) * 100`` as
  alpaca_eval's ``win_rate`` computes it (0 counts as a draw, 1.5). Key and cluster: the instruction hash.
* MMLU and TruthfulQA (log-likelihood): ``records.jsonl``, lm-eval's per-item ``acc`` in percent. Key
  ``task|doc_id``, each item its own cluster.
* Reward-model pairs: ``records.jsonl`` ``correct`` in percent (a tie is wrong, as in the accuracy). Key
  ``track|pair id``, cluster the prompt (pair id up to the first ``|``: pairs cut from one prompt).
* Safe-RLHF policy: ``judgments.jsonl`` rows ``kind: "safety"``; harmless 100/0 and helpfulness 1-10.

Percent metrics are in points (0-100), ratings on their own 1-10 scale. A failed judgment is no value: it
is left out (as from the run's own means) and counted in ``n_failed``. A run that scored several models
(answer files of two models, pairwise-all) has no single model to compare, and is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval.data import DataError
from starling_eval.report.metrics import metric_benchmark
from starling_eval.store.files import read_jsonl
from starling_eval.store.runs import JUDGMENTS, RECORDS, RunFolder

# units as report.metrics names them: a percent metric's differences (and max_drop) are percentage points; a
# score is the judge's own 1-10 scale, its differences in score points
POINTS = "percent"
RATING = "score"

# what each kind of run measures: metric -> (unit, binary per item)
KIND_METRICS: dict[str, dict[str, tuple[str, bool]]] = {
    "mtbench-single": {"mtbench.overall": (RATING, False), "mtbench.turn1": (RATING, False),
                       "mtbench.turn2": (RATING, False)},
    "mtbench-pairwise-baseline": {"mtbench.win_rate_adjusted": (POINTS, False)},
    "alpacaeval": {"alpacaeval.win_rate": (POINTS, False)},
    "mmlu": {"mmlu.acc": (POINTS, True)},
    "truthfulqa-mc": {"truthfulqa.mc1": (POINTS, True), "truthfulqa.mc2": (POINTS, False)},
    "safe-rlhf-policy": {"safe-rlhf.harmless_rate": (POINTS, True), "safe-rlhf.helpfulness": (RATING, False)},
    # reward-model pair runs: "<benchmark>.rm_accuracy", or one per track (rm_pair_metric)
}
REWARD_PAIR_TRACKS = {"hh": ("hh",), "truthfulqa": ("truthfulqa",), "arena": ("arena",), "nectar": ("nectar",),
                      "safe-rlhf": ("helpful", "harmless")}

# the default gate of a kind of run: its headline metric(s), as report.metrics has them, except AlpacaEval's
# length-controlled win rate, which is no item mean (NOT_ITEM_MEANS): its raw win rate stands in
HEADLINE: dict[str, tuple[str, ...]] = {
    "mtbench-single": ("mtbench.overall",),
    "mtbench-pairwise-baseline": ("mtbench.win_rate_adjusted",),
    "alpacaeval": ("alpacaeval.win_rate",),
    "mmlu": ("mmlu.acc",),
    "truthfulqa-mc": ("truthfulqa.mc2",),
    "safe-rlhf-policy": ("safe-rlhf.harmless_rate",),
}

# metrics with a name in the shared scheme that are not means over items, so no paired test applies
NOT_ITEM_MEANS = {
    "alpacaeval.lc_win_rate": "alpacaeval.lc_win_rate is alpaca_eval's length-controlled GLM fitted over all items, "
                              "not a mean over items, so no paired item test applies: gate alpacaeval.win_rate instead",
    "mmlu.macro": "mmlu.macro is a mean of per-subject means, not a mean over items: gate mmlu.acc (micro) instead",
    "mtbench.win_rate_style_controlled": "mtbench.win_rate_style_controlled comes from a style model fitted over all "
                                         "matches, not a mean over items: gate mtbench.win_rate_adjusted instead",
    "alpacaeval.style_controlled_win_rate": "alpacaeval.style_controlled_win_rate comes from a style model fitted over "
                                            "all items, not a mean over items: gate alpacaeval.win_rate instead",
}


class ItemError(DataError):
    """A run whose per-item values cannot be read (unfinished, several models, unknown kind): one line, exit 2."""


@dataclass
class ItemValues:
    """One metric's per-item values of one model: item key -> value, item key -> cluster."""

    values: dict[str, float]
    clusters: dict[str, str]
    unit: str = POINTS
    binary: bool = False  # each value is 0 or 100: McNemar applies besides the bootstrap
    n_failed: int = 0  # items whose judgment failed, left out of ``values``

    @property
    def mean(self) -> float | None:
        return math.fsum(self.values.values()) / len(self.values) if self.values else None


@dataclass
class RunItems:
    """A run's kind, its one model, and its metrics' item values."""

    kind: str
    model: str | None
    metrics: dict[str, ItemValues] = field(default_factory=dict)


def rm_pair_metric(benchmark: str, track: str) -> str:
    """A reward-model track's metric: ``<benchmark>.rm_accuracy`` for a single-track benchmark, else one per track
    (``safe-rlhf.rm_accuracy_helpful``)."""
    return f"{benchmark}.rm_accuracy" if track == benchmark else f"{benchmark}.rm_accuracy_{track}"


def kind_metrics(kind: str, benchmark: str) -> dict[str, tuple[str, bool]]:
    """Every metric a kind of run can have: name -> (unit, binary)."""
    if kind == "reward-pairs":
        tracks = REWARD_PAIR_TRACKS.get(benchmark, (benchmark,))
        return {rm_pair_metric(benchmark, t): (POINTS, True) for t in tracks}
    return KIND_METRICS[kind]


def headline_metrics(kind: str, benchmark: str) -> tuple[str, ...]:
    """The metrics a gate checks when it is given no rules (reward pairs: every track's accuracy)."""
    return tuple(kind_metrics(kind, benchmark)) if kind == "reward-pairs" else HEADLINE[kind]


def known_metrics() -> dict[str, tuple[str, str]]:
    """Every metric name of the scheme: name -> (benchmark, kind). Lets a rules file be checked for typos."""
    known = {m: (metric_benchmark(m), kind) for kind, metrics in KIND_METRICS.items() for m in metrics}
    for bench in REWARD_PAIR_TRACKS:
        known.update({m: (bench, "reward-pairs") for m in kind_metrics("reward-pairs", bench)})
    known.update({m: (metric_benchmark(m), "not-item-mean") for m in NOT_ITEM_MEANS})
    return known


# -- reading a run ----------------------------------------------------------------------------------


def item_values(run_folder: Path | RunFolder) -> dict[str, ItemValues]:
    """Per metric, the item values of the run's one model (see the module docstring for the sources)."""
    return read_items(run_folder).metrics


def read_items(run_folder: Path | RunFolder) -> RunItems:
    """The run's kind, model and per-metric item values; an ItemError when the run has none to give."""
    run = run_folder if isinstance(run_folder, RunFolder) else RunFolder(Path(run_folder))
    manifest = run.read_manifest()
    scores = run.scores()
    if scores is None:
        raise ItemError(f"run {run.run_id} has no scores.json (status {manifest.get('status')}): finish it first "
                        "by running the same command again")
    benchmark = (manifest.get("spec") or {}).get("benchmark") or scores.get("benchmark")
    kind = run_kind(benchmark, scores, run.run_id)
    reader = {"mtbench-single": _mtbench_single, "mtbench-pairwise-baseline": _mtbench_pairwise,
              "alpacaeval": _alpacaeval, "mmlu": _loglikelihood, "truthfulqa-mc": _loglikelihood,
              "reward-pairs": _reward_pairs, "safe-rlhf-policy": _safety}[kind]
    model, metrics = reader(run, scores, benchmark)
    units = kind_metrics(kind, benchmark)
    for name, values in metrics.items():
        values.unit, values.binary = units.get(name, (values.unit, values.binary))
    return RunItems(kind=kind, model=model, metrics=metrics)


def run_kind(benchmark: str | None, scores: Mapping[str, Any], run_id: str = "") -> str:
    """Which reader applies, from the scores' mode (a benchmark can be a policy run or a reward-model run)."""
    mode = scores.get("mode")
    kinds = {"single": "mtbench-single", "pairwise-baseline": "mtbench-pairwise-baseline", "alpacaeval": "alpacaeval",
             "mmlu": "mmlu", "truthfulqa": "truthfulqa-mc", "reward-pairs": "reward-pairs", "safety": "safe-rlhf-policy"}
    if mode == "pairwise-all":
        raise ItemError(f"run {run_id} is a pairwise-all run: it compares several models with each other, so it has "
                        "no single model to gate; use a single-grading or pairwise-baseline run")
    if mode not in kinds or (mode in ("single", "pairwise-baseline") and benchmark != "mtbench"):
        raise ItemError(f"run {run_id}: no per-item values for a {benchmark} run scored in mode {mode!r}")
    return kinds[mode]


def _one_model(models: Iterable[str | None], run_id: str) -> str | None:
    found = sorted({m for m in models if m is not None})
    if len(found) > 1:
        raise ItemError(f"run {run_id} scored several models ({', '.join(found)}): gate compares one model's runs; "
                        "evaluate each model in its own run")
    return found[0] if found else None


def _newest_rows(run: RunFolder, kind: str) -> list[dict[str, Any]]:
    """The run's judgment rows of one kind, the last row per request id (an interrupted run may hold several)."""
    rows: dict[Any, dict[str, Any]] = {}
    for i, row in enumerate(read_jsonl(run.file(JUDGMENTS))):
        if row.get("kind") == kind:
            rows[row.get("id", i)] = row
    return list(rows.values())


def _failed(row: Mapping[str, Any]) -> bool:
    return row.get("failure") is not None or row.get("verdict") is None


def _mtbench_single(run: RunFolder, scores: Mapping[str, Any], benchmark: str) -> tuple[str | None, dict]:
    rows = _newest_rows(run, "single")
    model = _one_model((r.get("model") for r in rows), run.run_id)
    metrics = {name: ItemValues({}, {}) for name in ("mtbench.overall", "mtbench.turn1", "mtbench.turn2")}
    for r in rows:
        turn_metric = metrics.get(f"mtbench.turn{r['turn']}")
        targets = [metrics["mtbench.overall"]] + ([turn_metric] if turn_metric else [])
        for target in targets:
            if _failed(r):
                target.n_failed += 1
                continue
            key = f"{r['question_id']}|{r['turn']}"
            target.values[key], target.clusters[key] = float(r["verdict"]), str(r["question_id"])
    return model, metrics


def _mtbench_pairwise(run: RunFolder, scores: Mapping[str, Any], benchmark: str) -> tuple[str | None, dict]:
    baseline = scores.get("baseline")
    items, failures = scores.get("items", []), scores.get("failures", [])
    # an item names its models model_1/model_2; a failure names model_1 "model"
    model = _one_model((m for e in [*items, *failures] for m in (e.get("model_1", e.get("model")), e.get("model_2"))
                        if m != baseline), run.run_id)
    out = ItemValues({}, {}, n_failed=len(failures))
    for i in items:
        result = i["model_1_result"] if i["model_1"] == model else 1.0 - i["model_1_result"]
        key = f"{i['question_id']}|{i['turn']}"
        out.values[key], out.clusters[key] = 100.0 * result, str(i["question_id"])
    return model, {"mtbench.win_rate_adjusted": out}


def _alpacaeval(run: RunFolder, scores: Mapping[str, Any], benchmark: str) -> tuple[str | None, dict]:
    from starling_eval.adapters.alpacaeval.score import read_preference  # here: gate's start-up stays light

    rows = _newest_rows(run, "alpacaeval")
    model = _one_model((r.get("model") for r in rows), run.run_id)
    out = ItemValues({}, {})
    for r in rows:
        preference = None if r.get("failure") is not None else read_preference(r.get("verdict"))
        if preference is None:
            out.n_failed += 1
            continue
        key = str(r["item_id"])
        out.values[key], out.clusters[key] = 100.0 * (preference - 1.0), key
    return model, {"alpacaeval.win_rate": out}


def _records(run: RunFolder) -> list[dict[str, Any]]:
    path = run.file(RECORDS)
    if not path.is_file():
        raise ItemError(f"run {run.run_id} has no {RECORDS}: its per-item values are not stored")
    return read_jsonl(path)


def _loglikelihood(run: RunFolder, scores: Mapping[str, Any], benchmark: str) -> tuple[str | None, dict]:
    records = _records(run)
    model = _one_model((r.get("model") for r in records), run.run_id)
    names = {"truthfulqa_mc1": "truthfulqa.mc1", "truthfulqa_mc2": "truthfulqa.mc2"}
    metrics: dict[str, ItemValues] = {}
    for r in records:
        name = names.get(r["task"], "mmlu.acc")
        key = f"{r['task']}|{r['doc_id']}"
        target = metrics.setdefault(name, ItemValues({}, {}))
        target.values[key], target.clusters[key] = 100.0 * float(r["acc"]), key
    return model, metrics


def _reward_pairs(run: RunFolder, scores: Mapping[str, Any], benchmark: str) -> tuple[str | None, dict]:
    from starling_eval.adapters.preference.benchmark import prompt_cluster

    records = _records(run)
    model = _one_model((r.get("model") for r in records), run.run_id)
    metrics: dict[str, ItemValues] = {}
    for r in records:
        target = metrics.setdefault(rm_pair_metric(benchmark, r["track"]), ItemValues({}, {}))
        key = f"{r['track']}|{r['id']}"
        target.values[key], target.clusters[key] = 100.0 * bool(r["correct"]), prompt_cluster(str(r["id"]))
    return model, metrics


def _safety(run: RunFolder, scores: Mapping[str, Any], benchmark: str) -> tuple[str | None, dict]:
    rows = _newest_rows(run, "safety")
    model = _one_model((r.get("model") for r in rows), run.run_id)
    harmless, helpful = ItemValues({}, {}), ItemValues({}, {})
    for r in rows:
        if _failed(r):
            harmless.n_failed += 1
            helpful.n_failed += 1
            continue
        key = str(r["item_id"])
        harmless.values[key], harmless.clusters[key] = 100.0 * bool(r["verdict"]["harmless"]), key
        helpful.values[key], helpful.clusters[key] = float(r["verdict"]["helpfulness"]), key
    return model, {"safe-rlhf.harmless_rate": harmless, "safe-rlhf.helpfulness": helpful}
