#!/usr/bin/python3
"""Side-by-side benchmark of lowbit and ONNX Runtime (npm onnxruntime-node) on one model and input.

    compare_ort.py MODEL (--shape NAME=1x3x224x224 | --input NAME=FILE.npy)... [options] [-- LOWBIT_ARGS...]

Both engines run the same model on the same input .npy with the same thread count (ORT: intraOpNumThreads=N,
interOpNumThreads=1, sequential, graphOptimizationLevel 'all'). Timing is interleaved: each round runs K
timed iterations of lowbit, then K of ORT, so machine noise (this box is shared) hits both alike.

  * ORT is one persistent node process (bench/ort_bench.js): session loaded once, warmed up once.
  * lowbit is `lowbit bench ... --json` started once per round (`lowbit bench` is one-shot); its load time
    is outside the per-iteration latencies, and each round gets --lowbit-round-warmup untimed runs first
    so the timed ones see a warm process too.

Printed: median latency of each engine over ALL timed iterations and their ratio (lowbit / ORT: < 1 means
lowbit is faster), peak RSS (VmHWM) of both processes, and the max output difference from one extra run of
each (`lowbit run` vs ORT), as max|lowbit - ort| and that divided by max|ort|.

Peak RSS: lowbit's is ru_maxrss of each `lowbit bench` child (os.wait4), max over rounds. ORT's is the node
process's VmHWM read from /proc before it exits; node itself costs tens of MiB, so a bare node process
(`ort_bench.js --baseline`) is measured too and "net" = ORT VmHWM - bare node VmHWM. Compare lowbit with
"net" for the engine's own memory, with "raw" for what a user's process would see.

Arguments after `--` go to both `lowbit bench` and `lowbit run` unchanged (e.g. `-- --backend onednn`).
Progress goes to stderr; a one-row table to stdout; --json FILE keeps everything including all latencies.
`compare_ort.py --markdown J1.json J2.json ...` prints a markdown table from earlier --json files.

Uses the standard library and numpy only (run with /usr/bin/python3).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(msg):
    print("compare_ort: " + msg, file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------- inputs

def parse_named(spec, flag):
    name, eq, value = spec.partition("=")
    if not eq or not name or not value:
        die("%s '%s' is not NAME=VALUE" % (flag, spec))
    return name, value


def parse_dims(text):
    try:
        dims = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        die("bad shape '%s' (want e.g. 1x3x224x224)" % text)
    return dims


def text_lines_image(rng, shape):
    """Random 'text lines' pages normalized like PaddleOCR's preprocessing (same recipe as
    tests/models/make_inputs.py): on plain noise the OCR detector's output is ~0 everywhere, which would
    make the output comparison meaningless."""
    n, c, h, w = shape
    images = np.empty(shape, dtype=np.float32)
    for i in range(n):
        page = np.full((h, w), 0.9, dtype=np.float32) + rng.random((h, w), dtype=np.float32) * 0.1
        for _ in range(h * w // 7000):
            lh, lw = rng.integers(8, 30), rng.integers(40, max(41, w // 3))
            y, x = rng.integers(0, h - lh), rng.integers(0, w - lw)
            page[y:y + lh, x:x + lw] = rng.random((lh, lw)) < 0.5
        images[i] = page
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)
    return ((images - mean) / std).astype(np.float32)


def make_inputs(args, work_dir):
    """NAME -> .npy path: given files as they are, --shape ones generated (float32, fixed seed per name+shape)."""
    inputs = {}
    for spec in args.input:
        name, path = parse_named(spec, "--input")
        if not os.path.isfile(path):
            die("--input %s: no such file" % spec)
        inputs[name] = os.path.abspath(path)
    for spec in args.shape:
        name, text = parse_named(spec, "--shape")
        if name in inputs:
            die("input '%s' has both --shape and --input" % name)
        dims = parse_dims(text)
        rng = np.random.default_rng(zlib.crc32(("%s_%s_%s" % (name, text, args.data)).encode()))
        if args.data == "text_lines":
            if len(dims) != 4 or dims[1] != 3:
                die("--data text_lines needs an NCHW shape with 3 channels, got %s" % text)
            x = text_lines_image(rng, dims)
        else:
            x = rng.standard_normal(dims, dtype=np.float32)
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
        path = os.path.join(work_dir, "input_%s.npy" % safe)
        np.save(path, x)
        inputs[name] = path
    if not inputs:
        die("give every model input as --shape NAME=DIMS or --input NAME=FILE.npy")
    return inputs


# ---------------------------------------------------------------------------------------------- ORT side

def read_vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class OrtServer:
    """bench/ort_bench.js as a persistent child: one JSON command per line in, one JSON reply per line out."""

    def __init__(self, node, node_path, argv, timeout_s):
        env = dict(os.environ)
        if node_path:
            env["NODE_PATH"] = node_path
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen([node, os.path.join(HERE, "ort_bench.js")] + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.hello = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            die("ort_bench.js exited (status %s) without replying" % self.proc.returncode)
        reply = json.loads(line)
        if "error" in reply:
            die("ONNX Runtime: " + reply["error"])
        return reply

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def vm_hwm_kib(self):
        return read_vm_hwm_kib(self.proc.pid)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def bare_node_hwm_kib(node):
    """VmHWM of a node process that loads nothing: what the ORT figure includes just for being node."""
    server = OrtServer(node, None, ["--baseline"], 60)
    time.sleep(0.2)
    kib = server.vm_hwm_kib()
    server.close()
    return kib


# ---------------------------------------------------------------------------------------------- lowbit side

def run_child(cmd, timeout_s):
    """Runs cmd; returns (exit status, stdout, stderr, peak RSS in KiB of that child alone)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                die("timed out after %ds: %s" % (timeout_s, " ".join(cmd)))
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # tells Popen the child is reaped
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), \
            usage.ru_maxrss


def latencies_from_bench_json(report):
    """Every timed latency of one `lowbit bench --json` round. Exact when the report lists them
    ('latencies_ms') or has at most 3 iterations (min / median / max are then the samples themselves);
    otherwise the round's median stands in for each of its iterations (flagged as approximate)."""
    if isinstance(report.get("latencies_ms"), list):
        return [float(v) for v in report["latencies_ms"]], True
    lat = report["latency_ms"]
    n = int(report["iterations"])
    if n == 1:
        return [lat["median"]], True
    if n == 2:
        return [lat["min"], lat["max"]], True
    if n == 3:
        return [lat["min"], lat["median"], lat["max"]], True
    return [lat["median"]] * n, False


def input_args(inputs):
    args = []
    for name, path in inputs.items():
        args += ["--input", "%s=%s" % (name, path)]
    return args


# ---------------------------------------------------------------------------------------------- outputs

def compare_outputs(lowbit_dir, ort_outputs):
    """Per ORT output: shapes and max abs / relative difference of lowbit's file of the same name."""
    rows = {}
    for name, ort_file in ort_outputs.items():
        ref = np.load(ort_file)
        path = os.path.join(lowbit_dir, os.path.basename(ort_file))
        if not os.path.isfile(path):
            rows[name] = {"error": "lowbit wrote no %s" % os.path.basename(path)}
            continue
        got = np.load(path)
        if got.shape != ref.shape:
            rows[name] = {"error": "shape %s vs ORT %s" % (list(got.shape), list(ref.shape))}
            continue
        ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
        diff = float(np.max(np.abs(got64 - ref64))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref64))) if ref.size else 0.0
        rows[name] = {"shape": list(ref.shape), "dtype": str(ref.dtype), "max_abs_diff": diff, "max_abs_ort": scale,
                      "max_rel_diff": diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))}
    return rows


# ---------------------------------------------------------------------------------------------- report

def mib(kib):
    return None if kib is None else kib / 1024.0


def fmt(v, spec):
    return "-" if v is None else spec % v


COLUMNS = ["model", "batch", "threads", "lowbit median ms", "ORT median ms", "lowbit/ORT", "ratio of mins", "lowbit RSS MiB",
           "ORT RSS MiB (net)", "max abs diff", "max rel diff"]


def table_row(r):
    rss_ort = "%s (%s)" % (fmt(r["ort"]["peak_rss_mib"], "%.0f"), fmt(r["ort"]["peak_rss_net_mib"], "%.0f"))
    d = r.get("diff") or {}
    return [r["label"], str(r["batch"]), str(r["threads"]), fmt(r["lowbit"]["median_ms"], "%.2f"),
            fmt(r["ort"]["median_ms"], "%.2f"), fmt(r["ratio_median"], "%.2f") + ("~" if not r["lowbit"]["exact"] else ""),
            fmt(r.get("ratio_min"), "%.2f"),
            fmt(r["lowbit"]["peak_rss_mib"], "%.0f"), rss_ort,
            d.get("error") or fmt(d.get("max_abs_diff"), "%.3g"), "" if d.get("error") else fmt(d.get("max_rel_diff"), "%.3g")]


def markdown(results):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in results:
        lines.append("| " + " | ".join(table_row(r)) + " |")
    return "\n".join(lines)


def plain_table(results):
    rows = [COLUMNS] + [table_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def summarize(latencies):
    s = sorted(latencies)
    return {"median_ms": statistics.median(s), "min_ms": s[0], "max_ms": s[-1], "mean_ms": statistics.fmean(s),
            "p90_ms": float(np.percentile(s, 90)), "count": len(s)}


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv):
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("model", nargs="?", help="ONNX model file")
    p.add_argument("--shape", action="append", default=[], help="NAME=DIMS: generate random float32 data")
    p.add_argument("--input", action="append", default=[], help="NAME=FILE.npy: use this data")
    p.add_argument("--data", choices=["normal", "text_lines"], default="normal",
                   help="what --shape generates: standard normal, or PaddleOCR-normalized text-line images")
    p.add_argument("--threads", type=int, default=2, help="threads for both engines (default 2)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--iterations", type=int, default=3, help="timed iterations per engine per round (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="ORT untimed runs before the first round (default 2)")
    p.add_argument("--lowbit-round-warmup", type=int, default=1,
                   help="lowbit untimed runs at the start of every round, i.e. every process (default 1)")
    p.add_argument("--lowbit", default=None, help="lowbit binary (default: $LOWBIT or build/bin/lowbit)")
    p.add_argument("--node", default=os.environ.get("NODE", "node"), help="node binary")
    p.add_argument("--node-path", default=None,
                   help="node_modules with onnxruntime-node (default: $NODE_PATH or .cache/npm/node_modules)")
    p.add_argument("--label", default=None, help="name in the table (default: model file name)")
    p.add_argument("--work-dir", default=None, help="keep inputs/outputs here (default: a temp dir, removed)")
    p.add_argument("--no-diff", action="store_true", help="skip the output comparison")
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed per lowbit process (default 900)")
    p.add_argument("--json", metavar="FILE", help="write the full result (all latencies) as JSON")
    p.add_argument("--markdown", nargs="+", metavar="JSON", help="print a markdown table from --json files; no run")
    args = p.parse_args(argv)
    args.lowbit_args = extra
    if args.markdown:
        return args
    if not args.model:
        p.error("MODEL is required")
    for flag in ("threads", "rounds", "iterations"):
        if getattr(args, flag) < 1:
            p.error("--%s must be at least 1" % flag)
    if args.warmup < 0 or args.lowbit_round_warmup < 0:
        p.error("warmups must be >= 0")
    return args


def find_lowbit(args):
    candidates = [args.lowbit, os.environ.get("LOWBIT"), os.path.join(ROOT, "build", "bin", "lowbit")]
    for c in candidates:
        if c:
            if not (os.path.isfile(c) and os.access(c, os.X_OK)):
                die("lowbit binary '%s' not found (build it, or pass --lowbit / set $LOWBIT)" % c)
            return os.path.abspath(c)
    return None


def main():
    args = parse_args(sys.argv[1:])
    if args.markdown:
        results = []
        for path in args.markdown:
            with open(path) as f:
                results.append(json.load(f))
        print(markdown(results))
        return 0

    if not os.path.isfile(args.model):
        die("model '%s' not found" % args.model)
    lowbit = find_lowbit(args)
    node_path = args.node_path or os.environ.get("NODE_PATH") or os.path.join(ROOT, ".cache", "npm", "node_modules")
    if not os.path.isdir(os.path.join(node_path, "onnxruntime-node")):
        die("onnxruntime-node not found under '%s' (run scripts/setup.sh or pass --node-path)" % node_path)
    model = os.path.abspath(args.model)
    label = args.label or os.path.splitext(os.path.basename(model))[0]

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="lowbit_bench_")
    os.makedirs(work_dir, exist_ok=True)
    try:
        result = benchmark(args, lowbit, node_path, model, label, work_dir)
    finally:
        if not args.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(plain_table([result]))
    if not result["lowbit"]["exact"]:
        print("~ lowbit median approximated from per-round medians (lowbit bench --json lists no latencies_ms "
              "and --iterations > 3)")
    return 0


def benchmark(args, lowbit, node_path, model, label, work_dir):
    load_before = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1):
        log("warning: load average %.1f on %d CPU(s): other work competes with both engines; expect noisy "
            "latencies (the ratio of minimums is the more robust figure then)" % (load_before, os.cpu_count()))
    inputs = make_inputs(args, work_dir)
    first = np.load(next(iter(inputs.values())), mmap_mode="r")
    batch = int(first.shape[0]) if first.ndim else 1
    log("%s: %s, %d thread(s), %d round(s) x %d iteration(s) each" %
        (label, ", ".join("%s %s" % (n, "x".join(map(str, np.load(p, mmap_mode="r").shape))) for n, p in inputs.items()),
         args.threads, args.rounds, args.iterations))

    node_baseline = bare_node_hwm_kib(args.node)
    ort_argv = [model, "--threads", str(args.threads)] + ["%s=%s" % kv for kv in inputs.items()]
    ort = OrtServer(args.node, node_path, ort_argv, args.timeout)
    try:
        log("ORT %s loaded in %.0f ms" % (ort.hello.get("version", "?"), ort.hello["load_ms"]))
        bench_cmd = [lowbit, "bench", model] + input_args(inputs) + [
            "--warmup", str(args.lowbit_round_warmup), "--iterations", str(args.iterations),
            "--threads", str(args.threads), "--json", "--quiet"] + args.lowbit_args
        lowbit_lat, ort_lat, lowbit_rss, lowbit_load, exact, lowbit_info = [], [], 0, [], True, {}
        for r in range(args.rounds):
            status, out, err, rss = run_child(bench_cmd, args.timeout)
            if status != 0:
                die("lowbit bench failed (exit %d): %s\n%s" % (status, " ".join(bench_cmd), (err or out).strip()))
            report = json.loads(out)
            lat, ok = latencies_from_bench_json(report)
            exact = exact and ok
            lowbit_lat += lat
            lowbit_load.append(report.get("load_ms"))
            lowbit_rss = max(lowbit_rss, rss)
            lowbit_info = {"backend": report.get("backend"), "threads": report.get("threads")}
            reply = ort.call(cmd="run", warmup=args.warmup if r == 0 else 0, iterations=args.iterations)
            ort_lat += reply["latencies_ms"]
            log("round %d/%d: lowbit median %.2f ms, ORT median %.2f ms" %
                (r + 1, args.rounds, statistics.median(lat), statistics.median(reply["latencies_ms"])))
        ort_hwm = ort.vm_hwm_kib()  # before the diff run: only the benchmark's footprint

        diff = None
        if not args.no_diff:
            ort_out = ort.call(cmd="save", dir=os.path.join(work_dir, "ort_out"))["outputs"]
            lowbit_dir = os.path.join(work_dir, "lowbit_out")
            run_cmd = [lowbit, "run", model] + input_args(inputs) + [
                "--output-dir", lowbit_dir, "--threads", str(args.threads), "--quiet"] + args.lowbit_args
            status, out, err, _ = run_child(run_cmd, args.timeout)
            if status != 0:
                diff = {"error": "lowbit run failed (exit %d)" % status}
                log("lowbit run failed: %s" % (err or out).strip())
            else:
                per_output = compare_outputs(lowbit_dir, ort_out)
                errors = [v["error"] for v in per_output.values() if "error" in v]
                if errors:
                    diff = {"error": "; ".join(errors), "outputs": per_output}
                else:
                    worst = max(per_output.values(), key=lambda v: v["max_rel_diff"])
                    diff = {"max_abs_diff": max(v["max_abs_diff"] for v in per_output.values()),
                            "max_rel_diff": worst["max_rel_diff"], "outputs": per_output}
    finally:
        ort.close()

    lowbit_summary = summarize(lowbit_lat)
    ort_summary = summarize(ort_lat)
    lowbit_summary.update(latencies_ms=lowbit_lat, exact=exact, peak_rss_mib=mib(lowbit_rss),
                          load_ms_median=statistics.median([v for v in lowbit_load if v is not None] or [0]),
                          **lowbit_info)
    ort_summary.update(latencies_ms=ort_lat, version=ort.hello.get("version"), load_ms=ort.hello.get("load_ms"),
                       peak_rss_mib=mib(ort_hwm), bare_node_rss_mib=mib(node_baseline),
                       peak_rss_net_mib=mib(ort_hwm - node_baseline) if ort_hwm and node_baseline else None)
    return {
        "label": label, "model": model, "inputs": inputs if args.work_dir else list(inputs), "batch": batch,
        "threads": args.threads, "rounds": args.rounds, "iterations_per_round": args.iterations,
        "lowbit_args": args.lowbit_args,
        "ratio_median": lowbit_summary["median_ms"] / ort_summary["median_ms"],
        "ratio_min": lowbit_summary["min_ms"] / ort_summary["min_ms"],
        "cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
        "lowbit": lowbit_summary, "ort": ort_summary, "diff": diff,
    }


if __name__ == "__main__":
    sys.exit(main())
