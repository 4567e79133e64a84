"""How heavy and how fast the item browser pages are, in headless chromium (the system one, driven by Playwright).

Synthetic documents the size of the real thing: AlpacaEval's 805 items in one run (instruction ~300 chars, answer
and reference ~1,500, one judgment ~200), MT-Bench's 160 judgments in each of two runs (the items page with both
runs, and the diff page of the two). Per page: the HTML size, first contentful paint, the time until the list shows
its first rows (``window.__starlingReady``, which the app sets after its first render, from navigation start), and
one search keystroke to the updated count (a real key press; this includes the search box's 150 ms debounce).
Medians of 3 loads, each in a fresh page.

    python benchmarks/bench_report_browser.py
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starling_eval.report.browser_page import render_diff_page, render_items_page  # noqa: E402

LOADS = 3
WORDS = ("the model answer explains a step by step solution with code examples and clear reasoning about edge "
         "cases performance memory python function value list table result user question because however").split()
MT_CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")

# set up before the key press (the last character of the query): resolves with the time from its keydown to the
# frame after the count changed
ARM_KEYSTROKE = """() => {
  const search = document.getElementById('search'), count = document.getElementById('count');
  window.__keystroke = new Promise((resolve) => {
    let t0 = 0;
    search.addEventListener('keydown', () => { t0 = performance.now(); }, {once: true});
    new MutationObserver((_, observer) => {
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - t0));
    }).observe(count, {childList: true, characterData: true, subtree: true});
  });
}"""


def text(rng: random.Random, chars: int) -> str:
    words = []
    while sum(map(len, words)) + len(words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def alpacaeval(rng: random.Random) -> dict:
    items = []
    for i in range(805):
        preference = rng.choice((1.0, 2.0, 1.5)) if i % 50 else None
        verdict = {1.0: "loss", 2.0: "win", 1.5: "tie", None: "failed"}[preference]
        answer = text(rng, 1500) + (f" quokka{i % 2}" if i % 7 == 0 else "")  # what the search looks for
        failure = None if preference else "unparsable: no logprobs"
        category = rng.choice(("helpful_base", "koala", "oasst", "selfinstruct", "vicuna"))
        items.append({"key": f"{i:08x}", "run": 0, "category": category, "title": text(rng, 60),
                      "turns": [text(rng, 300)], "answers": [{"label": "SmolLM2", "turns": [answer]}],
                      "reference": [text(rng, 1500)],
                      "judgments": [{"label": "weighted_alpaca_eval_gpt4_turbo", "text": text(rng, 200),
                                     "verdict": verdict, "failure": failure}],
                      "verdict": verdict, "value": None if preference is None else (preference - 1) * 100,
                      "failed": preference is None, "failure": failure, "inconsistent": False, "length": len(answer)})
    run = {"id": "20261202-alpacaeval-smol", "benchmark": "alpacaeval", "mode": "alpacaeval", "model": "SmolLM2",
           "judge": "gpt-4-turbo", "label": "alpacaeval \u00b7 SmolLM2"}
    return {"runs": [run], "items": items}


def mtbench_run(rng: random.Random, run: int) -> list[dict]:
    items = []
    for q in range(80):
        turns = [text(rng, 250), text(rng, 150)]
        answers = [text(rng, 900), text(rng, 700)]
        for turn in (1, 2):
            score = rng.randint(1, 10)
            items.append({"key": f"{81 + q}|{turn}", "run": run, "category": MT_CATEGORIES[q // 10],
                          "title": f"question {81 + q} \u00b7 turn {turn}", "turns": turns,
                          "answers": [{"label": f"ckpt-{run}", "turns": answers}],
                          "reference": [text(rng, 300), text(rng, 200)] if q // 10 in (2, 3, 4) else None,
                          "judgments": [{"label": "single", "text": text(rng, 1000) + f" Rating: [[{score}]]"
                                         + (f" quokka{q % 2}" if q % 5 == 0 else ""),
                                         "verdict": str(score), "failure": None}],
                          "verdict": str(score), "value": float(score), "failed": False, "failure": None,
                          "inconsistent": False, "length": len(answers[0]) + len(answers[1])})
    return items


def mtbench(rng: random.Random) -> tuple[dict, dict]:
    runs = [{"id": f"20261202-mtbench-ckpt{k}", "benchmark": "mtbench", "mode": "single", "model": f"ckpt-{k}",
             "judge": "gpt-4", "label": f"mtbench \u00b7 ckpt-{k} \u00b7 gpt-4"} for k in (0, 1)]
    a, b = mtbench_run(rng, 0), mtbench_run(rng, 1)
    side = ("answers", "judgments", "verdict", "value", "failed", "failure", "length")
    pairs = [{"key": x["key"], "category": x["category"], "title": x["title"], "turns": x["turns"],
              "delta": y["value"] - x["value"], "flipped": (x["value"] >= 6) != (y["value"] >= 6),
              "a": {k: x[k] for k in side}, "b": {k: y[k] for k in side}} for x, y in zip(a, b, strict=True)]
    pairs.sort(key=lambda p: (not p["flipped"], -abs(p["delta"])))
    mean = statistics.fmean
    cats = [{"category": c, "a": mean(x["value"] for x in a if x["category"] == c),
             "b": mean(y["value"] for y in b if y["category"] == c), "n": 20} for c in MT_CATEGORIES]
    for c in cats:
        c["delta"] = c["b"] - c["a"]
    sa, sb = mean(x["value"] for x in a), mean(y["value"] for y in b)
    la, lb = mean(x["length"] for x in a), mean(y["length"] for y in b)
    diff = {"runs": runs, "summary": {"metric": "mtbench.overall", "unit": "score", "a": sa, "b": sb, "delta": sb - sa,
                                      "ci95": [sb - sa - 0.4, sb - sa + 0.4], "n": 160, "n_clusters": 80,
                                      "method": "paired bootstrap", "verdict": "pass", "note": "synthetic"},
            "categories": cats, "length": {"a_mean": la, "b_mean": lb, "delta": lb - la},
            "pairs": pairs}
    return {"runs": runs, "items": a + b}, diff


def measure(browser, path: Path, prefix: str) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.__starlingReady > 0 && "
                           "performance.getEntriesByType('paint').some(e => e.name === 'first-contentful-paint')")
    fcp = page.evaluate("() => performance.getEntriesByType('paint')"
                        ".find(e => e.name === 'first-contentful-paint').startTime")
    ready = page.evaluate("() => window.__starlingReady")
    page.wait_for_timeout(300)  # a person reads the page before typing; the search index builds when idle
    page.fill("#search", prefix[:-1])
    page.wait_for_timeout(300)
    page.focus("#search")
    page.evaluate(ARM_KEYSTROKE)
    page.keyboard.press(prefix[-1])
    keystroke = page.evaluate("() => window.__keystroke")
    count = page.inner_text("#count")
    page.close()
    if errors:
        raise SystemExit(f"{path.name}: page errors {errors}")
    return {"fcp": fcp, "ready": ready, "keystroke": keystroke, "count": count}


def main() -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    rng = random.Random(0)
    started = time.perf_counter()
    items_mt, diff_mt = mtbench(rng)
    pages = [("AlpacaEval items (805, 1 run)", render_items_page(alpacaeval(rng), title="AlpacaEval items"), "quokka1"),
             ("MT-Bench items (160 x 2 runs)", render_items_page(items_mt, title="MT-Bench items"), "quokka1"),
             ("MT-Bench diff (160 pairs)", render_diff_page(diff_mt, title="MT-Bench diff"), "quokka1"),
             ("baseline: an empty items page", render_items_page({"runs": [], "items": []}, title="empty"), "quokka1")]
    print(f"chromium {chromium}; median of {LOADS} loads; keystroke includes the 150 ms debounce")
    print(f"{'page':32} {'HTML KB':>8} {'FCP ms':>8} {'rows ms':>8} {'key ms':>8}  count after the key")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, html_text, query in pages:
            path = Path(tmp) / (name.split(" (")[0].replace(" ", "-") + ".html")
            path.write_text(html_text, encoding="utf-8")
            runs = [measure(browser, path, query) for _ in range(LOADS)]
            med = {k: statistics.median(r[k] for r in runs) for k in ("fcp", "ready", "keystroke")}
            print(f"{name:32} {len(html_text.encode()) / 1024:8.0f} {med['fcp']:8.0f} {med['ready']:8.0f} "
                  f"{med['keystroke']:8.0f}  {runs[-1]['count']}")
        browser.close()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
