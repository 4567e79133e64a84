"""lm-eval tasks over our local data: lm-eval's own task configs, with only the dataset swapped.

Each task config is read from the installed lm-eval's YAML (``mmlu/default/mmlu_<subject>.yaml``,
``truthfulqa/truthfulqa_mc1.yaml`` and ``_mc2.yaml``) with its own loader, so the prompt, the few-shot
rule, the choices and the metrics (MC2's ``process_results_mc2``) are lm-eval's, not copies. The hub
dataset is replaced by ``custom_dataset``, a function returning the same documents from the data
directory. The task manager is built with ``include_defaults=False``: indexing lm-eval's 14k built-in
YAMLs costs about 12 s per run and is not needed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starling_eval.adapters.multiple_choice import mmlu_data
from starling_eval.data import DataError

MMLU_FEWSHOT = 5
# lm-eval's tag on each MMLU subject -> the group it reports
MMLU_GROUPS = {"mmlu_stem_tasks": "stem", "mmlu_humanities_tasks": "humanities",
               "mmlu_social_sciences_tasks": "social_sciences", "mmlu_other_tasks": "other"}


def tasks_root() -> Path:
    from importlib.util import find_spec

    spec = find_spec("lm_eval")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "tasks"


def _load_yaml(path: Path) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    return dict(load_yaml(path, resolve_func=True))


@functools.cache
def mmlu_subjects() -> dict[str, str]:
    """The 57 subjects lm-eval defines, each with its group (stem, humanities, social_sciences, other)."""
    subjects = {}
    for path in sorted((tasks_root() / "mmlu" / "default").glob("mmlu_*.yaml")):
        cfg = _load_yaml(path)
        subjects[cfg["dataset_name"]] = MMLU_GROUPS[cfg["tag"]]
    return subjects


def _dataset(splits: dict[str, list[dict[str, Any]]]) -> Callable[..., Any]:
    def custom_dataset(**_: Any) -> Any:
        import datasets

        return datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name, rows in splits.items()})

    return custom_dataset


def _local(cfg: dict[str, Any], splits: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    cfg = {**cfg, "custom_dataset": _dataset(splits)}
    cfg.pop("tag", None)
    cfg.pop("dataset_path", None)
    cfg.pop("dataset_name", None)
    return cfg


def mmlu_task(source: Path, subject: str) -> dict[str, Any]:
    cfg = _load_yaml(tasks_root() / "mmlu" / "default" / f"mmlu_{subject}.yaml")
    splits = {split: mmlu_data.read_split(source, subject, split) for split in mmlu_data.SPLITS}
    if len(splits["dev"]) < MMLU_FEWSHOT:
        raise DataError(f"{source}: {subject} has {len(splits['dev'])} dev questions; 5-shot needs 5")
    return _local(cfg, splits)


def read_truthfulqa(mc_task: Path, csv_path: Path | None) -> list[dict[str, Any]]:
    """``mc_task.json`` as the ``truthful_qa`` multiple_choice documents (choices in file order; the first
    mc1 choice is the correct one), with Type and Category joined from the CSV on the question text."""
    try:
        rows = json.loads(Path(mc_task).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{mc_task}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    meta: dict[str, dict[str, str]] = {}
    if csv_path is not None:
        import csv

        with open(csv_path, newline="", encoding="utf-8-sig") as fh:  # the CSV starts with a BOM
            meta = {r["Question"].strip(): {"type": r.get("Type"), "category": r.get("Category")} for r in csv.DictReader(fh)}
    docs = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not all(k in row for k in ("question", "mc1_targets", "mc2_targets")):
            raise DataError(f"{mc_task} row {i}: expected question, mc1_targets and mc2_targets")
        doc = {"question": row["question"]}
        for key in ("mc1_targets", "mc2_targets"):
            doc[key] = {"choices": list(row[key]), "labels": [int(v) for v in row[key].values()]}
        extra = meta.get(row["question"].strip(), {})
        doc.update(type=extra.get("type"), category=extra.get("category"))
        docs.append(doc)
    return docs


def truthfulqa_tasks(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    root = tasks_root() / "truthfulqa"
    return [_local(_load_yaml(root / f"truthfulqa_{name}.yaml"), {"validation": docs}) for name in ("mc1", "mc2")]


def task_manager() -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False)
