"""Arena-Hard-Auto scoring against arena-hard-auto's own code (``shared/reference/arena-hard-auto``).

The judgments are made up here, in the upstream file layout, with planted effects: model-x beats the baseline
about 70% of the time, model-y about 40%, and model-z's answers are longer and heavier in markdown than the
baseline's, with a judge that likes length and markdown, so its plain score is inflated and style control must
take it down. Some verdicts are strong, every verdict spelling upstream accepts occurs, and some judgments have
a missing game or verdict. Upstream's ``show_result`` functions run on the same files (its ``print_*`` functions
print, so their results are taken from the calls they make); both sides draw from the same seed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from starling_eval.adapters.arena_hard import score, style
from starling_eval.data import DataDir, DataError
from tests.adapters.arena_hard.conftest import in_folder

# shared/ holds data/ (the benchmark data) and reference/ (upstream code that tests run beside ours)
DATA = Path(os.environ.get("STARLING_EVAL_DATA") or Path(__file__).resolve().parents[4] / "shared" / "data")
REFERENCE = DATA.parent / "reference" / "arena-hard-auto"
BASELINE = "o3-mini-2025-01-31"  # upstream's baseline for its hard_prompt category
CATEGORY = "hard_prompt"
BENCH, JUDGE = "bench", "judge-1"
MODELS = {"org/model-x": 0.85, "model-y": -0.4, "model-z": 0.0}  # quality against the baseline (logit)
N_QUESTIONS = 90
SEED = 11


def _words(rng, n):
    return " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "<|endoftext|>", "naïve", "42"], size=n))


def _answer(rng, length, markdown):
    """An answer of about ``length`` words with ``markdown`` headers/lists/bold spans and a code block."""
    parts = []
    for i in range(markdown):
        parts += [f"{'#' * (1 + i % 3)} Part {i}", f"- {_words(rng, 3)}", f"{i + 1}. **{_words(rng, 2)}**"]
    parts += [_words(rng, length), "```python\n# not a header\n- not a list\n```", "__under__ done"]
    return "\n".join(parts)


def _verdict(rng, model_wins, model_is_a):
    """A verdict string for one game, from the model's probability of winning; random among the spellings."""
    draw = rng.random()
    outcome = "strong_win" if draw < model_wins * 0.3 else "win" if draw < model_wins * 0.9 else \
        "tie" if draw < model_wins * 0.9 + 0.1 else "loss" if rng.random() < 0.7 else "strong_loss"
    if outcome == "tie":
        return str(rng.choice(["A=B", "B=A"]))
    model_won = outcome in ("strong_win", "win")
    a_won = model_won == model_is_a
    strong = outcome.startswith("strong")
    spellings = {(True, False): ["A>B", "B<A"], (True, True): ["A>>B", "B<<A"],
                 (False, False): ["B>A", "A<B"], (False, True): ["B>>A", "A<<B"]}
    return str(rng.choice(spellings[a_won, strong]))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Answers and judgments in upstream's layout under ``root/data/bench/``."""
    rng = np.random.RandomState(SEED)
    root = tmp_path_factory.mktemp("arena")
    bench = root / "data" / BENCH
    (bench / "model_answer").mkdir(parents=True)
    (bench / "model_judgment" / JUDGE).mkdir(parents=True)
    uids = [f"q{i:03d}" for i in range(N_QUESTIONS)]
    style_of = {BASELINE: (60, 2), "org/model-x": (60, 2), "model-y": (50, 1), "model-z": (180, 6)}
    answers = {m: {u: _answer(rng, int(rng.randint(s[0] // 2, s[0] * 2)), int(rng.randint(0, s[1] + 2)))
                   for u in uids} for m, s in style_of.items()}
    rows = []
    for model, quality in MODELS.items():
        for i, uid in enumerate(uids):
            mine, theirs = answers[model][uid], answers[BASELINE][uid]
            bias = 1.2 * np.log(len(mine) / len(theirs)) + 0.2 * (mine.count("**") - theirs.count("**"))
            p = 1 / (1 + np.exp(-(quality + bias)))
            games = [{"score": _verdict(rng, p, False), "judgment": "..."},
                     {"score": _verdict(rng, p, True), "judgment": "..."}]
            if i % 29 == 3:
                games[i % 2] = None
            elif i % 31 == 5:
                games[1 - i % 2]["score"] = None
            rows.append({"uid": uid, "category": CATEGORY, "judge": JUDGE, "model": model, "games": games})
    for model in MODELS:
        path = bench / "model_judgment" / JUDGE / f"{model.split('/')[-1]}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["model"] == model), encoding="utf-8")
    return {"root": root, "bench": bench, "answers": answers, "uids": uids,
            "rows": score.read_judgment_dir(bench / "model_judgment" / JUDGE)}


def _reference_battles(ref, world, weight=3):
    out = io.StringIO()
    with in_folder(world["root"]), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        frame = ref["show"].load_judgments([JUDGE], BENCH, weight=weight)
    nulls = int(re.search(r"Number of null judgments found: (\d+)", out.getvalue()).group(1))
    return frame, nulls


def _spy(monkeypatch, module, name):
    """Record each call's arguments and result of ``module.name``."""
    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(module, name, spy)
    return calls


def _whitespace_encoder():
    class Words:
        def encode(self, text, disallowed_special=()):
            return text.split()
    return Words()


def _encoder_or_skip():
    try:
        return style.o200k_encoding()
    except DataError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny float32 fits run ~10x faster on one thread on a busy 2-core machine; both sides share the setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("weight", [3, 1])
def test_battles_and_null_count_equal_upstream_load_judgments(ref, world, weight):
    ours, nulls = score.battles(world["rows"], weight=weight)
    theirs, their_nulls = _reference_battles(ref, world, weight)
    assert nulls == their_nulls == 18  # 6 per model
    assert ours[["uid", "model", "category"]].equals(theirs[["uid", "model", "category"]])
    assert ours["scores"].tolist() == theirs["scores"].astype(float).tolist()
    # strong verdicts are repeated `weight` times: more battles than two per judged row when weight > 1
    judged = len(world["rows"]) - nulls
    assert (len(ours) > 2 * judged) == (weight > 1) and len(ours) >= 2 * judged


def _assert_same_leaderboard(board: score.Leaderboard, frames: tuple, their_table) -> Any:
    """Our unrounded score and interval equal upstream's (center, lower, upper frames, as format_confidence_interval
    received them) to 1e-12, and the printed tables are equal; returns our table indexed by model."""
    center, lower, upper = frames
    ours = board.table.set_index("Model")
    raw = center.merge(lower, on="model").merge(upper, on="model").set_index("model")
    for model, row in raw.iterrows():
        assert ours.loc[model, ["score", "lower", "upper"]].tolist() == pytest.approx(
            [row["scores"], row["lower"], row["upper"]], abs=1e-12)
    assert board.table[["Model", "Scores (%)", "CI (%)"]].equals(their_table[["Model", "Scores (%)", "CI (%)"]])
    return ours


def test_plain_leaderboard_equals_show_result(ref, world, monkeypatch):
    theirs_battles, _ = _reference_battles(ref, world)
    calls = _spy(monkeypatch, ref["show"], "format_confidence_interval")
    np.random.seed(SEED)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ref["show"].print_leaderboard(theirs_battles, CATEGORY)
    (mean, lower, upper, _), _, their_table = calls[0]
    board = score.leaderboard(world["rows"], BASELINE, rounds=100, seed=SEED)
    ours = _assert_same_leaderboard(board, (mean, lower, upper), their_table)
    assert board.null_judgments == 18
    # the planted preferences: model-x well above the baseline, model-y below it
    assert ours.loc["model-x", "score"] > 0.6 and ours.loc["model-y", "score"] < 0.45
    assert ours.loc[BASELINE, "CI (%)"] == "(-0.0 / +0.0)"
    assert ours.loc["model-x", "lower"] < ours.loc["model-x", "score"] < ours.loc["model-x", "upper"]


def test_bradley_terry_fit_bootstrap_and_winrates_equal_math_utils(ref, world):
    math_utils = ref["math"]
    frame, _ = score.battles(world["rows"])
    models = [score.display_name(m) for m in frame["model"]]
    ours_x, ours_names = score.one_hot(models, BASELINE)
    their_x, their_names = math_utils.one_hot_encode(models, baseline=BASELINE)
    assert ours_names == their_names and torch.equal(ours_x, their_x)
    outcomes = torch.tensor(frame["scores"].tolist())
    single, _ = math_utils.fit_pairwise_model(their_x, outcomes, loss_type="bt")
    assert torch.equal(score.fit_bt(ours_x, outcomes), single)
    np.random.seed(SEED)
    with contextlib.redirect_stderr(io.StringIO()):
        their_coefs, _ = math_utils.bootstrap_pairwise_model(their_x, outcomes, loss_type="bt", num_round=20)
    ours_coefs = score.bootstrap_bt(ours_x, outcomes, rounds=20, seed=SEED)
    assert torch.equal(ours_coefs, their_coefs)
    probs = score.to_winrate_probabilities(ours_coefs, ours_names, BASELINE)
    assert torch.equal(probs, math_utils.to_winrate_probabilities(their_coefs, their_names, baseline_model=BASELINE))
    # without style features, BT against one baseline gives back each model's mean score (to within what
    # upstream's 50 float32 L-BFGS iterations reach)
    means = frame.assign(model=models).groupby("model")["scores"].mean()
    fitted = score.to_winrate_probabilities(single.unsqueeze(0), ours_names, BASELINE)[0]
    for name, p in zip(ours_names, fitted.tolist(), strict=True):
        assert p == pytest.approx(0.5 if name == BASELINE else means[name], abs=2e-3)
    assert not torch.equal(ours_coefs[0], ours_coefs[1])  # the resamples differ


def _write_answers(world, encoder, ref):
    """model_answer files with metadata computed by upstream's add_markdown_info (and the given encoder)."""
    markdown = ref["markdown"]
    for model, by_uid in world["answers"].items():
        data = pd.DataFrame({"uid": list(by_uid), "model": model,
                             "messages": [[{"role": "user", "content": "q"},
                                           {"role": "assistant", "content": {"answer": a}}] for a in by_uid.values()]})
        temp = data[["uid", "messages"]].copy()
        temp["markdown_meta"] = markdown.get_element_counts(data, column="messages")
        data["metadata"] = temp.apply(lambda row: markdown.add_markdown_meta(row, encoder), axis=1)
        data.to_json(world["bench"] / "model_answer" / f"{model.split('/')[-1]}.jsonl", orient="records", lines=True)


def test_style_controlled_leaderboard_equals_show_result(ref, world, monkeypatch):
    # the token counter only has to be the same on both sides here; o200k parity is tested below
    encoder = _whitespace_encoder()
    _write_answers(world, encoder, ref)
    theirs_battles, _ = _reference_battles(ref, world)
    math_utils = ref["math"]
    boots = []

    def twenty_rounds(*args, **kwargs):
        boots.append(math_utils.bootstrap_pairwise_model(*args, num_round=20, **kwargs))
        return boots[-1]

    monkeypatch.setattr(ref["show"], "bootstrap_pairwise_model", twenty_rounds)
    calls = _spy(monkeypatch, ref["show"], "format_confidence_interval")
    np.random.seed(SEED)
    printed = io.StringIO()
    with in_folder(world["root"]), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        ref["show"].print_leaderboard_with_style_features(theirs_battles, BENCH, CATEGORY, ["length", "markdown"])
    (median, lower, upper), _, their_table = calls[0]

    metadata = style.answers_metadata(world["bench"] / "model_answer")
    for model, by_uid in world["answers"].items():  # our metadata equals upstream's for the same counter
        assert all(style.answer_metadata(a, encoder) == metadata[model][u] for u, a in by_uid.items())
    board = score.leaderboard(world["rows"], BASELINE, style_control=True, answers_metadata=metadata,
                              rounds=20, seed=SEED)
    ours = _assert_same_leaderboard(board, (median, lower, upper), their_table)
    their_coefs = torch.quantile(boots[0][0][:, -4:], 0.5, axis=0).tolist()
    assert list(board.style_coefficients.values()) == their_coefs

    # the planted style effect: the judge rewards length, and model-z's lead is mostly style
    plain = score.leaderboard(world["rows"], BASELINE, rounds=100, seed=SEED).table.set_index("Model")
    assert board.style_coefficients["token_len"] > 0.1
    assert ours.loc["model-z", "score"] < plain.loc["model-z", "score"] - 0.05
    assert ours.loc[BASELINE, "score"] == 0.5


def test_token_lengths_and_markdown_equal_upstream_with_o200k(ref, world):
    encoder = _encoder_or_skip()
    markdown = ref["markdown"]
    texts = [a for by_uid in world["answers"].values() for a in list(by_uid.values())[:10]]
    texts += ["", "# h1\n## h2\n  * item\n+ x\n12. twelve\n**bold** and __under__", "```\n# in code\n``` # in code"]
    for text in texts:
        row = {"messages": [{"content": {"answer": text}}]}
        frame = pd.DataFrame({"messages": [row["messages"]]})
        upstream = markdown.add_markdown_meta(
            {"messages": row["messages"], "markdown_meta": markdown.get_element_counts(frame, "messages")[0]}, encoder)
        assert style.answer_metadata(text, encoder) == upstream
    assert style.token_length("<|endoftext|>", encoder) > 1  # special-token text counted as text


def test_metadata_equals_upstream_stored_metadata_for_the_o3_mini_answers():
    encoder = _encoder_or_skip()
    path = DATA / "arena_hard" / "arena-hard-v2.0" / "model_answer" / "o3-mini-2025-01-31.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    assert len(rows) == 750
    for row in rows:
        mine = style.answer_metadata(style.answer_text(row), encoder)
        assert mine == row["metadata"] and list(mine) == list(row["metadata"]), row["uid"]


def test_o200k_file_missing_or_altered_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setattr(style, "_cached_copy", lambda: None)
    with pytest.raises(DataError, match=re.escape(str(tmp_path / style.O200K_DATA_PATH))):
        style.o200k_path(DataDir(tmp_path))
    target = tmp_path / style.O200K_DATA_PATH
    target.parent.mkdir(parents=True)
    target.write_bytes(b"YQ== 0\n")
    with pytest.raises(DataError, match="corrupt tokenizer file"):
        style.o200k_path(DataDir(tmp_path))
    assert style.read_ranks(target) == {b"a": 0}
    target.write_bytes(b"not a ranks line\n")
    with pytest.raises(DataError, match="line 1"):
        style.read_ranks(target)


def test_o200k_from_the_data_directory_is_tiktokens_encoding(tmp_path, monkeypatch):
    encoder = _encoder_or_skip()
    copy = tmp_path / style.O200K_DATA_PATH
    copy.parent.mkdir(parents=True)
    copy.write_bytes(Path(style.o200k_path()).read_bytes())
    monkeypatch.setattr(style, "_cached_copy", lambda: None)
    assert style.o200k_path(DataDir(tmp_path)) == copy
    from_data_dir = style.o200k_encoding(DataDir(tmp_path))
    assert from_data_dir.name == "o200k_base" and from_data_dir.n_vocab == encoder.n_vocab == 200019
    assert from_data_dir.encode("Hello, world!") == [13225, 11, 2375, 0]


def test_bad_input_is_named(tmp_path, world):
    row = {"uid": "u1", "model": "m", "category": CATEGORY, "games": [{"score": "A>B"}, {"score": "A>>>B"}]}
    with pytest.raises(DataError, match="unknown verdict 'A>>>B'"):
        score.battles([row])
    with pytest.raises(DataError, match="pair of games"):
        score.battles([{**row, "games": [{"score": "A>B"}]}])
    with pytest.raises(DataError, match="no such judgment folder"):
        score.read_judgment_dir(tmp_path / "nowhere")
    (tmp_path / "a.jsonl").write_text('{"uid": "u", "model": "m", "games": []}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.jsonl line 2"):
        score.read_judgment_dir(tmp_path)
    with pytest.raises(DataError, match="no style metadata for 'org/model-x' answer 'q000'"):
        score.leaderboard(world["rows"], BASELINE, style_control=True, answers_metadata={BASELINE: {}}, rounds=2)
    with pytest.raises(DataError, match="no judged battles"):
        score.leaderboard(world["rows"], BASELINE, category="coding")


def test_stored_metadata_is_used_and_missing_metadata_is_computed(tmp_path):
    rows = [{"uid": "a", "model": "m", "messages": [{"content": {"answer": "# T\n- x"}}],
             "metadata": {"token_len": 99, "header_count": {"h1": 5}, "list_count": {}, "bold_count": {}}},
            {"uid": "b", "model": "m", "messages": [{"content": {"answer": "# T\n- x"}}]}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    found = style.answers_metadata(tmp_path, encoding=_whitespace_encoder())
    assert found["m"]["a"]["token_len"] == 99
    assert found["m"]["b"] == {"token_len": 4, "header_count": {"h1": 1, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
                               "list_count": {"ordered": 0, "unordered": 1}, "bold_count": {"**": 0, "__": 0}}


def test_seed_changes_the_interval_not_the_plain_estimate_much(world):
    one = score.leaderboard(world["rows"], BASELINE, rounds=50, seed=1).table.set_index("Model")
    two = score.leaderboard(world["rows"], BASELINE, rounds=50, seed=2).table.set_index("Model")
    assert one.loc["model-x", "lower"] != two.loc["model-x", "lower"]
    assert one.loc["model-x", "score"] == pytest.approx(two.loc["model-x", "score"], abs=0.03)
    again = score.leaderboard(world["rows"], BASELINE, rounds=50, seed=1).table
    assert again.equals(one.reset_index()[again.columns])
    assert score.leaderboard(world["rows"], BASELINE, rounds=5).battles == len(score.battles(world["rows"])[0])
