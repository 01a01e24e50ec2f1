// Static parts of the HTML report: stylesheet, error hook and page skeleton (the drawing script is in
// html_report_script.cpp). No external resources: system fonts only, everything inline.
#include "compare/html_report_assets.h"

namespace lowbit::compare::html_assets {

const char kStyle[] = R"CSS(:root {
  --fg: #0f172a; --muted: #64748b; --line: #e2e8f0; --soft: #f1f5f9; --bg: #f6f7f9; --card: #fff;
  --acc: #2563eb; --loc: #ea580c; --bad: #dc2626; --ok: #16a34a; --warn: #d97706; --range: #7c3aed;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1500px; margin: 0 auto; padding: 20px 24px 40px; }
.mono, code, select { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
.mono { font-size: 12.5px; }
.muted { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
  margin-bottom: 16px; box-shadow: 0 1px 2px rgba(15, 23, 42, .05); min-width: 0; }
h1 { font-size: 21px; margin: 0; font-weight: 650; letter-spacing: -.01em; }
h2 { font-size: 15px; margin: 0 0 8px; font-weight: 620; }
.title-row { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; }
.tool { color: var(--muted); font-size: 13px; border: 1px solid var(--line); border-radius: 999px; padding: 1px 10px; }
dl { margin: 0; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin-top: 12px; }
.meta dt, .kv dt { color: var(--muted); }
.meta dd, .kv dd { margin: 0; overflow-wrap: anywhere; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 1px 12px; font-size: 13px; }
.outputs { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 12px; }
.out { border: 1px solid var(--line); border-left: 4px solid var(--muted); border-radius: 8px; padding: 10px 12px; }
.out.good { border-left-color: var(--ok); } .out.fair { border-left-color: var(--warn); }
.out.poor { border-left-color: var(--bad); }
.out-name { font-weight: 600; overflow-wrap: anywhere; }
.big { font-size: 24px; font-weight: 650; margin: 2px 0 4px; font-variant-numeric: tabular-nums; }
.out.good .big { color: var(--ok); } .out.fair .big { color: var(--warn); } .out.poor .big { color: var(--bad); }
.task { margin-top: 6px; padding-top: 6px; border-top: 1px dashed var(--line); font-weight: 550; }
.hint { color: var(--muted); font-size: 12.5px; margin: 8px 0 0; }
.panels { display: flex; gap: 16px; flex-wrap: wrap; align-items: stretch; }
#chart-panel { flex: 2 1 620px; }
#hist-panel { flex: 1 1 380px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--muted); font-size: 12.5px; margin-bottom: 6px; }
.sw { display: inline-block; vertical-align: middle; margin-right: 6px; }
.sw.line { width: 18px; height: 3px; border-radius: 2px; }
.sw.dot { width: 8px; height: 8px; border-radius: 50%; }
.sw.band { width: 16px; height: 10px; background: #dcfce7; border: 1px solid #86efac; }
.sw.dash { width: 0; height: 12px; border-left: 2px dashed var(--range); }
.sw.clip { width: 10px; height: 10px; background: #f87171; }
.sw.barsw { width: 10px; height: 10px; background: #94a3b8; }
.plot { position: relative; }
svg { display: block; width: 100%; height: auto; overflow: visible; }
svg text { font-size: 11px; fill: var(--muted); }
.grid { stroke: #eef2f6; } .axis { stroke: #94a3b8; } .tick { stroke: #94a3b8; }
.axis-title { fill: #475569; font-size: 11.5px; }
.exact-band { fill: #f0fdf4; stroke: #bbf7d0; }
.band-label { fill: var(--ok); }
.acc-line { fill: none; stroke: var(--acc); stroke-width: 1.8; stroke-linejoin: round; }
.acc-dots { stroke: var(--acc); stroke-linecap: round; fill: none; }
.loc-dots { stroke: var(--loc); stroke-linecap: round; fill: none; opacity: .85; }
.worst circle { fill: var(--bad); stroke: #fff; stroke-width: 1.5; }
.worst-label { fill: #b91c1c; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.leader { stroke: #fca5a5; }
.overlay { fill: transparent; cursor: crosshair; }
.guide { stroke: #94a3b8; stroke-dasharray: 3 3; }
.hover-acc { fill: var(--acc); stroke: #fff; } .hover-loc { fill: var(--loc); stroke: #fff; }
.sel-line { stroke: #0f172a; stroke-opacity: .35; stroke-width: 1.5; }
.sel-ring { fill: none; stroke: #0f172a; stroke-width: 1.5; }
.tip { position: absolute; display: none; pointer-events: none; z-index: 5; max-width: 380px; padding: 8px 10px;
  background: rgba(15, 23, 42, .95); color: #f8fafc; border-radius: 7px; font-size: 12px; line-height: 1.4;
  box-shadow: 0 4px 14px rgba(15, 23, 42, .25); }
.tip-name { font-weight: 600; overflow-wrap: anywhere; margin-bottom: 2px; }
.tip-sub { color: #cbd5e1; } .tip-worst { color: #fca5a5; font-weight: 600; }
.controls { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
select { max-width: 100%; flex: 1 1 200px; font-size: 12px; padding: 4px 6px; border: 1px solid #cbd5e1;
  border-radius: 6px; background: #fff; color: var(--fg); }
label { color: var(--muted); font-size: 12.5px; white-space: nowrap; }
.bar { fill: #94a3b8; } .bar.clip { fill: #f87171; }
.range-line { stroke: var(--range); stroke-width: 1.5; stroke-dasharray: 5 3; }
.range-label { fill: var(--range); font-weight: 600; }
#hist-info { margin-top: 8px; }
.note { margin: 8px 0 0; font-size: 13px; padding: 6px 10px; border-radius: 6px; background: var(--soft); }
.note:empty { display: none; }
.note.bad { background: #fef2f2; color: #991b1b; } .note.warn { background: #fffbeb; color: #92400e; }
.note.good { background: #f0fdf4; color: #166534; }
.table-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin-bottom: 8px; }
.table-head h2 { margin: 0; }
#filter { font: inherit; font-size: 13px; padding: 4px 8px; border: 1px solid #cbd5e1; border-radius: 6px; width: 260px; }
#row-count { color: var(--muted); font-size: 12.5px; }
#table-wrap { max-height: 72vh; overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: separate; border-spacing: 0; width: 100%; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th { position: sticky; top: 0; z-index: 1; background: var(--soft); text-align: left; font-weight: 600; padding: 7px 8px;
  border-bottom: 1px solid var(--line); cursor: pointer; user-select: none; white-space: nowrap; }
th:hover { background: #e2e8f0; }
th.sorted::after { content: " " attr(data-dir); color: var(--acc); }
.num { text-align: right; }
td { padding: 4px 8px; border-bottom: 1px solid #f1f5f9; white-space: nowrap; }
td.tensor { white-space: normal; overflow-wrap: anywhere; min-width: 14em; max-width: 32em; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #f8fafc; }
tr.worst { background: #fef2f2; }
tr.worst td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
tr.sel, tr.sel:hover { background: #dbeafe; }
table.windowed { table-layout: fixed; min-width: 1180px; }
table.windowed td { overflow: hidden; text-overflow: ellipsis; }
table.windowed tbody tr:not(.spacer) { height: 26px; }
table.windowed td.tensor { white-space: nowrap; min-width: 0; max-width: none; }
tr.spacer td { padding: 0; border: 0; }
tr.empty td { color: var(--muted); text-align: center; padding: 20px; cursor: default; }
.q-good { color: #15803d; } .q-fair { color: #b45309; } .q-poor { color: var(--bad); font-weight: 600; }
.q-na { color: var(--muted); }
.badge { display: inline-block; font-family: system-ui, sans-serif; font-size: 10.5px; padding: 0 6px; border-radius: 999px;
  background: #e0e7ff; color: #3730a3; margin-left: 4px; }
.badge.bad { background: #fee2e2; color: #991b1b; }
.bad { color: var(--bad); }
.notes { margin: 0; padding-left: 18px; }
#errors { margin: 0; padding: 10px 24px; background: #fef2f2; color: #991b1b; border-bottom: 2px solid var(--bad);
  white-space: pre-wrap; font-size: 12px; }
#errors:empty { display: none; }
noscript p { margin: 20px 24px; color: var(--bad); }
@media (max-width: 700px) { main { padding: 12px; } .meta { grid-template-columns: 1fr; } }
)CSS";

// Runs first, before the data and the drawing script, so that any later failure becomes visible in the page
// (and to tests/cli/check_html_report.py, which fails when #errors is not empty).
const char kErrorHook[] = R"JS((function () {
  function put(msg) {
    var box = document.getElementById('errors');
    if (box) box.textContent += msg + '\n';
  }
  window.onerror = function (msg, src, line, col) {
    put('script error: ' + msg + (line ? ' (line ' + line + (col ? ':' + col : '') + ')' : ''));
  };
  window.addEventListener('unhandledrejection', function (e) {
    var r = e.reason;
    put('unhandled promise rejection: ' + (r && r.message ? r.message : r));
  });
  document.addEventListener('securitypolicyviolation', function (e) {
    put('blocked by the report\'s no-network policy: ' + e.violatedDirective + ' ' + e.blockedURI);
  });
  var original = console.error;
  console.error = function () {
    put('console.error: ' + Array.prototype.join.call(arguments, ' '));
    if (original) original.apply(console, arguments);
  };
  window.lowbitReportError = put;
})();
)JS";

const char kSkeleton[] =
    R"HTML(<noscript><p>This report draws its charts and tables with JavaScript; please enable it.</p></noscript>
<main>
<header class="card">
  <div class="title-row"><h1>Quantization accuracy report</h1><span class="tool" id="tool">lowbit compare</span></div>
  <dl class="meta" id="meta"></dl>
</header>
<section class="card" id="outputs-panel">
  <h2>Model outputs</h2>
  <div class="outputs" id="outputs"></div>
  <p class="hint">SQNR = 10&#183;log<sub>10</sub>(signal power / error power) of the quantized model against FP32.
  Rule of thumb: &#8805; 30 dB good, 20&#8211;30 dB fair, &lt; 20 dB poor.</p>
</section>
<div class="panels">
<section class="card" id="chart-panel">
  <h2>SQNR along the network</h2>
  <div class="legend">
    <span><i class="sw line" style="background:var(--acc)"></i>accumulated (quantized model up to this layer)</span>
    <span><i class="sw dot" style="background:var(--loc)"></i>local (error added by this layer alone)</span>
    <span><i class="sw dot" style="background:var(--bad)"></i>worst layers (the report's ranking)</span>
    <span><i class="sw band"></i>exact (identical)</span>
  </div>
  <div class="plot" id="chart-box"><svg id="chart" role="img" aria-label="SQNR per layer"></svg>
    <div class="tip" id="chart-tip"></div></div>
  <p class="hint">Hover for details; click a point to show that tensor's histogram and table row.</p>
</section>
<section class="card" id="hist-panel">
  <h2>FP32 value histogram</h2>
  <div class="controls">
    <select id="hist-select" aria-label="tensor"></select>
    <label><input type="checkbox" id="hist-log"> log scale</label>
  </div>
  <div class="legend">
    <span><i class="sw barsw"></i>FP32 values</span><span><i class="sw clip"></i>clipped</span>
    <span><i class="sw dash"></i>quantized range (calibration threshold)</span>
  </div>
  <div class="plot" id="hist-box"><svg id="hist" role="img" aria-label="histogram"></svg></div>
  <p class="note" id="hist-note"></p>
  <div id="hist-info"></div>
</section>
</div>
<section class="card" id="table-panel">
  <div class="table-head"><h2>Layers</h2>
    <input type="search" id="filter" placeholder="filter by tensor, op or node" aria-label="filter">
    <span id="row-count"></span>
    <span class="hint" style="margin:0">Click a column header to sort (again to reverse), a row to select it.</span>
  </div>
  <div id="table-wrap"><table id="layers"><thead id="layer-head"></thead><tbody id="layer-body"></tbody></table></div>
</section>
</main>
)HTML";

}  // namespace lowbit::compare::html_assets
