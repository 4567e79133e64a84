"""Every judged item of a run as a person reads it: the question, the answer (or both), each judgment in full.

The report's item browser and the checkpoint diff show these. A run's ``judgments.jsonl`` holds what was
asked about (question id, turn, models, game) and what the judge said; the question text and the answers
come from where the run read them: its ``generations.jsonl``, the answer files it judged, the benchmark's
data (MT-Bench questions, the pairwise baseline's answers). AlpacaEval rows carry their instruction and both
outputs themselves. Where a source is gone (an answer file moved or changed since: its sha256 is the run's
record), the item is still listed with what is known; nothing is made up.

An item is one judged unit, keyed as ``report.items`` keys its values (``question_id|turn``, the instruction
hash): MT-Bench single grading (one judgment), pairwise (both games, the verdict from the run's model's side,
``inconsistent`` when the games disagree), AlpacaEval (one preference), Safe-RLHF (one safety verdict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.data import DataDir, DataError, sha256_file
from starling_eval.spec import RunSpec
from starling_eval.store.files import read_jsonl
from starling_eval.store.runs import GENERATIONS, JUDGMENTS, RunFolder

WINNER = {"model_1": "win", "model_2": "loss", "tie": "tie"}  # a pairwise game from the run's model's side


def items_doc(runs: Sequence[RunFolder]) -> dict[str, Any]:
    """The item browser's document: the runs and all their items (a run without judgments adds none)."""
    entries, items = [], []
    for index, run in enumerate(runs):
        entries.append(run_entry(run))
        items += run_items(run, index)
    return {"runs": entries, "items": items}


def run_entry(run: RunFolder) -> dict[str, Any]:
    manifest = run.read_manifest()
    spec = manifest.get("spec") or {}
    judge = (manifest.get("judge") or spec.get("judge") or {}).get("model")
    model = (manifest.get("summary") or {}).get("model") or ((spec.get("model") or {}).get("display_name"))
    scores = run.scores() or {}
    mode = scores.get("mode") or ((spec.get("judge") or {}).get("mode"))
    # the run's time and spec hash tell two runs of one model apart (two checkpoints under one name)
    parts = run.run_id.split("-")
    when = f"{parts[1]}·{parts[-1]}" if len(parts) > 2 else run.run_id
    return {"id": run.run_id, "benchmark": spec.get("benchmark"), "mode": mode, "model": model, "judge": judge,
            "label": " · ".join(str(p) for p in (spec.get("benchmark"), model, judge, f"run {when}") if p)}


def run_items(run: RunFolder, index: int = 0) -> list[dict[str, Any]]:
    """The run's items, in benchmark order."""
    rows = _newest(run)
    if not rows:
        return []
    kinds = {r.get("kind") for r in rows}
    if "alpacaeval" in kinds:
        return [_alpacaeval(r, index) for r in rows if r.get("kind") == "alpacaeval"]
    context = _Context(run)
    if "pair" in kinds:
        return _pairwise(run, [r for r in rows if r.get("kind") == "pair"], context, index)
    if "arena-hard" in kinds:
        return _arena_hard([r for r in rows if r.get("kind") == "arena-hard" and r.get("game")], context, index)
    if "single" in kinds:
        return [_single(r, context, index) for r in rows if r.get("kind") == "single"]
    return [_generic(r, context, index) for r in rows]


# -- where questions and answers come from -------------------------------------------------------------------


class _Context:
    """The run's questions and answers by item id, read once, from whichever sources still exist."""

    def __init__(self, run: RunFolder):
        self.questions: dict[str, list[str]] = {}
        self.categories: dict[str, str] = {}
        self.answers: dict[str, dict[str, list[str]]] = {}  # model -> item id -> turns
        manifest = run.read_manifest()
        try:
            spec = RunSpec.model_validate(manifest["spec"])
        except Exception:  # an older or foreign manifest: the judgments alone
            spec = None
        self.spec = spec
        for row in read_jsonl(run.file(GENERATIONS)) if run.file(GENERATIONS).is_file() else []:
            item, turn = str(row.get("item_id")), int(row.get("turn") or 1)
            if row.get("question") is not None:
                _put(self.questions.setdefault(item, []), turn, row["question"])
            if row.get("text") is not None and spec is not None:
                _put(self.answers.setdefault(spec.label, {}).setdefault(item, []), turn, row["text"])
        if spec is not None:
            self._from_data(spec)

    def _from_data(self, spec: RunSpec) -> None:
        from starling_eval import registry

        try:
            bench = registry.benchmark(spec.benchmark)
            data = DataDir(spec.data_dir if Path(spec.data_dir).is_dir() else None)
            for sample in bench.samples(data):
                self.questions.setdefault(sample.id, list(sample.turns))
                if sample.category:
                    self.categories.setdefault(sample.id, sample.category)
            for source in spec.answers:  # only the file the run judged: one changed since shows nothing
                if Path(source.path).is_file() and sha256_file(Path(source.path)) == source.sha256:
                    self.answers.setdefault(source.model, bench.read_answers(Path(source.path)))
            if spec.judge is not None and spec.judge.mode == "pairwise-baseline" and spec.benchmark == "mtbench":
                from starling_eval.adapters.mtbench.judge import load_baseline

                name, answers = load_baseline(data, spec.judge)
                self.answers.setdefault(name, answers)
            if spec.benchmark.startswith("arena-hard-v"):  # the baselines' answers, as arena-hard ships them
                from starling_eval.adapters.arena_hard.benchmark import read_answer_file, version_dir

                folder = data.path(f"{version_dir(spec.benchmark.rsplit('-v', 1)[1])}/model_answer")
                for file in sorted(folder.glob("*.jsonl")):
                    self.answers.setdefault(file.stem, read_answer_file(file))
        except (DataError, OSError, KeyError, ValueError):
            pass  # what could be read stays; the judgments are listed either way

    def answer(self, model: str | None, item: str) -> list[str]:
        return list(self.answers.get(model or "", {}).get(item, []))


def _put(turns: list[str], turn: int, text: str) -> None:
    while len(turns) < turn:
        turns.append("")
    turns[turn - 1] = text


def _newest(run: RunFolder) -> list[dict[str, Any]]:
    """The judgment rows, the last per request id (a resumed run appends), in file order of first sight."""
    path = run.file(JUDGMENTS)
    if not path.is_file():
        return []
    rows: dict[Any, dict[str, Any]] = {}
    for i, row in enumerate(read_jsonl(path)):
        rows[row.get("id", i)] = row
    return list(rows.values())


# -- one item per kind ---------------------------------------------------------------------------------------


def _judgment(row: Mapping[str, Any], label: str) -> dict[str, Any]:
    verdict = row.get("verdict")
    return {"label": label, "text": row.get("judgment") or "", "verdict": None if verdict is None else str(verdict),
            "failure": row.get("failure")}


def _base(key: str, index: int, category: str | None, title: str, turns: list[str]) -> dict[str, Any]:
    return {"key": key, "run": index, "category": category or "—", "title": title, "turns": turns,
            "answers": [], "reference": None, "judgments": [], "verdict": "failed", "value": None, "failed": True,
            "failure": None, "inconsistent": False, "length": 0}


def _single(row: Mapping[str, Any], ctx: _Context, index: int) -> dict[str, Any]:
    item, turn = str(row.get("item_id", row.get("question_id"))), int(row.get("turn") or 1)
    out = _base(f"{row.get('question_id')}|{turn}", index, row.get("category") or ctx.categories.get(item),
                f"question {row.get('question_id')} · turn {turn}", ctx.questions.get(item, [])[:turn])
    answer = ctx.answer(row.get("model"), item)[:turn]
    out["answers"] = [{"label": str(row.get("model")), "turns": answer}]
    out["judgments"] = [_judgment(row, f"{row.get('prompt') or 'judge'}")]
    failed = row.get("failure") is not None or row.get("verdict") is None
    out.update(failed=failed, failure=row.get("failure"), length=len(answer[-1]) if answer else 0,
               verdict="failed" if failed else _rating(row["verdict"]),
               value=None if failed else float(row["verdict"]))
    return out


def _rating(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def _pairwise(run: RunFolder, rows: list[dict[str, Any]], ctx: _Context, index: int) -> list[dict[str, Any]]:
    """Both games of a match in one item; its verdict is the run's scoring of the match (FastChat's rule)."""
    scores = run.scores() or {}
    baseline = scores.get("baseline")
    matches = {(i["model_1"], i["model_2"], str(i["question_id"]), int(i["turn"])): i for i in scores.get("items", [])}
    games: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        games.setdefault((row.get("model_1"), row.get("model_2"), str(row.get("question_id")), int(row.get("turn") or 1)),
                         []).append(row)
    out = []
    for (m1, m2, qid, turn), pair in games.items():
        item = str(pair[0].get("item_id", qid))
        several = len({k[:2] for k in games}) > 1
        title = f"question {qid} · turn {turn}" + (f" · {m1} vs {m2}" if several else "")
        entry = _base(f"{qid}|{turn}" + (f"|{m1}|{m2}" if several else ""), index,
                      pair[0].get("category") or ctx.categories.get(item), title, ctx.questions.get(item, [])[:turn])
        entry["answers"] = [{"label": m + (" (baseline)" if m == baseline else ""), "turns": ctx.answer(m, item)[:turn]}
                            for m in (m1, m2)]
        for row in sorted(pair, key=lambda r: r.get("game") or 0):
            first, second = (m1, m2) if row.get("game") == 1 else (m2, m1)
            entry["judgments"].append(_judgment(row, f"game {row.get('game')}: A = {first}, B = {second}"))
        match = matches.get((m1, m2, qid, turn))
        mine_first = m1 != baseline  # the verdict is told from the side of the model under test
        if match is None:
            entry["failure"] = next((r.get("failure") for r in pair if r.get("failure")), "no valid match")
        else:
            result = match["model_1_result"] if mine_first else 1.0 - match["model_1_result"]
            entry.update(failed=False, value=100.0 * result,
                         verdict={1.0: "win", 0.0: "loss"}.get(result, "tie"),
                         inconsistent=match.get("g1_winner") != match.get("g2_winner"))
        mine = ctx.answer(m1 if mine_first else m2, item)[:turn]
        entry["length"] = len(mine[-1]) if mine else 0
        out.append(entry)
    return out


def _alpacaeval(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    """output_1 is the reference's output, output_2 the model's; the preference is for output 2 (the model)."""
    entry = _base(str(row.get("item_id")), index, row.get("dataset"), f"instruction {row.get('question_id')}",
                  [row.get("instruction") or ""])
    entry["answers"] = [{"label": str(row.get("model")), "turns": [row.get("output_2") or ""]}]
    entry["reference"] = [row.get("output_1") or ""]
    shown = "the model's output first" if row.get("is_switched") else "the reference's output first"
    entry["judgments"] = [_judgment(row, f"{row.get('annotator') or 'annotator'} ({shown})")]
    from starling_eval.adapters.alpacaeval.score import read_preference  # here: the browser's start-up stays light

    preference = None if row.get("failure") is not None else read_preference(row.get("verdict"))
    entry["length"] = len(row.get("output_2") or "")
    if preference is None:
        entry["failure"] = row.get("failure") or "no preference"
    else:
        entry.update(failed=False, value=100.0 * (preference - 1.0),
                     verdict="win" if preference > 1.5 else "loss" if preference < 1.5 else "tie")
    return entry


def _generic(row: Mapping[str, Any], ctx: _Context, index: int) -> dict[str, Any]:
    """Any other judged row (Safe-RLHF): the question, the model's answer and the judgment as they are."""
    item, turn = str(row.get("item_id")), int(row.get("turn") or 1)
    entry = _base(f"{item}" + (f"|{turn}" if row.get("turn") else ""), index, row.get("category") or ctx.categories.get(item),
                  f"item {item}", ctx.questions.get(item, [])[:turn])
    answer = ctx.answer(row.get("model"), item)[:turn]
    entry["answers"] = [{"label": str(row.get("model")), "turns": answer}]
    entry["judgments"] = [_judgment(row, str(row.get("prompt") or row.get("kind") or "judge"))]
    verdict = row.get("verdict")
    failed = row.get("failure") is not None or verdict is None
    if isinstance(verdict, Mapping) and "harmless" in verdict:
        verdict_text = "harmless" if verdict["harmless"] else "harmful"
    else:
        verdict_text = str(verdict)
    entry.update(failed=failed, failure=row.get("failure"), length=len(answer[-1]) if answer else 0,
                 verdict="failed" if failed else verdict_text)
    return entry


def _arena_hard(rows: list[dict[str, Any]], ctx: _Context, index: int) -> list[dict[str, Any]]:
    """Both games of a prompt in one item (game 1: the baseline is A), its value the model's share of the two
    games (a verdict of either strength counts once here; the run's scores weight strong ones as arena-hard does)."""
    from starling_eval.adapters.arena_hard.verdicts import STRENGTH

    games: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        games.setdefault((str(row.get("model")), str(row.get("uid"))), []).append(row)
    out = []
    for (model, uid), pair in games.items():
        entry = _base(uid, index, pair[0].get("category") or ctx.categories.get(uid), f"prompt {uid}",
                      ctx.questions.get(uid, [])[:1])
        baseline = str(pair[0].get("baseline"))
        entry["answers"] = [{"label": model, "turns": ctx.answer(model, uid)[:1]},
                            {"label": f"{baseline} (baseline)", "turns": ctx.answer(baseline, uid)[:1]}]
        shares = []
        for row in sorted(pair, key=lambda r: r.get("game") or 0):
            first, second = (baseline, model) if row.get("game") == 1 else (model, baseline)
            entry["judgments"].append(_judgment(row, f"game {row.get('game')}: A = {first}, B = {second}"))
            strength = STRENGTH.get(str(row.get("verdict"))) if row.get("failure") is None else None
            if strength is not None:  # from the model's side: it is B in game 1, A in game 2
                mine = -strength if row.get("game") == 1 else strength
                shares.append(1.0 if mine > 0 else 0.0 if mine < 0 else 0.5)
        answer = ctx.answer(model, uid)
        entry["length"] = len(answer[0]) if answer else 0
        if len(shares) < 2:
            entry["failure"] = next((r.get("failure") for r in pair if r.get("failure")), "a game has no verdict")
        else:
            share = sum(shares) / 2
            entry.update(failed=False, value=100.0 * share, inconsistent=shares[0] != shares[1],
                         verdict="win" if share > 0.5 else "loss" if share < 0.5 else "tie")
        out.append(entry)
    return out
