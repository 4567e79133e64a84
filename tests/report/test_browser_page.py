"""The item browser and checkpoint diff pages in a real headless chromium, driven the way a person uses them:
filter, search, sort, scroll for more, expand an item and read the judge's full text, swap the two checkpoints.
And that no payload in an answer, a judge text, a model name, a category, a question or the title ever runs:
the page's one script is allowed by its hash, the data is JSON that cannot close its element, text goes in as text."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re

from starling_eval.report.browser_assets import APP_JS
from starling_eval.report.browser_page import CSP, csp, items_section, render_diff_page, render_items_page

CATEGORIES = ("writing", "math", "coding")
NEEDLE = "Zebra-Needle"
PAYLOADS = ("<img src=x onerror=\"window.__pwned=1;document.title='PWNED'\">",
            "</script><script>window.__pwned=2;document.title='PWNED'</script>",
            "\"><svg onload=\"window.__pwned=3\">", "<!-- \u2028 & &amp; ]]>")
EVIL = " ".join(PAYLOADS)
TITLE = "browser " + EVIL


def judge_text(i: int) -> str:
    """Long on purpose: the expanded item must show all of it, not a preview."""
    return f"[[START {i}]] " + "The answer is relevant and mostly accurate. " * 50 + f"Rating: [[{i % 10}]] [[END {i}]]"


def mt_items(n: int, *, runs: int = 1, evil: str = "") -> dict:
    """n MT-Bench-like pairwise items (question, turn) across 3 categories; some failed, some position-inconsistent,
    every 13th answer with NEEDLE in it. ``evil`` goes into every kind of text the page shows."""
    items = []
    for i in range(n):
        failed, inconsistent = i % 11 == 3, i % 11 != 3 and i % 6 == 1
        verdict = "failed" if failed else "tie" if inconsistent else ("win", "loss", "tie")[(i // 3) % 3]
        answer = [f"answer {i} turn 1 " + "words " * (i % 40) + (NEEDLE if i % 13 == 0 else "") + evil,
                  f"answer {i} turn 2"]
        items.append({
            "key": f"{81 + i // 2}|{i % 2 + 1}", "run": i % runs, "category": CATEGORIES[i % 3] + evil,
            "title": f"question {81 + i // 2} \u00b7 turn {i % 2 + 1}" + evil,
            "turns": [f"user turn 1 of {i}" + evil, "user turn 2"],
            "answers": [{"label": "SmolLM2" + evil, "turns": answer},
                        {"label": "gpt-3.5-turbo (baseline)", "turns": [f"baseline {i}", "baseline 2"]}],
            "reference": [f"reference {i}" + evil, "reference 2"] if i % 3 == 1 else None,
            "judgments": [{"label": "game 1: SmolLM2 shown first", "text": judge_text(i) + evil,
                           "verdict": None if failed else verdict,
                           "failure": "unparsable: no [[A]]" if failed else None},
                          {"label": "game 2: SmolLM2 shown second", "text": f"second game {i}", "verdict": "win",
                           "failure": None}],
            "verdict": verdict, "value": None if failed else {"win": 100.0, "tie": 50.0, "loss": 0.0}[verdict],
            "failed": failed, "failure": "unparsable: no [[A]]" + evil if failed else None,
            "inconsistent": inconsistent, "length": sum(map(len, answer))})
    run_list = [{"id": f"20261202-mtbench-{k}", "benchmark": "mtbench", "mode": "pairwise-baseline",
                 "model": "SmolLM2" + evil, "judge": "gpt-4", "label": f"mtbench \u00b7 ckpt{k}{evil} \u00b7 gpt-4"}
                for k in range(runs)]
    return {"runs": run_list, "items": items}


def diff_doc(n: int, *, evil: str = "") -> dict:
    """Checkpoint A vs B over n MT-Bench-like single-graded items, pairs sorted flipped first then by |delta|."""
    pairs = []
    for i in range(n):
        a, b = float(1 + i % 10), float(1 + (i * 7) % 10)
        side = {k: {"answers": [{"label": f"ckpt-{k}", "turns": [f"{k} answer {i}" + evil]}],
                    "judgments": [{"label": "single", "text": f"{k} judge {i} " + judge_text(i) + evil,
                                   "verdict": str(int(v)), "failure": None}],
                    "verdict": str(int(v)), "value": v, "failed": False, "failure": None, "length": 100 + i}
                for k, v in (("a", a), ("b", b))}
        pairs.append({"key": f"{81 + i}|1", "category": CATEGORIES[i % 3] + evil, "title": f"question {81 + i}" + evil,
                      "turns": [f"question text {i}" + evil], "delta": b - a, "flipped": (a >= 6) != (b >= 6), **side})
    pairs.sort(key=lambda p: (not p["flipped"], -abs(p["delta"])))
    cats = [{"category": c + evil, "a": 6.0 - k, "b": 6.5 - 2 * k, "delta": 0.5 - k, "n": 20}
            for k, c in enumerate(CATEGORIES)]
    runs = [{"id": f"2026-{x}", "benchmark": "mtbench", "mode": "single", "model": f"ckpt-{x}" + evil, "judge": "gpt-4",
             "label": f"ckpt-{x}" + evil} for x in ("a", "b")]
    summary = {"metric": "mtbench.overall", "unit": "score", "a": 6.1, "b": 6.5, "delta": 0.4, "ci95": [0.1, 0.7],
               "n": 160, "n_clusters": 80, "method": "paired bootstrap", "verdict": "pass", "note": "note" + evil}
    return {"runs": runs, "summary": summary, "categories": cats, "length": {"a_mean": 812.0, "b_mean": 950.0,
                                                                             "delta": 138.0}, "pairs": pairs}


def expect_count(page, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#count")).to_have_text(text, timeout=5_000)


def keys(page) -> list[str]:
    return page.eval_on_selector_all("#list > .item", "rows => rows.map(r => r.dataset.key)")


def category_deltas(page) -> list[str]:
    return page.eval_on_selector_all("#categories tr[data-category] td:nth-child(4)", "ts => ts.map(t => t.innerText)")


def test_items_page_counts_scrolls_filters_and_sorts(open_page):
    doc = mt_items(450)
    items = doc["items"]
    page, errors = open_page(render_items_page(doc, title="MT-Bench items"))
    expect_count(page, "450 of 450 items")
    assert page.locator("#list > .item").count() == 200  # the first chunk only
    assert page.query_selector("#filter-run") is None  # one run: no run filter
    page.locator("#more").dispatch_event("click")  # the keyboard's way to more (not scrolled to: no observer race)
    assert page.locator("#list > .item").count() == 400
    page.locator("#sentinel").scroll_into_view_if_needed()  # the scrolling reader's way
    page.wait_for_function("() => document.querySelectorAll('#list > .item').length === 450")
    assert page.locator("#more").is_hidden()
    page.evaluate("window.scrollTo(0, 0)")

    math = [it for it in items if it["category"] == "math"]
    page.select_option("#filter-category", label="math")
    expect_count(page, f"{len(math)} of 450 items")
    assert set(page.eval_on_selector_all("#list .cat", "xs => xs.map(x => x.textContent)")) == {"math"}
    page.select_option("#filter-verdict", label="loss")
    expect_count(page, f"{sum(it['verdict'] == 'loss' for it in math)} of 450 items")
    page.select_option("#filter-verdict", label="all")
    page.select_option("#filter-category", label="all")

    failed = [it["key"] for it in items if it["failed"]]
    page.check("#filter-failed")
    expect_count(page, f"{len(failed)} of 450 items")
    assert keys(page) == failed and page.locator("#list > .item.failed .v-failed").count() == len(failed)
    page.uncheck("#filter-failed")
    inconsistent = [it["key"] for it in items if it["inconsistent"]]
    page.check("#filter-inconsistent")
    expect_count(page, f"{len(inconsistent)} of 450 items")
    assert keys(page) == inconsistent
    page.uncheck("#filter-inconsistent")
    expect_count(page, "450 of 450 items")

    page.select_option("#sort", "value-desc")
    order = sorted(range(450), key=lambda i: (items[i]["value"] is None, -(items[i]["value"] or 0), i))
    page.wait_for_function(f"() => document.querySelector('#list > .item').dataset.index === '{order[0]}'")
    assert page.eval_on_selector_all("#list > .item", "rs => rs.map(r => +r.dataset.index)") == order[:200]
    page.select_option("#sort", "length")
    longest = max(range(450), key=lambda i: (items[i]["length"], -i))
    page.wait_for_function(f"() => document.querySelector('#list > .item').dataset.index === '{longest}'")
    assert errors == []


def test_items_search_and_expand_show_the_full_judge_text(open_page):
    doc = mt_items(300)
    items = doc["items"]
    page, errors = open_page(render_items_page(doc, title="MT-Bench items", head_html="<p id='lb'>leaderboard</p>"))
    assert page.inner_text("#lb") == "leaderboard"  # the caller's trusted markup, above the browser
    page.locator("#search").press_sequentially(NEEDLE.upper())  # case-insensitive, typed key by key
    needles = [it["key"] for it in items if NEEDLE in it["answers"][0]["turns"][0]]
    expect_count(page, f"{len(needles)} of 300 items")
    assert keys(page) == needles
    page.fill("#search", "[[end 17]]")  # only in one judge text
    expect_count(page, "1 of 300 items")
    page.fill("#search", "")
    expect_count(page, "300 of 300 items")

    row = page.locator("#list > .item").nth(3)
    assert row.locator(".item-body").count() == 0  # built on first expansion, not before
    row.locator(".item-head").click()
    assert "expanded" in row.get_attribute("class")
    assert row.locator(".item-head").get_attribute("aria-expanded") == "true"
    texts = row.locator(".judgment-text").all_text_contents()
    assert texts == [judge_text(3), "second game 3"]  # the whole text, every judgment
    body = row.locator(".item-body").inner_text()
    for part in ("user turn 1 of 3", "user turn 2", "answer 3 turn 1", "baseline 3", "game 2: SmolLM2 shown second",
                 "unparsable: no [[A]]"):
        assert part in body
    page.locator("#list > .item").nth(4).locator(".item-head").click()
    references = page.locator("#list > .item").nth(4).locator(".reference").all_inner_texts()
    assert references == ["reference 4", "reference 2"]
    assert row.locator(".judgment-text").first.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"

    head = page.locator("#list > .item").nth(5).locator(".item-head")
    head.focus()
    page.keyboard.press("Enter")
    assert head.get_attribute("aria-expanded") == "true" and page.locator(".item.expanded").count() == 3
    page.keyboard.press("Space")
    assert head.get_attribute("aria-expanded") == "false" and page.locator(".item.expanded").count() == 2
    assert errors == []


def test_items_page_with_two_runs_filters_by_run(open_page):
    doc = mt_items(120, runs=2)
    page, errors = open_page(render_items_page(doc, title="two runs"))
    assert page.eval_on_selector_all("#filter-run option", "os => os.map(o => o.text)") == [
        "all runs", "mtbench \u00b7 ckpt0 \u00b7 gpt-4", "mtbench \u00b7 ckpt1 \u00b7 gpt-4"]
    page.select_option("#filter-run", label="mtbench \u00b7 ckpt1 \u00b7 gpt-4")
    expect_count(page, "60 of 120 items")
    assert set(page.eval_on_selector_all("#list .run", "xs => xs.map(x => x.textContent)")) == {
        "mtbench \u00b7 ckpt1 \u00b7 gpt-4"}
    assert errors == []


def test_diff_page_summary_order_swap_and_filters(open_page):
    doc = diff_doc(90)
    pairs = doc["pairs"]
    page, errors = open_page(render_diff_page(doc, title="A vs B"))
    text = {k: page.inner_text(f"#summary-{k}") for k in ("runs", "a", "b", "delta", "ci", "n", "clusters", "verdict")}
    assert text == {"runs": "ckpt-a \u2192 ckpt-b", "a": "6.10", "b": "6.50", "delta": "+0.40", "ci": "[+0.10, +0.70]",
                    "n": "160", "clusters": "80", "verdict": "pass"}
    assert category_deltas(page) == ["+0.50", "-0.50", "-1.50"]
    widths = page.eval_on_selector_all("#categories .catbar span", "ss => ss.map(s => s.style.width)")
    assert widths[2] == "50%" and widths[0] == widths[1] and "+138" in page.inner_text("#length")
    expect_count(page, "90 of 90 pairs")
    flipped = [p["key"] for p in pairs if p["flipped"]]
    assert keys(page) == [p["key"] for p in pairs]  # as given: flipped first, then |delta|
    assert page.locator("#list > .item").nth(len(flipped) - 1).get_attribute("class") == "item pair flipped"
    assert "flipped" not in page.locator("#list > .item").nth(len(flipped)).get_attribute("class")
    first = page.locator("#list > .item").first
    assert first.locator(".delta").inner_text() == f"{pairs[0]['delta']:+.2f}"

    first.locator(".item-head").click()
    sides = first.locator(".side")
    assert [sides.nth(k).get_attribute("data-side") for k in (0, 1)] == ["a", "b"]
    assert sides.nth(0).locator(".judgment-text").inner_text().startswith("a judge")
    page.click("#swap")
    assert page.inner_text("#summary-runs") == "ckpt-b \u2192 ckpt-a"
    assert (page.inner_text("#summary-a"), page.inner_text("#summary-delta"), page.inner_text("#summary-ci")) == (
        "6.50", "-0.40", "[-0.70, -0.10]")
    assert category_deltas(page) == ["-0.50", "+0.50", "+1.50"]
    first = page.locator("#list > .item").first
    assert first.locator(".delta").inner_text() == f"{-pairs[0]['delta']:+.2f}"
    assert "expanded" in first.get_attribute("class")  # still open, its columns rebuilt
    assert [first.locator(".side").nth(k).get_attribute("data-side") for k in (0, 1)] == ["b", "a"]
    i0 = int(pairs[0]["key"].split("|")[0]) - 81
    assert first.locator(".side").nth(0).locator(".judgment-text").inner_text() == f"b judge {i0} " + judge_text(i0)
    page.select_option("#sort", "delta-desc")  # swapped: the biggest B-to-A gain first
    page.wait_for_function(f"() => document.querySelector('#list > .item .delta').textContent === "
                           f"'{max(-p['delta'] for p in pairs):+.2f}'")
    page.click("#swap")

    page.check("#filter-flipped")
    expect_count(page, f"{len(flipped)} of 90 pairs")
    page.uncheck("#filter-flipped")
    page.check("#filter-changed")
    expect_count(page, f"{sum(p['delta'] != 0 for p in pairs)} of 90 pairs")
    page.select_option("#filter-category", label="coding")
    expect_count(page, f"{sum(p['delta'] != 0 and p['category'] == 'coding' for p in pairs)} of 90 pairs")
    page.uncheck("#filter-changed")
    page.select_option("#filter-category", label="all")
    page.fill("#search", "B ANSWER 42")
    expect_count(page, "1 of 90 pairs")
    assert keys(page) == ["123|1"]
    assert errors == []


def _no_payload_ran(page, title: str) -> None:
    assert page.title() == title
    assert page.evaluate("window.__pwned") is None
    assert page.query_selector("img[src=x]") is None and page.query_selector("svg") is None
    assert page.locator("script").count() == 2  # the app and its data, none from a payload


def test_payloads_in_every_text_stay_text(open_page):
    doc = mt_items(40, runs=2, evil=EVIL)
    page, errors = open_page(render_items_page(doc, title=TITLE))
    _no_payload_ran(page, TITLE)
    assert page.inner_text("h1") == TITLE
    page.select_option("#filter-category", label="math" + EVIL)
    expect_count(page, "13 of 40 items")
    page.select_option("#filter-run", index=2)
    page.fill("#search", "<img src=x")
    expect_count(page, f"{sum(i % 3 == 1 and i % 2 == 1 for i in range(40))} of 40 items")
    for k in range(3):
        page.locator("#list > .item .item-head").nth(k).click()
    row = page.locator("#list > .item").first
    assert row.locator(".cat").text_content() == "math" + EVIL and row.locator(".title").text_content().endswith(EVIL)
    assert row.locator(".judgment-text").first.text_content() == judge_text(int(row.get_attribute("data-index"))) + EVIL
    assert EVIL in row.locator(".item-body").text_content()
    assert row.locator(".run").text_content().endswith(EVIL + " \u00b7 gpt-4")
    _no_payload_ran(page, TITLE)
    assert errors == []

    page, errors = open_page(render_diff_page(diff_doc(30, evil=EVIL), title=TITLE), "diff.html")
    assert page.inner_text("#summary-runs") == f"ckpt-a{EVIL} \u2192 ckpt-b{EVIL}"
    assert EVIL in page.inner_text("#summary-note")
    page.fill("#search", "</script>")
    expect_count(page, "30 of 30 pairs")
    page.locator("#list > .item .item-head").first.click()
    page.click("#swap")
    assert page.locator(".side .answer").first.text_content().endswith(EVIL)
    assert page.locator("#categories td").first.text_content() == "writing" + EVIL
    _no_payload_ran(page, TITLE)
    assert errors == []


def test_page_allows_its_one_script_by_hash_and_its_data_cannot_close_its_element():
    doc = mt_items(12, evil=EVIL)
    doc["items"][0]["value"] = float("nan")
    doc["items"][1]["answers"][0]["turns"][1] = "line\u2028sep\u2029 \ud800 lone surrogate \U0001F600"
    text = render_items_page(doc, title=TITLE, head_html="<p>lb</p>")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text).group(1)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    assert len(scripts) == 1 and scripts[0] == APP_JS and text.count("<script") == 2
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert directives["script-src"] == f"'sha256-{digest}'" and "unsafe-inline" not in directives["script-src"]
    assert directives["default-src"] == "'none'" and policy == CSP == csp([APP_JS])
    data = re.search(r'<script type="application/json" id="starling-data">(.*?)</script>', text, re.S).group(1)
    assert not set("<>&\u2028\u2029") & set(data) and "</script" not in data.lower()
    back = json.loads(data)
    assert back["items"][0]["value"] is None and back["items"][1] == doc["items"][1] and back["runs"] == doc["runs"]
    assert f"<title>{html.escape(TITLE)}</title>" in text and f"<h1>{html.escape(TITLE)}</h1>" in text
    assert "http://" not in text and "https://" not in text and "<img" not in text and "<svg" not in text
    fragment, tag = items_section(doc)
    assert tag == f"<script>{APP_JS}</script>" and "<style>" in fragment and 'id="starling-data"' in fragment


def test_embedded_section_renders_and_paints(open_page):
    fragment, tag = items_section(mt_items(60))
    host = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
            f'content="{csp([APP_JS])}"><title>host</title></head><body><h1>host</h1>{fragment}{tag}</body></html>')
    page, errors = open_page(host)
    expect_count(page, "60 of 60 items")
    page.locator("#list > .item .item-head").nth(1).click()
    from PIL import Image

    shot = Image.open(io.BytesIO(page.locator("#list").screenshot())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert shot.width > 600 and len(colours) > 30  # text, badges and backgrounds, not a blank single colour
    assert max(n for n, _ in colours) < 0.97 * shot.width * shot.height
    assert errors == []
