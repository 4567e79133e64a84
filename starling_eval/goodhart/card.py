"""The Goodhart card of a run: does a human proxy see the improvement the judge sees?

A judge-based win rate says the judge likes a model's answers more than the baseline's, not that people
do. The card puts beside it the same comparison made by a human proxy on the same items: the MT-Bench
human votes where the run's answers are the ones the voters read, else a reward model or a second judge
re-judging the run's own answers. Per model: the judge's and the proxy's win rates (ties count half, the
FastChat/AlpacaEval convention), each with a bootstrap interval, and the judge−proxy difference with a
*paired* interval over the shared items (questions resampled as clusters). The card is flagged when that
interval excludes 0, or when the judge sees an improvement (its interval above 0.5) that the proxy does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starling_eval.goodhart.agreement import Vote, is_counted_human
from starling_eval.stats import cluster_bootstrap_ci, mean

Outcomes = dict[str, dict[tuple, float]]  # model -> item key -> the model's result vs the baseline (0..1)
CARD = "goodhart_card.json"


def run_outcomes(scores: Mapping[str, Any]) -> Outcomes:
    """Per-item results of each model against the baseline, from a run's scores (MT-Bench pairwise-baseline:
    both games combined as FastChat does; AlpacaEval: preference − 1)."""
    out: Outcomes = {}
    baseline = scores.get("baseline")
    for item in scores.get("items", []):
        if "preference" in item and item["preference"] is not None:
            out.setdefault(item["model"], {})[(item["question_id"],)] = float(item["preference"]) - 1.0
        elif "model_1_result" in item and baseline is not None:
            model, result = ((item["model_2"], 1.0 - item["model_1_result"]) if item["model_1"] == baseline
                             else (item["model_1"], item["model_1_result"]))
            out.setdefault(model, {})[(item["question_id"], item["turn"])] = float(result)
    return out


def human_outcomes(votes: Sequence[Vote], models: Sequence[str], baseline: str, *, experts_only: bool = True) -> Outcomes:
    """Each model's result against the baseline per (question, turn), averaged over the human votes on it."""
    collected: dict[str, dict[tuple, list[float]]] = {}
    for v in votes:
        if not is_counted_human(v.judge, experts_only) or {v.model_a, v.model_b} & {baseline} != {baseline}:
            continue
        model = v.model_b if v.model_a == baseline else v.model_a
        if model not in models or model == baseline:
            continue
        won = {"tie": 0.5, "model_a": float(v.model_a == model), "model_b": float(v.model_b == model)}[v.winner]
        collected.setdefault(model, {}).setdefault((v.question_id, v.turn), []).append(won)
    return {m: {k: sum(vs) / len(vs) for k, vs in items.items()} for m, items in collected.items()}


def card_rows(judge: Outcomes, proxy: Outcomes, *, proxy_name: str, seed: int = 0) -> list[dict[str, Any]]:
    """One row per model both sides scored, on the items both scored."""
    rows = []
    for model in judge:
        shared = sorted(set(judge[model]) & set(proxy.get(model, {})), key=str)
        if not shared:
            continue
        j, p = [judge[model][k] for k in shared], [proxy[model][k] for k in shared]
        clusters = [str(k[0]) for k in shared]
        j_ci, p_ci = cluster_bootstrap_ci(j, clusters, seed=seed), cluster_bootstrap_ci(p, clusters, seed=seed)
        diff_ci = cluster_bootstrap_ci([a - b for a, b in zip(j, p, strict=True)], clusters, seed=seed)
        row = {"model": model, "proxy": proxy_name, "n_items": len(shared), "n_questions": len(set(clusters)),
               "judge_win_rate": mean(j), "judge_ci95": _list(j_ci), "proxy_win_rate": mean(p),
               "proxy_ci95": _list(p_ci), "difference": mean(j) - mean(p), "difference_ci95": _list(diff_ci)}
        row["flags"] = _flags(row)
        rows.append(row)
    return rows


def _flags(row: Mapping[str, Any]) -> list[str]:
    flags = []
    diff = row["difference_ci95"]
    if diff and (diff[0] > 0 or diff[1] < 0):
        side = "more" if diff[0] > 0 else "less"
        flags.append(f"the judge likes {row['model']} {side} than {row['proxy']} does: judge−proxy "
                     f"{100 * row['difference']:+.1f} points (95% CI {100 * diff[0]:+.1f} to {100 * diff[1]:+.1f})")
    j, p = row["judge_ci95"], row["proxy_ci95"]
    if j and p and j[0] > 0.5 and p[0] <= 0.5:
        flags.append(f"the judge sees an improvement over the baseline that {row['proxy']} does not confirm")
    return flags


def _list(ci: tuple[float, float] | None) -> list[float] | None:
    return list(ci) if ci else None


def make_card(run_folder: Any, results_root: Any, proxy: Any = None, *, seed: int = 0,
              judge_client: Any = None) -> dict[str, Any]:
    """The card of a judged pairwise run, written to the run folder. ``proxy`` (a JudgeSpec: an API judge or a
    reward model) re-judges the run's own answers as a regular run; without it the MT-Bench human votes are
    the proxy, which needs the run's answers to be the very files the voters read."""
    from starling_eval.data import DataDir, DataError
    from starling_eval.store.files import write_json_atomic

    manifest, scores = run_folder.read_manifest(), run_folder.scores() or {}
    judge = (manifest.get("judging") or {}).get("judge") or {}
    outcomes = run_outcomes(scores)
    if not outcomes:
        raise DataError(f"run {run_folder.run_id}: a Goodhart card needs a finished MT-Bench pairwise-baseline or "
                        "AlpacaEval run (a judge's win rates against a baseline)")
    data = DataDir(manifest["spec"]["data_dir"])
    if proxy is None:
        proxy_name, proxy_outcomes, proxy_run = "human experts", _human_proxy(manifest, scores, data, run_folder), None
    else:
        proxy_name, proxy_run, proxy_scores = proxy.model, *_rejudge(manifest, run_folder, results_root, proxy,
                                                                         judge_client)
        proxy_outcomes = run_outcomes(proxy_scores)
    rows = card_rows(outcomes, proxy_outcomes, proxy_name=proxy_name, seed=seed)
    if not rows:
        raise DataError(f"run {run_folder.run_id}: the proxy scored none of the run's items")
    result = {"run_id": run_folder.run_id, "benchmark": manifest["spec"]["benchmark"], "judge": judge.get("model"),
              "baseline": scores.get("baseline") or judge.get("baseline"), "proxy": proxy_name,
              "proxy_run_id": proxy_run, "rows": rows, "flagged": any(r["flags"] for r in rows)}
    write_json_atomic(run_folder.file(CARD), result)
    return result


def _human_proxy(manifest: Mapping[str, Any], scores: Mapping[str, Any], data: Any, run_folder: Any) -> Outcomes:
    """Human outcomes for the run's models, if its answers are the data folder's files the voters read."""
    from starling_eval.adapters.mtbench.judge import MODEL_ANSWER_DIR
    from starling_eval.data import DataError
    from starling_eval.goodhart import HUMAN_VOTES
    from starling_eval.goodhart.agreement import read_votes
    from starling_eval.goodhart.human_pairs import AS_SEEN

    spec = manifest["spec"]
    seen = [a["model"] for a in spec.get("answers") or []
            if a["model"] in AS_SEEN and data.path(f"{MODEL_ANSWER_DIR}/{a['model']}.jsonl").is_file()
            and a["sha256"] == data.sha256_of(f"{MODEL_ANSWER_DIR}/{a['model']}.jsonl")]
    baseline = scores.get("baseline")
    if spec["benchmark"] != "mtbench" or not seen or baseline not in AS_SEEN:
        raise DataError(f"run {run_folder.run_id}: no human votes on these answers (they exist for MT-Bench answer "
                        f"files of {', '.join(AS_SEEN)} judged against one of them); give --proxy-reward-model or "
                        "--proxy-model")
    return human_outcomes(read_votes(data.require(HUMAN_VOTES)), seen, baseline)


def _rejudge(manifest: Mapping[str, Any], run_folder: Any, results_root: Any, proxy: Any,
             judge_client: Any) -> tuple[str, dict[str, Any]]:
    """The run's answers judged again by ``proxy``, as a regular run (cached, resumable): (its id, its scores)."""
    from pathlib import Path

    from starling_eval.data import DataError
    from starling_eval.pipeline.common import answer_files
    from starling_eval.pipeline.evaluation import evaluate
    from starling_eval.registry import benchmark
    from starling_eval.spec import RunSpec

    spec = RunSpec.model_validate(manifest["spec"])
    if spec.answers:
        answers = spec.answers
    else:
        exported = sorted(run_folder.path.glob("model_answer/*.jsonl")) + sorted(run_folder.path.glob("model_outputs.json"))
        if not exported:
            raise DataError(f"run {run_folder.run_id}: no exported answers to re-judge")
        answers = answer_files(benchmark(spec.benchmark), [Path(p) for p in exported])
    judge = proxy.model_copy(update={k: getattr(spec.judge, k) for k in ("mode", "baseline", "reference", "annotator")})
    if judge.reward_model is not None and judge.mode == "single":
        raise DataError(f"run {run_folder.run_id} grades single answers: a reward-model proxy compares pairs")
    proxy_spec = spec.model_copy(update={"model": None, "answers": answers, "judge": judge})
    result = evaluate(proxy_spec, Path(results_root), judge_client=judge_client)
    return result.run.run_id, result.scores
