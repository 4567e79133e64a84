"""AlpacaEval judge requests: each model output against the reference output for the same instruction.

Everything is keyed on the instruction text. ``output_1`` is the reference (gpt4_1106_preview for
AlpacaEval 2, text_davinci_003 for AlpacaEval 1, or a ``model_outputs.json`` given with ``--baseline``),
``output_2`` the model's, as in alpaca_eval's annotations. Identical outputs get preference 1.5 without a
call (alpaca_eval's rule); a missing output is a recorded failure, never a dropped row. The judge sees the
annotator's ChatML prompt as chat messages, the two outputs in alpaca_eval's seeded per-instruction order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.alpacaeval import annotators
from starling_eval.adapters.base import Sample
from starling_eval.data import DataDir, DataError, read_json_list
from starling_eval.spec import JudgeRequest, JudgeSpec, Message

RESULTS_DIR = "alpaca_eval/results"
IDENTICAL = 1.5  # alpaca_eval's preference for identical outputs (a draw), given without asking the judge


def annotator_for(judge: JudgeSpec) -> annotators.Annotator:
    return annotators.load(judge.annotator or annotators.VERSIONS[2][0])


def reference_source(judge: JudgeSpec) -> tuple[str, str]:
    """(name, data-dir relative path or file path) of the reference outputs."""
    if judge.baseline.endswith(".json") or "/" in judge.baseline:
        return reference_name_of(Path(judge.baseline)), judge.baseline
    return judge.baseline, f"{RESULTS_DIR}/{judge.baseline}/model_outputs.json"


def reference_name_of(path: Path) -> str:
    """A ``model_outputs.json`` is named by its folder in alpaca_eval's results layout, else by its file."""
    return path.parent.name if path.name == "model_outputs.json" and path.parent.name else path.stem


def judge_data_files(judge: JudgeSpec) -> list[str]:
    _, source = reference_source(judge)
    return [source] if source.startswith(RESULTS_DIR) else []


def read_model_outputs(path: Path) -> tuple[str | None, dict[str, str]]:
    """alpaca_eval's ``model_outputs.json`` → (its single ``generator``, if any; {instruction: output})."""
    rows = read_json_list(path, "{instruction, output} objects")
    outputs: dict[str, str] = {}
    generators = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str) or not isinstance(row.get("output"), str):
            raise DataError(f"{path} row {i}: expected an object with string fields instruction and output")
        if row["instruction"] in outputs:
            raise DataError(f"{path} row {i}: a second output for the same instruction")
        outputs[row["instruction"]] = row["output"]
        generators.add(row.get("generator"))
    generator = generators.pop() if len(generators) == 1 else None
    return (generator if isinstance(generator, str) else None), outputs


def load_reference(data: DataDir, judge: JudgeSpec) -> tuple[str, dict[str, str]]:
    name, source = reference_source(judge)
    path = data.require(source) if source.startswith(RESULTS_DIR) else Path(source)
    if not path.is_file():
        raise DataError(f"--baseline {source}: no such model_outputs.json")
    return name, read_model_outputs(path)[1]


def build_requests(
    samples: Sequence[Sample],
    answers: Mapping[str, Mapping[str, Sequence[str]]],
    reference: str,
    reference_outputs: Mapping[str, str],
    judge: JudgeSpec,
) -> tuple[list[JudgeRequest], list[dict[str, Any]]]:
    """Requests for every (model, instruction) with both outputs; rows decided without a call (identical
    outputs: 1.5) or not judgeable (an output is missing: a failure)."""
    annotator = annotator_for(judge)
    pending: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    decided: list[dict[str, Any]] = []
    for model in answers:
        if model == reference:
            raise DataError(f"model {model!r} is also the reference: name it differently (--model-name)")
        for sample in samples:
            instruction = sample.meta["instruction"]
            output = (answers[model].get(sample.id) or [None])[0]
            ref = reference_outputs.get(instruction)
            switched = annotators.is_switched(annotator, instruction)
            meta = {"kind": "alpacaeval", "item_id": sample.id, "question_id": sample.meta["position"],
                    "dataset": sample.meta.get("dataset"), "instruction": instruction, "model": model,
                    "reference": reference, "annotator": annotator.name, "judge_model": judge.model,
                    "is_switched": switched, "output_1": ref, "output_2": output}
            rid = f"alpacaeval|{model}|{sample.id}"
            if output is None or ref is None:
                lacking = model if output is None else f"the reference {reference}"
                decided.append({"id": rid, **meta, "verdict": None, "failure": f"missing: no output from {lacking}"})
            elif output == ref:
                decided.append({"id": rid, **meta, "verdict": IDENTICAL, "failure": None, "decided": "identical outputs"})
            else:
                shown = {"instruction": instruction, "output_1": output if switched else ref,
                         "output_2": ref if switched else output}
                pending.append((rid, meta, shown))

    chats = annotators.prompts(annotator, [shown for _, _, shown in pending]) if pending else []
    requests = [
        JudgeRequest(id=rid, messages=tuple(Message(role=m["role"], content=m["content"]) for m in chat),
                     output_format=annotators.output_format(annotator, meta["is_switched"]),
                     verdict_reader=annotators.__name__,
                     max_tokens=annotator.max_tokens, temperature=annotator.temperature,
                     top_logprobs=annotator.top_logprobs, meta=meta, candidates=_shown_conversations(shown))
        for (rid, meta, shown), chat in zip(pending, chats, strict=True)
    ]
    return requests, decided


def _shown_conversations(shown: dict[str, str]) -> tuple[tuple[Message, ...], ...]:
    """The two outputs as conversations, in the order the judge is shown them (for a reward-model judge)."""
    return tuple((Message(role="user", content=shown["instruction"]), Message(role="assistant", content=shown[key]))
                 for key in ("output_1", "output_2"))


def annotation_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Judgment rows → alpaca_eval ``annotations.json`` rows per model (preference None where it failed)."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("kind") != "alpacaeval":
            continue
        by_model.setdefault(r["model"], []).append({
            "dataset": r.get("dataset"), "instruction": r["instruction"],
            "output_1": r.get("output_1") or "", "generator_1": r["reference"],
            "output_2": r.get("output_2") or "", "generator_2": r["model"],
            "annotator": r["annotator"], "preference": r.get("verdict"),
        })
    return by_model
