// The report's drawing script (see html_report_assets.h). Plain ES2017, no libraries: the page must work
// offline for years. Everything the data supplies goes through textContent or esc(), never raw into HTML.
// Work per layer is O(1) (hover finds the nearest layer arithmetically, sorting reorders existing rows), so
// models with thousands of layers stay responsive.
#include "compare/html_report_assets.h"

namespace lowbit::compare::html_assets {

const char kScript[] = R"JS((function () {
'use strict';
var EXACT_DB = 200;  // SQNR cap the report uses for identical tensors
var $ = function (id) { return document.getElementById(id); };
var SVG_NS = $('chart').namespaceURI;  // taken from the inline <svg>: the page names no URL
var fail = window.lowbitReportError || function () {};

// ---- safe access to untrusted data ----
function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
function arr(v) { return Array.isArray(v) ? v : []; }
function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
function str(v) {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
function esc(s) {
  return str(s).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
  });
}
function el(tag, cls, txt) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (txt !== undefined) e.textContent = txt;
  return e;
}
function svg(tag, attrs, parent, txt) {
  var e = document.createElementNS(SVG_NS, tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (txt !== undefined) e.textContent = txt;
  if (parent) parent.appendChild(e);
  return e;
}
function guarded(name, fn) {
  try { fn(); } catch (e) { fail('report section "' + name + '" failed: ' + (e && e.stack ? e.stack : e)); }
}

// ---- formatting ----
function fmtG(v) {
  v = num(v);
  if (v === null) return 'n/a';
  if (v === 0) return '0';
  var a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? String(+v.toPrecision(4)) : v.toExponential(2);
}
function fmtFixed(v, d) { v = num(v); return v === null ? 'n/a' : v.toFixed(d); }
function fmtDb(m, unit) {
  if (!m || (m.db === null && !m.exact)) return 'n/a';
  return m.exact ? 'exact' : m.db.toFixed(1) + (unit ? ' dB' : '');
}
function fmtPct(f) {
  f = num(f);
  return f === null ? '' : f === 0 ? '0' : f * 100 < 0.01 ? '< 0.01 %' : (f * 100).toPrecision(3) + ' %';
}
function fmtRange(r) { return r ? '[' + fmtG(r[0]) + ', ' + fmtG(r[1]) + ']' : ''; }
function fmtShape(s) {
  if (!Array.isArray(s)) return '';
  return s.map(function (d) { return num(d) !== null ? String(d) : (typeof d === 'string' && d ? d : '?'); })
    .join('\u00d7');
}
// Rule-of-thumb quality bands (also shown in the legend): >= 30 dB good, 20-30 fair, below 20 poor.
function quality(m) {
  if (!m || (m.db === null && !m.exact)) return 'na';
  if (m.exact || m.db >= 30) return 'good';
  return m.db >= 20 ? 'fair' : 'poor';
}
// Chart label: the informative tail of a long exporter name, e.g. /layer4/layer4.1/conv2/Conv_output_0 ->
// layer4.1/conv2 (the op type and "_output_0" repeat what the tooltip says anyway).
function shortName(t, op) {
  var parts = t.replace(/_output(_\d+)?$/, '').replace(/:\d+$/, '').split('/').filter(Boolean);
  if (parts.length > 1 && op && parts[parts.length - 1] === op) parts.pop();
  var r = parts.slice(-2).join('/') || t;
  return r.length > 24 ? '\u2026' + r.slice(-23) : r;
}

// ---- normalized model of the report ----
function metric(m) {
  if (!isObj(m)) return null;
  var db = num(m.sqnr_db);
  var exact = m.exact === true || (db !== null && db >= EXACT_DB);
  return {db: exact ? Infinity : db, exact: exact, cos: num(m.cosine), mse: num(m.mse), maxAbs: num(m.max_abs),
          nonfinite: num(m.nonfinite)};
}
function histogram(h) {
  if (!isObj(h)) return null;
  var lo = num(h.min), hi = num(h.max);
  var counts = arr(h.counts).map(function (c) { c = num(c); return c !== null && c > 0 ? c : 0; });
  if (lo === null || hi === null || hi < lo || counts.length === 0) return null;
  var total = counts.reduce(function (a, b) { return a + b; }, 0);
  return {lo: lo, hi: hi, counts: counts, total: total};
}
function range(r) {
  if (!Array.isArray(r) || r.length !== 2) return null;
  var a = num(r[0]), b = num(r[1]);
  return a === null || b === null ? null : [Math.min(a, b), Math.max(a, b)];
}

var report = null;
try {
  report = JSON.parse($('report-data').textContent || 'null');
} catch (e) {
  fail('the embedded report data is not valid JSON: ' + e.message);
}
if (!isObj(report)) report = {};

var layers = arr(report.layers).map(function (l, i) {
  l = isObj(l) ? l : {};
  return {pos: i, index: num(l.index) !== null ? l.index : i, tensor: str(l.tensor) || '(unnamed #' + i + ')',
          node: str(l.node), op: str(l.op_type), shape: fmtShape(l.shape), shapeArr: arr(l.shape),
          quantized: l.quantized === true, dtype: str(l.dtype), scale: num(l.scale), zp: num(l.zero_point),
          range: range(l.range), clipped: num(l.clipped_fraction), fmin: num(l.fp32_min), fmax: num(l.fp32_max), isOutput: l.is_output === true,
          acc: metric(l.accumulated), loc: metric(l.local), hist: histogram(l.histogram), worst: -1};
});
var byTensor = new Map();
layers.forEach(function (L) { if (!byTensor.has(L.tensor)) byTensor.set(L.tensor, L); });
var worst = [];
arr(report.worst).forEach(function (t) {
  var L = typeof t === 'string' ? byTensor.get(t) : undefined;
  if (L && L.worst < 0) { L.worst = worst.length; worst.push(L); }
});
var state = {sel: -1, logHist: true, chart: null};

// ---- header and output summary ----
function dtdd(dl, k, v, cls) { dl.appendChild(el('dt', '', k)); dl.appendChild(el('dd', cls || '', v)); }
function drawHeader() {
  var fp = str(report.fp32_model), q = str(report.quant_model);
  if (fp || q) document.title = 'lowbit compare: ' + (q || '?') + ' vs ' + (fp || '?');
  if (str(report.tool)) $('tool').textContent = str(report.tool);
  var dl = $('meta');
  dtdd(dl, 'FP32 model', fp || 'n/a', 'mono');
  dtdd(dl, 'Quantized model', q || 'n/a', 'mono');
  dtdd(dl, 'Samples', num(report.samples) !== null ? String(report.samples) : 'n/a');
  var ins = arr(report.inputs).map(function (x) {
    x = isObj(x) ? x : {};
    var s = str(x.name) || '?';
    if (Array.isArray(x.shape)) s += ' [' + fmtShape(x.shape) + ']';
    if (str(x.file)) s += ' \u2190 ' + str(x.file);
    return s;
  });
  dtdd(dl, 'Inputs', ins.length ? ins.join(';  ') : 'n/a', 'mono');
  var nq = layers.filter(function (L) { return L.quantized; }).length;
  dtdd(dl, 'Layers compared', layers.length + ' (' + nq + ' quantized)');
  var notes = arr(report.notes).map(str).filter(Boolean);
  if (notes.length) {
    var ul = el('ul', 'notes');
    notes.forEach(function (n) { ul.appendChild(el('li', '', n)); });
    dtdd(dl, 'Notes', '');
    dl.lastChild.appendChild(ul);
  }
}
function taskText(t) {
  if (!isObj(t)) return '';
  var n = num(t.count) !== null ? ' (' + t.count + ')' : '';
  if (t.kind === 'classifier') {
    var a = num(t.top1_agreement);
    return 'top-1 agreement ' + (a === null ? 'n/a' : (a * 100).toFixed(1) + ' %') + n;
  }
  if (t.kind === 'map') {
    var per = num(t.mean_sample_iou) !== null ? '; per sample mean ' + fmtFixed(t.mean_sample_iou, 3) +
        (num(t.min_sample_iou) !== null ? ', lowest ' + fmtFixed(t.min_sample_iou, 3) : '') : '';
    return 'IoU ' + fmtFixed(t.iou, 3) + ' at threshold ' + (num(t.threshold) !== null ? fmtG(t.threshold) : 'n/a') + n + per;
  }
  return str(t.kind) ? 'task: ' + str(t.kind) : '';
}
function drawOutputs() {
  var box = $('outputs'), outs = arr(report.outputs);
  if (!outs.length) { box.appendChild(el('p', 'muted', 'No model outputs in the report.')); return; }
  outs.forEach(function (o) {
    o = isObj(o) ? o : {};
    var m = metric(o.accumulated), card = el('div', 'out ' + quality(m));
    card.appendChild(el('div', 'out-name mono', str(o.tensor) || '(unnamed output)'));
    if (str(o.quant_tensor) && str(o.quant_tensor) !== str(o.tensor))
      card.appendChild(el('div', 'muted mono', 'quantized model: ' + str(o.quant_tensor)));
    var big = el('div', 'big', fmtDb(m, true));
    big.title = 'SQNR of the quantized model\'s output against the FP32 output';
    card.appendChild(big);
    var dl = el('dl', 'kv');
    dtdd(dl, 'cosine', m ? fmtFixed(m.cos, 5) : 'n/a');
    dtdd(dl, 'max abs error', m ? fmtG(m.maxAbs) : 'n/a');
    dtdd(dl, 'MSE', m ? fmtG(m.mse) : 'n/a');
    if (m && m.nonfinite) dtdd(dl, 'non-finite', String(m.nonfinite), 'bad');
    card.appendChild(dl);
    var t = taskText(o.task);
    if (t) card.appendChild(el('div', 'task', t));
    box.appendChild(card);
  });
}

// ---- axis helpers ----
function niceStep(span, count) {
  var raw = span / Math.max(1, count), p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}
function niceTicks(lo, hi, count) {
  if (!(hi - lo > 1e-12)) { lo -= 1; hi += 1; }
  var step = niceStep(hi - lo, count), t = [];
  for (var v = Math.floor(lo / step) * step; v <= hi + step * 0.999 && t.length < 60; v += step) t.push(+v.toPrecision(12));
  return t;
}
function plotWidth(box) { return Math.max(320, Math.floor(box.clientWidth || 900)); }
function pointerX(e, svgEl, W) { var r = svgEl.getBoundingClientRect(); return (e.clientX - r.left) * W / (r.width || W); }

// ---- SQNR chart ----
function drawChart() {
  var box = $('chart-box'), root = $('chart'), W = plotWidth(box), H = 440, n = layers.length;
  root.textContent = '';
  root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  root.setAttribute('width', W); root.setAttribute('height', H);
  var anyExact = layers.some(function (L) { return (L.acc && L.acc.exact) || (L.loc && L.loc.exact); });
  var M = {l: 54, r: 18, t: 12, b: 44}, band = anyExact ? 24 : 0, top = M.t + band + (band ? 8 : 0);
  var bottom = H - M.b, pw = W - M.l - M.r;
  var vals = [];
  layers.forEach(function (L) {
    [L.acc, L.loc].forEach(function (m) { if (m && !m.exact && m.db !== null) vals.push(m.db); });
  });
  var lo = vals.length ? vals.reduce(function (a, b) { return Math.min(a, b); }) : 0;
  var hi = vals.length ? vals.reduce(function (a, b) { return Math.max(a, b); }) : 40;
  if (lo > 0 && lo < 0.25 * hi) lo = 0;
  var yt = niceTicks(lo, hi, 6), y0 = yt[0], y1 = yt[yt.length - 1];
  var X = function (i) { return M.l + (n <= 1 ? pw / 2 : i * pw / (n - 1)); };
  var Y = function (v) { return bottom - (v - y0) / (y1 - y0) * (bottom - top); };
  var bandY = M.t + band / 2;
  var YM = function (m) { return !m ? null : m.exact ? bandY : m.db === null ? null : Y(m.db); };
  state.chart = {X: X, YM: YM, top: M.t, bottom: bottom, W: W};

  var g = svg('g', {'class': 'axes'}, root);
  yt.forEach(function (v) {
    svg('line', {x1: M.l, x2: W - M.r, y1: Y(v), y2: Y(v), 'class': 'grid'}, g);
    svg('text', {x: M.l - 8, y: Y(v) + 4, 'text-anchor': 'end'}, g, String(v));
  });
  if (band) {
    svg('rect', {x: M.l, y: M.t, width: pw, height: band, 'class': 'exact-band'}, g);
    svg('text', {x: M.l - 8, y: bandY + 4, 'text-anchor': 'end', 'class': 'band-label'}, g, 'exact');
  }
  if (n > 0) {
    niceTicks(0, Math.max(1, n - 1), Math.max(2, Math.floor(pw / 80))).forEach(function (v) {
      if (v < 0 || v > n - 1 || v !== Math.round(v)) return;
      svg('line', {x1: X(v), x2: X(v), y1: bottom, y2: bottom + 5, 'class': 'tick'}, g);
      svg('text', {x: X(v), y: bottom + 18, 'text-anchor': 'middle'}, g, String(v));
    });
  }
  svg('line', {x1: M.l, x2: W - M.r, y1: bottom, y2: bottom, 'class': 'axis'}, g);
  svg('text', {x: M.l + pw / 2, y: H - 6, 'text-anchor': 'middle', 'class': 'axis-title'}, g,
      'layer (topological order of the quantized model)');
  svg('text', {x: 14, y: (top + bottom) / 2, 'text-anchor': 'middle', 'class': 'axis-title',
               transform: 'rotate(-90 14 ' + (top + bottom) / 2 + ')'}, g, 'SQNR (dB)');
  if (!n) svg('text', {x: M.l + pw / 2, y: (top + bottom) / 2, 'text-anchor': 'middle'}, g, 'No layers were compared.');

  // One <path> per series: a line for accumulated (broken at gaps and exact values), round zero-length
  // segments as dots; thousands of points stay two elements.
  var line = '', accDots = '', locDots = '', points = 0, pen = false;
  layers.forEach(function (L, i) {
    var x = X(i).toFixed(1), ya = YM(L.acc), yl = YM(L.loc);
    if (ya !== null) { points++; accDots += 'M' + x + ' ' + ya.toFixed(1) + 'h0'; }
    if (ya !== null && !L.acc.exact) { line += (pen ? 'L' : 'M') + x + ' ' + ya.toFixed(1); pen = true; } else pen = false;
    if (yl !== null) { points++; locDots += 'M' + x + ' ' + yl.toFixed(1) + 'h0'; }
  });
  var dotW = n > 600 ? 2.5 : n > 200 ? 3.5 : 5;
  svg('path', {d: line || 'M0 0', 'class': 'acc-line'}, root);
  svg('path', {d: locDots || 'M0 0', 'class': 'loc-dots', 'stroke-width': dotW}, root);
  if (n <= 400) svg('path', {d: accDots || 'M0 0', 'class': 'acc-dots', 'stroke-width': dotW - 1}, root);

  // Worst layers: red markers with short labels. Labels are placed worst first, each in the first of 4 rows
  // where it overlaps no label already placed, so the worst ones always get theirs.
  var gw = svg('g', {'class': 'worst'}, root), rows = [[], [], [], []];
  worst.slice(0, 30).forEach(function (L) {
    var m = L.loc && YM(L.loc) !== null ? L.loc : L.acc, y = YM(m);
    if (y === null) return;
    var x = X(L.pos);
    svg('circle', {cx: x, cy: y, r: 5.5}, gw);
    var label = '#' + (L.worst + 1) + ' ' + shortName(L.tensor, L.op), w = label.length * 6.2 + 6;
    var lx = Math.min(Math.max(x, M.l + w / 2), W - M.r - w / 2), a = lx - w / 2, b = lx + w / 2;
    for (var r = 0; r < rows.length; r++) {
      if (rows[r].some(function (s) { return a < s[1] && s[0] < b; })) continue;
      rows[r].push([a, b]);
      var ly = y + 18 + r * 13;
      if (ly > bottom - 4) ly = y - 10 - r * 13;
      if (r > 0) svg('line', {x1: x, y1: y + (ly > y ? 6 : -6), x2: lx, y2: ly + (ly > y ? -9 : 3), 'class': 'leader'}, gw);
      svg('text', {x: lx, y: ly, 'text-anchor': 'middle', 'class': 'worst-label'}, gw, label);
      break;
    }
  });

  // Hover and selection: one transparent overlay; the nearest layer is found arithmetically from x.
  var sel = svg('g', {'class': 'sel'}, root), hov = svg('g', {'class': 'hover'}, root);
  var overlay = svg('rect', {x: M.l - 6, y: M.t, width: pw + 12, height: bottom - M.t, 'class': 'overlay'}, root);
  state.chart.sel = sel;
  function nearest(e) {
    if (!n) return -1;
    var i = n <= 1 ? 0 : Math.round((pointerX(e, root, W) - M.l) / pw * (n - 1));
    return Math.max(0, Math.min(n - 1, i));
  }
  overlay.addEventListener('mousemove', function (e) {
    var i = nearest(e);
    hov.textContent = '';
    if (i < 0) return;
    var L = layers[i], x = X(i);
    svg('line', {x1: x, x2: x, y1: M.t, y2: bottom, 'class': 'guide'}, hov);
    [[L.acc, 'acc'], [L.loc, 'loc']].forEach(function (p) {
      var y = YM(p[0]);
      if (y !== null) svg('circle', {cx: x, cy: y, r: 4.5, 'class': 'hover-' + p[1]}, hov);
    });
    showTip(L, x * root.getBoundingClientRect().width / W);
  });
  overlay.addEventListener('mouseleave', function () { hov.textContent = ''; $('chart-tip').style.display = 'none'; });
  overlay.addEventListener('click', function (e) { var i = nearest(e); if (i >= 0) select(i, 'chart'); });
  drawSelMarker();
  document.body.dataset.chart = 'drawn';
  document.body.dataset.points = String(points);
}
function showTip(L, px) {
  var tip = $('chart-tip'), box = $('chart-box');
  tip.textContent = '';
  tip.appendChild(el('div', 'tip-name', '#' + L.index + '  ' + L.tensor));
  tip.appendChild(el('div', 'tip-sub', [L.op, L.shape].filter(Boolean).join('  \u00b7  ')));
  var acc = 'accumulated ' + fmtDb(L.acc, true) + (L.acc ? '  \u00b7  cos ' + fmtFixed(L.acc.cos, 5) : '');
  tip.appendChild(el('div', '', acc));
  tip.appendChild(el('div', '', 'local ' + fmtDb(L.loc, true) + (L.loc ? '' : ' (not isolated)')));
  tip.appendChild(el('div', 'tip-sub', L.quantized ? (L.dtype || 'quantized') + '  scale ' + fmtG(L.scale) +
      '  zp ' + fmtG(L.zp) : 'not quantized'));
  if (L.worst >= 0) tip.appendChild(el('div', 'tip-worst', 'worst layer #' + (L.worst + 1)));
  tip.style.display = 'block';
  var left = px + 14;
  if (left + tip.offsetWidth > box.clientWidth) left = Math.max(0, px - 14 - tip.offsetWidth);
  tip.style.left = left + 'px';
  tip.style.top = '8px';
}
function drawSelMarker() {
  var c = state.chart;
  if (!c || !c.sel) return;
  c.sel.textContent = '';
  var L = layers[state.sel];
  if (!L) return;
  var x = c.X(L.pos);
  svg('line', {x1: x, x2: x, y1: c.top, y2: c.bottom, 'class': 'sel-line'}, c.sel);
  [L.acc, L.loc].forEach(function (m) {
    var y = c.YM(m);
    if (y !== null) svg('circle', {cx: x, cy: y, r: 7, 'class': 'sel-ring'}, c.sel);
  });
}

// ---- layer table ----
var COLUMNS = [
  {h: '#', w: 52, t: 'index in topological order', num: true, key: function (L) { return L.index; }},
  {h: 'tensor', t: 'tensor name (hover: producing node)', key: function (L) { return L.tensor; }},
  {h: 'op', w: 80, key: function (L) { return L.op; }},
  {h: 'shape', w: 120, t: 'sorted by element count', key: function (L) {
    return L.shapeArr.length ? L.shapeArr.reduce(function (a, d) { return a * (num(d) !== null ? d : 1); }, 1) : null;
  }},
  {h: 'dtype', w: 56, t: 'quantized type (\u2014: not quantized)', key: function (L) { return L.quantized ? L.dtype || '?' : null; }},
  {h: 'scale', w: 76, num: true, key: function (L) { return L.scale; }},
  {h: 'zero pt', w: 60, num: true, key: function (L) { return L.zp; }},
  {h: 'range', w: 142, t: 'representable range of the quantized tensor (sorted by width)', num: true,
   key: function (L) { return L.range ? L.range[1] - L.range[0] : null; }},
  {h: 'clipped', w: 80, t: 'fraction of FP32 values outside the quantized range', num: true,
   key: function (L) { return L.clipped; }},
  {h: 'acc. SQNR', w: 82, t: 'accumulated SQNR (dB): quantized model up to this tensor vs FP32', num: true,
   key: function (L) { return L.acc ? L.acc.db : null; }},
  {h: 'local SQNR', w: 86, t: 'local SQNR (dB): error added by this layer alone, FP32 inputs', num: true,
   key: function (L) { return L.loc ? L.loc.db : null; }},
  {h: 'cosine', w: 72, t: 'accumulated cosine similarity', num: true, key: function (L) { return L.acc ? L.acc.cos : null; }},
  {h: 'MSE', w: 72, t: 'accumulated mean squared error', num: true, key: function (L) { return L.acc ? L.acc.mse : null; }},
  {h: 'max abs', w: 72, t: 'accumulated max abs error', num: true, key: function (L) { return L.acc ? L.acc.maxAbs : null; }}
];
function cell(cls, txt, title) {
  return '<td' + (cls ? ' class="' + cls + '"' : '') + (title ? ' title="' + esc(title) + '"' : '') + '>' + esc(txt) + '</td>';
}
// Big models get a windowed table: only the rows in view (plus a margin) exist in the DOM, between two spacer
// rows. A full table of thousands of rows costs about a second of layout per sort or filter; windowed, every
// interaction re-renders a few dozen rows. Windowing needs fixed column widths and one-line rows, so long
// names are shortened in the middle (the tooltip has the full name); small tables keep wrapping names.
var WINDOW_ABOVE = 500, WINDOW_MARGIN = 30;
var table = {order: [], view: [], query: '', windowed: false, rowH: 26, first: -1, last: -1, nameChars: 60, pending: false};
function fitName(t, max) {
  if (!table.windowed || t.length <= max) return t;
  var tail = Math.ceil((max - 1) * 0.6);
  return t.slice(0, Math.max(0, max - 1 - tail)) + '\u2026' + t.slice(t.length - tail);
}
function rowHtml(L) {
  var dtype = L.quantized ? L.dtype || 'quantized' : '\u2014';
  var budget = Math.max(12, table.nameChars - (L.isOutput ? 8 : 0) - (L.worst >= 0 ? 10 : 0));
  var tensor = '<td class="tensor mono" title="' + esc(L.tensor + (L.node ? '\nnode: ' + L.node : '')) + '">' +
      esc(fitName(L.tensor, budget)) + (L.isOutput ? ' <span class="badge">output</span>' : '') +
      (L.worst >= 0 ? ' <span class="badge bad">worst #' + (L.worst + 1) + '</span>' : '') + '</td>';
  var cls = (L.worst >= 0 ? 'worst' : '') + (L.pos === state.sel ? ' sel' : '');
  return '<tr data-pos="' + L.pos + '"' + (cls ? ' class="' + cls + '"' : '') + '>' +
      cell('num', String(L.index)) + tensor + cell('', L.op) + cell('mono', L.shape) +
      cell(L.quantized ? '' : 'muted', dtype, L.quantized ? '' : 'not quantized') +
      cell('num', L.scale === null ? '' : fmtG(L.scale)) + cell('num', L.zp === null ? '' : String(L.zp)) +
      cell('num mono', fmtRange(L.range)) + cell('num' + (L.clipped > 0.001 ? ' bad' : ''), fmtPct(L.clipped)) +
      cell('num q-' + quality(L.acc), fmtDb(L.acc)) + cell('num q-' + quality(L.loc), fmtDb(L.loc), L.loc ? '' : 'layer could not be isolated') +
      cell('num', L.acc ? fmtFixed(L.acc.cos, 5) : 'n/a') + cell('num', L.acc ? fmtG(L.acc.mse) : 'n/a') +
      cell('num', L.acc ? fmtG(L.acc.maxAbs) : 'n/a') + '</tr>';
}
function drawTable() {
  var head = $('layer-head'), body = $('layer-body'), tr = el('tr');
  table.windowed = layers.length > WINDOW_ABOVE;
  $('layers').classList.toggle('windowed', table.windowed);
  COLUMNS.forEach(function (c, k) {
    var th = el('th', c.num ? 'num' : '', c.h);
    if (c.t) th.title = c.t;
    if (table.windowed && c.w) th.style.width = c.w + 'px';
    th.dataset.col = String(k);
    tr.appendChild(th);
  });
  head.appendChild(tr);
  table.order = layers.map(function (L) { return L.pos; });
  table.view = table.order.slice();
  head.addEventListener('click', function (e) {
    var th = e.target.closest('th');
    if (th) sortBy(+th.dataset.col);
  });
  body.addEventListener('click', function (e) {
    var r = e.target.closest('tr');
    if (r && r.dataset.pos !== undefined) select(+r.dataset.pos, 'table');
  });
  $('filter').addEventListener('input', function () { filterRows(this.value); });
  $('table-wrap').addEventListener('scroll', function () {
    if (!table.windowed || table.pending) return;
    table.pending = true;
    requestAnimationFrame(function () { table.pending = false; guarded('table', function () { renderRows(false); }); });
  });
  measureTable();
  renderRows(true);
  $('row-count').textContent = layers.length + ' layers';
  markSorted(0, 1);
  document.body.dataset.rows = String(layers.length);
}
// Characters of a tensor name that fit its column (windowed mode), from the rendered width of the font.
function measureTable() {
  if (!table.windowed) return;
  var th = $('layer-head').querySelectorAll('th')[1], probe = el('span', 'mono', '0123456789');
  probe.style.visibility = 'hidden';
  document.body.appendChild(probe);
  var charW = probe.getBoundingClientRect().width / 10 || 7.5;
  document.body.removeChild(probe);
  if (th && th.clientWidth > 0) table.nameChars = Math.max(16, Math.floor((th.clientWidth - 18) / charW));
}
function renderRows(force) {
  var body = $('layer-body'), v = table.view, n = v.length, cols = COLUMNS.length;
  if (!n) {
    body.innerHTML = '<tr class="empty"><td colspan="' + cols + '">' +
        (layers.length ? 'No layer matches the filter.' : 'No layers were compared.') + '</td></tr>';
    table.first = table.last = -1;
    return;
  }
  var first = 0, last = n, h = table.rowH;
  if (table.windowed) {
    var wrap = $('table-wrap'), top = wrap.scrollTop - $('layer-head').offsetHeight;
    first = Math.max(0, Math.floor(top / h) - WINDOW_MARGIN);
    last = Math.min(n, Math.floor(top / h) + Math.ceil((wrap.clientHeight || 800) / h) + WINDOW_MARGIN);
    if (!force && first === table.first && last === table.last) return;
  }
  table.first = first; table.last = last;
  var html = first > 0 ? '<tr class="spacer"><td colspan="' + cols + '"></td></tr>' : '';
  for (var i = first; i < last; i++) html += rowHtml(layers[v[i]]);
  if (last < n) html += '<tr class="spacer"><td colspan="' + cols + '"></td></tr>';
  body.innerHTML = html;
  var rows = body.rows;
  if (first > 0) rows[0].style.height = first * h + 'px';
  if (last < n) rows[rows.length - 1].style.height = (n - last) * h + 'px';
  if (table.windowed && force) {  // the real row height (fonts differ between systems)
    var sample = rows[first > 0 ? 1 : 0];
    if (sample && sample.offsetHeight > 0 && sample.offsetHeight !== h) { table.rowH = sample.offsetHeight; renderRows(true); }
  }
}
var sortState = {col: 0, dir: 1};
function sortBy(col) {
  var c = COLUMNS[col];
  if (!c) return;
  sortState.dir = sortState.col === col ? -sortState.dir : 1;
  sortState.col = col;
  var dir = sortState.dir, keys = layers.map(c.key);
  markSorted(col, dir);
  table.order.sort(function (a, b) {
    var x = keys[a], y = keys[b], xn = x === null || x === undefined || x === '', yn = y === null || y === undefined || y === '';
    if (xn || yn) return xn === yn ? a - b : xn ? 1 : -1;  // missing values last in both directions
    return x < y ? -dir : x > y ? dir : a - b;
  });
  applyFilter();
}
function markSorted(col, dir) {
  Array.prototype.forEach.call($('layer-head').querySelectorAll('th'), function (th) {
    var on = +th.dataset.col === col;
    th.classList.toggle('sorted', on);
    th.dataset.dir = on ? (dir > 0 ? '\u25b2' : '\u25bc') : '';
    th.setAttribute('aria-sort', on ? (dir > 0 ? 'ascending' : 'descending') : 'none');
  });
}
function applyFilter() {
  var q = table.query;
  table.view = !q ? table.order.slice() : table.order.filter(function (p) {
    var L = layers[p];
    return (L.tensor + ' ' + L.op + ' ' + L.node).toLowerCase().indexOf(q) >= 0;
  });
  renderRows(true);
  $('row-count').textContent = q ? table.view.length + ' of ' + layers.length + ' layers' : layers.length + ' layers';
}
function filterRows(q) {
  table.query = q.trim().toLowerCase();
  $('table-wrap').scrollTop = 0;
  applyFilter();
}
function markSelectedRow(pos, scroll) {
  var body = $('layer-body'), old = body.querySelector('tr.sel');
  if (old) old.classList.remove('sel');
  var idx = scroll ? table.view.indexOf(pos) : -1;
  if (idx >= 0) {
    // Scrolls the table's own box only: the page must not jump when a chart point is clicked.
    var wrap = $('table-wrap'), headH = $('layer-head').offsetHeight, r = body.querySelector('tr[data-pos="' + pos + '"]');
    var top = r ? r.offsetTop : headH + idx * table.rowH, h = r ? r.offsetHeight : table.rowH;
    if (top - headH < wrap.scrollTop || top + h > wrap.scrollTop + wrap.clientHeight) {
      wrap.scrollTop = Math.max(0, top - headH - wrap.clientHeight / 3);
      if (table.windowed) renderRows(false);
    }
  }
  var row = body.querySelector('tr[data-pos="' + pos + '"]');
  if (row) row.classList.add('sel');
}

// ---- histogram panel ----
function setupHistogram() {
  var s = $('hist-select'), withHist = layers.filter(function (L) { return L.hist; });
  var none = el('option', '', '\u2014 no histogram for the selected tensor \u2014');
  none.value = ''; none.disabled = true;
  s.appendChild(none);
  var frag = document.createDocumentFragment();
  withHist.forEach(function (L) {
    var o = el('option', '', '#' + L.index + '  ' + L.tensor + (L.op ? '  (' + L.op + ')' : '') + (L.worst >= 0 ? '  \u2014 worst #' + (L.worst + 1) : ''));
    o.value = String(L.pos);
    frag.appendChild(o);
  });
  s.appendChild(frag);
  s.disabled = withHist.length === 0;
  s.addEventListener('change', function () { if (s.value !== '') select(+s.value, 'hist'); });
  var log = $('hist-log');
  log.checked = state.logHist;
  log.addEventListener('change', function () { state.logHist = log.checked; drawHist(); });
}
function defaultSelection() {
  var w = worst.filter(function (L) { return L.hist; })[0] || worst[0];
  if (w) return w.pos;
  var best = null;
  layers.forEach(function (L) {
    if (!L.hist) return;
    var d = L.loc && L.loc.db !== null ? L.loc.db : Infinity;
    if (!best || d < best.d) best = {p: L.pos, d: d};
  });
  return best ? best.p : layers.length ? 0 : -1;
}
function drawHist() {
  var box = $('hist-box'), root = $('hist'), W = plotWidth(box), H = 300, L = layers[state.sel];
  root.textContent = '';
  root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  root.setAttribute('width', W); root.setAttribute('height', H);
  var info = $('hist-info'), note = $('hist-note');
  info.textContent = ''; note.textContent = ''; note.className = 'note';
  if (!L) { svg('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'}, root, 'No layer selected.'); return; }
  var dl = el('dl', 'kv');
  dtdd(dl, 'tensor', L.tensor, 'mono');
  if (L.node) dtdd(dl, 'node', L.node + (L.op ? '  (' + L.op + ')' : ''), 'mono');
  dtdd(dl, 'quantized', L.quantized ? (L.dtype || '?') + ',  scale ' + fmtG(L.scale) + ',  zero point ' + fmtG(L.zp) : 'no');
  if (L.range) dtdd(dl, 'range', fmtRange(L.range), 'mono');
  dtdd(dl, 'FP32 min / max', fmtG(L.fmin) + ' / ' + fmtG(L.fmax), 'mono');
  dtdd(dl, 'SQNR', 'accumulated ' + fmtDb(L.acc, true) + ',  local ' + fmtDb(L.loc, true));
  info.appendChild(dl);
  var h = L.hist;
  if (!h) {
    svg('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'}, root, 'No FP32 histogram was recorded for this tensor.');
    return;
  }
  var M = {l: 48, r: 14, t: 26, b: 34}, pw = W - M.l - M.r, bottom = H - M.b, nb = h.counts.length;
  var lo = h.lo, hi = h.hi, R = L.range;
  if (R) { lo = Math.min(lo, R[0]); hi = Math.max(hi, R[1]); }
  var pad = (hi - lo) * 0.03 || Math.max(1e-6, Math.abs(lo) * 0.1);
  lo -= pad; hi += pad;
  var X = function (v) { return M.l + (v - lo) / (hi - lo) * pw; };
  var maxC = h.counts.reduce(function (a, b) { return Math.max(a, b); }, 1), log = state.logHist;
  var yt = log ? [] : niceTicks(0, maxC, 4);
  if (log) for (var p = 1; p <= maxC * 1.0001 && yt.length < 12; p *= 10) yt.push(p);
  var ymax = log ? Math.log10(1 + maxC) : yt[yt.length - 1];
  var Y = function (c) { return bottom - (log ? Math.log10(1 + c) : c) / ymax * (bottom - M.t); };
  var g = svg('g', {'class': 'axes'}, root);
  yt.forEach(function (v) {
    svg('line', {x1: M.l, x2: W - M.r, y1: Y(v), y2: Y(v), 'class': 'grid'}, g);
    svg('text', {x: M.l - 6, y: Y(v) + 4, 'text-anchor': 'end'}, g, v >= 1e6 ? v / 1e6 + 'M' : v >= 1e3 ? v / 1e3 + 'k' : String(v));
  });
  niceTicks(lo, hi, Math.max(3, Math.floor(pw / 70))).forEach(function (v) {
    if (v < lo || v > hi) return;
    svg('line', {x1: X(v), x2: X(v), y1: bottom, y2: bottom + 4, 'class': 'tick'}, g);
    svg('text', {x: X(v), y: bottom + 16, 'text-anchor': 'middle'}, g, fmtG(v));
  });
  svg('line', {x1: M.l, x2: W - M.r, y1: bottom, y2: bottom, 'class': 'axis'}, g);
  svg('text', {x: M.l + pw / 2, y: H - 4, 'text-anchor': 'middle', 'class': 'axis-title'}, g, 'FP32 value');

  // Bars; the part of the mass outside the quantized range is clipped (estimated per bin, uniform within it).
  var bw = (h.hi - h.lo) / nb, clipped = 0, bars = svg('g', {}, root);
  h.counts.forEach(function (c, k) {
    var x0 = h.lo + k * bw, x1 = x0 + bw, out = 0;
    if (R) {
      if (bw > 0) out = (Math.max(0, Math.min(x1, R[0]) - x0) + Math.max(0, x1 - Math.max(x0, R[1]))) / bw;
      else out = x0 < R[0] || x0 > R[1] ? 1 : 0;
    }
    clipped += c * Math.min(1, out);
    if (!c) return;
    var left = X(x0), width = Math.max(1, X(x1) - left - (nb <= 128 ? 1 : 0));
    var r = svg('rect', {x: left, y: Y(c), width: width, height: Math.max(0.5, bottom - Y(c)),
                         'class': out > 0 ? 'bar clip' : 'bar'}, bars);
    svg('title', {}, r, '[' + fmtG(x0) + ', ' + fmtG(x1) + '): ' + c);
  });
  if (R) {
    // Labels outside their line (min to the left, max to the right) so a narrow range keeps both readable.
    R.forEach(function (v, k) {
      var x = X(v), label = (k ? 'max ' : 'min ') + fmtG(v), w = label.length * 6.3;
      svg('line', {x1: x, x2: x, y1: M.t - 6, y2: bottom, 'class': 'range-line'}, root);
      var lx = k ? Math.min(x + 4, W - w) : Math.max(x - 4, w), anchor = k ? 'start' : 'end';
      svg('text', {x: lx, y: M.t - 10, 'text-anchor': anchor, 'class': 'range-label'}, root, label);
    });
  }
  if (!R) {
    note.textContent = L.quantized ? 'No quantized range in the report for this tensor.' :
        'Not quantized: the tensor stays in floating point, nothing is clipped.';
  } else if (L.clipped !== null ? L.clipped > 0 : h.total > 0 && clipped > 0) {
    // The comparison counts clipped values exactly; the histogram estimate is for reports without that count.
    var f = L.clipped !== null ? L.clipped : clipped / h.total;
    note.textContent = fmtPct(f) + ' of the FP32 values' + (L.clipped !== null ? '' : ' (estimated from ' + nb + ' bins)') +
        ' fall outside the quantized range ' + fmtRange(R) + ' and are clipped.';
    note.className = 'note ' + (f > 0.001 ? 'bad' : 'warn');
  } else {
    note.textContent = 'No clipping: all FP32 values lie inside the quantized range ' + fmtRange(R) + '.';
    note.className = 'note good';
  }
}

// ---- selection ties the three views together ----
function select(pos, from) {
  var L = layers[pos];
  if (!L) return;
  state.sel = pos;
  guarded('table', function () { markSelectedRow(pos, from === 'chart' || from === 'hist'); });
  var s = $('hist-select');
  if (from !== 'hist') s.value = L.hist ? String(pos) : '';
  guarded('histogram', drawHist);
  drawSelMarker();
}

var t0 = performance.now();
guarded('header', drawHeader);
guarded('outputs', drawOutputs);
guarded('table', drawTable);
guarded('chart', drawChart);
guarded('histogram', setupHistogram);
guarded('selection', function () {
  var p = defaultSelection();
  if (p >= 0) select(p, 'init'); else drawHist();
});
document.body.dataset.drawMs = String(Math.round(performance.now() - t0));  // checked for big models
var lastW = 0, timer = 0;
window.addEventListener('resize', function () {
  clearTimeout(timer);
  timer = setTimeout(function () {
    var w = $('chart-box').clientWidth;
    if (w === lastW) return;
    lastW = w;
    guarded('chart', drawChart);
    guarded('histogram', drawHist);
    guarded('table', function () { measureTable(); renderRows(true); });
  }, 150);
});
lastW = $('chart-box').clientWidth;
})();
)JS";

}  // namespace lowbit::compare::html_assets
