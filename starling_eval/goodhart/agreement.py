"""Judge–human agreement on MT-Bench human votes, counted as Zheng et al. 2023 (Table 5) count it.

The paper's numbers come from FastChat's ``llm_judge/compute_agreement.py``; this module reproduces its
semantics so that a new judge can be put in the same table as GPT-4 and the humans themselves:

- Votes are grouped by key (question_id, turn, model pair). The pair is put in alphabetical order and the
  winner flipped to match, so a judge that saw the answers the other way round is compared correctly.
- Any winner containing "tie" is a tie (``"tie (inconsistent)"``, GPT-4's verdict when its two orders
  disagree, included).
- Judge vs human: the judge's single vote on a key is compared with every human vote on that key; keys
  that only one side voted on are not compared. Setup S1 keeps ties; S2 drops every comparison in which
  either vote is a tie.
- Human vs human: every unordered pair of human votes on a key (the file's order decides which is first).
  FastChat does not check that the two votes are by different people; we do, which changes nothing for
  experts (no expert voted twice on a key) and drops one self-pair when authors are included.
- "Human" means experts (judge names starting with "expert") unless ``experts_only=False`` adds the
  paper's authors too; Table 5 uses experts only.

Beyond the raw agreement each row carries Cohen's kappa (agreement beyond the chance of matching
marginals, since a judge that always says "model_a" would agree often where humans lean that way) and a
95% bootstrap interval that resamples whole questions, because the votes on one question are not
independent draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from starling_eval.data import DataError, iter_jsonl_objects, require_keys
from starling_eval.stats import cluster_bootstrap_ci

Winner = Literal["model_a", "model_b", "tie"]
Setup = Literal["S1", "S2"]
Key = tuple[int, int, str, str]  # question_id, turn, the pair's two models in alphabetical order

SETUPS: tuple[Setup, ...] = ("S1", "S2")
FIELDS = ("question_id", "model_a", "model_b", "winner", "judge", "turn")
_FLIP: dict[str, Winner] = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}


@dataclass(frozen=True)
class Vote:
    """One pairwise verdict on one turn of one MT-Bench question, by a human or a judge model."""

    question_id: int
    turn: int
    model_a: str
    model_b: str
    winner: Winner
    judge: str
    raw_winner: str | None = None  # the file's spelling where it was not already one of the three

    def oriented(self) -> tuple[Key, Winner]:
        """The vote's key with the models in alphabetical order, and the winner flipped to match."""
        if self.model_a < self.model_b:
            return (self.question_id, self.turn, self.model_a, self.model_b), self.winner
        return (self.question_id, self.turn, self.model_b, self.model_a), _FLIP[self.winner]


def read_votes(path: str | Path) -> list[Vote]:
    """The votes of a JSONL file in the layout of lmsys/mt_bench_human_judgments (one vote a line). A line
    that is not a vote is a DataError naming file and line: a silently skipped vote would move the numbers."""
    votes = []
    for lineno, row in iter_jsonl_objects(Path(path)):
        where = f"{path} line {lineno}"
        require_keys(row, FIELDS, where)
        qid, turn, raw = row["question_id"], row["turn"], row["winner"]
        if not isinstance(qid, int) or isinstance(qid, bool):
            raise DataError(f"{where}: question_id must be an integer, got {qid!r}")
        if not isinstance(turn, int) or isinstance(turn, bool) or turn < 1:
            raise DataError(f"{where}: turn must be a positive integer, got {turn!r}")
        for name in ("model_a", "model_b", "judge"):
            if not isinstance(row[name], str) or not row[name]:
                raise DataError(f"{where}: {name} must be a non-empty string, got {row[name]!r}")
        if not isinstance(raw, str) or not (raw in ("model_a", "model_b") or "tie" in raw):
            raise DataError(f"{where}: winner must be model_a, model_b or a tie, got {raw!r}")
        winner: Winner = "tie" if "tie" in raw else raw  # type: ignore[assignment]
        votes.append(Vote(qid, turn, row["model_a"], row["model_b"], winner, row["judge"],
                          raw if raw != winner else None))
    return votes


def winner_spellings(votes: Iterable[Vote]) -> Counter[str]:
    """How often each winner was spelled each way in the files, e.g. how many GPT-4 ties were
    "tie (inconsistent)" (position bias) rather than a considered "tie"."""
    return Counter(v.raw_winner or v.winner for v in votes)


def is_counted_human(judge: str, experts_only: bool) -> bool:
    """Table 5's "human" is the experts only; the authors' votes join them only when asked for."""
    return judge.startswith("expert") or not experts_only


def agreement(judge_votes: Iterable[Vote], human_votes: Iterable[Vote], *, judge: str, turn: int, setup: Setup,
              experts_only: bool = True, seed: int = 0) -> dict[str, Any]:
    """How often ``judge_votes`` agree with the human votes on the same key, on one turn, in one setup.
    ``judge`` only labels the row: the votes' own judge field may be anything. A key must have one judge
    vote (FastChat asserts it): two would weight that key twice."""
    _check_setup(setup)
    verdicts: dict[Key, Winner] = {}
    for vote in judge_votes:
        if vote.turn != turn:
            continue
        key, winner = vote.oriented()
        if key in verdicts:
            raise ValueError(f"judge {judge!r} has more than one vote on question {key[0]}, turn {key[1]}, "
                             f"{key[2]} vs {key[3]}: agreement needs one verdict per key")
        verdicts[key] = winner
    humans = _human_votes_by_key(human_votes, turn, experts_only)
    pairs: list[tuple[int, str, str]] = []  # question_id, judge's winner, human's winner
    matched = 0
    for key, judge_winner in verdicts.items():
        if key not in humans:
            continue
        matched += 1
        pairs.extend((key[0], judge_winner, human_winner) for _, human_winner in humans[key])
    row = _summary(pairs, setup=setup, symmetric=False, seed=seed)
    return {"judge": judge, "turn": turn, "setup": setup, "experts_only": experts_only, **row,
            "n_judge_votes": len(verdicts), "n_matched_keys": matched}


def human_agreement(human_votes: Iterable[Vote], *, turn: int, setup: Setup, experts_only: bool = True,
                    seed: int = 0) -> dict[str, Any]:
    """The humans' agreement with each other (the ceiling a judge is measured against): every unordered
    pair of votes by two different humans on one key. Here ``n_judge_votes`` counts the human votes of the
    turn and ``n_matched_keys`` the keys with at least one such pair."""
    _check_setup(setup)
    humans = _human_votes_by_key(human_votes, turn, experts_only)
    pairs: list[tuple[int, str, str]] = []
    matched = 0
    for key, votes in humans.items():
        found = [(key[0], a, b) for i, (who_a, a) in enumerate(votes) for who_b, b in votes[i + 1:] if who_a != who_b]
        matched += bool(found)
        pairs.extend(found)
    row = _summary(pairs, setup=setup, symmetric=True, seed=seed)
    return {"judge": "human", "turn": turn, "setup": setup, "experts_only": experts_only, **row,
            "n_judge_votes": sum(len(v) for v in humans.values()), "n_matched_keys": matched}


def agreement_table(judge_votes: Sequence[Vote], human_votes: Sequence[Vote], *, judge_name: str,
                    turns: Sequence[int] = (1, 2), setups: Sequence[Setup] = SETUPS, experts_only: bool = True,
                    seed: int = 0) -> list[dict[str, Any]]:
    """Table 5 for one judge: its rows (by turn, then setup), then the human-vs-human rows in the same
    order, so the judge's numbers can be read against the humans' own ceiling."""
    rows = [agreement(judge_votes, human_votes, judge=judge_name, turn=t, setup=s, experts_only=experts_only,
                      seed=seed) for t in turns for s in setups]
    rows += [human_agreement(human_votes, turn=t, setup=s, experts_only=experts_only, seed=seed)
             for t in turns for s in setups]
    return rows


def cohen_kappa(pairs: Sequence[tuple[str, str]], *, symmetric: bool = False) -> float | None:
    """Cohen's kappa of two raters' labels, (p_o - p_e) / (1 - p_e). ``symmetric`` counts each pair both
    ways round, for raters with no natural first (two humans): both marginals become the pooled one.
    None where it is undefined: no pairs, or one label used throughout (p_e = 1)."""
    if symmetric:
        pairs = [*pairs, *((b, a) for a, b in pairs)]
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def _check_setup(setup: str) -> None:
    if setup not in SETUPS:
        raise ValueError(f"setup must be one of {', '.join(SETUPS)}, got {setup!r}")


def _human_votes_by_key(votes: Iterable[Vote], turn: int, experts_only: bool) -> dict[Key, list[tuple[str, Winner]]]:
    """(judge, oriented winner) of the counted humans' votes on each key, in the votes' order."""
    grouped: dict[Key, list[tuple[str, Winner]]] = {}
    for vote in votes:
        if vote.turn == turn and is_counted_human(vote.judge, experts_only):
            key, winner = vote.oriented()
            grouped.setdefault(key, []).append((vote.judge, winner))
    return grouped


def _summary(pairs: list[tuple[int, str, str]], *, setup: Setup, symmetric: bool, seed: int) -> dict[str, Any]:
    """Agreement, kappa and the question-clustered interval of the compared pairs (S2: tie-free only)."""
    if setup == "S2":
        pairs = [p for p in pairs if p[1] != "tie" and p[2] != "tie"]
    agree = [float(a == b) for _, a, b in pairs]
    ci = cluster_bootstrap_ci(agree, [str(q) for q, _, _ in pairs], seed=seed) if pairs else None
    return {
        "agreement": sum(agree) / len(agree) if agree else None,
        "n_agree": int(sum(agree)),
        "n": len(agree),
        "kappa": cohen_kappa([(a, b) for _, a, b in pairs], symmetric=symmetric),
        "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None,
        "n_questions": len({q for q, _, _ in pairs}),
    }
