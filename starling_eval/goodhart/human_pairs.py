"""Any judge or reward model on the MT-Bench pairs humans voted on, counted like GPT-4 in Table 5.

The human study compared six models' answers; the answers humans saw are in ``mt_bench/model_answer/``
for three of them (alpaca-13b, gpt-3.5-turbo, llama-13b). gpt-4's and claude-v1's files there were
regenerated after the study and differ from what the voters read, and vicuna-13b-v1.2's are not there at
all, so by default only pairs among the three are judged (``include_regenerated`` adds gpt-4 and claude-v1,
knowingly). The judge sees each pair with FastChat's pairwise prompts in both orders (games 1 and 2, as
GPT-4 did); the two games make one vote: the same winner twice, else "tie (inconsistent)", FastChat's
rule. GPT-4's own votes and the humans' are restricted to the same pairs, so the rows compare like with
like, and the report says how many voted pairs could be judged. Judgments go through the shared call
cache and a judgments file (a killed run resumes without paying twice); the votes are written in the
human-judgments file layout, so ``goodhart agreement --judge-votes`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.mtbench import judge as mtbench_judge
from starling_eval.adapters.mtbench.benchmark import MTBench
from starling_eval.adapters.mtbench.score import ERROR, TIE, game_winner, group_games
from starling_eval.data import DataDir
from starling_eval.goodhart import GPT4_VOTES, HUMAN_VOTES
from starling_eval.goodhart.agreement import Vote, agreement_table, is_counted_human
from starling_eval.goodhart.bias import PairJudgment, flags, length_bias, position_consistency
from starling_eval.spec import JUDGE_OPERATIONAL_FIELDS, JudgeRequest, JudgeSpec, canonical_json, sha256_text

AS_SEEN = ("alpaca-13b", "gpt-3.5-turbo", "llama-13b")  # answers identical to what the voters read
REGENERATED = ("claude-v1", "gpt-4")  # answer files regenerated after the study: not what the voters read
_AS_VOTE = {"model_1": "model_a", "model_2": "model_b", TIE: "tie"}  # FastChat's game winner → a vote's winner


def voted_keys(votes: Iterable[Vote], experts_only: bool) -> set[tuple[int, int, str, str]]:
    return {v.oriented()[0] for v in votes if is_counted_human(v.judge, experts_only)}


def human_pair_requests(data: DataDir, human_votes: Sequence[Vote], judge: JudgeSpec, *,
                        models: Sequence[str], experts_only: bool = True,
                        limit: int | None = None) -> tuple[list[JudgeRequest], dict[str, Any]]:
    """FastChat's pairwise requests (both games) for every voted (question, turn, pair) among ``models``,
    and counts: keys voted, keys judgeable with the answers at hand, questions."""
    keys = voted_keys(human_votes, experts_only)
    questions = sorted({k[0] for k in keys})
    if limit:
        questions = questions[:limit]
    samples = [s for s in MTBench().samples(data) if s.meta["question_id"] in set(questions)]
    answers = {m: mtbench_judge.read_answer_file(data.require(f"{mtbench_judge.MODEL_ANSWER_DIR}/{m}.jsonl"))
               for m in models}
    pairwise = judge.model_copy(update={"mode": "pairwise-all"})
    built, _missing = mtbench_judge.build_requests(samples, answers, pairwise, mtbench_judge.read_judge_prompts(data),
                                                   mtbench_judge.read_references(data, pairwise))
    requests = [r for r in built if _key(r.meta) in keys]
    judged_keys = {_key(r.meta) for r in requests}
    counts = {"voted_keys": len(keys), "judged_keys": len(judged_keys), "questions": len(samples),
              "models": list(models), "requests": len(requests),
              "voted_keys_without_answers": len({k for k in keys if k[0] in set(questions)} - judged_keys)}
    return requests, counts


def _key(meta: Mapping[str, Any]) -> tuple[int, int, str, str]:
    a, b = sorted((meta["model_1"], meta["model_2"]))
    return int(meta["question_id"]), int(meta["turn"]), a, b


def votes_from_games(rows: Iterable[Mapping[str, Any]], judge_name: str) -> tuple[list[Vote], list[PairJudgment], int]:
    """Judgment rows (two games per pair) → one vote per pair (FastChat's rule: the same winner in both games,
    else "tie (inconsistent)"), the pair judgments for the bias checks, and how many pairs had a failed game
    (no vote: counted, not guessed)."""
    votes, judgments, failed = [], [], 0
    for (m1, m2, qid, turn), pair in group_games(r for r in rows if r.get("kind") == "pair").items():
        first = pair.get(1) or pair.get(2) or {}
        judgments.append(PairJudgment(key=f"{qid}|{turn}|{m1}|{m2}", len_a=first.get("chars_1") or 0,
                                      len_b=first.get("chars_2") or 0, verdict_ab=(pair.get(1) or {}).get("verdict"),
                                      verdict_ba=(pair.get(2) or {}).get("verdict"), cluster=str(qid)))
        w1, w2 = (game_winner(pair.get(game), game) for game in (1, 2))
        if ERROR in (w1, w2):
            failed += 1
            continue
        votes.append(Vote(question_id=int(qid), turn=int(turn), model_a=m1, model_b=m2,
                          winner=_AS_VOTE[w1] if w1 == w2 else "tie", judge=judge_name,
                          raw_winner=None if w1 == w2 else "tie (inconsistent)"))
    return votes, judgments, failed


def vote_rows(votes: Iterable[Vote]) -> list[dict[str, Any]]:
    """Votes in the layout of the human-judgments files (``goodhart agreement --judge-votes`` reads them)."""
    return [{"question_id": v.question_id, "model_a": v.model_a, "model_b": v.model_b,
             "winner": v.raw_winner or v.winner, "judge": v.judge, "turn": v.turn} for v in votes]


def comparison(judge_votes: Sequence[Vote], judge_name: str, gpt4_votes: Sequence[Vote], human_votes: Sequence[Vote],
               judged_keys: set[tuple[int, int, str, str]], *, experts_only: bool = True,
               seed: int = 0) -> list[dict[str, Any]]:
    """The new judge's agreement rows, GPT-4's on the same pairs and the humans' on the same pairs."""
    def on_pairs(votes: Sequence[Vote]) -> list[Vote]:
        return [v for v in votes if v.oriented()[0] in judged_keys]

    humans = on_pairs(human_votes)
    mine = agreement_table(judge_votes, humans, judge_name=judge_name, experts_only=experts_only, seed=seed)
    gpt4 = [r for r in agreement_table(on_pairs(gpt4_votes), humans, judge_name="gpt-4 (same pairs)",
                                       experts_only=experts_only, seed=seed) if r["judge"] != "human"]
    return [r for r in mine if r["judge"] != "human"] + gpt4 + [r for r in mine if r["judge"] == "human"]


def bias_summary(judgments: Sequence[PairJudgment], *, seed: int = 0) -> dict[str, Any]:
    position, length = position_consistency(judgments, seed=seed), length_bias(judgments, seed=seed)
    return {"position": position, "length": length, "flags": flags(position, length)}


def judge_folder(results_root: Path, judge: JudgeSpec) -> Path:
    """``results/goodhart/<judge>-<hash>``: one folder per judge identity (two judges served under one name
    at different endpoints do not share it)."""
    from starling_eval.store.runs import slug

    named = judge.model_dump(mode="json", exclude=JUDGE_OPERATIONAL_FIELDS | {"api_key_env", "mode"})
    return results_root / "goodhart" / f"{slug(judge.model)}-{sha256_text(canonical_json(named))[:8]}"


def judge_cached(judge: JudgeSpec, path: Path, requests: list[JudgeRequest], results_root: Path, *,
                 judge_client: Any = None, progress: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Judge ``requests`` through the results root's call cache into the judgments file ``path`` (resumable,
    nothing paid twice): the rows and the judging summary (counts, tokens, cost). An API judge without its
    key fails before any call."""
    from starling_eval.judges.client import check_api_key
    from starling_eval.pipeline.evaluation import judging_summary
    from starling_eval.pipeline.judging import judge_into
    from starling_eval.store.cache import CallCache

    if judge.reward_model is None and judge_client is None:
        check_api_key(judge)
    cache = CallCache(results_root / "cache.sqlite")
    try:
        rows, tally = judge_into(judge, path, cache, requests, [], progress=progress, judge_client=judge_client)
    finally:
        cache.close()
    return rows, judging_summary(judge, rows, tally, [])


def judge_human_pairs(judge: JudgeSpec, data: DataDir, results_root: Path, *, models: Sequence[str] = AS_SEEN,
                      experts_only: bool = True, limit: int | None = None, seed: int = 0,
                      judge_client: Any = None, progress: Any = None) -> dict[str, Any]:
    """Judge the voted pairs (cache first), write the votes and the report under ``results/goodhart/<judge>/``
    and return the report: counts, agreement rows beside GPT-4's and the humans', bias checks, usage."""
    from starling_eval.goodhart.agreement import read_votes
    from starling_eval.store.files import write_json_atomic, write_jsonl_atomic

    human_votes, gpt4_votes = read_votes(data.require(HUMAN_VOTES)), read_votes(data.require(GPT4_VOTES))
    requests, counts = human_pair_requests(data, human_votes, judge, models=models, experts_only=experts_only,
                                           limit=limit)
    folder = judge_folder(results_root, judge)
    rows, judging = judge_cached(judge, folder / "judgments.jsonl", requests, results_root, judge_client=judge_client,
                                 progress=progress)
    votes, judgments, failed = votes_from_games(rows, judge.model)
    judged = {_key(r.meta) for r in requests}
    report = {
        "judge": judge.model, "reward_model": judge.reward_model.model_dump(mode="json") if judge.reward_model else None,
        "counts": {**counts, "votes": len(votes), "pairs_with_failed_game": failed},
        "agreement": comparison(votes, judge.model, gpt4_votes, human_votes, judged, experts_only=experts_only,
                                seed=seed),
        "bias": bias_summary(judgments, seed=seed),
        "judging": judging,
        "votes_file": str(folder / "votes.jsonl"),
        "note": f"answers as the voters saw them exist for {', '.join(AS_SEEN)}; "
                f"{', '.join(REGENERATED)} were regenerated later and vicuna-13b-v1.2's are missing",
    }
    write_jsonl_atomic(folder / "votes.jsonl", vote_rows(votes))
    write_json_atomic(folder / "report.json", report)
    return report
