"""``run <benchmark> --reward-model ...``: score both sides of every preference pair with a reward model.

Rewards go through the shared call cache per conversation (``pipeline.rewards``): a killed run loses at
most one chunk, and a re-run computes no reward twice.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from starling_eval.adapters.preference.benchmark import pair_record, score_pairs
from starling_eval.backends.base import BackendError
from starling_eval.data import DataDir
from starling_eval.pipeline.common import (
    Prepared,
    Progress,
    ScoredRun,
    ends_in_a_true_state,
    now_iso,
    open_run,
    results_paths,
)
from starling_eval.pipeline.rewards import conversation_key, reward_conversations
from starling_eval.registry import reward_benchmark
from starling_eval.spec import RunSpec
from starling_eval.store.files import write_json_atomic, write_jsonl_atomic
from starling_eval.store.runs import RECORDS, SCORES, STATUS_COMPLETE


@ends_in_a_true_state
def evaluate_pairs(spec: RunSpec, results_root: Path, *, rm: Any = None,
                   progress: Progress | None = None) -> ScoredRun:
    """Build the pairs, reward every conversation not yet cached, store records and scores."""
    started = time.time()
    if spec.reward_model is None:
        raise BackendError(f"{spec.benchmark}: give --reward-model (a reward-model benchmark)")
    bench = reward_benchmark(spec.benchmark)
    data = DataDir(spec.data_dir)
    files = bench.files(data)
    tracks = bench.tracks(data, files)
    if spec.limit:
        tracks = {t: replace(s, pairs=s.pairs[: spec.limit]) for t, s in tracks.items()}
    if rm is None:
        from starling_eval.backends.reward import HFRewardModel

        rm = HFRewardModel(spec.reward_model)
    identity = rm.identity()
    store, cache, index = results_paths(results_root)
    run, manifest = open_run(spec, Prepared(bench, data, [], {rel: data.sha256_of(rel) for rel in files}),
                             store, index, "run")

    chats = {}
    keys_of: dict[tuple[str, str], tuple[str, ...]] = {}  # (track, pair id) -> the two conversations' cache keys
    for track, pair_set in tracks.items():
        for pair in pair_set.pairs:
            keys = (conversation_key(identity, pair.chosen), conversation_key(identity, pair.rejected))
            chats.setdefault(keys[0], pair.chosen)
            chats.setdefault(keys[1], pair.rejected)
            keys_of[(track, pair.id)] = keys
    t_rm = time.time()
    rewards, computed = reward_conversations(rm, chats, cache, progress=progress)
    rm_s = time.time() - t_rm
    cache.close()

    records = []
    for track, pair_set in tracks.items():
        for pair in pair_set.pairs:
            chosen_key, rejected_key = keys_of[(track, pair.id)]
            chosen, rejected = rewards[chosen_key], rewards[rejected_key]
            records.append({"model": spec.label, **pair_record(track, pair, chosen, rejected)})
    write_jsonl_atomic(run.file(RECORDS), records)
    scores = score_pairs(records, spec.label, seed=spec.seed, skipped={t: s.skipped for t, s in tracks.items()},
                         notes={t: s.notes for t, s in tracks.items()})
    summary = bench.summary(records, scores["models"])
    if summary is not None:  # RewardBench's own sections / best-of-n scores beside the pairwise accuracies
        scores["benchmark_scores"] = summary
    scores_doc = {"schema_version": spec.schema_version, "run_id": run.run_id, "benchmark": spec.benchmark, **scores}
    write_json_atomic(run.file(SCORES), scores_doc)
    index.put_item_scores(run.run_id, [(i["key"], i["metric"], i["value"]) for i in scores["items"]])
    manifest.update(status=STATUS_COMPLETE, finished=now_iso(), reward_model=rm.provenance(),
                    counts={"pairs": len(records), "conversations": len(chats), "rewards_computed": computed,
                            "rewards_from_cache": len(chats) - computed},
                    timings={"rewards_s": round(rm_s, 3), "total_s": round(time.time() - started, 3)})
    manifest["summary"] = {"model": spec.label, **{f"{row['track']}_accuracy": row["accuracy"]
                                                   for row in scores["models"]}}
    if summary is not None and summary.get("Score") is not None:
        manifest["summary"]["score"] = summary["Score"]
    run.write_manifest(manifest)
    index.upsert_run(manifest, run.path, manifest["summary"])
    index.close()
    return ScoredRun(run=run, manifest=manifest, scores=scores_doc)
