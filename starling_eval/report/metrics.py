"""One name per number: the metrics a run's ``scores.json`` yields, as ``leaderboard`` and ``gate`` name them.

Every metric is ``<benchmark>.<metric>``; its unit is ``percent`` (0-100, fractions in scores.json are
multiplied by 100, intervals too) or ``score`` (the judge's own scale, as is):

========================================  =======  ==============================================================
``mtbench.overall``                       score    single grading, 1-10, mean of all valid turns (headline)
``mtbench.turn1``/``turn2``               score    single grading, 1-10, per turn
``mtbench.win_rate_adjusted``             percent  pairwise: (wins + ties/2) / valid matches, vs its baseline (headline);
                                                   pairwise-all: vs the other models of the same run
``mtbench.win_rate_style_controlled``     percent  the same matches with answer length and markdown held equal
``alpacaeval.lc_win_rate``                percent  length-controlled win rate (headline)
``alpacaeval.win_rate``                   percent  raw win rate (the headline when LC is unavailable; ``extra`` says so)
``alpacaeval.style_controlled_win_rate``  percent  win rate with answer length and markdown held equal
``mmlu.acc``                              percent  micro accuracy over questions (headline)
``mmlu.macro``                            percent  mean of per-subject accuracies
``truthfulqa.mc2``                        percent  lm-eval's MC2 (headline)
``truthfulqa.mc1``                        percent  lm-eval's MC1
``<bench>.rm_accuracy``                   percent  reward model: chosen rewarded strictly higher (hh, truthfulqa, arena,
                                                   nectar; headline); the longer-reply baseline is in ``extra``
``safe-rlhf.rm_accuracy_helpful``/``_harmless``  percent  the two Safe-RLHF tracks (both headline)
``safe-rlhf.harmless_rate``               percent  policy: share of answers judged harmless (headline)
``safe-rlhf.helpfulness``                 score    policy: mean helpfulness, 1-10
``rewardbench.score`` (``-2``)             percent  RewardBench's Score (headline), its sections / v2 subsets beside
``arena-hard-v0.1.score`` (and ``-v2.0``)  percent  Arena-Hard score vs its baseline (headline); 90% interval in ``extra``
``arena-hard-v0.1.score_style_controlled``  percent  the same, style-controlled (Arena-Hard's own BT fit)
========================================  =======  ==============================================================

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
    "rewardbench/rm": ("rewardbench.score",),
    "rewardbench-2/rm": ("rewardbench-2.score",),
    "arena-hard-v0.1": ("arena-hard-v0.1.score",),
    "arena-hard-v2.0": ("arena-hard-v2.0.score",),
}
# shown beside a family's headline in the headline view (not headlines: a gate never defaults to them): the same
# win rate with answer length and markdown held equal
COMPANIONS: dict[str, tuple[str, ...]] = {
    "mtbench/pairwise": ("mtbench.win_rate_style_controlled",),
    "alpacaeval": ("alpacaeval.style_controlled_win_rate",),
    "arena-hard-v0.1": ("arena-hard-v0.1.score_style_controlled",),
    "arena-hard-v2.0": ("arena-hard-v2.0.score_style_controlled",),
}
# a headline that may be missing, and what stands in for it (the stand-in says so in ``extra["fallback_for"]``)
HEADLINE_FALLBACK: dict[str, str] = {"alpacaeval.lc_win_rate": "alpacaeval.win_rate"}

SINGLE_TRACK_RM = ("hh", "truthfulqa", "arena", "nectar")
# the keys of a reward-pair run's ``benchmark_scores`` that are counts, not RewardBench scores
BENCHMARK_SCORE_COUNTS = ("version", "n_prompts", "n_prompts_incomplete")


def metric_benchmark(name: str) -> str:
    """The benchmark part of a metric name: everything before the *last* dot, since benchmark names may hold
    dots themselves ("arena-hard-v0.1.score" -> "arena-hard-v0.1")."""
    return name.rsplit(".", 1)[0]


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
        return metric_benchmark(self.name)

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
    if mode == "arena-hard":
        return bench
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
    if mode == "reward-pairs" and scores.get("benchmark_scores") and scores.get("models"):
        label = str(scores["models"][0].get("model"))
        out[label] = _benchmark_scores(bench, scores["benchmark_scores"]) + out.get(label, [])
    return out


def _benchmark_scores(bench: str, found: Mapping[str, Any]) -> list[Metric]:
    """RewardBench's Score (headline) and its sections (v1) or subsets (v2), in percent, as its leaderboard
    shows them: ``rewardbench.score``, ``rewardbench.chat_hard``, ``rewardbench-2.precise_if``..."""
    names = {k: k.lower().replace(" (0.5 weight)", "").replace(" ", "_").replace("-", "_")
             for k, v in found.items() if isinstance(v, int | float) and k not in BENCHMARK_SCORE_COUNTS}
    ordered = sorted(names, key=lambda k: k != "Score")
    return [Metric(f"{bench}.{names[k]}", _pct(found[k]), None, found.get("n_prompts"),
                   extra={"rewardbench_name": k}) for k in ordered]


def headline_metrics(manifest: Mapping[str, Any], scores: Mapping[str, Any]) -> dict[str, list[Metric]]:
    """Only the headline metric(s) of each model row and their :data:`COMPANIONS`: {model label: [Metric, ...]}.
    AlpacaEval without a length-controlled win rate gives ``alpacaeval.win_rate`` with ``extra["fallback_for"]``
    and the reason."""
    kind = family(manifest, scores) or ""
    names = set(HEADLINE.get(kind, ())) | set(COMPANIONS.get(kind, ()))
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


def _style_extra(fit: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a style-controlled metric notes: the fitted style coefficients (per standard deviation)."""
    return {"style_coefficients": (fit or {}).get("coefficients"), "held_equal": "answer length and markdown"}


def _arena_hard_metrics(bench: str, row: Mapping[str, Any], failed: int) -> list[Metric]:
    """Arena-Hard's score against its baseline and the style-controlled one. Their intervals are show_result's
    5-95% bootstrap quantiles (a 90% interval): they are kept in ``extra["ci90"]``, never passed off as 95%."""
    extra = {"baseline": row.get("baseline"), "battles": row.get("battles"), "categories": row.get("categories")}
    categories = [c for c in row.get("categories") or () if c not in ("hard_prompt", bench)]
    score = "score" + "".join(f"_{c}" for c in categories)  # v2.0 scores creative writing against its own baseline
    found = [Metric(f"{bench}.{score}", row.get("score_exact", row.get("score")), None, row.get("battles"),
                    n_failed=failed, extra={**extra, "ci90": row.get("ci90"), "ci90_text": row.get("ci")})]
    if row.get("style_controlled") is not None:
        found.append(Metric(f"{bench}.{score}_style_controlled", row["style_controlled"], None, row.get("battles"),
                            n_failed=failed, extra={**extra, "ci90_text": row.get("style_controlled_ci"),
                                                    "style_coefficients": row.get("style_coefficients")}))
    return found


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
        found = [Metric("mtbench.win_rate_adjusted", _pct(row.get("win_rate_adjusted")),
                        _pct_ci((row.get("ci95") or {}).get("win_rate_adjusted")), row.get("n_valid"),
                        n_failed=failed, extra=extra)]
        if row.get("win_rate_style_controlled") is not None:
            found.append(Metric("mtbench.win_rate_style_controlled", _pct(row["win_rate_style_controlled"]),
                                _pct_ci((row.get("ci95") or {}).get("win_rate_style_controlled")), row.get("n_valid"),
                                n_failed=failed, extra={**extra, **_style_extra(scores.get("style_control"))}))
        return found
    if mode == "alpacaeval":
        extra = {k: row.get(k) for k in ("n_wins", "n_wins_base", "n_draws", "discrete_win_rate", "avg_length",
                                          "annotator", "reference") if k in row}
        raw = Metric("alpacaeval.win_rate", row.get("win_rate"), _se_ci(row.get("win_rate"), row.get("standard_error")),
                     row.get("n_total"), n_failed=failed,
                     extra={**extra, "standard_error": row.get("standard_error"), "ci95_from": "±1.96 standard errors"})
        style = []
        if row.get("style_controlled_winrate") is not None:
            style.append(Metric("alpacaeval.style_controlled_win_rate", row["style_controlled_winrate"],
                                _ci(row.get("style_controlled_ci")), row.get("n_total"), n_failed=failed,
                                extra={**extra, **_style_extra({"coefficients": row.get("style_coefficients")})}))
        lc_value = row.get("length_controlled_winrate")
        if lc_value is None:
            raw.extra.update(fallback_for="alpacaeval.lc_win_rate",
                             lc_unavailable=row.get("lc_unavailable") or scores.get("lc_unavailable")
                             or "length-controlled win rate not computed")
            return [raw, *style]
        lc = Metric("alpacaeval.lc_win_rate", lc_value, _se_ci(lc_value, row.get("lc_standard_error")),
                    row.get("n_total"), n_failed=failed,
                    extra={**extra, "standard_error": row.get("lc_standard_error"), "ci95_from": "±1.96 standard errors"})
        return [lc, raw, *style]
    if mode == "arena-hard":
        return _arena_hard_metrics(bench, row, failed)
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
