#!/usr/bin/python3
"""End-to-end tests of the lowbit CLI on the tiny models from make_models.py.

Usage: /usr/bin/python3 cli_test.py --lowbit BIN --models DIR --source REPO CASE
Each CASE is one ctest test (see tests/cli/CMakeLists.txt); `all` runs every case.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ARGS = None


def lowbit(*args, timeout=120):
    r = subprocess.run([ARGS.lowbit, *args], capture_output=True, text=True, timeout=timeout)
    return r


def model(name):
    return os.path.join(ARGS.models, name)


def fresh_dir(tag):
    d = os.path.join(ARGS.work, tag)
    shutil.rmtree(d, ignore_errors=True)
    return d


def expect_ok(*args):
    r = lowbit(*args)
    assert r.returncode == 0, f"lowbit {' '.join(args)} -> {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "lowbit: error:" not in r.stderr, r.stderr
    return r


def expect_error(*args, code=1, mentions=(), out_dir=None, allow_progress=False):
    """Non-zero exit (no crash), exactly one 'lowbit: error:' message first on stderr, nothing left in out_dir.
    allow_progress: progress lines (calibrating [...]) may come before the error."""
    r = lowbit(*args)
    if allow_progress:
        kept = [l for l in r.stderr.splitlines(True) if not l.lstrip("\r").startswith("calibrating [")]
        r = subprocess.CompletedProcess(r.args, r.returncode, r.stdout, "".join(kept))
    where = f"lowbit {' '.join(args)}\nexit: {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.returncode != 0, "expected failure: " + where
    assert 0 < r.returncode < 128, "crashed (signal): " + where
    assert r.returncode == code, f"expected exit code {code}: " + where
    assert r.stderr.startswith("lowbit: error: "), "stderr must start with 'lowbit: error: ': " + where
    assert r.stderr.count("lowbit: error:") == 1, "exactly one error message expected: " + where
    assert "terminate called" not in r.stderr and "Traceback" not in r.stderr, where
    for m in mentions:
        assert m in r.stderr, f"error should mention {m!r}: " + where
    if out_dir is not None and os.path.exists(out_dir):
        assert os.listdir(out_dir) == [], f"output dir not empty after failure: {os.listdir(out_dir)}\n" + where
    return r


# ---- cases --------------------------------------------------------------------------------------

def case_help():
    r = expect_ok("--help")
    for cmd in ("inspect", "run", "bench", "ops"):
        assert cmd in r.stdout, r.stdout
        sub = expect_ok(cmd, "--help")
        assert "Usage" in sub.stdout or "usage" in sub.stdout.lower(), sub.stdout
    r = expect_ok("--version")
    assert r.stdout.startswith("lowbit "), r.stdout
    expect_error(code=2)                                  # no subcommand
    expect_error("frobnicate", code=2)                    # unknown subcommand
    expect_error("inspect", code=2)                       # missing MODEL
    expect_error("inspect", model("add.onnx"), "--bogus", code=2)
    expect_error("run", model("add.onnx"), "--input", "a=" + model("a.npy"), code=2)  # no --output-dir
    expect_error("bench", model("add.onnx"), "--iterations", "0", code=2)
    expect_error("bench", model("add.onnx"), "--iterations", "abc", code=2)
    expect_error("bench", model("add.onnx"), "--threads", "-1", code=2)
    expect_error("bench", model("relu.onnx"), "--shape", "x=1xabc", code=2, mentions=("1xabc",))
    expect_error("run", model("add.onnx"), "--input", "=a.npy", "-o", fresh_dir("h"), code=2)


def case_ops():
    r = expect_ok("ops")
    assert "Conv" in r.stdout and "Add" in r.stdout, r.stdout
    md = expect_ok("ops", "--markdown").stdout
    assert md.startswith("# Supported operators"), md[:200]


def case_operators_md_fresh():
    md = expect_ok("ops", "--markdown").stdout
    path = os.path.join(ARGS.source, "docs", "operators.md")
    with open(path, encoding="utf-8") as f:
        current = f.read()
    assert current == md, ("docs/operators.md is stale; regenerate it with:\n"
                           "  build/bin/lowbit ops --markdown > docs/operators.md")


def case_inspect_text():
    r = expect_ok("inspect", model("conv.onnx"))
    out = r.stdout
    for needle in ("lowbit-tests 1.0", "IR version:", "ai.onnx 13", "Conv", "Relu", "20 values in 2 initializers",
                   "Problems: none"):
        assert needle in out, f"{needle!r} missing in:\n{out}"
    assert re.search(r"^  x +float32\[1,1,4,4\]$", out, re.M) and re.search(r"^  y +float32\[1,2,4,4\]$", out, re.M), out
    r = expect_ok("inspect", model("relu.onnx"))
    assert "float32[batch,3]" in r.stdout, r.stdout
    # --optimized: what the passes did, in text and JSON.
    r = expect_ok("inspect", model("conv.onnx"), "--optimized")
    assert "After the graph optimizer (2 -> 1 nodes)" in r.stdout and "fuse_conv_activation" in r.stdout, r.stdout
    j = json.loads(expect_ok("inspect", model("conv.onnx"), "--optimized", "--json").stdout)
    assert j["optimized"]["ok"] and j["optimized"]["nodes_after"] == 1, j["optimized"]
    assert any(p["pass"] == "fuse_conv_activation" and p["changes"] == 1 for p in j["optimized"]["passes"]), j


def case_inspect_json():
    r = expect_ok("inspect", model("conv.onnx"), "--json")
    j = json.loads(r.stdout)  # exactly one JSON object: json.loads rejects trailing text
    assert j["producer"] == {"name": "lowbit-tests", "version": "1.0"}, j["producer"]
    assert j["ir_version"] == 7 and j["opsets"] == {"ai.onnx": 13}, j
    assert j["inputs"] == [{"name": "x", "dtype": "float32", "shape": [1, 1, 4, 4], "type": "float32[1,1,4,4]"}], j
    assert j["outputs"][0]["shape"] == [1, 2, 4, 4], j["outputs"]
    assert j["op_histogram"] == {"Conv": 1, "Relu": 1}, j["op_histogram"]
    assert j["parameters"]["count"] == 20 and j["parameters"]["bytes"] == 80, j["parameters"]
    assert j["parameters"]["by_dtype"] == {"float32": {"count": 20, "bytes": 80, "tensors": 2}}, j["parameters"]
    assert j["unsupported_ops"] == [] and j["issues"] == [] and j["runnable"] is True, j
    j = json.loads(expect_ok("inspect", model("relu.onnx"), "--json").stdout)
    assert j["inputs"][0]["shape"] == ["batch", 3], j["inputs"]


def case_inspect_unsupported():
    # Lists everything and the unsupported ops, and still exits 0 (the file parses).
    r = expect_ok("inspect", model("unsupported.onnx"))
    assert "TopK" in r.stdout and "FusedGemm" in r.stdout and "Unsupported operators (2)" in r.stdout, r.stdout
    assert "Relu" in r.stdout and re.search(r"^  x +float32\[2,8\]$", r.stdout, re.M), r.stdout
    j = json.loads(expect_ok("inspect", model("unsupported.onnx"), "--json").stdout)
    ops = {u["op_type"]: u for u in j["unsupported_ops"]}
    assert set(ops) == {"TopK", "FusedGemm"}, ops
    assert ops["TopK"]["nodes"] == ["topk0"] and ops["FusedGemm"]["domain"] == "com.microsoft", ops
    assert j["runnable"] is False and len(j["issues"]) >= 2, j["issues"]
    assert j["op_histogram"]["Relu"] == 1 and j["op_histogram"]["com.microsoft::FusedGemm"] == 1, j["op_histogram"]


def case_inspect_bad_files():
    for name in ("empty.onnx", "truncated.onnx", "random.onnx", "missing.onnx"):
        expect_error("inspect", model(name), mentions=(name,))
        expect_error("inspect", model(name), "--json", mentions=(name,))
    expect_error("inspect", ARGS.models, mentions=("directory",))


def case_run_add():
    out = fresh_dir("run_add")
    r = expect_ok("run", model("add.onnx"), "--input", "a=" + model("a.npy"), "--input", "b=" + model("b.npy"),
                  "--output-dir", out)
    assert "sum.npy" in r.stdout, r.stdout
    assert os.listdir(out) == ["sum.npy"], os.listdir(out)
    got = np.load(os.path.join(out, "sum.npy"))
    want = np.load(model("a.npy")) + np.load(model("b.npy"))
    assert got.dtype == np.float32 and got.shape == (2, 3), got
    np.testing.assert_array_equal(got, want)
    # Big-endian input files are fine (same dtype, other byte order).
    out2 = fresh_dir("run_add_be")
    expect_ok("run", model("add.onnx"), "-i", "a=" + model("x_big_endian.npy"), "-i", "b=" + model("b.npy"),
              "-o", out2, "--threads", "1", "--quiet")
    np.testing.assert_array_equal(np.load(os.path.join(out2, "sum.npy")), want)


def case_run_single_input():
    out = fresh_dir("run_relu")
    expect_ok("run", model("relu.onnx"), "--input", model("x_relu.npy"), "--output-dir", out)
    x = np.load(model("x_relu.npy"))
    np.testing.assert_array_equal(np.load(os.path.join(out, "y.npy")), np.maximum(x, 0))
    # Output names with '/', ':' and '..' become safe file names inside the output dir.
    out = fresh_dir("run_names")
    expect_ok("run", model("identity_names.onnx"), "--input", model("x4.npy"), "--output-dir", out)
    assert sorted(os.listdir(out)) == ["___evil.npy", "scores_out_0.npy"], os.listdir(out)
    np.testing.assert_array_equal(np.load(os.path.join(out, "scores_out_0.npy")), np.load(model("x4.npy")))


def conv2d_reference(x, w, b):
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, w.shape[0], h, wd), dtype=np.float64)
    for o in range(w.shape[0]):
        for i in range(h):
            for j in range(wd):
                y[0, o, i, j] = (xp[0, :, i:i + 3, j:j + 3] * w[o]).sum() + b[o]
    return y


def case_run_conv():
    out = fresh_dir("run_conv")
    expect_ok("run", model("conv.onnx"), "--input", "x=" + model("x_conv.npy"), "--output-dir", out)
    x, w, b = (np.load(model(n)) for n in ("x_conv.npy", "conv_w.npy", "conv_bias.npy"))
    want = np.maximum(conv2d_reference(x.astype(np.float64), w, b), 0)
    np.testing.assert_allclose(np.load(os.path.join(out, "y.npy")), want, rtol=1e-5, atol=1e-5)


def case_run_errors():
    a, b = "a=" + model("a.npy"), "b=" + model("b.npy")
    add = model("add.onnx")
    out = fresh_dir("run_errors")
    expect_error("run", add, "-i", a, "-i", "c=" + model("b.npy"), "-o", out, mentions=("'c'", "inputs:"), out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("a_3x2.npy"), "-o", out,
                 mentions=("wrong shape", "a_3x2.npy", "3x2"), out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("a_f64.npy"), "-o", out,
                 mentions=("wrong dtype", "a_f64.npy", "float64", "float32", "--cast"), out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("a_i32.npy"), "-o", out,
                 mentions=("wrong dtype", "int32"), out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("malformed.npy"), "-o", out, mentions=("malformed.npy",),
                 out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("not_npy.npy"), "-o", out, mentions=("not_npy.npy",),
                 out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("a_truncated.npy"), "-o", out,
                 mentions=("a_truncated.npy", "size mismatch"), out_dir=out)
    expect_error("run", add, "-i", a, "-i", "b=" + model("nope.npy"), "-o", out, mentions=("nope.npy",), out_dir=out)
    expect_error("run", add, "-i", a, "-o", out, mentions=("'b'",), out_dir=out)                # missing input
    expect_error("run", add, "-i", model("a.npy"), "-o", out, mentions=("NAME=",), out_dir=out)  # 2 inputs, no name
    expect_error("run", add, "-i", a, "-i", a, "-i", b, "-o", out, mentions=("twice",), out_dir=out)
    expect_error("run", model("unsupported.onnx"), "-i", model("a.npy"), "-o", out, mentions=("TopK",), out_dir=out)
    for bad in ("empty.onnx", "truncated.onnx", "random.onnx", "missing.onnx"):
        expect_error("run", model(bad), "-i", a, "-o", out, mentions=(bad,), out_dir=out)
    # The output dir is a file: clear error before running.
    expect_error("run", add, "-i", a, "-i", b, "-o", model("a.npy"), mentions=("not a directory",))
    # --cast converts explicitly.
    expect_ok("run", add, "-i", a, "-i", "b=" + model("a_f64.npy"), "-o", out, "--cast", "-q")
    np.testing.assert_array_equal(np.load(os.path.join(out, "sum.npy")), 2 * np.load(model("a.npy")))


def case_bench_json():
    r = expect_ok("bench", model("add.onnx"), "--iterations", "5", "--warmup", "1", "--json", "--threads", "1")
    j = json.loads(r.stdout)
    for key in ("min", "mean", "median", "p90", "p95", "p99", "max", "stddev"):
        assert isinstance(j["latency_ms"][key], (int, float)) and j["latency_ms"][key] >= 0, (key, j)
    lat = j["latency_ms"]
    assert lat["min"] <= lat["median"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"], lat
    for key in ("throughput_per_s", "iterations", "batch", "threads", "load_ms"):
        assert key in j, (key, j)
    assert j["iterations"] == 5 and j["batch"] == 2 and j["threads"] == 1, j
    # --profile: one row per node with the backend that ran it. Unoptimized on the reference backend:
    # both nodes, ref. Default (optimizer + auto backend): Relu fused into the Conv, which runs on oneDNN.
    j = json.loads(expect_ok("bench", model("conv.onnx"), "-n", "3", "--json", "--profile", "--no-optimize",
                             "--backend", "ref").stdout)
    assert {r["backend"] for r in j["profile"]} == {"ref"}, j["profile"]
    assert sorted(row["node"] for row in j["profile"]) == ["conv0", "relu0"], j["profile"]
    assert all(row["calls"] == 3 for row in j["profile"]), j["profile"]
    j = json.loads(expect_ok("bench", model("conv.onnx"), "-n", "3", "--json", "--profile").stdout)
    assert [(r["node"], r["backend"]) for r in j["profile"]] == [("conv0", "onednn")], j["profile"]
    assert j["backend"] == "auto" and j["onednn_nodes"] == 1, j
    expect_error("bench", model("conv.onnx"), "--keep-node", "nope", mentions=("'nope'",))
    expect_error("bench", model("conv.onnx"), "--disable-pass", "nope", mentions=("nope",))
    j = json.loads(expect_ok("bench", model("conv.onnx"), "-n", "2", "--json", "--profile", "--keep-node", "relu0").stdout)
    assert sorted(row["node"] for row in j["profile"]) == ["conv0", "relu0"], j["profile"]
    # Symbolic dims need --shape.
    expect_error("bench", model("relu.onnx"), "-n", "2", mentions=("batch", "--shape"))
    j = json.loads(expect_ok("bench", model("relu.onnx"), "--shape", "x=4x3", "-n", "2", "--json").stdout)
    assert j["batch"] == 4 and j["inputs"]["x"]["shape"] == [4, 3], j
    # Real input data and bad ones.
    expect_ok("bench", model("relu.onnx"), "--input", "x=" + model("x_relu.npy"), "-n", "2", "--json")
    expect_error("bench", model("add.onnx"), "--input", "a=" + model("a_f64.npy"), "-n", "2", mentions=("wrong dtype",))
    expect_error("bench", model("add.onnx"), "--shape", "zz=1x2", mentions=("'zz'",))
    expect_error("bench", model("random.onnx"), mentions=("random.onnx",))


def case_bench_text():
    r = expect_ok("bench", model("conv.onnx"), "--iterations", "3", "--profile", "--backend", "ref")
    for needle in ("Load time:", "Throughput:", "p99", "stddev", "conv0", "Conv", "ref"):
        assert needle in r.stdout, f"{needle!r} missing in:\n{r.stdout}"
    r = expect_ok("bench", model("add.onnx"), "--duration", "0.2", "-n", "1", "--json", "--quiet")
    assert r.stderr == "", r.stderr
    assert json.loads(r.stdout)["total_ms"] >= 200, r.stdout


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main(case_globals=None):
    """Runs one case (or all) of this file, or of another test file that passes its globals()."""
    global ARGS
    cases = CASES if case_globals is None else {n[5:]: f for n, f in case_globals.items() if n.startswith("case_")}
    parser = argparse.ArgumentParser()
    parser.add_argument("--lowbit", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("case", choices=sorted(cases) + ["all"])
    ARGS = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lowbit_cli_") as work:
        ARGS.work = work
        for name in (sorted(cases) if ARGS.case == "all" else [ARGS.case]):
            cases[name]()
            print(f"ok: {name}")
    return 0


if __name__ == "__main__":
    main()
