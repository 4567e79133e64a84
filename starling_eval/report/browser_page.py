"""Self-contained HTML pages to browse a run's items (answers, references, every judgment in full) and to compare
two checkpoints item by item, from documents someone else extracted from the runs.

A leaderboard says a model scores 6.1; to believe it, or to see why a checkpoint regressed, a person needs to read
the answers and what the judge said about each. These pages make that a file one opens: no server, nothing
fetched (no CDN, no font, no image from elsewhere), the data inlined.

Why a script at all, when ``report.html`` has none: thousands of items with their full texts cannot be filtered,
searched or expanded by hand in one static page. So the page runs exactly one inline script, a constant
(``browser_assets.APP_JS``) allowed by its sha256 in the page's Content-Security-Policy, never by
``'unsafe-inline'``: nothing else can run, even if a payload did end up parsed as markup. The payloads
themselves never are: the documents travel as JSON in a ``<script type="application/json">`` element, with
``<``, ``>`` and ``&`` (and U+2028/2029, and lone surrogates) written as ``\\u`` escapes so that no string in them
can close that element, and the script inserts their text with ``textContent`` only. The title is escaped here;
``head_html`` is the caller's own markup (a leaderboard, plots) and is trusted as it is.

In the diff page every delta is right minus left: "swap" puts B on the left and flips the signs with it, but the
gate's verdict stays the one computed for B against A (it says so when swapped). "Changed" is a non-zero delta, or,
where a side failed and there is no delta, a different verdict.

Only one browser fits in a page: the script finds its elements by id.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from starling_eval.report.browser_assets import APP_JS, BROWSER_STYLE, PAGE_STYLE

__all__ = ["CSP", "SCRIPT_TAG", "csp", "data_json", "diff_section", "items_section", "render_diff_page",
           "render_items_page"]


def csp(scripts: Iterable[str]) -> str:
    """The Content-Security-Policy of a page whose inline scripts are exactly ``scripts`` (their text between
    ``<script>`` and ``</script>``): each allowed by its sha256, and nothing else loaded from anywhere."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode('utf-8')).digest()).decode('ascii')}'"
                      for s in scripts)
    return "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src " + (hashes or "'none'")


assert APP_JS.isascii(), "the app script stays ASCII, so its hash does not depend on the page's encoding"
assert "</script" not in APP_JS.lower(), "the app script cannot contain its own end tag"
CSP = csp([APP_JS])  # the app is a constant, so is its hash
SCRIPT_TAG = f"<script>{APP_JS}</script>"

# characters that must not appear raw inside <script type="application/json">: '<' could start "</script" or
# "<!--"; ">" and "&" for any HTML-aware reader; U+2028/2029 for older JS parsers; a lone surrogate cannot be UTF-8
_UNSAFE = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def _finite(value: Any) -> Any:
    """The document with NaN and infinities as null: JSON has no such numbers, and JSON.parse would refuse them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def data_json(doc: Any) -> str:
    """``doc`` as JSON that is safe as the text of a ``<script type="application/json">`` element."""
    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)

    try:
        text = dumps(doc)
    except ValueError:  # NaN or infinity somewhere: only then walk the whole document
        text = dumps(_finite(doc))
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _filters(*controls: str, initial: str) -> str:
    return ('<div class="filters" role="search">' + "".join(controls) +
            f'<span id="count" aria-live="polite">{initial}</span></div>')


def _select(ident: str, label: str, options: Iterable[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{v}">{t}</option>' for v, t in options)
    return f'<label>{label} <select id="{ident}">{opts}</select></label>'


def _checkbox(ident: str, label: str) -> str:
    return f'<label><input type="checkbox" id="{ident}"> {label}</label>'


_SEARCH = ('<input type="search" id="search" placeholder="search all text" aria-label="search all text" '
           'autocomplete="off">')
_LIST = ('<div id="list" class="list" aria-label="items"></div><div id="sentinel"></div>'
         '<button type="button" id="more" hidden>show more</button>')


def _root(mode: str, inner: str, doc: dict[str, Any], *, style: bool) -> str:
    """The browser's element, its data, and (for embedding) its stylesheet."""
    return ((f"<style>{BROWSER_STYLE}</style>\n" if style else "") +
            f'<div id="starling-browser" class="sb" data-mode="{mode}">{inner}</div>\n'
            f'<script type="application/json" id="starling-data">{data_json(doc)}</script>')


def _items_fragment(doc: dict[str, Any], *, style: bool) -> str:
    items = doc.get("items") or []
    controls = [
        _select("filter-run", "run", [("", "all runs")]) if len(doc.get("runs") or []) > 1 else "",
        _select("filter-category", "category", [("", "all")]),
        _select("filter-verdict", "verdict", [("", "all")]),
        _checkbox("filter-failed", "failures only"),
        _checkbox("filter-inconsistent", "position-inconsistent only")
        if any(item.get("inconsistent") for item in items) else "",
        _SEARCH,
        _select("sort", "sort", [("order", "benchmark order"), ("value-asc", "value ascending"),
                                 ("value-desc", "value descending"), ("length", "answer length")]),
    ]
    return _root("items", _filters(*controls, initial=f"{len(items)} items") + _LIST, doc, style=style)


def _diff_fragment(doc: dict[str, Any], *, style: bool) -> str:
    pairs = doc.get("pairs") or []
    inner = [
        '<section id="summary" class="summary"></section>',
        '<button type="button" id="swap" aria-pressed="false">swap A and B</button>',
        '<h3>By category</h3><table id="categories"></table>',
        '<p id="length" class="note"></p>',
        '<h3>Items</h3>',
        _filters(_select("filter-category", "category", [("", "all")]), _checkbox("filter-flipped", "flipped only"),
                 _checkbox("filter-changed", "changed only"), _SEARCH,
                 _select("sort", "sort", [("order", "flipped first, then |delta|"), ("delta-desc", "delta descending"),
                                          ("delta-asc", "delta ascending")]),
                 initial=f"{len(pairs)} pairs"),
        _LIST,
    ]
    return _root("diff", "".join(inner), doc, style=style)


def items_section(doc: dict[str, Any]) -> tuple[str, str]:
    """The items browser for another page: (its HTML, with data and scoped style; the script tag).

    Put the script tag after the HTML (it looks its elements up when it runs) and allow it with ``CSP`` (or
    ``csp([...])`` listing the host's own scripts too) in the host page's Content-Security-Policy."""
    return _items_fragment(doc, style=True), SCRIPT_TAG


def diff_section(doc: dict[str, Any]) -> tuple[str, str]:
    """The checkpoint comparison for another page, as ``items_section``."""
    return _diff_fragment(doc, style=True), SCRIPT_TAG


def _page(title: str, head_html: str, fragment: str) -> str:
    e = html.escape(title)
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e}</title><style>{PAGE_STYLE}{BROWSER_STYLE}</style></head>\n<body>\n<h1>{e}</h1>\n"
            f"{head_html}\n{fragment}\n{SCRIPT_TAG}\n</body></html>\n")


def render_items_page(doc: dict[str, Any], *, title: str, head_html: str = "") -> str:
    """A page browsing the items of one or more runs (the items document: ``runs`` and ``items``)."""
    return _page(title, head_html, _items_fragment(doc, style=False))


def render_diff_page(doc: dict[str, Any], *, title: str, head_html: str = "") -> str:
    """A page comparing checkpoint A with B (the diff document: ``runs``, ``summary``, ``categories``,
    ``length``, ``pairs``)."""
    return _page(title, head_html, _diff_fragment(doc, style=False))
