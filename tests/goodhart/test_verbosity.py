import re

import pytest

from starling_eval.goodhart.bias import PairJudgment
from starling_eval.goodhart.verbosity import (
    PREAMBLE,
    SIGN_OFF,
    ProbePair,
    listify,
    pad,
    probe_pairs,
    verbosity_shift,
)

CODE = "```python\ndef add(a, b):\n    return a + b  # Done. Really. Sum!\n\n\nprint(add(1, 2))\n```"
ANSWER = f"Use this function. It adds two numbers!\n\n{CODE}\nCall it twice? Then print the result."


def _words(text: str) -> list[str]:
    return text.split()


def test_pad_wraps_the_answer_unchanged():
    padded = pad("  The answer is 42.\n")
    assert padded == f"{PREAMBLE}\n\nThe answer is 42.\n\n{SIGN_OFF}"
    assert pad(ANSWER).count(CODE) == 1


def test_listify_makes_one_bullet_per_sentence():
    answer = 'Paris is the capital of France. It has 2.1 million people! Is it big? Yes, e.g. by European "standards." Mostly.'
    assert listify(answer).splitlines() == [
        "- Paris is the capital of France.",
        "- It has 2.1 million people!",
        "- Is it big?",
        '- Yes, e.g. by European "standards."',
        "- Mostly.",
    ]


def test_listify_leaves_code_blocks_untouched():
    out = listify(ANSWER)
    assert out == ("- Use this function.\n- It adds two numbers!\n\n" + CODE
                   + "\n\n- Call it twice?\n- Then print the result.")


def test_listify_preserves_every_word_and_sentence():
    answer = ("First paragraph here. Second sentence: with a colon!\n\nAnother paragraph, about 3.5 things.\n"
              "A line break inside it? Yes.\n~~~\nraw. Text. Here\n~~~\nEnd.")
    out = listify(answer)
    for sentence in ("First paragraph here.", "Second sentence: with a colon!", "Another paragraph, about 3.5 things.",
                     "A line break inside it?", "Yes.", "End."):
        assert f"- {sentence}\n" in out + "\n"
    assert "\n~~~\nraw. Text. Here\n~~~\n" in out
    without_bullets = re.sub(r"(?m)^- ", "", out)
    assert _words(without_bullets) == _words(answer)


def test_listify_keeps_existing_markdown_structure():
    answer = "# Steps\n1. Boil water.\n- Add salt.\n| a | b |\n> Quoted. Text.\nServe hot. Enjoy."
    assert listify(answer).splitlines() == ["# Steps", "1. Boil water.", "- Add salt.", "| a | b |",
                                            "> Quoted. Text.", "- Serve hot.", "- Enjoy."]


def test_an_unclosed_fence_runs_to_the_end():
    answer = "Look. Here:\n```\ncode. More code.\nStill code."
    assert listify(answer) == "- Look.\n- Here:\n\n```\ncode. More code.\nStill code."


def test_probe_pairs_skip_transforms_that_change_nothing():
    pairs = probe_pairs({"q1": "One. Two.", "q2": CODE + "\n"})
    assert pairs == [
        ProbePair("q1", "pad", "One. Two.", pad("One. Two.")),
        ProbePair("q1", "listify", "One. Two.", "- One.\n- Two."),
        ProbePair("q2", "pad", CODE + "\n", pad(CODE)),
    ]
    assert probe_pairs([("q1", "One. Two.")]) == pairs[:2]


def test_verbosity_shift_counts_ties_as_half():
    def judged(key, ab, ba=None, swapped=True):
        return PairJudgment(key, 10, 30, ab, ba, cluster=key, swapped=swapped)

    results = [
        ("pad", judged("1", "B", "A")),  # transformed (B) wins both orders
        ("pad", judged("2", "B", "A")),
        ("pad", judged("3", "B", "A")),
        ("pad", judged("4", "A", "B")),  # original wins
        ("pad", judged("5", "A", "A")),  # order-inconsistent: a tie
        ("pad", judged("6", None, "A")),  # failed
        ("listify", judged("1", "B", swapped=False)),  # a reward model: one order
        ("listify", judged("2", "A", swapped=False)),
    ]
    shift = verbosity_shift(results)
    assert shift["pad"] == {
        "n": 5, "n_failed": 1, "n_transformed": 3, "n_original": 1, "n_ties": 1,
        "prefers_transformed": pytest.approx(3.5 / 5), "prefers_transformed_ci": shift["pad"]["prefers_transformed_ci"],
    }
    low, high = shift["pad"]["prefers_transformed_ci"]
    assert 0.0 <= low <= 0.7 <= high <= 1.0
    assert shift["listify"]["prefers_transformed"] == 0.5 and shift["listify"]["n"] == 2
    assert verbosity_shift([("pad", judged("1", None, None))])["pad"]["prefers_transformed"] is None
