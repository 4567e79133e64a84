"""MMLU and TruthfulQA (MC1, MC2), scored by lm-eval's log-likelihood machinery on local data.

The adapters hand lm-eval its own task configs over our data (``lm_eval_tasks``) and turn its logged
samples into per-item records: every choice's log-likelihood, the prediction (the most likely choice),
whether it is right, and lm-eval's own per-item metric (``acc``; for MC2 the normalised probability mass
on the true answers, from ``process_results_mc2``). Scores are computed from those records: MMLU micro
(every question counts once, which is lm-eval's size-weighted ``mmlu`` group) and macro (the mean of the
57 subjects) averages, lm-eval's four groups, and MC1 and MC2, each with a seeded bootstrap 95% interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.multiple_choice import lm_eval_tasks, mmlu_data
from starling_eval.data import DataDir, manifest
from starling_eval.spec import RunSpec
from starling_eval.stats import cluster_bootstrap_ci, mean

Record = dict[str, Any]


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _ci(values: Sequence[float], seed: int) -> list[float] | None:
    """Bootstrap 95% interval of the mean over items."""
    ci = cluster_bootstrap_ci(values, seed=seed)
    return list(ci) if ci else None


def records_from_samples(samples: Mapping[str, Sequence[Mapping[str, Any]]], model: str,
                         group_of: Mapping[str, str] | None = None) -> list[Record]:
    """lm-eval's logged samples (``simple_evaluate(..., log_samples=True)["samples"]``) as our records."""
    records = []
    for task, rows in samples.items():
        for s in sorted(rows, key=lambda r: r["doc_id"]):
            doc = s["doc"]
            lls = [float(r[0]) for r in s["filtered_resps"]]
            greedy = [bool(r[1]) for r in s["filtered_resps"]]
            prediction = _argmax(lls)
            target = s["target"]
            subject = doc.get("subject")
            record = {"model": model, "task": task, "doc_id": s["doc_id"], "question": doc["question"],
                      "loglikelihoods": lls, "is_greedy": greedy, "prediction": prediction, "target": target,
                      "correct": prediction == target if task != "truthfulqa_mc2" else None,
                      "acc": float(s["acc"]), "doc_hash": s.get("doc_hash"), "prompt_hash": s.get("prompt_hash")}
            if subject is not None:
                record.update(subject=subject, group=(group_of or {}).get(subject))
            else:
                record.update(category=doc.get("category"))
            records.append(record)
    return records


class MMLU:
    name = "mmlu"
    kind = "loglikelihood"
    num_fewshot = lm_eval_tasks.MMLU_FEWSHOT

    @property
    def data_files(self) -> tuple[str, ...]:
        return tuple(sorted(p for p in manifest() if p.startswith("mmlu/") and p.endswith(".csv")))

    def input_hashes(self, spec: RunSpec, data: DataDir) -> dict[str, str]:
        """The files the run reads, checked, with their sha256: the data directory's CSVs of the chosen
        subjects, or every data file of ``--mmlu-dir``."""
        if spec.source is not None:
            root = Path(spec.source.path)
            return {str(root / rel): h for rel, h in mmlu_data.file_hashes(root).items()}
        subjects = set(self.subjects(spec))
        chosen = [rel for rel in self.data_files if Path(rel).stem.rsplit("_", 1)[0] in subjects]
        return {rel: data.sha256_of(rel) for rel in chosen}

    @staticmethod
    def subjects(spec: RunSpec) -> list[str]:
        return spec.subjects or list(lm_eval_tasks.mmlu_subjects())

    def lm_eval_tasks(self, spec: RunSpec, data: DataDir) -> list[dict[str, Any]]:
        source = Path(spec.source.path) if spec.source is not None else data.path("mmlu")
        return [lm_eval_tasks.mmlu_task(source, subject) for subject in self.subjects(spec)]

    def records(self, samples: Mapping[str, Sequence[Mapping[str, Any]]], model: str) -> list[Record]:
        return records_from_samples(samples, model, lm_eval_tasks.mmlu_subjects())

    def score(self, records: Sequence[Record], *, seed: int = 0) -> dict[str, Any]:
        by_subject: dict[str, list[float]] = {}
        by_group: dict[str, list[float]] = {}
        for r in records:
            by_subject.setdefault(r["subject"], []).append(r["acc"])
            by_group.setdefault(r["group"], []).append(r["acc"])
        accs = [r["acc"] for r in records]
        row = {"model": records[0]["model"] if records else None, "micro": mean(accs),
               "macro": mean([mean(v) for v in by_subject.values()]), "n": len(accs), "n_subjects": len(by_subject),
               "ci95": _ci(accs, seed), "groups": {g: mean(v) for g, v in sorted(by_group.items())},
               "subjects": {s: {"acc": mean(v), "n": len(v)} for s, v in sorted(by_subject.items())}, "n_failed": 0}
        return {"mode": "mmlu", "models": [row], "n_failed": 0, "failures": [],
                "items": [{"key": f"{r['task']}|{r['doc_id']}", "metric": "acc", "value": r["acc"]} for r in records]}


class TruthfulQA:
    name = "truthfulqa"
    kind = "loglikelihood"
    num_fewshot = 0  # the 6-shot QA preamble is part of lm-eval's prompt
    data_files = ("truthfulqa/mc_task.json", "truthfulqa/TruthfulQA.csv")

    def input_hashes(self, spec: RunSpec, data: DataDir) -> dict[str, str]:
        return {rel: data.sha256_of(rel) for rel in self.data_files}

    def lm_eval_tasks(self, spec: RunSpec, data: DataDir) -> list[dict[str, Any]]:
        docs = lm_eval_tasks.read_truthfulqa(data.require(self.data_files[0]), data.require(self.data_files[1]))
        return lm_eval_tasks.truthfulqa_tasks(docs)

    def records(self, samples: Mapping[str, Sequence[Mapping[str, Any]]], model: str) -> list[Record]:
        return records_from_samples(samples, model)

    def score(self, records: Sequence[Record], *, seed: int = 0) -> dict[str, Any]:
        row: dict[str, Any] = {"model": records[0]["model"] if records else None, "n_failed": 0}
        for task, key in (("truthfulqa_mc1", "mc1"), ("truthfulqa_mc2", "mc2")):
            accs = [r["acc"] for r in records if r["task"] == task]
            row.update({key: mean(accs), f"{key}_ci95": _ci(accs, seed), f"n_{key}": len(accs)})
        return {"mode": "truthfulqa", "models": [row], "n_failed": 0, "failures": [],
                "items": [{"key": f"{r['task']}|{r['doc_id']}", "metric": "acc", "value": r["acc"]} for r in records]}
