"""Arena-Hard-Auto v0.1 and v2.0 (lmarena/arena-hard-auto): its prompts, answered once each, judged as its
gen_judgment does against its baseline, scored as its show_result does (``score``).

Each prompt is judged twice, the answers in both orders: game 1 shows the baseline as assistant A and the model
as B, game 2 the other way round. The judge sees the system prompt of the prompt's category (v0.1: one; v2.0:
hard prompts and creative writing differ, and so do their baselines: o3-mini-2025-01-31 and
gemini-2.0-flash-001) and the config's user template, at the config's temperature and max tokens, and its label
is read with the config's regex patterns (``verdicts``). The version is part of the benchmark's name
(``arena-hard-v0.1``, ``arena-hard-v2.0``; ``run arena-hard --version`` picks one), since it chooses the prompts.
Answers are generated greedily with 4,096 new tokens, arena-hard's own answer settings.

A baseline answer file that is not in the data folder (v2.0's creative-writing baseline is not published as a
file small enough to ship) is a DataError naming it, raised before any judge is asked.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from starling_eval.adapters.arena_hard import verdicts
from starling_eval.adapters.arena_hard.style import answer_text
from starling_eval.adapters.base import Sample
from starling_eval.data import DataDir, DataError, iter_jsonl_objects
from starling_eval.spec import JudgeRequest, JudgeSpec, Message

SETTINGS = "arena_hard/judge_settings.json"
DEFAULT_JUDGE = {"0.1": "gpt-4-1106-preview", "2.0": "gpt-4.1"}
# the baselines whose answers the data folder holds, checked before anything runs; v2.0's creative-writing
# baseline (gemini-2.0-flash-001, named by judge_settings.json) is checked when a creative prompt is judged
SHIPPED_BASELINES = {"0.1": ("gpt-4-0314",), "2.0": ("o3-mini-2025-01-31",)}


def version_dir(version: str) -> str:
    return f"arena_hard/arena-hard-v{version}"


def read_config(data: DataDir, version: str) -> dict[str, Any]:
    import yaml

    path = data.require(f"arena_hard/arena-hard-v{version}.yaml")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key in ("temperature", "max_tokens", "regex_patterns", "prompt_template"):
        if key not in config:
            raise DataError(f"{path}: no {key}")
    return config


def judge_settings(data: DataDir) -> dict[str, dict[str, str]]:
    path = data.require(SETTINGS)
    settings = json.loads(path.read_text(encoding="utf-8")).get("JUDGE_SETTINGS")
    if not isinstance(settings, dict):
        raise DataError(f"{path}: no JUDGE_SETTINGS object")
    return settings


def read_answer_file(path: Path) -> dict[str, list[str]]:
    """arena-hard's ``model_answer`` JSONL (``uid``, ``messages`` whose assistant content is ``{"answer": …}``)
    → {uid: [answer]}."""
    answers: dict[str, list[str]] = {}
    for lineno, row in iter_jsonl_objects(path):
        try:
            text = answer_text(row)
        except DataError:
            text = None
        if "uid" not in row or not isinstance(text, str):
            raise DataError(f"{path} line {lineno}: expected uid and messages ending in the assistant's answer")
        if str(row["uid"]) in answers:
            raise DataError(f"{path} line {lineno}: duplicate uid {row['uid']}")
        answers[str(row["uid"])] = [text]
    if not answers:
        raise DataError(f"{path}: no answers")
    return answers


@cache
def _baseline(root: str, rel: str) -> dict[str, list[str]]:
    return read_answer_file(Path(root) / rel)


class ArenaHard:
    """One version of Arena-Hard-Auto (``version`` "0.1" or "2.0")."""

    default_max_new_tokens = 4096
    default_temperature = 0.0

    def __init__(self, version: str):
        self.version = version
        self.name = f"arena-hard-v{version}"
        self.data_files = (f"{version_dir(version)}/question.jsonl", f"arena_hard/arena-hard-v{version}.yaml", SETTINGS)

    def samples(self, data: DataDir) -> list[Sample]:
        path = data.require(self.data_files[0])
        out = []
        for lineno, row in iter_jsonl_objects(path):
            if "uid" not in row or not isinstance(row.get("prompt"), str):
                raise DataError(f"{path} line {lineno}: expected uid and prompt")
            out.append(Sample(id=str(row["uid"]), turns=[row["prompt"]], category=row.get("category"), temperature=0.0,
                              meta={"uid": row["uid"], "category": row.get("category"),
                                    "subcategory": row.get("subcategory") or row.get("cluster")}))
        return out

    def export_answers(self, samples: Sequence[Sample], answers: dict[str, list[str]],
                       model_id: str) -> dict[str, list[dict]]:
        """Answers in arena-hard's ``model_answer`` format, which its own tools read."""
        rows = []
        for sample in samples:
            turns = answers.get(sample.id)
            if not turns:
                continue
            rows.append({"uid": sample.id, "ans_id": hashlib.sha256(f"{model_id}|{sample.id}|{turns[0]}".encode()).hexdigest()[:22],
                         "model": model_id, "messages": [{"role": "user", "content": sample.turns[0]},
                                                         {"role": "assistant", "content": {"answer": turns[0]}}],
                         "tstamp": time.time()})
        return {f"model_answer/{model_id}.jsonl": rows}

    # -- judging ----------------------------------------------------------------------------------------

    def judge_defaults(self, version: int | None, annotator: str | None) -> dict[str, Any]:
        if annotator:
            raise DataError(f"--annotator: {self.name} has one judge setup (its config); give --judge-model")
        return {"model": DEFAULT_JUDGE[self.version], "mode": "pairwise-baseline", "baseline": "arena-hard",
                "annotator": None}

    def judge_data_files(self, judge: JudgeSpec) -> list[str]:
        if judge.mode != "pairwise-baseline":
            raise DataError(f"--judge-mode {judge.mode}: {self.name} judges against its baseline only "
                            "(pairwise-baseline)")
        return [f"{version_dir(self.version)}/model_answer/{b}.jsonl" for b in SHIPPED_BASELINES[self.version]]

    def answers_model_name(self, path: Path) -> str:
        for _, row in iter_jsonl_objects(path):
            return str(row.get("model") or path.stem)
        return path.stem

    def read_answers(self, path: Path) -> dict[str, list[str]]:
        return read_answer_file(path)

    def judge_requests(self, data: DataDir, samples: Sequence[Sample],
                       answers: Mapping[str, Mapping[str, Sequence[str]]],
                       judge: JudgeSpec) -> tuple[list[JudgeRequest], list[dict[str, Any]]]:
        """Both games of every (model, prompt) against the prompt category's baseline; a failure row where the
        model's answer is missing."""
        config, settings = read_config(data, self.version), judge_settings(data)
        requests, missing = [], []
        for model, by_id in answers.items():
            for sample in samples:
                setting = settings.get(str(sample.category))
                if setting is None:
                    raise DataError(f"{data.path(SETTINGS)}: no judge settings for category {sample.category!r}")
                baseline = setting["baseline"]
                meta = {"kind": "arena-hard", "uid": sample.id, "item_id": sample.id, "category": sample.category,
                        "model": model, "baseline": baseline}
                answer = by_id.get(sample.id)
                if not answer:
                    missing.append({"id": f"arena-hard|{model}|{sample.id}", **meta, "verdict": None,
                                    "failure": f"missing: no answer of {model} to {sample.id}"})
                    continue
                base = self._baseline_answer(data, baseline, sample.id)
                style = _style(answer[0], base)
                if style is not None:
                    meta["style"] = style
                for game, (a, b) in ((1, (base, answer[0])), (2, (answer[0], base))):
                    prompt = config["prompt_template"].format(QUESTION=sample.turns[0], ANSWER_A=a, ANSWER_B=b)
                    requests.append(JudgeRequest(
                        id=f"arena-hard|{model}|{sample.id}|g{game}",
                        messages=(Message(role="system", content=setting["system_prompt"]),
                                  Message(role="user", content=prompt)),
                        output_format=verdicts.LABEL, verdict_reader=verdicts.__name__,
                        max_tokens=int(config["max_tokens"]), temperature=float(config["temperature"]),
                        meta={**meta, "game": game, "judge_model": judge.model}))
        return requests, missing

    def _baseline_answer(self, data: DataDir, baseline: str, uid: str) -> str:
        rel = f"{version_dir(self.version)}/model_answer/{baseline}.jsonl"
        path = data.path(rel)
        if not path.is_file():
            raise DataError(f"missing baseline answers {path}: {self.name} judges this category against {baseline}; "
                            "put arena-hard-auto's file there (its data/ layout), or give --limit to stay within the "
                            "prompts whose baseline is present")
        found = _baseline(str(data.root), rel).get(uid)
        if found is None:
            raise DataError(f"{path}: no answer to {uid}")
        return found[0]

    def score(self, rows: Sequence[Mapping[str, Any]], judge: JudgeSpec, *, seed: int = 0,
              data: DataDir | None = None) -> dict[str, Any]:
        from starling_eval.adapters.arena_hard.results import score_run

        return score_run(rows, self.version, seed=seed, data=data)

    def score_judgment_files(self, paths: Sequence[Path], data: DataDir | None, *, baseline: str | None = None,
                             seed: int = 0) -> dict[str, Any]:
        """``score arena-hard --judgments DIR``: arena-hard's own judgment files (a ``model_judgment/<judge>``
        folder), scored as a run is. Style control uses the answers' metadata in the data folder's
        ``model_answer/`` (arena-hard's layout) where every judged answer has it."""
        from starling_eval.adapters.arena_hard.results import read_judgment_files, score_matches
        from starling_eval.adapters.arena_hard.style import answers_metadata

        matches = read_judgment_files(paths)
        fallback = baseline or SHIPPED_BASELINES[self.version][0]
        for match in matches:  # upstream rows name no baseline: the category's, from the judge settings
            match.setdefault("baseline", _category_baseline(data, str(match.get("category")), fallback))
        metadata = None
        if data is not None and data.path(f"{version_dir(self.version)}/model_answer").is_dir():
            try:
                metadata = answers_metadata(data.path(f"{version_dir(self.version)}/model_answer"))
            except DataError:
                metadata = None
        out = score_matches(matches, seed=seed, metadata=metadata)
        out["version"] = self.version
        return out

    def export_judgments(self, rows: Sequence[Mapping[str, Any]], requests: Mapping[str, JudgeRequest],
                         judge: JudgeSpec) -> dict[str, list[dict]]:
        """Judgments in arena-hard's ``model_judgment/<judge>/<model>.jsonl`` format: one row per prompt, its two
        games (``score`` the label, ``judgment`` the text), which its show_result.py reads."""
        from starling_eval.adapters.arena_hard.results import upstream_judgments

        return upstream_judgments(rows, requests, judge.model)


def _style(answer: str, baseline: str) -> dict[str, Any] | None:
    """Both answers' style metadata (GPT-4o token length, markdown counts) for style control, or None where
    GPT-4o's tokenizer file is not on this machine (the plain score needs none; the run says what is missing)."""
    from starling_eval.adapters.arena_hard.style import answer_metadata, cached_answer_metadata, o200k_encoding

    try:
        encoding = o200k_encoding()
    except DataError:
        return None
    return {"model": answer_metadata(answer, encoding), "baseline": cached_answer_metadata(baseline, encoding)}


def _category_baseline(data: DataDir | None, category: str, fallback: str) -> str:
    try:
        return judge_settings(data)[category]["baseline"] if data is not None else fallback
    except (DataError, KeyError):
        return fallback
