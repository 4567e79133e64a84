"""One name per number: the metrics a run's ``scores.json`` yields, as ``leaderboard`` and ``gate`` name them.

Every metric is ``<benchmark>.<metric>``; its unit is ``percent`` (0-100, fractions in scores.json are
multiplied by 100, intervals too) or ``score`` (the judge's own scale, as is):

==============================  =======  =====================================================================
``mtbench.overall``             score    single grading, 1-10, mean of all valid turns (headline)
``mtbench.turn1``/``turn2``     score    single grading, 1-10, per turn
``mtbench.win_rate_adjusted``   percent  pairwise: (wins + ties/2) / valid matches, vs its baseline (headline);
                                         pairwise-all: vs the other models of the same run
``alpacaeval.lc_win_rate``      percent  length-controlled win rate (headline)
``alpacaeval.win_rate``         percent  raw win rate (the headline when LC is unavailable; ``extra`` says so)
``mmlu.acc``                    percent  micro accuracy over questions (headline)
``mmlu.macro``                  percent  mean of per-subject accuracies
``truthfulqa.mc2``              percent  lm-eval's MC2 (headline)
``truthfulqa.mc1``              percent  lm-eval's MC1
``<bench>.rm_accuracy``         percent  reward model: chosen rewarded strictly higher (hh, truthfulqa, arena,
                                         nectar; headline); the longer-reply baseline is in ``extra``
``safe-rlhf.rm_accuracy_helpful``/``_harmless``  percent  the two Safe-RLHF tracks (both headline)
``safe-rlhf.harmless_rate``     percent  policy: share of answers judged harmless (headline)
``safe-rlhf.helpfulness``       score    policy: mean helpfulness, 1-10
==============================  =======  =====================================================================

Reading only the files, never the models: nothing here imports torch or a backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Unit = Literal["percent", "score"]

# benchmark family (see :func:`family`) -> its headline metric names, in order; a family with two tracks
# (Safe-RLHF pairs) has two headlines
HEADLINE: dict[str, tuple[str, ...]] = {
    "mtbench/single": ("mtbench.overall",),
    "mtbench/pairwise": ("mtbench.win_rate_adjusted",),
    "alpacaeval": ("alpacaeval.lc_win_rate",),
    "mmlu": ("mmlu.acc",),
    "truthfulqa": ("truthfulqa.mc2",),
    "safe-rlhf": ("safe-rlhf.harmless_rate",),
    "hh/rm": ("hh.rm_accuracy",),
    "truthfulqa/rm": ("truthfulqa.rm_accuracy",),
    "arena/rm": ("arena.rm_accuracy",),
    "nectar/rm": ("nectar.rm_accuracy",),
    "safe-rlhf/rm": ("safe-rlhf.rm_accuracy_helpful", "safe-rlhf.rm_accuracy_harmless"),
}
# a headline that may be missing, and what stands in for it (the stand-in says so in ``extra["fallback_for"]``)
HEADLINE_FALLBACK: dict[str, str] = {"alpacaeval.lc_win_rate": "alpacaeval.win_rate"}

SINGLE_TRACK_RM = ("hh", "truthfulqa", "arena", "nectar")


@dataclass
class Metric:
    """One number of one model in one run. ``ci95`` is (low, high) in the metric's unit, or None."""

    name: str
    value: float | None
    ci95: tuple[float, float] | None = None
    n: int | None = None
    higher_is_better: bool = True
    unit: Unit = "percent"
    extra: dict[str, Any] = field(default_factory=dict)
    n_failed: int = 0  # failed judgments of this model, left out of ``value`` (counted, never hidden)

    @property
    def benchmark(self) -> str:
        return self.name.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci95"] = list(self.ci95) if self.ci95 is not None else None
        return out


def family(manifest: Mapping[str, Any], scores: Mapping[str, Any]) -> str | None:
    """The :data:`HEADLINE` key of a run (None for a scores mode this module does not know)."""
    mode = scores.get("mode")
    bench = benchmark_of(manifest, scores)
    if mode == "single":
        return "mtbench/single"
    if mode in ("pairwise-baseline", "pairwise-all"):
        return "mtbench/pairwise"
    if mode in ("alpacaeval", "mmlu", "truthfulqa"):
        return mode
    if mode == "safety":
        return "safe-rlhf"
    if mode == "reward-pairs":
        return f"{bench}/rm"
    return None


def benchmark_of(manifest: Mapping[str, Any], scores: Mapping[str, Any] | None = None) -> str:
    return (manifest.get("spec") or {}).get("benchmark") or (scores or {}).get("benchmark") or "?"


def is_headline(name: str) -> bool:
    return any(name in names for names in HEADLINE.values())


def all_metrics(manifest: Mapping[str, Any], scores: Mapping[str, Any]) -> dict[str, list[Metric]]:
    """Every named metric of every model row of a run, headline(s) first: {model label: [Metric, ...]}.
    Rows of one model (Safe-RLHF's two RM tracks) are gathered under one label. An unknown mode gives {}."""
    bench = benchmark_of(manifest, scores)
    mode = scores.get("mode")
    out: dict[str, list[Metric]] = {}
    for row in scores.get("models") or []:
        label = row.get("model")
        if label is None:
            continue
        metrics = _row_metrics(bench, mode, row, scores)
        if metrics:
            out.setdefault(str(label), []).extend(metrics)
    return out


def headline_metrics(manifest: Mapping[str, Any], scores: Mapping[str, Any]) -> dict[str, list[Metric]]:
    """Only the headline metric(s) of each model row: {model label: [Metric, ...]}. AlpacaEval without a
    length-controlled win rate gives ``alpacaeval.win_rate`` with ``extra["fallback_for"]`` and the reason."""
    names = set(HEADLINE.get(family(manifest, scores) or "", ()))
    out = {}
    for label, metrics in all_metrics(manifest, scores).items():
        chosen = [m for m in metrics if m.name in names or m.extra.get("fallback_for") in names]
        if chosen:
            out[label] = chosen
    return out


def run_model_key(manifest: Mapping[str, Any], model_row_label: str) -> tuple[str, str | None]:
    """(name, revision) of a model a run scored. The revision is what the run recorded: the model's
    provenance (``local:<fingerprint>`` of a local folder, or the hub commit), else the revision asked for;
    a reward model's is its folder fingerprint. Models read from answer files have no revision (None)."""
    spec = manifest.get("spec") or {}
    model = spec.get("model")
    if model and model_row_label in (model_label(model), (manifest.get("model") or {}).get("label")):
        recorded = (manifest.get("model") or {}).get("revision")
        return model_row_label, recorded or model.get("revision")
    reward = spec.get("reward_model")
    if reward and model_row_label == model_label(reward):
        if reward.get("revision"):
            return model_row_label, reward["revision"]
        provenance = manifest.get("reward_model") or {}
        fingerprint = provenance.get("head_weights") or provenance.get("weights")
        return model_row_label, f"local:{fingerprint}" if fingerprint else None
    return model_row_label, None


def model_label(spec: Mapping[str, Any]) -> str:
    """ModelSpec.label / RewardSpec.label over a dumped spec."""
    name = spec.get("name_or_path") or ""
    return spec.get("display_name") or Path(name.rstrip("/")).name or name


# -- per mode -------------------------------------------------------------------------------------------


def _pct(value: Any) -> float | None:
    return None if value is None else 100.0 * float(value)


def _pct_ci(interval: Any) -> tuple[float, float] | None:
    return (100.0 * float(interval[0]), 100.0 * float(interval[1])) if interval else None


def _ci(interval: Any) -> tuple[float, float] | None:
    return (float(interval[0]), float(interval[1])) if interval else None


def _se_ci(value: Any, standard_error: Any) -> tuple[float, float] | None:
    if value is None or standard_error is None:
        return None
    return (float(value) - 1.96 * float(standard_error), float(value) + 1.96 * float(standard_error))


def _row_metrics(bench: str, mode: Any, row: Mapping[str, Any], scores: Mapping[str, Any]) -> list[Metric]:
    failed = int(row.get("n_failed") or 0)
    if mode == "single":
        ci = row.get("ci95") or {}
        return [Metric(f"mtbench.{k}", row.get(k), _ci(ci.get(k)), row.get(n), unit="score", n_failed=failed,
                       extra={"scale": "1-10"})
                for k, n in (("overall", "n_valid"), ("turn1", "n_turn1"), ("turn2", "n_turn2"))]
    if mode in ("pairwise-baseline", "pairwise-all"):
        extra = {"mode": mode, "baseline": scores.get("baseline"),
                 **{k: row.get(k) for k in ("win", "loss", "tie", "position_consistency")}}
        if mode == "pairwise-all":
            extra["opponents"] = sorted(str(m.get("model")) for m in scores.get("models") or []
                                        if m.get("model") != row.get("model"))
        return [Metric("mtbench.win_rate_adjusted", _pct(row.get("win_rate_adjusted")),
                       _pct_ci((row.get("ci95") or {}).get("win_rate_adjusted")), row.get("n_valid"),
                       n_failed=failed, extra=extra)]
    if mode == "alpacaeval":
        extra = {k: row.get(k) for k in ("n_wins", "n_wins_base", "n_draws", "discrete_win_rate", "avg_length",
                                          "annotator", "reference") if k in row}
        raw = Metric("alpacaeval.win_rate", row.get("win_rate"), _se_ci(row.get("win_rate"), row.get("standard_error")),
                     row.get("n_total"), n_failed=failed,
                     extra={**extra, "standard_error": row.get("standard_error"), "ci95_from": "±1.96 standard errors"})
        lc_value = row.get("length_controlled_winrate")
        if lc_value is None:
            raw.extra.update(fallback_for="alpacaeval.lc_win_rate",
                             lc_unavailable=row.get("lc_unavailable") or scores.get("lc_unavailable")
                             or "length-controlled win rate not computed")
            return [raw]
        lc = Metric("alpacaeval.lc_win_rate", lc_value, _se_ci(lc_value, row.get("lc_standard_error")),
                    row.get("n_total"), n_failed=failed,
                    extra={**extra, "standard_error": row.get("lc_standard_error"), "ci95_from": "±1.96 standard errors"})
        return [lc, raw]
    if mode == "mmlu":
        extra = {"n_subjects": row.get("n_subjects"), "groups": {g: _pct(v) for g, v in (row.get("groups") or {}).items()}}
        return [Metric("mmlu.acc", _pct(row.get("micro")), _pct_ci(row.get("ci95")), row.get("n"), n_failed=failed,
                       extra=extra),
                Metric("mmlu.macro", _pct(row.get("macro")), None, row.get("n"), n_failed=failed,
                       extra={"n_subjects": row.get("n_subjects")})]
    if mode == "truthfulqa":
        return [Metric(f"truthfulqa.{k}", _pct(row.get(k)), _pct_ci(row.get(f"{k}_ci95")), row.get(f"n_{k}"),
                       n_failed=failed) for k in ("mc2", "mc1")]
    if mode == "reward-pairs":
        track = row.get("track") or bench
        name = f"{bench}.rm_accuracy" if track == bench else f"{bench}.rm_accuracy_{track}"
        extra = {"track": track, "length_baseline": _pct(row.get("length_baseline")),
                 "length_baseline_ci95": list(_pct_ci(row.get("length_baseline_ci95")) or []) or None,
                 "ties": row.get("ties"), "n_prompts": row.get("n_prompts")}
        return [Metric(name, _pct(row.get("accuracy")), _pct_ci(row.get("ci95")), row.get("n"), n_failed=failed,
                       extra=extra)]
    if mode == "safety":
        return [Metric("safe-rlhf.harmless_rate", _pct(row.get("harmless_rate")), _pct_ci(row.get("harmless_ci95")),
                       row.get("n_valid"), n_failed=failed),
                Metric("safe-rlhf.helpfulness", row.get("helpfulness"), _ci(row.get("helpfulness_ci95")),
                       row.get("n_valid"), unit="score", n_failed=failed,
                       extra={"scale": "1-10", "helpfulness_when_harmless": row.get("helpfulness_when_harmless")})]
    return []
