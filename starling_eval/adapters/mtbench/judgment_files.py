"""FastChat ``model_judgment`` JSONL, both ways: read published or external judgments, write our own.

Reading accepts single rows (``model``, ``score``, ``turn``) and pair rows (``model_1``, ``model_2``,
``g1_winner``, ``g2_winner``); FastChat's -1 score and "error" winner become failures with a reason,
so re-scoring shows how many judgments FastChat silently dropped. Writing produces rows FastChat's own
``show_result.py`` reads (score -1 / winner "error" for failures, as it would have written them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_eval.adapters.mtbench.score import game_winner, group_games
from starling_eval.data import DataError, read_jsonl_rows, require_keys
from starling_eval.spec import JudgeRequest

FASTCHAT_API_ERROR = "$ERROR$"


def read_judgments(paths: Sequence[Path], categories: Mapping[str, str] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """("single" | "pair", normalized rows) from FastChat judgment files; mixed kinds are an error."""
    kinds: set[str] = set()
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"--judgments {path}: no such file")
        for lineno, row in read_jsonl_rows(path, ("question_id",), ""):
            where = f"{path} line {lineno}"
            qid = row["question_id"]
            category = (categories or {}).get(str(qid))
            judge = row.get("judge") or [None, None]
            if "g1_winner" in row:
                require_keys(row, ("model_1", "model_2", "g1_winner", "g2_winner"), where)
                kinds.add("pair")
                failed = "error" in (row["g1_winner"], row["g2_winner"])
                rows.append({"model_1": row["model_1"], "model_2": row["model_2"], "question_id": qid,
                             "turn": int(row.get("turn", 1)), "category": category, "g1_winner": row["g1_winner"],
                             "g2_winner": row["g2_winner"],
                             "failure": "unparsable: winner 'error' in the judgment file" if failed else None})
            else:
                require_keys(row, ("model", "score", "turn"), where)
                if not isinstance(row["score"], int | float):
                    raise DataError(f"{where}: score must be a number, got {row['score']!r}")
                kinds.add("single")
                failed = row["score"] == -1
                rows.append({"model": row["model"], "question_id": qid, "turn": int(row["turn"]), "category": category,
                             "verdict": None if failed else row["score"], "prompt": judge[1],
                             "failure": "unparsable: score -1 in the judgment file" if failed else None})
    if not rows:
        raise DataError(f"--judgments {', '.join(map(str, paths))}: no judgments")
    if len(kinds) > 1:
        raise DataError("--judgments: single and pairwise judgment files cannot be scored together")
    return kinds.pop(), rows


def fastchat_rows(rows: Sequence[Mapping[str, Any]], requests: Mapping[str, JudgeRequest]) -> list[dict[str, Any]]:
    """Our judgment rows (one per call) → FastChat's (one per single judgment, one per pair of games)."""
    now = time.time()
    out: list[dict[str, Any]] = []
    pair_rows = []
    for row in rows:
        request = requests.get(row["id"])
        if request is None:  # a match that could not be judged (no answer): FastChat has no row for it
            continue
        if row["kind"] == "single":
            out.append({"question_id": row["question_id"], "model": row["model"],
                        "judge": [row["judge_model"], row["prompt"]], "user_prompt": request.messages[-1].content,
                        "judgment": _judgment_text(row), "score": -1 if row["failure"] else row["verdict"],
                        "turn": row["turn"], "tstamp": now})
        else:
            pair_rows.append(row)
    for (m1, m2, qid, turn), pair in group_games(pair_rows).items():
        g1, g2 = pair.get(1), pair.get(2)
        if g1 is None or g2 is None:
            continue
        out.append({"question_id": qid, "model_1": m1, "model_2": m2,
                    "g1_winner": game_winner(g1, 1),
                    "g2_winner": game_winner(g2, 2),
                    "judge": [g1["judge_model"], g1["prompt"]],
                    "g1_user_prompt": requests[g1["id"]].messages[-1].content, "g1_judgment": _judgment_text(g1),
                    "g2_user_prompt": requests[g2["id"]].messages[-1].content, "g2_judgment": _judgment_text(g2),
                    "turn": turn, "tstamp": now})
    return out


def _judgment_text(row: Mapping[str, Any]) -> str:
    return row["judgment"] if row.get("judgment") is not None else FASTCHAT_API_ERROR


def judgment_file_name(judge_model: str, mode: str) -> str:
    return f"model_judgment/{judge_model.replace('/', '_')}_{'single' if mode == 'single' else 'pair'}.jsonl"
