"""Pairwise reward-model benchmarks: does the RM score the preferred reply strictly higher?

Each benchmark names its data files and builds its preference pairs (``pairs``, and a reader module per
dataset), in one or more tracks (PKU-SafeRLHF: helpfulness and harmlessness). Scores follow RewardBench:
accuracy is the share of pairs whose chosen reply scores strictly higher, so a tie counts as wrong. Beside
every accuracy stands the "always prefer the longer reply" baseline on the same pairs (characters of the
assistant turns; equal lengths count as wrong too), because an RM that merely likes length looks good on
many of these sets. Intervals are seeded bootstrap 95% intervals over prompts: pairs cut from one prompt
(TruthfulQA's answers, Nectar's ranking) are resampled together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.preference.arena import arena_pairs
from starling_eval.adapters.preference.hh import hh_pairs
from starling_eval.adapters.preference.nectar import nectar_pairs
from starling_eval.adapters.preference.pairs import Pair, PairSet
from starling_eval.adapters.preference.safe_rlhf import safe_rlhf_pairs
from starling_eval.adapters.preference.truthfulqa import truthfulqa_pairs
from starling_eval.data import DataDir, DataError, manifest, pull_command
from starling_eval.spec import Message
from starling_eval.stats import cluster_bootstrap_ci, mean

Record = dict[str, Any]


def reply_length(chat: Sequence[Message]) -> int:
    """Characters the assistant wrote in a conversation (all its turns: arena battles are multi-turn)."""
    return sum(len(m.content) for m in chat if m.role == "assistant")


def prompt_cluster(pair_id: str) -> str:
    """Pairs cut from one prompt share the part of their id before the first ``|``."""
    return pair_id.split("|", 1)[0]


def pair_record(track: str, pair: Pair, chosen: float, rejected: float) -> Record:
    chosen_len, rejected_len = reply_length(pair.chosen), reply_length(pair.rejected)
    return {"track": track, "id": pair.id, "subset": pair.subset, "chosen_reward": chosen,
            "rejected_reward": rejected, "margin": chosen - rejected, "correct": chosen > rejected,
            "tie": chosen == rejected, "chosen_chars": chosen_len, "rejected_chars": rejected_len,
            "longer_is_chosen": chosen_len > rejected_len}


def _accuracy(rows: Sequence[Record], key: str, seed: int) -> tuple[float | None, list[float] | None]:
    values = [float(r[key]) for r in rows]
    ci = cluster_bootstrap_ci(values, [prompt_cluster(r["id"]) for r in rows], seed=seed) if rows else None
    return mean(values), list(ci) if ci else None


def score_pairs(records: Sequence[Record], model: str, *, seed: int = 0,
                skipped: dict[str, dict[str, int]] | None = None,
                notes: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """One row per track: accuracy and the length baseline with intervals, ties, per-subset accuracy."""
    rows = []
    for track in dict.fromkeys(r["track"] for r in records):
        mine = [r for r in records if r["track"] == track]
        accuracy, ci = _accuracy(mine, "correct", seed)
        longer, longer_ci = _accuracy(mine, "longer_is_chosen", seed)
        subsets: dict[str, list[Record]] = {}
        for r in mine:
            subsets.setdefault(r["subset"], []).append(r)
        rows.append({
            "model": model, "track": track, "accuracy": accuracy, "ci95": ci, "n": len(mine),
            "n_prompts": len({prompt_cluster(r["id"]) for r in mine}), "ties": sum(r["tie"] for r in mine),
            "length_baseline": longer, "length_baseline_ci95": longer_ci,
            "equal_length": sum(r["chosen_chars"] == r["rejected_chars"] for r in mine),
            "subsets": {s: {"accuracy": mean([float(r["correct"]) for r in v]),
                            "length_baseline": mean([float(r["longer_is_chosen"]) for r in v]), "n": len(v)}
                        for s, v in sorted(subsets.items()) if s},
            "skipped": (skipped or {}).get(track, {}), "notes": (notes or {}).get(track, {}), "n_failed": 0,
        })
    return {"mode": "reward-pairs", "models": rows, "n_failed": 0, "failures": [],
            "items": [{"key": f"{r['track']}|{r['id']}", "metric": "correct", "value": float(r["correct"])}
                      for r in records]}


class PairBenchmark:
    """A preference-pair benchmark over manifest files: ``files`` picks them, ``tracks`` builds the pairs
    (one track named after the benchmark, from ``reader`` over every file, unless a subclass says more)."""

    name: str
    kind = "reward-pairs"
    folder: str  # manifest prefix of its data files
    suffixes: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".json", ".parquet")
    reader: Callable[[Path], PairSet]

    def files(self, data: DataDir) -> list[str]:
        """The manifest files of this benchmark present in the data directory (checked), or a DataError
        that says how to fetch them."""
        known = [rel for rel in manifest() if rel.startswith(self.folder) and rel.endswith(self.suffixes)]
        present = [rel for rel in known if data.path(rel).is_file()]
        if not present:
            raise DataError(f"{self.name}: no data in {data.path(self.folder)}: fetch it with "
                            f"`{pull_command(known or [self.folder], None)}`")
        for rel in present:
            data.require(rel)
        return present

    def tracks(self, data: DataDir, files: list[str]) -> dict[str, PairSet]:
        read = type(self).reader  # a plain function, not a method
        return {self.name: _merge([read(data.path(rel)) for rel in files])}

    def summary(self, records: Sequence[Record], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        """The benchmark's own headline numbers beyond per-track accuracy (RewardBench's sections), or None."""
        return None


def _merge(sets: Sequence[PairSet]) -> PairSet:
    """One track's pairs from several files, their skip and note counts added up."""
    skipped: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for s in sets:
        skipped.update(s.skipped)
        notes.update(s.notes)
    return PairSet(pairs=[p for s in sets for p in s.pairs], skipped=dict(skipped), notes=dict(notes))


class TruthfulQAPairs(PairBenchmark):
    name, folder, suffixes = "truthfulqa", "truthfulqa/mc_task.json", (".json",)
    reader = truthfulqa_pairs


class HHPairs(PairBenchmark):
    name, folder, reader = "hh", "hh_rlhf/", hh_pairs


class SafeRLHFPairs(PairBenchmark):
    name, folder = "safe-rlhf", "safe_rlhf/"

    def files(self, data: DataDir) -> list[str]:
        present = super().files(data)
        full = [rel for rel in present if ".sample." not in rel]
        return full or present  # the full split when it is there, else the offline sample

    def tracks(self, data: DataDir, files: list[str]) -> dict[str, PairSet]:
        return {track: _merge([safe_rlhf_pairs(data.path(rel), track) for rel in files])
                for track in ("helpful", "harmless")}


class ArenaPairs(PairBenchmark):
    name, folder, reader = "arena", "chatbot_arena_conversations/", arena_pairs


class NectarPairs(PairBenchmark):
    name, folder, reader = "nectar", "nectar/", nectar_pairs
