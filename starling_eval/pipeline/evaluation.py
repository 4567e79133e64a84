"""``run``: answers (generated, or read from answer files) → judge → score → store, resumable.

Each paid judgment is in the call cache before it is appended to the run's ``judgments.jsonl`` and
counted, so a run killed at any point is finished by the same command, paying for nothing twice. Failed
judgments are kept with their reason and counted in every table; ``retry_failed`` asks those again.
The scores, the FastChat-format judgment file and the per-item rows for the index are written last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_eval.judges.client import check_api_key, judge_identity
from starling_eval.judges.pricing import Price, price_for
from starling_eval.judges.runner import JudgeTally, judge_key
from starling_eval.pipeline.common import (
    Prepared,
    Progress,
    ends_in_a_true_state,
    now_iso,
    open_run,
    prepare,
    results_paths,
)
from starling_eval.pipeline.generation import Generated, generate_into, pending_generation
from starling_eval.pipeline.judging import JudgingAlongside, judge_into, judge_requests
from starling_eval.pipeline.lazy_backend import resolve_backend
from starling_eval.spec import JudgeSpec, RunSpec
from starling_eval.store.files import (
    write_json_atomic,
    write_rows_atomic,
)
from starling_eval.store.runs import JUDGMENTS, SCORES, STATUS_COMPLETE, STATUS_INCOMPLETE, RunFolder

# Typical length of a GPT-4 MT-Bench judgment (explanation + verdict), for --dry-run cost estimates only.
EXPECTED_JUDGMENT_TOKENS = 250
CHARS_PER_TOKEN = 4  # rough English average; the estimate says so


@dataclass
class EvalResult:
    run: RunFolder
    manifest: dict[str, Any]
    scores: dict[str, Any]
    generation: Generated | None = None
    judging: dict[str, Any] = field(default_factory=dict)


def _answers_from_files(spec: RunSpec, prep: Prepared) -> dict[str, dict[str, list[str]]]:
    return {a.model: prep.bench.read_answers(Path(a.path)) for a in spec.answers}


@ends_in_a_true_state
def evaluate(
    spec: RunSpec,
    results_root: Path,
    *,
    retry_failed: bool = False,
    progress: Progress | None = None,
    model: Any = None,
    judge_client: Any = None,
    overlap: bool = True,
) -> EvalResult:
    """Run the benchmark end to end for ``spec`` (which has a judge), resuming its unfinished run. An API judge
    judges each sample once it is answered, beside generation (``overlap=False``: after it, as before; the
    end-to-end benchmark measures both)."""
    assert spec.judge is not None
    started = time.time()
    if spec.judge.reward_model is None:
        check_api_key(spec.judge)  # before anything is generated
    prep = prepare(spec)
    store, cache, index = results_paths(results_root)
    try:
        # answer files are read before a run is opened: a bad file is exit 2 and leaves no run behind
        answers = _answers_from_files(spec, prep) if spec.answers else {}
        run, manifest = open_run(spec, prep, store, index, "run", include_complete=retry_failed)
        generation = None
        if spec.answers:
            manifest["answers"] = [a.model_dump() for a in spec.answers]
        elif spec.judge.reward_model is None and overlap and not spec.judge.batch:
            # an API judge: each sample judged once it is answered (a batch judge: all at once, after)
            alongside = JudgingAlongside(prep, spec.label, spec.judge, run.file(JUDGMENTS), cache,
                                         retry_failed=retry_failed, progress=progress, judge_client=judge_client)
            generation = generate_into(spec, prep.bench, prep.samples, run, manifest, cache, progress=progress,
                                       model=model, on_answered=alongside.answered, alongside=alongside.around)
            answers = {spec.label: generation.answers}
            requests, missing, unanswered = alongside.requests, alongside.missing, []
            rows, tally, judge_s = alongside.rows(), alongside.tally, alongside.judge_s
        else:
            generation = generate_into(spec, prep.bench, prep.samples, run, manifest, cache, progress=progress, model=model)
            answers = {spec.label: generation.answers}
        if generation is None or spec.judge.reward_model is not None or not overlap or spec.judge.batch:
            requests, missing = judge_requests(prep, answers, spec.judge)
            # in answer files, a question without an answer was not answered: its own count, never a failure
            missing, unanswered = _split_not_answered(missing) if spec.answers else (missing, [])
            t_judge = time.time()
            rows, tally = judge_into(spec.judge, run.file(JUDGMENTS), cache, requests, missing + unanswered,
                                     retry_failed=retry_failed, progress=progress, judge_client=judge_client)
            judge_s = time.time() - t_judge
    finally:
        cache.close()

    rows = [r for r in rows if not r.get("not_answered")]
    scores = prep.bench.score(rows, spec.judge, seed=spec.seed, data=prep.data)
    by_id = {r.id: r for r in requests}
    for rel, file_rows in prep.bench.export_judgments(rows, by_id, spec.judge).items():
        write_rows_atomic(run.path / rel, file_rows)
    judging = judging_summary(spec.judge, rows, tally, missing)
    if hasattr(prep.bench, "judge_warnings") and spec.judge.reward_model is None:
        judging["warnings"] = prep.bench.judge_warnings(rows, spec.judge)  # the benchmark's own sanity checks
    if spec.answers:
        judging["not_answered"] = {"judgments": len(unanswered),
                                   "files": _unanswered_by_file(spec, prep.samples, answers)}
    if retry_failed:
        judging["retry_failed"] = {"re_asked": tally.re_asked}
    failed_for_good = tally.api_failures + (generation.counts["failed"] if generation else 0)
    if judging["counts"]["judged"] and not judging["counts"]["valid"]:
        failed_for_good += judging["counts"]["judged"]  # not one verdict could be read: nothing is scored
    scores_doc = {"schema_version": spec.schema_version, "run_id": run.run_id, "benchmark": spec.benchmark,
                  "judge": spec.judge.model_dump(mode="json", exclude={"api_key_env"}), **scores}
    write_json_atomic(run.file(SCORES), scores_doc)
    index.put_item_scores(run.run_id, _item_scores(scores))
    timings = dict(generation.timings) if generation else {}
    timings.update(judge_s=round(judge_s, 3), total_s=round(time.time() - started, 3))
    manifest.update(
        status=STATUS_INCOMPLETE if failed_for_good else STATUS_COMPLETE,
        judge=judging["judge"],
        judging=judging,
        timings=timings,
        finished=now_iso(),
    )
    if generation:
        manifest.update(counts=generation.counts, usage=generation.usage, failures=generation.failures[:50])
    manifest["summary"] = _summary(scores)
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path, manifest["summary"])
    index.close()
    return EvalResult(run=run, manifest=manifest, scores=scores_doc, generation=generation, judging=judging)


def _split_not_answered(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rows that stay failures, rows of questions an answer file does not answer, marked ``not_answered``)."""
    kept, unanswered = [], []
    for row in rows:
        if (row.get("failure") or "").startswith("missing:"):
            unanswered.append({**row, "failure": None, "not_answered": row["failure"].split(":", 1)[1].strip()})
        else:
            kept.append(row)
    return kept, unanswered


def _unanswered_by_file(spec: RunSpec, samples: list[Any], answers: dict[str, dict[str, list[str]]]) -> list[dict]:
    """Per answer file, how many of the run's questions it leaves (partly) unanswered, and which."""
    out = []
    for source in spec.answers:
        got = answers.get(source.model, {})
        lacking = [s.id for s in samples if len(got.get(s.id) or []) < len(s.turns)]
        if lacking:
            out.append({"model": source.model, "file": source.path, "questions": len(lacking), "of": len(samples),
                        "examples": lacking[:5]})
    return out


def judging_summary(judge: JudgeSpec, rows: list[dict], tally: JudgeTally, missing: list[dict]) -> dict[str, Any]:
    """The judge, the call counts (cache hits, calls, failures by kind) and the tokens and cost, paid now and in all."""
    price = _judge_price(judge)
    total_in = sum(r.get("prompt_tokens") or 0 for r in rows)
    total_out = sum(r.get("completion_tokens") or 0 for r in rows)
    # judgments answered in a Batch-API batch cost the batch price, whichever run asked for them
    batch_in = sum(r.get("prompt_tokens") or 0 for r in rows if r.get("batch_id"))
    batch_out = sum(r.get("completion_tokens") or 0 for r in rows if r.get("batch_id"))
    failures: dict[str, int] = {}
    for r in rows:
        if r.get("failure"):
            kind = r["failure"].split(":", 1)[0]
            failures[kind] = failures.get(kind, 0) + 1
    judged = [r for r in rows if r.get("judgment") is not None]  # a reply came back (not an API failure)
    cut = sum(r.get("finish_reason") == "length" for r in judged)
    unparsable = failures.get("unparsable", 0)
    return {
        "judge": {"model": judge.model,
                  "base_url": None if judge.reward_model else judge.base_url or "api.openai.com", "mode": judge.mode,
                  "reference": judge.reference, "baseline": judge.baseline if judge.mode == "pairwise-baseline" else None,
                  "annotator": judge.annotator, "max_tokens": judge.max_tokens,
                  **({"reward_model": judge.reward_model.model_dump(mode="json")} if judge.reward_model else {})},
        "counts": {**tally.as_dict(), **_decided_without_call(missing), "failed_by_kind": failures,
                   "judged": len(judged), "cut_at_max_tokens": cut,
                   "valid": sum(1 for r in rows if not r.get("failure") and r.get("verdict") is not None)},
        "format_warning": _format_warning(len(judged), unparsable, cut),
        "usage": {
            "paid_now": {"prompt_tokens": tally.prompt_tokens, "completion_tokens": tally.completion_tokens,
                         "cost_usd": price.cost(tally.prompt_tokens, tally.completion_tokens, batch=judge.batch),
                         # re-sent after a client-side timeout: the abandoned first send may be billed too
                         "possibly_billed_twice": tally.possibly_billed_twice},
            "all_judgments": {"prompt_tokens": total_in, "completion_tokens": total_out,
                              "cost_usd": _sum_costs(price.cost(total_in - batch_in, total_out - batch_out),
                                                     price.cost(batch_in, batch_out, batch=True)),
                              "through_batches": {"prompt_tokens": batch_in, "completion_tokens": batch_out}},
            "price": _price_doc(price),
        },
    }


# a judge whose replies miss the verdict format this often is probably the wrong judge or the wrong prompt
FORMAT_WARNING_SHARE = 0.2


def _format_warning(judged: int, unparsable: int, cut: int) -> str | None:
    if judged < 5 or unparsable < FORMAT_WARNING_SHARE * judged:
        return None
    return (f"the judge's reply held no readable verdict in {unparsable} of {judged} judgments"
            + (f" ({cut} cut at max_tokens)" if cut else "")
            + ": is this judge able to follow the prompt's verdict format?")


def _sum_costs(*costs: float | None) -> float | None:
    return None if None in costs else round(sum(costs), 6)  # type: ignore[arg-type]


def _price_doc(price: Price) -> dict[str, Any]:
    return {"prompt_per_1m": price.prompt, "completion_per_1m": price.completion,
            "batch_prompt_per_1m": price.batch_prompt, "batch_completion_per_1m": price.batch_completion,
            "source": price.source}


def _judge_price(judge: Any) -> Any:
    if judge.reward_model is not None:
        return Price(0.0, 0.0, "a local reward model: no API cost", 0.0, 0.0)
    return price_for(judge.model, judge.price_in, judge.price_out, judge.batch_price_in, judge.batch_price_out)


def _decided_without_call(rows: list[dict]) -> dict[str, int]:
    """The adapter's rows settled without a judge: failures (an answer missing) and verdicts (identical outputs)."""
    failed = sum(bool(r.get("failure")) for r in rows)
    return {"not_judgeable": failed, "decided_without_call": len(rows) - failed}


def _item_scores(scores: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    out = []
    for item in scores.get("items", []):
        if "key" in item:  # a benchmark that names its own item keys and metric (Safe-RLHF)
            out.append((item["key"], item["metric"], item["value"]))
        elif "preference" in item:  # AlpacaEval: 1 (reference better) .. 2 (model better)
            out.append((f"{item['model']}|{item['question_id']}", "preference", item["preference"]))
        elif "score" in item:
            out.append((f"{item['model']}|{item['question_id']}|{item['turn']}", "score", item["score"]))
        else:
            out.append((f"{item['model_1']}|{item['model_2']}|{item['question_id']}|{item['turn']}", "model_1_result",
                        item["model_1_result"]))
    return out


def _summary(scores: dict[str, Any]) -> dict[str, Any]:
    """The few numbers `list` shows: the first model's headline and the failure count."""
    head = scores["models"][0] if scores.get("models") else {}
    keys = ("model", "overall", "turn1", "turn2", "win_rate_adjusted", "win_rate", "length_controlled_winrate",
            "harmless_rate", "helpfulness", "n_valid", "n_failed")
    return {k: head[k] for k in keys if k in head} | {"n_failed_total": scores.get("n_failed", 0)}


# -- dry run ----------------------------------------------------------------------------------------


def plan(spec: RunSpec, results_root: Path) -> dict[str, Any]:
    """What ``run`` would do, calling nothing: calls still to make (after the cache), tokens, cost."""
    assert spec.judge is not None
    prep = prepare(spec)
    _store, cache, index = results_paths(results_root)
    index.close()
    try:
        gen_calls, answers, placeholders = 0, {}, set()
        if spec.answers:
            answers = _answers_from_files(spec, prep)
        else:
            model, model_identity, _ = resolve_backend(spec.model, cache)
            try:
                gen_calls, known = pending_generation(spec, prep.bench, prep.samples, model_identity, cache)
            finally:
                model.close()
            # unknown answers are assumed as long as the token budget allows: the estimate is an upper bound
            def budget(s: Any) -> str:
                return "x" * (CHARS_PER_TOKEN * (spec.max_new_tokens or s.max_new_tokens or prep.bench.default_max_new_tokens))

            mine = {s.id: known.get(s.id) or [budget(s)] * len(s.turns) for s in prep.samples}
            placeholders = {s.id for s in prep.samples if s.id not in known}
            answers = {spec.label: mine}
        requests, missing = judge_requests(prep, answers, spec.judge)
        identity = judge_identity(spec.judge)
        keys = {r.id: judge_key(identity, r) for r in requests}
        hits = cache.get_many(keys.values())
    finally:
        cache.close()
    todo = [r for r in requests if keys[r.id] not in hits or r.meta.get("item_id") in placeholders]
    prompt_tokens = sum(sum(len(m.content) for m in r.messages) for r in todo) // CHARS_PER_TOKEN
    completion_tokens = sum(min(EXPECTED_JUDGMENT_TOKENS, r.max_tokens) for r in todo)
    price = _judge_price(spec.judge)
    return {
        "benchmark": spec.benchmark,
        "model": spec.label,
        "judge": spec.judge.model,
        "mode": spec.judge.mode,
        "items": len(prep.samples),
        "generation_calls": gen_calls,
        "judge_requests": len(requests),
        "judge_calls": len(todo),
        "judge_from_cache": len(requests) - len(todo),
        **_decided_without_call(missing),
        "estimated_prompt_tokens": prompt_tokens,
        "estimated_completion_tokens": completion_tokens,
        "estimated_cost_usd": price.cost(prompt_tokens, completion_tokens),
        "estimated_batch_cost_usd": price.cost(prompt_tokens, completion_tokens, batch=True),
        "batch": spec.judge.batch,
        "price": _price_doc(price),
        "estimate_note": (f"tokens ≈ characters/{CHARS_PER_TOKEN}; {EXPECTED_JUDGMENT_TOKENS} completion tokens per "
                          "judgment (or its max_tokens, if fewer); answers not generated yet counted at the full --max-new-tokens (upper bound)"),
    }
