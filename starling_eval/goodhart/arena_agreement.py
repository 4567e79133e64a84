"""Any judge or reward model against Chatbot Arena's human winners, counted like the MT-Bench agreement.

Each battle of lmsys/chatbot_arena_conversations (when it is in the data directory) has one human vote.
The judge sees the battle through FastChat's pairwise prompts, in both orders: ``pair-v2`` for a one-turn
battle, ``pair-v2-multi-turn`` (both exchanges) for a two-turn one; battles longer than two turns are
counted and left out, since no MT-Bench prompt shows them whole (a reward model scores them whole in the
``arena`` reward-model track). Two games make one vote as for MT-Bench, and the vote is compared with the
human's: S1 keeps ties (a human "tie" or "tie (bothbad)", a judge's tie or inconsistent pair), S2 drops a
battle where either side tied. Turn in the table = the battle's number of turns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starling_eval.adapters.base import Sample
from starling_eval.adapters.mtbench import judge as mtbench_judge
from starling_eval.adapters.preference.arena import Battle, arena_battles
from starling_eval.data import DataDir, DataError, manifest
from starling_eval.goodhart.agreement import Vote, agreement_table
from starling_eval.goodhart.human_pairs import bias_summary, judge_cached, judge_folder, votes_from_games
from starling_eval.spec import JudgeSpec

ARENA_PREFIX = "chatbot_arena_conversations/"
SIDES = ("model_a", "model_b")  # the judge's "models" are the battle's two sides
MAX_TURNS = 2


def arena_files(data: DataDir) -> list[Path]:
    present = [data.require(rel) for rel in manifest() if rel.startswith(ARENA_PREFIX) and data.path(rel).is_file()]
    if not present:
        raise DataError(f"no Chatbot Arena data in {data.path(ARENA_PREFIX)}: fetch it with "
                        f"`starling-eval data pull {ARENA_PREFIX}` (gated on the Hub: a token or --mirror)")
    return present


def battle_requests(battles: list[Battle], data: DataDir, judge: JudgeSpec) -> tuple[list, dict[str, int]]:
    """FastChat's pairwise requests, both games, for every battle of at most two turns; skip counts."""
    samples, answers, skipped = [], {side: {} for side in SIDES}, {"longer than two turns": 0}
    for i, b in enumerate(battles):
        users = [m.content for m in b.conversation_a if m.role == "user"]
        replies = {side: [m.content for m in conv if m.role == "assistant"]
                   for side, conv in zip(SIDES, (b.conversation_a, b.conversation_b), strict=True)}
        if len(users) > MAX_TURNS:
            skipped["longer than two turns"] += 1
            continue
        samples.append(Sample(id=str(i), turns=users, meta={"question_id": i, "battle": b.id}))
        for side in SIDES:
            answers[side][str(i)] = replies[side]
    pairwise = judge.model_copy(update={"mode": "pairwise-all"})
    built, _ = mtbench_judge.build_requests(samples, answers, pairwise, mtbench_judge.read_judge_prompts(data), {})
    turns = {s.id: len(s.turns) for s in samples}
    return [r for r in built if r.meta["turn"] == turns[r.meta["item_id"]]], skipped


def human_votes(battles: list[Battle]) -> list[Vote]:
    return [Vote(question_id=i, turn=sum(m.role == "user" for m in b.conversation_a), model_a="model_a",
                 model_b="model_b", winner="tie" if "tie" in b.winner else b.winner, judge=f"arena:{b.id}")
            for i, b in enumerate(battles)]


def judge_arena(judge: JudgeSpec, data: DataDir, results_root: Path, *, limit: int | None = None, seed: int = 0,
                judge_client: Any = None, progress: Any = None) -> dict[str, Any]:
    """Judge the battles (cache first) and report agreement with the human winners, per number of turns."""
    from starling_eval.store.files import write_json_atomic

    battles, notes = [], {}
    for path in arena_files(data):
        found, more = arena_battles(path)
        battles += found
        notes.update(more)
    battles = battles[:limit]
    requests, skipped = battle_requests(battles, data, judge)
    folder = judge_folder(results_root, judge)
    rows, judging = judge_cached(judge, folder / "arena-judgments.jsonl", requests, results_root,
                                 judge_client=judge_client, progress=progress)
    votes, judgments, failed = votes_from_games(rows, judge.model)
    table = [r for r in agreement_table(votes, human_votes(battles), judge_name=judge.model, experts_only=False,
                                        seed=seed) if r["judge"] != "human"]
    report = {"judge": judge.model, "battles": len(battles), "judged": len(votes), "skipped": skipped,
              "pairs_with_failed_game": failed, "notes": notes, "agreement": table,
              "bias": bias_summary(judgments, seed=seed), "judging": judging}
    write_json_atomic(folder / "arena-report.json", report)
    return report
