"""The item browser's stylesheet and script, as constants, so ``browser_page`` stays about markup and escaping.

The script is one constant (the same bytes on every page), so its CSP hash is a constant too: a page allows
exactly this script and nothing else. It reads its data with ``JSON.parse`` from a ``type="application/json"``
element and puts every piece of text from a run into the page through ``textContent``, ``createTextNode`` or
``option.text``; it never assigns ``innerHTML``, so an answer or a judge's text can only ever be shown, not parsed.
It is kept ASCII (non-ASCII characters as ``\\u`` escapes) so the hash does not depend on how a page is encoded.

Speed with thousands of items: rows are appended 200 at a time (an IntersectionObserver on a sentinel below the
list, and a "show more" button for keyboards), an item's expanded content is built on its first expansion and
kept, and the lowercase search text of every item is built once, when the browser is idle or at the first search.
"""

from __future__ import annotations

# whole-page look (the pages of browser_page, not an embedding host's)
PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.4em; }
"""

# scoped under the browser's root (class "sb") so that a host page embedding it keeps its own look
BROWSER_STYLE = """
.sb { font-size: 14px; line-height: 1.4; }
.sb .filters { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: center;
  padding: .5em; background: #f4f6f9; border: 1px solid #d9dee6; border-radius: 4px; }
.sb .filters label { white-space: nowrap; } .sb #search { min-width: 16em; }
.sb #count { margin-left: auto; font-weight: 600; } .sb .list { border-top: 1px solid #e3e3e3; margin-top: .5em; }
/* rows off screen are neither laid out nor painted until scrolled near (hundreds of rows at once stay cheap) */
.sb .item { border-bottom: 1px solid #e3e3e3; content-visibility: auto; contain-intrinsic-size: auto 2.1em;
  scroll-margin-top: 5em; }
.sb .item-head { display: flex; gap: .6em; align-items: baseline; width: 100%; padding: .35em .5em; border: 0;
  background: none; font: inherit; color: inherit; text-align: left; cursor: pointer; }
.sb .item-head:hover, .sb .item-head:focus-visible { background: #eef3fb; }
.sb .item.expanded > .item-head { background: #e4ecf8; font-weight: 600; }
.sb .item-head .title { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sb .run, .sb .cat, .sb .len { color: #555; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  max-width: 18em; }
.sb .len, .sb .delta { min-width: 5.5em; text-align: right; font-variant-numeric: tabular-nums; }
.sb .badge { display: inline-block; padding: 0 .5em; border-radius: .8em; font-size: .85em; background: #e8e8e8;
  white-space: nowrap; max-width: 16em; overflow: hidden; text-overflow: ellipsis; }
.sb .v-win, .sb .v-improvement, .sb .v-pass { background: #cdeccf; }
.sb .v-loss, .sb .v-regression { background: #f7cfcd; }
.sb .v-tie { background: #efe7c2; } .sb .v-failed, .sb .b-failed { background: #ffd8a8; }
.sb .b-inc { background: #dccff3; } .sb .b-flipped { background: #c9e3f7; }
.sb .body { padding: .5em 1em 1em; background: #fafafa; border-top: 1px dashed #ddd; }
.sb .body h4 { margin: .8em 0 .3em; }
.sb .label { font-size: .85em; color: #444; display: flex; gap: .5em; align-items: baseline; flex-wrap: wrap; }
.sb .text { white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid #e2e2e2;
  border-radius: 3px; padding: .5em .7em; margin: .2em 0 .7em; font-family: ui-monospace, monospace; font-size: .92em; }
.sb .text.user { background: #f1f6ff; } .sb .text.reference { background: #f3fbf2; }
.sb .failure { color: #9a3b00; white-space: pre-wrap; overflow-wrap: anywhere; }
.sb .note { color: #666; font-size: .9em; }
.sb .sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
.sb .side > h4 { display: flex; gap: .5em; align-items: baseline; flex-wrap: wrap; }
.sb .pos { color: #1b7d2a; } .sb .neg { color: #b3261e; }
.sb table { border-collapse: collapse; margin: .5em 0 1em; }
.sb th, .sb td { border: 1px solid #d6d6d6; padding: .25em .6em; text-align: right; }
.sb th:first-child, .sb td:first-child { text-align: left; }
.sb .catbar { position: relative; width: 12em; height: .9em; background: #f0f0f0; }
.sb .catbar::after { content: ""; position: absolute; left: 50%; top: 0; bottom: 0; border-left: 1px solid #999; }
.sb .catbar span { position: absolute; top: 0; bottom: 0; }
.sb .catbar span.pos { left: 50%; background: #4caf50; } .sb .catbar span.neg { right: 50%; background: #e53935; }
.sb #summary-runs { font-size: 1.15em; font-weight: 600; margin: .3em 0; }
.sb #swap { margin: .3em 0 .8em; } .sb #more { margin: .8em 0; } .sb #sentinel { height: 1px; }
"""

APP_JS = r"""(() => {
'use strict';
const root = document.getElementById('starling-browser'), dataEl = document.getElementById('starling-data');
if (!root || !dataEl) return;
const data = JSON.parse(dataEl.textContent);
const CHUNK = 200, DASH = '\u2014', ARROW = ' \u2192 ', DOT = ' \u00b7 ';
const KNOWN = {win: 'win', loss: 'loss', tie: 'tie', failed: 'failed', harmless: 'win', harmful: 'loss',
  regression: 'regression', pass: 'pass', improvement: 'improvement'};
const $ = (id) => document.getElementById(id);
const str = (x) => (x === null || x === undefined ? '' : String(x));
const arr = (x) => (Array.isArray(x) ? x : []);
const isNum = (x) => typeof x === 'number' && isFinite(x);
const fixed = (x, d) => (isNum(x) ? x.toFixed(d) : DASH);
const signed = (x, d) => (isNum(x) ? (x > 0 ? '+' : '') + x.toFixed(d) : DASH);
const signClass = (x) => (isNum(x) && x !== 0 ? (x > 0 ? 'pos' : 'neg') : '');
// the one way text from a document enters the page: textContent, never markup
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
function put(parent, ...children) {
  for (const c of children) parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return parent;
}
const badge = (text, cls) => el('span', 'badge ' + cls, text);
function verdictBadge(v) {
  const s = str(v), b = badge(s || DASH, 'verdict'), k = KNOWN[s.toLowerCase()];
  if (k) b.classList.add('v-' + k);
  return b;
}
// new Option(text, value) puts the text in as a text node
const addOptions = (select, texts) => texts.forEach((text, k) => select.add(new Option(text, String(k))));
const block = (label, text, cls) => put(el('div', 'block'), el('div', 'label', label),
  el('div', 'text ' + cls, str(text)));
function refBlocks(into, refs) {
  arr(refs).forEach((r, k) => r !== null && put(into, block('reference' + DOT + 'turn ' + (k + 1), r, 'reference')));
}
function judgmentsBlock(judgments) {
  const box = el('div', 'judgments');
  for (const j of arr(judgments)) {
    const d = put(el('div', 'judgment'), put(el('div', 'label'), el('span', 'jlabel', str(j.label) || 'judgment'),
      verdictBadge(j.verdict)));
    if (j.failure) d.appendChild(el('div', 'failure', 'failure: ' + str(j.failure)));
    box.appendChild(put(d, el('div', 'text judgment-text', str(j.text))));
  }
  if (!box.firstChild) box.appendChild(el('div', 'note', 'no judgments'));
  return box;
}
const answerTexts = (answers) => arr(answers).flatMap((a) => [str(a.label)].concat(arr(a.turns).map(str)));
const judgmentTexts = (judgments) => arr(judgments).flatMap((j) => [str(j.text), str(j.failure)]);
// distinct values, numbers in numeric order first; and each value's position in that list
function indexer(values) {
  const list = Array.from(new Set(values)), num = (v) => (v.trim() === '' ? NaN : Number(v));
  list.sort((a, b) => {
    const x = num(a), y = num(b);
    if (isFinite(x) || isFinite(y)) return isFinite(x) && isFinite(y) ? x - y : (isFinite(x) ? -1 : 1);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const ix = new Map(list.map((v, k) => [v, k]));
  return {list, of: Int32Array.from(values, (v) => ix.get(v))};
}
// sort indices by a number, missing numbers last, ties in document order
const byNumber = (key, sign) => (a, b) => {
  const x = key(a), y = key(b), nx = !isNum(x), ny = !isNum(y);
  if (nx || ny) return nx === ny ? a - b : (nx ? 1 : -1);
  return (x - y) * sign || a - b;
};
const later = (fn) => (window.requestIdleCallback || ((f) => setTimeout(f, 50)))(fn);
const debounce = (fn, ms) => { let t = 0; return () => { clearTimeout(t); t = setTimeout(fn, ms); }; };
function rowHead(title) {
  const h = el('button', 'item-head');
  h.type = 'button';
  h.setAttribute('aria-expanded', 'false');
  return put(h, el('span', 'title', title));
}
const runName = (r) => str((r || {}).label || (r || {}).model || (r || {}).id);

// the list: the filtered indices, appended CHUNK rows at a time as the sentinel below comes near the viewport
// (or on "show more"); an expanded row's body is built once, kept, and put back when the row is shown again
function Lister(noun, total, select, makeRow, makeBody, controls) {
  const list = $('list'), count = $('count'), more = $('more'), sentinel = $('sentinel');
  const cache = new Map(), open = new Set();
  let shown = [], done = 0;
  const io = window.IntersectionObserver ? new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) next();
  }, {rootMargin: '0px 0px 800px 0px'}) : null;
  function expand(row, i, on) {
    const head = row.firstChild;
    let body = cache.get(i);
    row.classList.toggle('expanded', on);
    head.setAttribute('aria-expanded', on ? 'true' : 'false');
    if (on) {
      if (!body) { body = makeBody(i); body.classList.add('body'); body.id = 'body-' + i; cache.set(i, body); }
      head.setAttribute('aria-controls', body.id);
      row.appendChild(body);
      open.add(i);
    } else {
      if (body && body.parentNode === row) row.removeChild(body);
      open.delete(i);
    }
  }
  function next() {
    const end = Math.min(done + CHUNK, shown.length), frag = document.createDocumentFragment();
    for (; done < end; done++) {
      const i = shown[done], row = makeRow(i);
      row.setAttribute('data-index', String(i));
      if (open.has(i)) expand(row, i, true);
      frag.appendChild(row);
    }
    list.appendChild(frag);
    more.hidden = done >= shown.length;
    more.textContent = 'show more (' + (shown.length - done) + ' left)';
    if (io) { io.unobserve(sentinel); if (done < shown.length) io.observe(sentinel); }
  }
  function refresh() {
    shown = select();
    done = 0;
    list.textContent = '';
    count.textContent = shown.length + ' of ' + total + ' ' + noun;
    next();
  }
  list.addEventListener('click', (ev) => {
    const head = ev.target.closest('.item-head');
    if (!head || head.parentNode.parentNode !== list) return;
    const row = head.parentNode;
    expand(row, +row.getAttribute('data-index'), !row.classList.contains('expanded'));
  });
  more.addEventListener('click', next);
  for (const c of controls) if (c) c.addEventListener('change', refresh);
  $('search').addEventListener('input', debounce(refresh, 150));
  return {refresh, forget: () => cache.clear()};
}
// the lowercase text a search looks in, per item: built once, when idle or at the first search
function Haystack(things, texts) {
  let hay = null;
  const build = () => { hay = hay || things.map((t) => texts(t).join('\u0001').toLowerCase()); return hay; };
  later(build);
  return (q) => { const h = build(); return (i) => h[i].indexOf(q) >= 0; };
}

function itemsApp() {
  const runs = arr(data.runs), items = arr(data.items), N = items.length, many = runs.length > 1;
  const cats = indexer(items.map((it) => str(it.category))), vers = indexer(items.map((it) => str(it.verdict)));
  const F = {run: $('filter-run'), cat: $('filter-category'), ver: $('filter-verdict'), failed: $('filter-failed'),
    inc: $('filter-inconsistent'), search: $('search'), sort: $('sort')};
  if (F.run) addOptions(F.run, runs.map((r, k) => runName(r) || 'run ' + (k + 1)));
  addOptions(F.cat, cats.list.map((c) => c || '(none)'));
  addOptions(F.ver, vers.list.map((v) => v || '(none)'));
  const failed = (it) => !!(it.failed || it.failure);
  const search = Haystack(items, (it) => [str(it.title), str(it.failure)].concat(arr(it.turns).map(str),
    answerTexts(it.answers), arr(it.reference).map(str), judgmentTexts(it.judgments)));
  function select() {
    const r = F.run ? F.run.value : '', ci = F.cat.value === '' ? -1 : +F.cat.value;
    const vi = F.ver.value === '' ? -1 : +F.ver.value, fo = F.failed.checked, io = F.inc ? F.inc.checked : false;
    const q = F.search.value.trim().toLowerCase(), hit = q ? search(q) : null, out = [];
    for (let i = 0; i < N; i++) {
      const it = items[i];
      if ((r !== '' && String(it.run) !== r) || (ci >= 0 && cats.of[i] !== ci)) continue;
      if (vi >= 0 && vers.of[i] !== vi) continue;
      if ((fo && !failed(it)) || (io && !it.inconsistent) || (hit && !hit(i))) continue;
      out.push(i);
    }
    const s = F.sort.value;
    if (s === 'value-asc' || s === 'value-desc') out.sort(byNumber((i) => items[i].value, s === 'value-asc' ? 1 : -1));
    else if (s === 'length') out.sort(byNumber((i) => items[i].length, -1));
    return out;
  }
  function makeRow(i) {
    const it = items[i], row = el('div', 'item'), h = rowHead(str(it.title) || str(it.key));
    row.setAttribute('data-key', str(it.key));
    row.setAttribute('data-run', str(it.run));
    if (many) h.appendChild(el('span', 'run', runName(runs[it.run])));
    put(h, el('span', 'cat', str(it.category)), verdictBadge(it.verdict));
    if (failed(it)) row.classList.add('failed');
    if (failed(it) && str(it.verdict).toLowerCase() !== 'failed') h.appendChild(badge('failed', 'b-failed'));
    if (it.inconsistent) h.appendChild(badge('position-inconsistent', 'b-inc'));
    return put(row, put(h, el('span', 'len', isNum(it.length) ? it.length + ' chars' : '')));
  }
  function makeBody(i) {
    const it = items[i], b = el('div', 'item-body'), turns = arr(it.turns), answers = arr(it.answers);
    const ref = arr(it.reference);
    const n = Math.max(turns.length, ref.length, ...answers.map((a) => arr(a.turns).length));
    const run = runs[it.run] || {};
    if (many) b.appendChild(el('div', 'note', 'run ' + runName(run) + ' (' + str(run.id) + ')'));
    if (it.failure) b.appendChild(el('div', 'failure', 'failure: ' + str(it.failure)));
    for (let t = 0; t < n; t++) {
      const sec = put(el('section', 'turn'), el('h4', null, 'Turn ' + (t + 1)));
      if (t < turns.length) sec.appendChild(block('question', turns[t], 'user'));
      for (const a of answers) {
        if (t < arr(a.turns).length) sec.appendChild(block(str(a.label) || 'answer', a.turns[t], 'answer'));
      }
      if (t < ref.length && ref[t] !== null) sec.appendChild(block('reference', ref[t], 'reference'));
      b.appendChild(sec);
    }
    return put(b, el('h4', null, 'Judgments'), judgmentsBlock(it.judgments));
  }
  Lister('items', N, select, makeRow, makeBody, [F.run, F.cat, F.ver, F.failed, F.inc, F.sort]).refresh();
}

function diffApp() {
  const runs = arr(data.runs), S = data.summary || {}, pairs = arr(data.pairs), N = pairs.length;
  const dp = S.unit === 'points' ? 1 : 2, cats = indexer(pairs.map((p) => str(p.category)));
  const F = {cat: $('filter-category'), flipped: $('filter-flipped'), changed: $('filter-changed'), search: $('search'),
    sort: $('sort')};
  let swapped = false;
  addOptions(F.cat, cats.list.map((c) => c || '(none)'));
  // "left" is the run shown as A: the document's A, or its B once swapped; deltas are always right minus left
  const label = (left) => { const k = left === swapped ? 1 : 0; return runName(runs[k]) || (k ? 'B' : 'A'); };
  const side = (p, left) => (left !== swapped ? p.a : p.b) || {};
  const d = (x) => (isNum(x) && swapped ? -x : x);
  const ab = (o, a, b) => (swapped ? [o[b], o[a]] : [o[a], o[b]]);
  const row = (cells, cls) => put(el('tr', cls), ...cells.map((c) => (typeof c === 'string' ? el('td', null, c) : c)));
  function renderSummary() {
    const box = $('summary'), runsLine = put(el('div'), el('span', 'run-a', label(true)), ARROW,
      el('span', 'run-b', label(false)));
    const [a, b] = ab(S, 'a', 'b'), ci = arr(S.ci95), [lo, hi] = (swapped ? [ci[1], ci[0]] : ci).map(d);
    const t = el('table', 'summary-table'), verdict = put(el('td'), verdictBadge(S.verdict));
    if (swapped && S.verdict) put(verdict, el('span', 'note', ' (of ' + label(true) + ' vs ' + label(false) + ')'));
    const rows = [['metric', 'metric', el('td', null, str(S.metric) + (S.unit ? ' (' + S.unit + ')' : ''))],
      ['A: ' + label(true), 'a', el('td', null, fixed(a, dp))],
      ['B: ' + label(false), 'b', el('td', null, fixed(b, dp))],
      ['delta (B - A)', 'delta', el('td', signClass(d(S.delta)), signed(d(S.delta), dp))],
      ['95% CI of the delta', 'ci',
        el('td', null, isNum(lo) && isNum(hi) ? '[' + signed(lo, dp) + ', ' + signed(hi, dp) + ']' : DASH)],
      ['paired items', 'n', el('td', null, str(S.n))], ['clusters', 'clusters', el('td', null, str(S.n_clusters))],
      ['method', 'method', el('td', null, str(S.method))], ['gate verdict', 'verdict', verdict]];
    for (const [name, id, td] of rows) {
      td.id = 'summary-' + id;
      t.appendChild(put(el('tr'), el('th', null, name), td));
    }
    runsLine.id = 'summary-runs';
    box.textContent = '';
    put(box, runsLine, t);
    if (S.note) { const note = el('p', 'note', str(S.note)); note.id = 'summary-note'; box.appendChild(note); }
  }
  function renderCategories() {
    const t = $('categories'), cs = arr(data.categories);
    const max = Math.max(0, ...cs.map((c) => (isNum(c.delta) ? Math.abs(c.delta) : 0)));
    t.textContent = '';
    const heads = ['category', 'A: ' + label(true), 'B: ' + label(false), 'delta', '', 'n'];
    t.appendChild(put(el('tr'), ...heads.map((h) => el('th', null, h))));
    for (const c of cs) {
      const dd = d(c.delta), bar = el('div', 'catbar'), [a, b] = ab(c, 'a', 'b');
      // CSS widths, no canvas: half the bar is the largest |delta|
      const fill = put(bar, el('span', dd >= 0 ? 'pos' : 'neg')).firstChild;
      fill.style.width = isNum(dd) && max > 0 ? 50 * Math.abs(dd) / max + '%' : '0';
      const tr = row([str(c.category), fixed(a, dp), fixed(b, dp), el('td', 'delta ' + signClass(dd), signed(dd, dp)),
        put(el('td'), bar), str(c.n)]);
      tr.setAttribute('data-category', str(c.category));
      t.appendChild(tr);
    }
  }
  function renderLength() {
    const L = data.length || {}, [a, b] = ab(L, 'a_mean', 'b_mean');
    const delta = el('span', signClass(d(L.delta)), signed(d(L.delta), 0));
    delta.id = 'length-delta';
    $('length').textContent = '';
    put($('length'), 'mean answer length: ' + label(true) + ' ' + fixed(a, 0) + ARROW + label(false) + ' ' + fixed(b, 0)
      + ' chars, delta ', delta);
  }
  const search = Haystack(pairs, (p) => [str(p.title)].concat(arr(p.turns).map(str), arr(p.reference).map(str),
    ...[p.a || {}, p.b || {}].map((s) => answerTexts(s.answers).concat(judgmentTexts(s.judgments), [str(s.failure)]))));
  const changed = (p) => (isNum(p.delta) ? p.delta !== 0 : str((p.a || {}).verdict) !== str((p.b || {}).verdict));
  function select() {
    const ci = F.cat.value === '' ? -1 : +F.cat.value, q = F.search.value.trim().toLowerCase(), out = [];
    const hit = q ? search(q) : null;
    for (let i = 0; i < N; i++) {
      const p = pairs[i];
      if ((ci >= 0 && cats.of[i] !== ci) || (F.flipped.checked && !p.flipped)) continue;
      if ((!F.changed.checked || changed(p)) && (!hit || hit(i))) out.push(i);
    }
    const s = F.sort.value;
    if (s === 'delta-asc' || s === 'delta-desc') {
      out.sort(byNumber((i) => d(pairs[i].delta), s === 'delta-asc' ? 1 : -1));
    }
    return out;
  }
  function makeRow(i) {
    const p = pairs[i], r = el('div', 'item pair'), h = rowHead(str(p.title) || str(p.key)), dd = d(p.delta);
    r.setAttribute('data-key', str(p.key));
    if (p.flipped) r.classList.add('flipped');
    put(h, el('span', 'cat', str(p.category)),
      put(el('span', 'verdicts'), verdictBadge(side(p, true).verdict), ARROW, verdictBadge(side(p, false).verdict)));
    if (p.flipped) h.appendChild(badge('flipped', 'b-flipped'));
    return put(r, put(h, el('span', 'delta ' + signClass(dd), signed(dd, dp))));
  }
  function sideColumn(p, left) {
    const s = side(p, left), col = el('div', 'side ' + (left ? 'side-left' : 'side-right'));
    const multi = arr(p.turns).length > 1;
    col.setAttribute('data-side', left !== swapped ? 'a' : 'b');
    col.appendChild(put(el('h4'), el('span', 'side-label', (left ? 'A: ' : 'B: ') + label(left)),
      verdictBadge(s.verdict),
      el('span', 'note', 'value ' + fixed(s.value, dp) + (isNum(s.length) ? ', ' + s.length + ' chars' : ''))));
    if (s.failure || s.failed) col.appendChild(el('div', 'failure', 'failure: ' + (str(s.failure) || 'failed')));
    for (const a of arr(s.answers)) {
      const name = str(a.label) || 'answer';
      arr(a.turns).forEach((t, k) => put(col, block(name + (multi ? DOT + 'turn ' + (k + 1) : ''), t, 'answer')));
    }
    refBlocks(col, s.reference);
    return put(col, judgmentsBlock(s.judgments));
  }
  function makeBody(i) {
    const p = pairs[i], b = el('div', 'item-body');
    arr(p.turns).forEach((t, k) => b.appendChild(block('question' + DOT + 'turn ' + (k + 1), t, 'user')));
    refBlocks(b, p.reference);
    return put(b, put(el('div', 'sides'), sideColumn(p, true), sideColumn(p, false)));
  }
  const lister = Lister('pairs', N, select, makeRow, makeBody, [F.cat, F.flipped, F.changed, F.sort]);
  const renderAll = () => { renderSummary(); renderCategories(); renderLength(); lister.refresh(); };
  $('swap').addEventListener('click', (ev) => {
    swapped = !swapped;
    ev.currentTarget.setAttribute('aria-pressed', swapped ? 'true' : 'false');
    lister.forget();  // the expanded bodies show the old sides
    renderAll();
  });
  renderAll();
}

try {
  if (root.getAttribute('data-mode') === 'diff') diffApp(); else itemsApp();
} catch (e) {
  root.appendChild(el('p', 'failure', 'The browser could not render this document: ' + e));
  throw e;
}
root.setAttribute('data-ready', '1');
window.__starlingReady = performance.now();
})();
"""
