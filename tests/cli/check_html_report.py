#!/usr/bin/python3
"""Checks a `lowbit compare --html` report in headless Chromium: its scripts run without errors and draw.

Usage: check_html_report.py HTML_FILE SCREENSHOT_PNG

Fails (exit 1, one message on stderr) when chromium is missing; when the page names an http(s) URL outside the
embedded report data (the report must be self-contained); when, after the scripts ran, <pre id="errors"> is not
empty or <body> lacks data-chart="drawn", data-points >= 1, data-rows >= 1; when Chromium's log shows an
uncaught exception, a console error or a blocked load; or when the screenshot is missing or implausibly small.
The DOM is taken from a temporary copy of the page that also exercises it the way a reader would (sorts every
column both ways, hovers and clicks along the chart, shows every histogram in both scales, filters, clicks
rows, resizes), so errors in event handlers count too; the screenshot shows the page as opened.
Prints "html report OK: N points, M rows, screenshot PATH" on success. Standard library only.
Environment: CHROMIUM=PATH uses that browser; LOWBIT_HTML_CHECK_VERBOSE=1 also prints draw timings.
"""
import html.parser
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

TIMEOUT_S = 120
MIN_SCREENSHOT_BYTES = 10 * 1024
DATA_ELEMENT = re.compile(r'<script type="application/json" id="report-data">.*?</script>', re.S)


class CheckFailed(Exception):
    pass


def find_chromium():
    override = os.environ.get("CHROMIUM")  # a specific build; also lets tests simulate a missing one
    candidates = [override] if override else ["/usr/bin/chromium", shutil.which("chromium")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise CheckFailed("chromium not found (expected " + (f"CHROMIUM={override}" if override else
                      "/usr/bin/chromium or chromium on PATH") + "; Debian: apt-get install chromium)")


def check_self_contained(text):
    """No network URL anywhere but inside the report data (model names may look like URLs)."""
    rest = DATA_ELEMENT.sub("", text, count=1)
    m = re.search(r"https?://", rest, re.I)
    if m:
        context = rest[max(0, m.start() - 60):m.end() + 60].replace("\n", " ")
        raise CheckFailed(f"report is not self-contained: it names a URL outside the report data: ...{context}...")
    m = re.search(r"""\b(?:src|href)\s*=\s*["']?\s*//""", rest, re.I)
    if m:
        raise CheckFailed(f"report is not self-contained: protocol-relative reference {rest[m.start():m.end() + 40]!r}")


# Appended to the copy that is dumped; runs after the page's own scripts. Its own failures land in #errors too.
EXERCISE = r"""<script>
(function () {
  var n = 0, t0 = performance.now();
  function q(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
  function mouse(el, type, fx) {
    var r = el.getBoundingClientRect();
    el.dispatchEvent(new MouseEvent(type, {bubbles: true, clientX: r.left + fx * r.width, clientY: r.top + r.height / 2}));
    n++;
  }
  q('#layer-head th').forEach(function (th) { th.click(); th.click(); n += 2; });
  var overlay = document.querySelector('#chart .overlay');
  if (overlay) {
    for (var k = 0; k <= 40; k++) { mouse(overlay, 'mousemove', k / 40); if (k % 4 === 0) mouse(overlay, 'click', k / 40); }
    mouse(overlay, 'mouseleave', 0);
  }
  var select = document.getElementById('hist-select'), log = document.getElementById('hist-log');
  if (select) q('#hist-select option').filter(function (o) { return !o.disabled; }).slice(0, 400).forEach(function (o) {
    select.value = o.value; select.dispatchEvent(new Event('change')); n++;
    if (log) { log.click(); log.click(); n += 2; }
  });
  q('#layer-body tr').slice(0, 60).forEach(function (tr) { tr.click(); n++; });
  var filter = document.getElementById('filter');
  if (filter) ['conv', 'no such tensor', ''].forEach(function (v) {
    filter.value = v; filter.dispatchEvent(new Event('input')); n++;
  });
  var box = document.getElementById('chart-box');
  if (box) { box.style.width = '480px'; window.dispatchEvent(new Event('resize')); n++; }
  setTimeout(function () {
    if (box) box.style.width = '';
    document.body.dataset.exercised = String(n);
    document.body.dataset.exerciseMs = String(Math.round(performance.now() - t0));
  }, 400);
})();
</script>
"""


def exercised_copy(text, directory):
    end = text.rfind("</body>")
    page = (text[:end] + EXERCISE + text[end:]) if end >= 0 else text + EXERCISE
    path = pathlib.Path(directory) / "exercised.html"
    path.write_text(page, encoding="utf-8")
    return path.as_uri()


def run_chromium(chromium, url, extra):
    with tempfile.TemporaryDirectory(prefix="lowbit-chromium-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--disable-background-networking", "--disable-component-update",
               "--hide-scrollbars", "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={profile}", *extra, url]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"chromium did not finish within {TIMEOUT_S} s: {' '.join(cmd)}")
    if r.returncode != 0:
        raise CheckFailed(f"chromium exited with {r.returncode}: {' '.join(cmd)}\n" + "\n".join(
            relevant_log(r.stderr)[-20:]))
    return r


# Chromium's own startup noise on a headless server without D-Bus, GPU or sandbox (seen with chromium 156), and
# the Debian wrapper script's shell warning. Console lines from the page are never treated as noise.
NOISE = re.compile(r"dbus/|bluez|bluetooth|UPower|idle_linux|vaapi|drmGetDevices|sandbox_linux|gpu_init|gl_surface|"
                   r"viz_main|command_buffer|unexpected operator|fontconfig", re.I)


def is_noise(line):
    return ":CONSOLE" not in line and "Uncaught" not in line and bool(NOISE.search(line))


def relevant_log(stderr):
    return [l for l in stderr.splitlines() if l.strip() and not is_noise(l)]


def console_problems(stderr):
    """Chromium 156 logs every console message as `[...:INFO:CONSOLE:<line>] "text", source: URL (line)`,
    without its level; uncaught exceptions read "Uncaught ...". (The page itself copies console.error calls
    into #errors, so those are caught there.) Older builds print ERROR:CONSOLE or :ERROR: for errors."""
    bad = []
    for line in relevant_log(stderr):
        is_console = ":CONSOLE" in line
        if "Uncaught" in line or "ERROR:CONSOLE" in line or (is_console and re.search(r'"(Refused to|Failed to load)', line)):
            bad.append(line.strip())
        elif ":ERROR:" in line and ("CONSOLE" in line or "source:" in line):
            bad.append(line.strip())
    return bad


class DomProbe(html.parser.HTMLParser):
    """Reads <body>'s attributes and the text of <pre id="errors"> from the DOM Chromium dumps."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.body = None
        self.errors = None
        self._in_errors = False

    def handle_starttag(self, tag, attrs):
        if tag == "body" and self.body is None:
            self.body = dict(attrs)
        if tag == "pre" and dict(attrs).get("id") == "errors":
            self._in_errors, self.errors = True, self.errors or ""

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_errors = False

    def handle_data(self, data):
        if self._in_errors:
            self.errors += data


def int_attr(body, name):
    try:
        return int(body.get(name, ""))
    except ValueError:
        return None


def check(html_path, png_path):
    if not os.path.isfile(html_path):
        raise CheckFailed(f"no such file: {html_path}")
    chromium = find_chromium()
    text = pathlib.Path(html_path).read_text(encoding="utf-8", errors="replace")
    check_self_contained(text)
    url = pathlib.Path(html_path).resolve().as_uri()

    with tempfile.TemporaryDirectory(prefix="lowbit-html-") as tmp:
        dom_run = run_chromium(chromium, exercised_copy(text, tmp), ["--dump-dom"])
    probe = DomProbe()
    probe.feed(dom_run.stdout)
    if probe.body is None:
        raise CheckFailed("chromium's DOM dump has no <body> (page did not load?)\n" +
                          "\n".join(relevant_log(dom_run.stderr)[-20:]))
    if probe.errors is None:
        raise CheckFailed('the page has no <pre id="errors"> element')
    if probe.errors.strip():
        raise CheckFailed("the page reported script errors:\n" + probe.errors.strip())
    bad = console_problems(dom_run.stderr)
    if bad:
        raise CheckFailed("chromium logged console errors:\n" + "\n".join(bad[:20]))
    body = probe.body
    if body.get("data-chart") != "drawn":
        raise CheckFailed(f'the chart was not drawn (body data-chart={body.get("data-chart")!r}, expected "drawn")')
    points, rows = int_attr(body, "data-points"), int_attr(body, "data-rows")
    if points is None or points < 1:
        raise CheckFailed(f"the chart drew no points (body data-points={body.get('data-points')!r})")
    if rows is None or rows < 1:
        raise CheckFailed(f"the layer table has no rows (body data-rows={body.get('data-rows')!r})")
    if int_attr(body, "data-exercised") is None:
        raise CheckFailed("the interaction exercise did not finish (page script stuck or too slow?)")

    png = pathlib.Path(png_path).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    if png.exists():
        png.unlink()  # a stale screenshot must not pass for a new one
    shot_run = run_chromium(chromium, url, [f"--screenshot={png}", "--window-size=1400,2000"])
    bad = console_problems(shot_run.stderr)
    if bad:
        raise CheckFailed("chromium logged console errors while taking the screenshot:\n" + "\n".join(bad[:20]))
    if not png.is_file():
        raise CheckFailed(f"chromium wrote no screenshot to {png}\n" + "\n".join(relevant_log(shot_run.stderr)[-20:]))
    size = png.stat().st_size
    with open(png, "rb") as f:
        magic = f.read(8)
    if magic != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed(f"screenshot {png} is not a PNG file")
    if size < MIN_SCREENSHOT_BYTES:
        raise CheckFailed(f"screenshot {png} is only {size} bytes (< {MIN_SCREENSHOT_BYTES}): blank page?")
    return points, rows, png, body


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        points, rows, png, body = check(argv[1], argv[2])
    except CheckFailed as e:
        print(f"html report check failed: {argv[1]}: {e}", file=sys.stderr)
        return 1
    print(f"html report OK: {points} points, {rows} rows, screenshot {png}")
    if os.environ.get("LOWBIT_HTML_CHECK_VERBOSE"):
        print(f"  drawn in {body.get('data-draw-ms')} ms; {body.get('data-exercised')} interactions in "
              f"{body.get('data-exercise-ms')} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
