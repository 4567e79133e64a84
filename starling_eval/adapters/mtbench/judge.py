"""MT-Bench judge requests, built exactly as FastChat's ``gen_judgment.py`` builds its matches.

Which prompt: questions in NEED_REF_CATS (math, reasoning, coding) use the ``*-math-*`` prompts with the
reference answer; turn 2 uses the ``*-multi-turn`` prompt, which shows the judge both turns. The judge
sees ``[system prompt, user prompt]`` (FastChat's chatgpt conversation), temperature 0, max_tokens 2048.
Pairwise matches are judged twice, the second time with the answers swapped (FastChat's g1 and g2). Each pair
row records what each model wrote up to the judged turn: ``chars_1``/``chars_2`` (for the length-bias check) and
``style_1``/``style_2`` (GPT-4o tokens and markdown totals, for the style-controlled win rate).
Everything here is description: the pipeline sends the requests and stores what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from starling_eval.adapters.base import Sample
from starling_eval.adapters.mtbench import verdicts
from starling_eval.adapters.style_control import style_totals
from starling_eval.data import DataDir, DataError, read_jsonl_rows, unique_ids
from starling_eval.spec import JudgeRequest, JudgeSpec, Message

JUDGE_PROMPTS = "mt_bench/judge_prompts.jsonl"
REFERENCE_DIR = "mt_bench/reference_answer"
MODEL_ANSWER_DIR = "mt_bench/model_answer"
NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
JUDGE_MAX_TOKENS = 2048
JUDGE_TEMPERATURE = 0.0

# (mode kind, needs reference, multi-turn) -> prompt name in judge_prompts.jsonl
PROMPT_NAMES = {
    ("single", False, False): "single-v1",
    ("single", True, False): "single-math-v1",
    ("single", False, True): "single-v1-multi-turn",
    ("single", True, True): "single-math-v1-multi-turn",
    ("pair", False, False): "pair-v2",
    ("pair", True, False): "pair-math-v1",
    ("pair", False, True): "pair-v2-multi-turn",
    ("pair", True, True): "pair-math-v1-multi-turn",
}

Answers = Mapping[str, Mapping[str, Sequence[str]]]  # model -> item id -> turns


def read_judge_prompts(data: DataDir) -> dict[str, dict]:
    path = data.require(JUDGE_PROMPTS)
    hint = f"; re-fetch with `starling-eval data pull {JUDGE_PROMPTS}`"
    fields = ("name", "type", "system_prompt", "prompt_template", "output_format")
    prompts = {row["name"]: row for _, row in read_jsonl_rows(path, fields, hint)}
    missing = sorted(set(PROMPT_NAMES.values()) - set(prompts))
    if missing:
        raise DataError(f"{path}: no judge prompt named {', '.join(missing)}{hint}")
    return prompts


def read_answer_file(path: Path) -> dict[str, list[str]]:
    """FastChat ``model_answer`` JSONL → {question id: turns of the first choice}."""
    answers: dict[str, list[str]] = {}
    rows = read_jsonl_rows(path, ("question_id", "choices"), "")
    unique_ids(path, [(lineno, row["question_id"]) for lineno, row in rows], "question_id")
    for lineno, row in rows:
        choices = row["choices"]
        turns = choices[0].get("turns") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise DataError(f"{path} line {lineno}: choices[0].turns must be a list of strings")
        answers[str(row["question_id"])] = turns
    if not answers:
        raise DataError(f"{path}: no answers")
    return answers


def answer_file_model(path: Path) -> str:
    """The model an answer file holds: FastChat names it by the file; a file whose rows all name another
    model (``model_id``) is that model's. A difference of case only keeps the file's name, which is what
    FastChat's published judgments use (its rwkv-4-raven-14b.jsonl says RWKV-4-Raven-14B)."""
    stem = path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.stem
    named = {row.get("model_id") for _, row in read_jsonl_rows(path, ("question_id",), "")}
    if len(named) == 1:
        (model_id,) = named
        if isinstance(model_id, str) and model_id.strip() and model_id.lower() != stem.lower():
            return model_id
    return stem


def reference_file(judge: JudgeSpec) -> str:
    return f"{REFERENCE_DIR}/{judge.reference}.jsonl"


def baseline_source(judge: JudgeSpec) -> tuple[str, str]:
    """(model name, data-dir relative path or file path) of the pairwise baseline's answers."""
    if judge.baseline.endswith(".jsonl") or "/" in judge.baseline:
        return Path(judge.baseline).stem, judge.baseline
    return judge.baseline, f"{MODEL_ANSWER_DIR}/{judge.baseline}.jsonl"


def judge_data_files(judge: JudgeSpec) -> list[str]:
    """Data-dir files the judging step reads (checked before anything is generated)."""
    files = [JUDGE_PROMPTS, reference_file(judge)]
    if judge.mode == "pairwise-baseline":
        _, source = baseline_source(judge)
        if source.startswith(MODEL_ANSWER_DIR):
            files.append(source)
    return files


def load_baseline(data: DataDir, judge: JudgeSpec) -> tuple[str, dict[str, list[str]]]:
    name, source = baseline_source(judge)
    if source.startswith(MODEL_ANSWER_DIR):
        return name, read_answer_file(data.require(source))
    path = Path(source)
    if not path.is_file():
        raise DataError(f"--baseline {source}: no such answer file")
    return name, read_answer_file(path)


def read_references(data: DataDir, judge: JudgeSpec) -> dict[str, list[str]]:
    return read_answer_file(data.require(reference_file(judge)))


def _messages(prompt: dict, **fields: str) -> tuple[Message, ...]:
    return (Message(role="system", content=prompt["system_prompt"]),
            Message(role="user", content=prompt["prompt_template"].format(**fields)))


def _fields(sample: Sample, answer_a: Sequence[str], answer_b: Sequence[str] | None, ref: Sequence[str] | None,
            multi_turn: bool) -> dict[str, str]:
    """The template fields FastChat's run_judge_single / run_judge_pair fill in."""
    fields: dict[str, str] = {}
    if ref is not None:
        fields["ref_answer_1"] = ref[0]
        if multi_turn:
            fields["ref_answer_2"] = ref[1]
    if multi_turn:
        fields.update(question_1=sample.turns[0], question_2=sample.turns[1])
        if answer_b is None:
            fields.update(answer_1=answer_a[0], answer_2=answer_a[1])
        else:
            fields.update(answer_a_1=answer_a[0], answer_b_1=answer_b[0], answer_a_2=answer_a[1], answer_b_2=answer_b[1])
    else:
        fields["question"] = sample.turns[0]
        if answer_b is None:
            fields["answer"] = answer_a[0]
        else:
            fields.update(answer_a=answer_a[0], answer_b=answer_b[0])
    return fields


def build_requests(
    samples: Sequence[Sample],
    answers: Answers,
    judge: JudgeSpec,
    prompts: Mapping[str, dict],
    references: Mapping[str, Sequence[str]],
    baseline: str | None = None,
) -> tuple[list[JudgeRequest], list[dict[str, Any]]]:
    """All judge requests of a run, and a failure row for every match that cannot be judged (no answer)."""
    requests: list[JudgeRequest] = []
    missing: list[dict[str, Any]] = []
    models = list(answers)
    if judge.mode == "single":
        matches: list[tuple[str, ...]] = [(m,) for m in models]
    elif judge.mode == "pairwise-baseline":
        matches = [(m, baseline) for m in models if m != baseline]
    else:
        matches = list(combinations(models, 2))
    kind = "single" if judge.mode == "single" else "pair"
    style_of = _style_reader() if kind == "pair" else None
    for sample in samples:
        needs_ref = sample.category in NEED_REF_CATS
        for turn in range(1, min(len(sample.turns), 2) + 1):
            multi_turn = turn == 2
            prompt = prompts[PROMPT_NAMES[(kind, needs_ref, multi_turn)]]
            ref = None
            if needs_ref:
                ref = references.get(sample.id)
                if ref is None or len(ref) < turn:
                    raise DataError(f"{REFERENCE_DIR}: no reference answer for question {sample.id} turn {turn}")
            base_meta = {"kind": kind, "question_id": sample.meta.get("question_id", sample.id), "item_id": sample.id,
                         "turn": turn, "category": sample.category, "prompt": prompt["name"], "judge_model": judge.model}
            for match in matches:
                lacking = [m for m in match if len(answers[m].get(sample.id) or ()) < turn]
                if kind == "single":
                    meta = {**base_meta, "model": match[0]}
                    rid = f"single|{match[0]}|{sample.id}|{turn}"
                    if lacking:
                        missing.append({"id": rid, **meta, "verdict": None, "failure": f"missing: no turn-{turn} answer"})
                        continue
                    fields = _fields(sample, answers[match[0]][sample.id], None, ref, multi_turn)
                    requests.append(_request(rid, prompt, fields, meta))
                    continue
                m1, m2 = match
                # the characters each model wrote up to this turn (what the judge was shown): for bias checks
                chars = {f"chars_{i}": None if m in lacking else sum(map(len, answers[m][sample.id][:turn]))
                         for i, m in ((1, m1), (2, m2))}
                if style_of is not None and not lacking:  # GPT-4o token length and markdown, for style control
                    chars.update({f"style_{i}": style_totals(map(style_of, answers[m][sample.id][:turn]))
                                  for i, m in ((1, m1), (2, m2))})
                for game, (a, b) in ((1, (m1, m2)), (2, (m2, m1))):
                    meta = {**base_meta, "model_1": m1, "model_2": m2, "game": game, **chars}
                    rid = f"pair|{m1}|{m2}|{sample.id}|{turn}|g{game}"
                    if lacking:
                        missing.append({"id": rid, **meta, "verdict": None,
                                        "failure": f"missing: no turn-{turn} answer from {', '.join(lacking)}"})
                        continue
                    fields = _fields(sample, answers[a][sample.id], answers[b][sample.id], ref, multi_turn)
                    shown = tuple(_conversation(sample.turns, answers[m][sample.id], turn) for m in (a, b))
                    requests.append(_request(rid, prompt, fields, meta, shown))
    return requests, missing


def _style_reader() -> Callable[[str], dict[str, Any]] | None:
    """An answer's Arena-Hard style metadata, memoized (a baseline's answer is in every match), or None where
    GPT-4o's tokenizer file is not on this machine: the rows then carry no style, and the score says so."""
    from starling_eval.adapters.arena_hard.style import cached_answer_metadata, o200k_encoding

    try:
        encoding = o200k_encoding()
    except DataError:
        return None
    return lambda text: cached_answer_metadata(text, encoding)


def _conversation(questions: Sequence[str], answer: Sequence[str], turns: int) -> tuple[Message, ...]:
    """The first ``turns`` exchanges, as a reward model judging the pair reads them (the judge prompt for
    turn 2 shows both turns too)."""
    return tuple(Message(role=role, content=text) for q, a in zip(questions[:turns], answer[:turns], strict=True)
                 for role, text in (("user", q), ("assistant", a)))


def _request(rid: str, prompt: dict, fields: dict[str, str], meta: dict[str, Any],
             candidates: tuple[tuple[Message, ...], ...] | None = None) -> JudgeRequest:
    return JudgeRequest(id=rid, messages=_messages(prompt, **fields), output_format=prompt["output_format"],
                        verdict_reader=verdicts.__name__, max_tokens=JUDGE_MAX_TOKENS, temperature=JUDGE_TEMPERATURE,
                        meta=meta, candidates=candidates)
