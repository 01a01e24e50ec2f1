#!/usr/bin/python3
"""INT8 benchmark: one model, four engines, interleaved in one run (issue 5's targets are ratios from one run).

    int8_bench.py FP32_MODEL --shape NAME=DIMS [--data normal|text_lines] [--threads 2] [--rounds 5]
                  [--iterations 3] [--calib-samples 8] [--json FILE] [--label NAME]

  lowbit INT8   `lowbit quantize` (default settings: int8 activations) of FP32_MODEL, run by `lowbit bench`
  lowbit FP32   FP32_MODEL run by `lowbit bench`
  ORT FP32      FP32_MODEL in ONNX Runtime (npm onnxruntime-node, bench/ort_bench.js)
  ORT INT8      ONNX Runtime's fastest INT8 form: lowbit's QDQ output with uint8 activations
                (`lowbit quantize --activation-type uint8`: u8s8, per-channel weights), which ORT runs on
                its QLinearConv kernels

Each round runs K timed iterations of each engine in turn, so noise hits all four alike. Printed: medians,
the ratios lowbit INT8 / each other engine, peak RSS (lowbit: ru_maxrss of its `lowbit bench` child; ORT:
VmHWM minus a bare node process), lowbit INT8 load and compile time, and the max difference of lowbit INT8's
output from ORT INT8's and from the FP32 reference (ORT FP32). Calibration data: --calib-samples random
inputs drawn like the benchmark input (they only set ranges: the timings do not depend on them).
Progress on stderr; a table on stdout; --json keeps everything.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_ort as co  # noqa: E402  (shared helpers: inputs, ORT server, child RSS, outputs)


def quantize(lowbit, model, calib, out, extra):
    cmd = [lowbit, "quantize", model, "--calib", calib, "-o", out, "--quiet"] + extra
    status, stdout, err, _ = co.run_child(cmd, 1800)
    if status != 0:
        co.die("lowbit quantize failed (exit %d): %s\n%s" % (status, " ".join(cmd), (err or stdout).strip()))


def lowbit_round(lowbit, model, inputs, args):
    cmd = [lowbit, "bench", model] + co.input_args(inputs) + [
        "--warmup", "1", "--iterations", str(args.iterations), "--threads", str(args.threads), "--json", "--quiet"]
    status, out, err, rss = co.run_child(cmd, args.timeout)
    if status != 0:
        co.die("lowbit bench failed (exit %d): %s\n%s" % (status, " ".join(cmd), (err or out).strip()))
    report = json.loads(out)
    lat, _ = co.latencies_from_bench_json(report)
    return lat, rss, report


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--shape", action="append", default=[], required=True)
    p.add_argument("--input", action="append", default=[])
    p.add_argument("--data", choices=["normal", "text_lines"], default="normal")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--calib-samples", type=int, default=8)
    p.add_argument("--lowbit", default=None)
    p.add_argument("--node", default=os.environ.get("NODE", "node"))
    p.add_argument("--node-path", default=None)
    p.add_argument("--label", default=None)
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--json", default=None)
    p.add_argument("--reduce-range", action="store_true",
                   help="lowbit's INT8 model with 7-bit weights (lowbit quantize --reduce-range; for CPUs without "
                        "VNNI); ONNX Runtime's stays 8-bit, its default")
    args = p.parse_args()
    args.lowbit_args = []
    lowbit = co.find_lowbit(args)
    node_path = args.node_path or os.environ.get("NODE_PATH") or os.path.join(co.ROOT, ".cache", "npm", "node_modules")
    model = os.path.abspath(args.model)
    label = args.label or os.path.splitext(os.path.basename(model))[0]

    with tempfile.TemporaryDirectory(prefix="lowbit_int8_bench_") as work:
        inputs = co.make_inputs(args, work)
        name, first = next(iter(inputs.items()))
        x = np.load(first)
        batch = int(x.shape[0])
        # Calibration set: samples drawn like the input (per-sample batch 1).
        rng = np.random.default_rng(1)
        calib_dir = os.path.join(work, "calib")
        os.makedirs(calib_dir)
        for i in range(args.calib_samples):
            if args.data == "text_lines":
                sample = co.text_lines_image(rng, [1] + list(x.shape[1:]))
            else:
                sample = rng.standard_normal([1] + list(x.shape[1:]), dtype=np.float32)
            np.save(os.path.join(calib_dir, "%03d.npy" % i), sample)
        int8, int8_u8 = os.path.join(work, "int8.onnx"), os.path.join(work, "int8_u8.onnx")
        co.log("%s: quantizing (lowbit int8 and the u8s8 model for ONNX Runtime)" % label)
        quantize(lowbit, model, "%s=%s" % (name, calib_dir), int8, ["--reduce-range"] if args.reduce_range else [])
        quantize(lowbit, model, "%s=%s" % (name, calib_dir), int8_u8, ["--activation-type", "uint8"])

        node_baseline = co.bare_node_hwm_kib(args.node)
        ort_argv = lambda m: [m, "--threads", str(args.threads)] + ["%s=%s" % kv for kv in inputs.items()]
        ort_fp32 = co.OrtServer(args.node, node_path, ort_argv(model), args.timeout)
        ort_fp32_hwm = None
        lat = {"lowbit_int8": [], "lowbit_fp32": [], "ort_fp32": [], "ort_int8": []}
        rss = {"lowbit_int8": 0, "lowbit_fp32": 0}
        int8_report = {}
        ort_int8 = co.OrtServer(args.node, node_path, ort_argv(int8_u8), args.timeout)
        try:
            for r in range(args.rounds):
                for key, m in (("lowbit_int8", int8), ("lowbit_fp32", model)):
                    l, peak, report = lowbit_round(lowbit, m, inputs, args)
                    lat[key] += l
                    rss[key] = max(rss[key], peak)
                    if key == "lowbit_int8":
                        int8_report = report
                for key, server in (("ort_fp32", ort_fp32), ("ort_int8", ort_int8)):
                    reply = server.call(cmd="run", warmup=args.warmup if r == 0 else 0, iterations=args.iterations)
                    lat[key] += reply["latencies_ms"]
                co.log("round %d/%d: " % (r + 1, args.rounds) +
                       ", ".join("%s %.2f ms" % (k, statistics.median(v[-args.iterations:])) for k, v in lat.items()))
            ort_fp32_hwm = ort_fp32.vm_hwm_kib()
            ort_int8_hwm = ort_int8.vm_hwm_kib()
            ref = ort_fp32.call(cmd="save", dir=os.path.join(work, "ort_fp32"))["outputs"]
            ort_q = ort_int8.call(cmd="save", dir=os.path.join(work, "ort_int8"))["outputs"]
        finally:
            ort_fp32.close()
            ort_int8.close()
        out_dir = os.path.join(work, "lowbit_int8")
        status, out, err, _ = co.run_child([lowbit, "run", int8] + co.input_args(inputs) + [
            "--output-dir", out_dir, "--threads", str(args.threads), "--quiet"], args.timeout)
        if status != 0:
            co.die("lowbit run failed: %s" % (err or out).strip())
        vs_fp32 = co.compare_outputs(out_dir, ref)
        vs_ort_int8 = co.compare_outputs(out_dir, ort_q)

    med = {k: statistics.median(v) for k, v in lat.items()}
    net = lambda hwm: co.mib(hwm - node_baseline) if hwm and node_baseline else None
    result = {
        "label": label, "batch": batch, "threads": args.threads, "rounds": args.rounds,
        "iterations_per_round": args.iterations, "median_ms": med,
        "throughput_per_s": {k: 1000.0 * batch / v for k, v in med.items()},
        "ratio": {"int8_vs_lowbit_fp32": med["lowbit_int8"] / med["lowbit_fp32"],
                  "int8_vs_ort_fp32": med["lowbit_int8"] / med["ort_fp32"],
                  "int8_vs_ort_int8": med["lowbit_int8"] / med["ort_int8"]},
        "peak_rss_mib": {"lowbit_int8": co.mib(rss["lowbit_int8"]), "lowbit_fp32": co.mib(rss["lowbit_fp32"]),
                         "ort_fp32_net": net(ort_fp32_hwm), "ort_int8_net": net(ort_int8_hwm)},
        "lowbit_int8_load_ms": int8_report.get("load_ms"), "lowbit_int8_first_run_ms": int8_report.get("first_run_ms"),
        "max_rel_diff": {"vs_ort_fp32": max(v.get("max_rel_diff", float("nan")) for v in vs_fp32.values()),
                         "vs_ort_int8": max(v.get("max_rel_diff", float("nan")) for v in vs_ort_int8.values())},
        "latencies_ms": lat,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    r, m, s = result["ratio"], med, result["peak_rss_mib"]
    print("| model | lowbit INT8 ms | lowbit FP32 ms | ORT FP32 ms | ORT INT8 (u8s8) ms | INT8/lowbit FP32 | "
          "INT8/ORT FP32 | INT8/ORT INT8 | RSS INT8 / ORT FP32 (MiB) | load+compile ms | diff vs FP32 / ORT INT8 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rss_ratio = s["lowbit_int8"] / s["ort_fp32_net"] if s["ort_fp32_net"] else float("nan")
    print("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f / %.0f (%.2f) | %.0f | %.3g / %.3g |" % (
        label, m["lowbit_int8"], m["lowbit_fp32"], m["ort_fp32"], m["ort_int8"], r["int8_vs_lowbit_fp32"],
        r["int8_vs_ort_fp32"], r["int8_vs_ort_int8"], s["lowbit_int8"], s["ort_fp32_net"] or float("nan"), rss_ratio,
        (result["lowbit_int8_load_ms"] or 0) + (result["lowbit_int8_first_run_ms"] or 0) - m["lowbit_int8"],
        result["max_rel_diff"]["vs_ort_fp32"], result["max_rel_diff"]["vs_ort_int8"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
