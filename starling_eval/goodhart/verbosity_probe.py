"""The verbosity probe: does a judge (or RM) prefer an answer made longer without new content?

Each MT-Bench answer of a file is compared, by the judge under test with FastChat's pairwise prompts in
both orders, with its own padded and list-ified versions (``verbosity``: a content-free preamble and
sign-off; one bullet per sentence). A judge free of verbosity bias prefers neither: the share preferring
the transformed answer (ties half) is 0.5. Transforms that change nothing are not asked about. The
judgments go through the call cache and a judgments file under the judge's ``results/goodhart`` folder, so
a re-run pays for nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.mtbench import judge as mtbench_judge
from starling_eval.adapters.mtbench.benchmark import MTBench
from starling_eval.data import DataDir, DataError
from starling_eval.goodhart.bias import PairJudgment
from starling_eval.goodhart.human_pairs import judge_cached, judge_folder
from starling_eval.goodhart.verbosity import TRANSFORMS, verbosity_shift
from starling_eval.spec import JudgeSpec

ORIGINAL = "original"


def probe_verbosity(judge: JudgeSpec, data: DataDir, results_root: Path, answers_path: Path, *,
                    transforms: Sequence[str] = tuple(TRANSFORMS), limit: int | None = None, seed: int = 0,
                    judge_client: Any = None, progress: Any = None) -> dict[str, Any]:
    from starling_eval.store.files import write_json_atomic

    original = mtbench_judge.read_answer_file(answers_path)
    samples = [s for s in MTBench().samples(data) if s.id in original][:limit]
    if not samples:
        raise DataError(f"{answers_path}: answers to no MT-Bench question")
    answers = {ORIGINAL: original, **{t: {q: [TRANSFORMS[t](a) for a in turns] for q, turns in original.items()}
                                      for t in transforms}}
    pairwise = judge.model_copy(update={"mode": "pairwise-all"})
    built, _ = mtbench_judge.build_requests(samples, answers, pairwise, mtbench_judge.read_judge_prompts(data),
                                            mtbench_judge.read_references(data, pairwise))
    requests = [r for r in built if r.meta["model_1"] == ORIGINAL and _changed(answers, r.meta)]
    folder = judge_folder(results_root, judge)
    rows, judging = judge_cached(judge, folder / f"verbosity-{answers_path.stem}.jsonl", requests, results_root,
                                 judge_client=judge_client, progress=progress)
    games: dict[tuple, dict[int, dict]] = {}
    for row in rows:
        games.setdefault((row["model_2"], row["question_id"], row["turn"]), {})[row["game"]] = row
    results = [(transform, PairJudgment(key=f"{qid}|{turn}", len_a=g[1]["chars_1"], len_b=g[1]["chars_2"],
                                        verdict_ab=g.get(1, {}).get("verdict"), verdict_ba=g.get(2, {}).get("verdict"),
                                        cluster=str(qid)))
               for (transform, qid, turn), g in games.items() if 1 in g]
    report = {"judge": judge.model, "answers": str(answers_path), "questions": len(samples),
              "shift": verbosity_shift(results, seed=seed), "judging": judging}
    write_json_atomic(folder / f"verbosity-{answers_path.stem}.json", report)
    return report


def _changed(answers: dict[str, dict[str, list[str]]], meta: dict[str, Any]) -> bool:
    item, turn = meta["item_id"], meta["turn"]
    return answers[ORIGINAL][item][:turn] != answers[meta["model_2"]][item][:turn]
