#!/usr/bin/python3
"""End-to-end tests of `lowbit quantize` on a tiny CNN built here (opset 9, BatchNormalization, so the opset
upgrade and BN folding are exercised too).

Usage: /usr/bin/python3 quantize_test.py --lowbit BIN --models DIR --source REPO CASE
Shares cli_test.py's helpers (one 'lowbit: error:' line, no crash, nothing half-written).
"""
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test  # noqa: E402
from cli_test import expect_error, expect_ok, fresh_dir  # noqa: E402


def tiny_cnn(path):
    """x[N,3,16,16] -> Conv -> BN -> Relu -> MaxPool -> Conv(conv2) -> Add(residual) -> GAP -> Flatten -> Gemm -> Softmax"""
    rng = np.random.RandomState(0)
    f = lambda *s: rng.randn(*s).astype(np.float32)
    inits = [
        numpy_helper.from_array(f(8, 3, 3, 3) * 0.3, "w1"), numpy_helper.from_array(f(8) * 0.1, "b1"),
        numpy_helper.from_array(np.abs(f(8)) + 0.5, "bn_s"), numpy_helper.from_array(f(8) * 0.1, "bn_b"),
        numpy_helper.from_array(f(8) * 0.1, "bn_m"), numpy_helper.from_array(np.abs(f(8)) + 0.5, "bn_v"),
        numpy_helper.from_array(f(8, 8, 1, 1) * 0.3, "w2"), numpy_helper.from_array(f(8) * 0.1, "b2"),
        numpy_helper.from_array(f(5, 8) * 0.3, "wfc"), numpy_helper.from_array(f(5) * 0.1, "bfc"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn1"], name="bn1"),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2"),
        helper.make_node("Add", ["c2", "p1"], ["a1"], name="add1"),
        helper.make_node("GlobalAveragePool", ["a1"], ["g1"], name="gap"),
        helper.make_node("Flatten", ["g1"], ["f1"], name="flatten"),
        helper.make_node("Gemm", ["f1", "wfc", "bfc"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 5])], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=4)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


def setup(tag, samples=16):
    d = fresh_dir(tag)
    os.makedirs(d)
    model = tiny_cnn(os.path.join(d, "tiny.onnx"))
    calib = os.path.join(d, "calib.npy")
    np.save(calib, np.random.RandomState(1).rand(samples, 3, 16, 16).astype(np.float32))
    return d, model, calib


def load_inits(path):
    m = onnx.load(path)
    return m, {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def run_model(path, x, d):
    np.save(os.path.join(d, "in.npy"), x)
    out = os.path.join(d, "out_" + os.path.basename(path))
    expect_ok("run", path, "--input", "x=" + os.path.join(d, "in.npy"), "-o", out, "-q")
    return np.load(os.path.join(out, "prob.npy"))


def case_quantize_basic():
    d, model, calib = setup("q_basic")
    out, table = os.path.join(d, "tiny.int8.onnx"), os.path.join(d, "table.json")
    r = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "--table", table)
    for word in ("opset 9 -> 13", "quantized:", "kept float:", "size:", "Softmax"):
        assert word in r.stdout, (word, r.stdout)
    assert "calibrating" in r.stderr, "progress must go to stderr: " + r.stderr
    m, inits = load_inits(out)
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == 13
    # BN folded, weights stored once as int8, biases int32, no float weight left for Conv/Gemm.
    assert not any(n.op_type == "BatchNormalization" for n in m.graph.node)
    assert inits["conv1_bn_W_q"].dtype == np.int8 and inits["wfc_q"].dtype == np.int8
    assert inits["b2_q"].dtype == np.int32
    assert "conv1_bn_W" not in inits and "w2" not in inits and "wfc" not in inits
    assert sum(n.op_type == "QuantizeLinear" for n in m.graph.node) >= 4
    t = json.load(open(table))
    names = [e["name"] for e in t["tensors"]]
    assert "x" in names and "p1" not in names, names  # MaxPool output shares its input's range
    for e in t["tensors"]:
        assert e["scale"] > 0 and e["method"].startswith("auto:"), e
    # The QDQ model computes close to the float one.
    x = np.random.RandomState(5).rand(4, 3, 16, 16).astype(np.float32)
    ref, got = run_model(model, x, d), run_model(out, x, d)
    sqnr = 10 * np.log10((ref ** 2).sum() / ((ref - got) ** 2).sum())
    assert sqnr > 25, sqnr
    assert (ref.argmax(1) == got.argmax(1)).mean() >= 0.75
    # inspect explains every quantized tensor.
    r = expect_ok("inspect", out)
    assert "Quantized tensors" in r.stdout and "real = (q" in r.stdout, r.stdout
    j = json.loads(expect_ok("inspect", out, "--json").stdout)
    assert any(q["role"] == "weight" and q["axis"] == 0 for q in j["quantized_tensors"])


def case_quantize_modes():
    d, model, calib = setup("q_modes")
    # Weight-only: no data, no QuantizeLinear.
    out = os.path.join(d, "w.onnx")
    expect_ok("quantize", model, "--weight-only", "-o", out)
    m, inits = load_inits(out)
    assert not any(n.op_type == "QuantizeLinear" for n in m.graph.node)
    assert inits["conv1_bn_W_q"].dtype == np.int8
    # --exclude an op type and --precision a node: their weights stay float.
    out = os.path.join(d, "ex.onnx")
    expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "--exclude", "Gemm", "--precision", "conv2=fp32", "-q")
    _, inits = load_inits(out)
    assert inits["wfc"].dtype == np.float32 and inits["w2"].dtype == np.float32 and "conv1_bn_W_q" in inits
    # --io uint8: integer input and output, the parameters printed and stored in the model.
    out = os.path.join(d, "io.onnx")
    r = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "--io", "uint8")
    assert "input 'x': uint8, real = (q - " in r.stdout, r.stdout
    m = onnx.load(out)
    assert m.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8
    assert any(p.key == "lowbit.input.x.quantization" for p in m.metadata_props)
    # Every method, symmetric activations, uint8 activations, per-tensor weights.
    for method in ("minmax", "entropy", "percentile", "mse"):
        table = os.path.join(d, method + ".json")
        expect_ok("quantize", model, "--calib", "x=" + calib, "-o", os.path.join(d, method + ".onnx"), "--method", method,
                  "--table", table, "-q")
        assert all(e["method"].startswith(method) for e in json.load(open(table))["tensors"])
    table = os.path.join(d, "sym.json")
    expect_ok("quantize", model, "--calib", "x=" + calib, "--table", table, "--table-only", "--activations", "symmetric")
    assert all(e["zero_point"] == 0 for e in json.load(open(table))["tensors"])
    out = os.path.join(d, "u8.onnx")
    expect_ok("quantize", model, "--calib", calib, "-o", out, "--activation-type", "uint8", "--per-tensor-weights", "-q")
    m, inits = load_inits(out)
    zps = [inits[n.input[2]] for n in m.graph.node if n.op_type == "QuantizeLinear"]
    assert zps and all(z.dtype == np.uint8 for z in zps)
    assert inits["conv1_bn_W_scale"].shape == ()


def case_reduce_range():
    """--reduce-range: 7-bit weight codes in [-64, 64] (scales twice as coarse), the model still close to the FP32
    one and run by lowbit's integer engine like its 8-bit version; not combinable with --adaround."""
    d, model, calib = setup("q_reduce")
    full, reduced = os.path.join(d, "full.onnx"), os.path.join(d, "reduced.onnx")
    expect_ok("quantize", model, "--calib", "x=" + calib, "-o", full, "-q")
    r = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", reduced, "--reduce-range")
    assert "codes in [-64, 64] (--reduce-range)" in r.stdout, r.stdout
    _, f_inits = load_inits(full)
    _, r_inits = load_inits(reduced)
    w = r_inits["conv1_bn_W_q"]
    assert w.dtype == np.int8 and np.abs(w).max() == 64, np.abs(w).max()
    assert np.abs(f_inits["conv1_bn_W_q"]).max() == 127
    for name, v in r_inits.items():
        if v.dtype == np.int8 and v.ndim >= 2:
            assert np.abs(v).max() <= 64, (name, np.abs(v).max())
    np.testing.assert_allclose(r_inits["conv1_bn_W_scale"], f_inits["conv1_bn_W_scale"] * 127 / 64, rtol=1e-6)
    x = np.random.RandomState(6).rand(4, 3, 16, 16).astype(np.float32)
    ref = run_model(model, x, d)
    got = run_model(reduced, x, d)
    assert (ref.argmax(1) == got.argmax(1)).mean() >= 0.75
    j = json.loads(expect_ok("inspect", reduced, "--optimized", "--json").stdout)["optimized"]
    assert j["op_counts_after"].get("QLinearConv") == 2, j["op_counts_after"]
    out = os.path.join(d, "never.onnx")
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", out, "--reduce-range", "--adaround", code=2,
                 mentions=("--reduce-range",))
    assert not os.path.exists(out)


def case_quantize_cache_table():
    d, model, calib = setup("q_cache")
    cache, table = os.path.join(d, "tiny.cache"), os.path.join(d, "table.json")
    expect_ok("quantize", model, "--calib", "x=" + calib, "--write-cache", cache, "--table", table, "--table-only")
    assert not os.path.exists(os.path.join(d, "tiny.int8.onnx"))
    lines = open(cache).read().splitlines()
    assert lines[0].startswith("TRT-") and lines[0].endswith("-EntropyCalibration2"), lines[0]
    entries = dict(l.rsplit(": ", 1) for l in lines[1:])
    t = {e["name"]: e for e in json.load(open(table))["tensors"]}
    for name, hexscale in entries.items():
        scale = struct.unpack(">f", bytes.fromhex(hexscale.rjust(8, "0")))[0]
        assert abs(scale - t[name]["threshold"] / 127) <= 1e-6 * scale, (name, scale, t[name])
    # From the cache: symmetric int8, scale = amax / 127.
    out = os.path.join(d, "from_cache.onnx")
    expect_ok("quantize", model, "--read-cache", cache, "-o", out, "-q")
    _, inits = load_inits(out)
    x_scale = struct.unpack(">f", bytes.fromhex(entries["x"].rjust(8, "0")))[0]
    assert abs(float(inits["x_scale"]) - x_scale) < 1e-9 and int(inits["x_zp"]) == 0
    # A hand-written TensorRT-style cache naming one tensor: the others stay float, with a warning.
    hand = os.path.join(d, "hand.cache")
    open(hand, "w").write("TRT-8601-EntropyCalibration2\nx: 3c010204\nno_such_tensor: 3c000000\n")
    r = expect_ok("quantize", model, "--read-cache", hand, "-o", os.path.join(d, "hand.onnx"))
    assert "lowbit: warning:" in r.stderr and "no_such_tensor" in r.stderr, r.stderr
    _, inits = load_inits(os.path.join(d, "hand.onnx"))
    assert abs(float(inits["x_scale"]) - struct.unpack(">f", bytes.fromhex("3c010204"))[0]) < 1e-12
    # An edited table is applied as written.
    tj = json.load(open(table))
    for e in tj["tensors"]:
        if e["name"] == "x":
            e["scale"] = 0.03125
    edited = os.path.join(d, "edited.json")
    json.dump(tj, open(edited, "w"))
    out = os.path.join(d, "edited.onnx")
    expect_ok("quantize", model, "--read-table", edited, "-o", out, "-q")
    _, inits = load_inits(out)
    assert float(inits["x_scale"]) == 0.03125
    # A malformed cache fails with the line number, writing nothing.
    bad = os.path.join(d, "bad.cache")
    open(bad, "w").write("TRT-8601-EntropyCalibration2\nx: 3c010204\nfoo bar\n")
    out = os.path.join(d, "never.onnx")
    expect_error("quantize", model, "--read-cache", bad, "-o", out, mentions=("bad.cache:3:", "foo bar"))
    assert not os.path.exists(out)


def case_quantize_errors():
    d, model, calib = setup("q_errors")
    out = os.path.join(d, "never.onnx")
    expect_error("quantize", model, "-o", out, code=2, mentions=("--calib",))
    expect_error("quantize", model, "--calib", calib, "--read-cache", "c", "-o", out, code=2)
    expect_error("quantize", model, "--calib", calib, "--table-only", code=2, mentions=("--table",))
    expect_error("quantize", model, "--calib", calib, "--method", "magic", "-o", out, code=2)
    expect_error("quantize", model, "--calib", "y=" + calib, "-o", out, mentions=("'y'",))
    wrong = os.path.join(d, "wrong.npy")
    np.save(wrong, np.zeros((4, 3, 8, 8), np.float32))
    expect_error("quantize", model, "--calib", "x=" + wrong, "-o", out, mentions=("wrong.npy",))
    nan = os.path.join(d, "nan.npy")
    a = np.zeros((4, 3, 16, 16), np.float32)
    a[2, 1, 3, 3] = np.nan
    np.save(nan, a)
    # Samples are read during calibration: the progress bar may precede the error.
    expect_error("quantize", model, "--calib", "x=" + nan, "-o", out, mentions=("nan.npy sample 2", "NaN"),
                 allow_progress=True)
    empty = os.path.join(d, "empty")
    os.makedirs(empty)
    expect_error("quantize", model, "--calib", "x=" + empty, "-o", out, mentions=("empty",))
    expect_error("quantize", model, "--calib", calib, "-o", os.path.join(d, "no_dir", "m.onnx"), mentions=("no_dir",))
    expect_error("quantize", model, "--calib", calib, "--exclude", "conv_two", "-o", out, mentions=("conv_two",))
    expect_error("quantize", os.path.join(d, "missing.onnx"), "--weight-only", "-o", out, mentions=("missing.onnx",))
    # A float model that overflows on the calibration data: the tensor with Inf is named, nothing written.
    rng = np.random.RandomState(3)
    overflow = os.path.join(d, "overflow.onnx")
    g = helper.make_graph(
        [helper.make_node("Exp", ["x"], ["e"], name="exp"),
         helper.make_node("Conv", ["e", "w"], ["y"], name="conv")], "overflow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 4, 4])],
        initializer=[numpy_helper.from_array(rng.randn(2, 3, 1, 1).astype(np.float32), "w")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=7), overflow)
    hot = os.path.join(d, "hot.npy")
    np.save(hot, np.full((2, 3, 4, 4), 100.0, np.float32))  # exp(100) overflows float32
    expect_error("quantize", overflow, "--calib", "x=" + hot, "-o", out, mentions=("'e'", "NaN/Inf"),
                 allow_progress=True)
    assert not os.path.exists(out), "nothing may be written after a failure"
    assert [f for f in os.listdir(d) if f.startswith("never") or ".tmp" in f] == [], os.listdir(d)


def case_max_memory():
    """--max-memory caps any one tensor: weights at import, activations before they are allocated."""
    d, model, calib = setup("q_maxmem", samples=2)
    x = os.path.join(d, "x.npy")
    np.save(x, np.random.RandomState(2).rand(1, 3, 16, 16).astype(np.float32))
    expect_ok("run", model, "--input", "x=" + x, "-o", os.path.join(d, "ok"), "--max-memory", "1M", "-q")
    # w1 is 8x3x3x3 floats = 864 bytes: over a 512-byte cap, named in the message.
    expect_error("run", model, "--input", "x=" + x, "-o", os.path.join(d, "o1"), "--max-memory", "512",
                 mentions=("'w1'", "512-byte"), out_dir=os.path.join(d, "o1"))
    # The first activation (8x16x16 floats = 8 KiB) over a 4 KiB cap: fails at that node, before allocating.
    big = os.path.join(d, "big.npy")
    np.save(big, np.random.RandomState(2).rand(1, 3, 16, 16).astype(np.float32))
    expect_error("run", model, "--input", "x=" + big, "-o", os.path.join(d, "o2"), "--max-memory", "4K",
                 mentions=("conv1",), out_dir=os.path.join(d, "o2"))
    expect_error("bench", model, "--shape", "x=1x3x16x16", "--max-memory", "lots", code=2, mentions=("--max-memory",))
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", os.path.join(d, "q.onnx"), "--max-memory", "512",
                 mentions=("512-byte",))


def case_int8_engine():
    """The quantized model runs on integer kernels: inspect and bench --profile say which nodes ran in int8,
    the integer result agrees with the QDQ float simulation (--disable-pass lower_qdq) and with itself across
    thread counts, and --keep-node keeps one Conv as a float simulation."""
    d, model, calib = setup("q_engine")
    out = os.path.join(d, "tiny.int8.onnx")
    expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "-q")
    j = json.loads(expect_ok("inspect", out, "--optimized", "--json").stdout)["optimized"]
    assert j["op_counts_after"].get("QLinearConv") == 2, j["op_counts_after"]
    assert "Conv" not in j["op_counts_after"], j["op_counts_after"]
    precision = j["precision"]
    assert sum(p == "int8" for p in precision.values()) >= 3, precision
    notes = [n for p in j["passes"] if p["pass"] == "lower_qdq" for n in p["notes"]]
    assert any(n.startswith("float: ") and "Softmax" in n for n in notes) or "softmax" in precision, notes
    r = expect_ok("inspect", out, "--optimized")
    assert "Precision after lowering" in r.stdout and "int8" in r.stdout, r.stdout
    b = json.loads(expect_ok("bench", out, "--shape", "x=2x3x16x16", "--iterations", "2", "--profile", "--json",
                             "-q").stdout)
    rows = {row["node"]: row for row in b["profile"]}
    assert rows["conv1"]["precision"] == "int8" and rows["conv1"]["op_type"] == "QLinearConv", rows["conv1"]
    r = expect_ok("bench", out, "--shape", "x=2x3x16x16", "--iterations", "2", "--profile", "-q")
    assert "Per precision" in r.stdout, r.stdout
    x = np.random.RandomState(5).rand(4, 3, 16, 16).astype(np.float32)
    np.save(os.path.join(d, "x.npy"), x)

    def run(tag, *extra):
        o = os.path.join(d, tag)
        expect_ok("run", out, "--input", "x=" + os.path.join(d, "x.npy"), "-o", o, "-q", *extra)
        return np.load(os.path.join(o, "prob.npy"))

    integer, sim = run("int"), run("sim", "--disable-pass", "lower_qdq")
    assert np.abs(integer - sim).max() < 0.05, np.abs(integer - sim).max()
    assert np.array_equal(integer, run("t1", "--threads", "1")), "integer results differ across thread counts"
    assert np.array_equal(integer, run("again")), "integer results differ across runs"
    kept = json.loads(expect_ok("inspect", out, "--optimized", "--json", "--keep-node", "conv2").stdout)
    assert kept["optimized"]["op_counts_after"].get("QLinearConv") == 1, kept["optimized"]["op_counts_after"]


def dw_block(path):
    """x[N,3,12,12] -> Conv 3x3 -> Clip(0,6) (ReLU6) -> depthwise 3x3 (ranges spread 300x) -> Relu -> Conv 1x1 -> y"""
    rng = np.random.RandomState(4)
    f = lambda *s: rng.randn(*s).astype(np.float32)
    spread = (300.0 ** (np.arange(8) / 7.0 - 0.5)).astype(np.float32)
    wdw = f(8, 1, 3, 3) * 0.3 * spread[:, None, None, None]
    wpw = f(4, 8, 1, 1) * 0.3 / spread[None, :, None, None]
    inits = [
        numpy_helper.from_array(f(8, 3, 3, 3) * 0.3, "w0"), numpy_helper.from_array(f(8) * 0.1, "b0"),
        numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi"),
        numpy_helper.from_array(wdw, "wdw"), numpy_helper.from_array(f(8) * 0.1, "bdw"),
        numpy_helper.from_array(wpw, "wpw"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c0", "lo", "hi"], ["r0"], name="relu6"),
        helper.make_node("Conv", ["r0", "wdw", "bdw"], ["c1"], name="dw", group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["r1", "wpw"], ["y"], name="pw"),
    ]
    graph = helper.make_graph(nodes, "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 12, 12])], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


def case_quantize_algorithms():
    """--equalize, --equalize-relu6 and --bias-correction: summary lines, a working model, and usage errors for
    combinations that cannot work."""
    d, model, calib = setup("q_algo")
    dw = dw_block(os.path.join(d, "dw.onnx"))
    x = np.random.RandomState(7).rand(4, 3, 12, 12).astype(np.float32) * 4 - 2
    np.save(os.path.join(d, "x.npy"), x)
    dw_calib = os.path.join(d, "dw_calib.npy")
    np.save(dw_calib, np.random.RandomState(8).rand(16, 3, 12, 12).astype(np.float32) * 4 - 2)

    def sqnr(path):
        outs = []
        for m in (dw, path):
            o = os.path.join(d, "run_" + os.path.basename(m))
            expect_ok("run", m, "--input", "x=" + os.path.join(d, "x.npy"), "-o", o, "-q")
            outs.append(np.load(os.path.join(o, "y.npy")))
        ref, got = outs
        return 10 * np.log10((ref ** 2).sum() / ((ref - got) ** 2).sum())

    plain = os.path.join(d, "plain.onnx")
    expect_ok("quantize", dw, "--calib", "x=" + dw_calib, "-o", plain, "--per-tensor-weights", "-q")
    eq = os.path.join(d, "eq.onnx")
    r = expect_ok("quantize", dw, "--calib", "x=" + dw_calib, "-o", eq, "--per-tensor-weights", "--equalize")
    assert "equalized:   1 conv pairs in 1 chains" in r.stdout, r.stdout
    assert "skipped 1 x Clip(0, 6) (ReLU6) is not scale-equivariant" in r.stdout and "conv0 -> dw" in r.stdout, r.stdout
    assert sqnr(eq) > sqnr(plain) + 6, (sqnr(eq), sqnr(plain))
    eq6 = os.path.join(d, "eq6.onnx")
    r = expect_ok("quantize", dw, "--calib", "x=" + dw_calib, "-o", eq6, "--per-tensor-weights", "--equalize",
                  "--equalize-relu6")
    assert "equalized:   2 conv pairs in 1 chains" in r.stdout, r.stdout
    assert "1 x Clip replaced by Relu (--equalize-relu6): relu6" in r.stdout, r.stdout
    assert "float model after replacing ReLU6:" in r.stdout, r.stdout
    assert not any(n.op_type == "Clip" for n in onnx.load(eq6).graph.node)
    bc = os.path.join(d, "bc.onnx")
    r = expect_ok("quantize", dw, "--calib", "x=" + dw_calib, "-o", bc, "--per-tensor-weights", "--bias-correction",
                  "--equalize")
    assert "bias corr.:  3 layers corrected (1 had no bias)" in r.stdout, r.stdout
    m, inits = load_inits(bc)
    assert sum(1 for n in m.graph.node if n.op_type == "Conv" and len(n.input) == 3) == 3  # pw got a bias
    assert sqnr(bc) > 20, sqnr(bc)
    # Weight-only and a table round trip work with --equalize (the table is written on the equalized model).
    expect_ok("quantize", dw, "--weight-only", "--equalize", "-o", os.path.join(d, "w.onnx"), "-q")
    table = os.path.join(d, "t.json")
    expect_ok("quantize", dw, "--calib", "x=" + dw_calib, "--equalize", "--table", table, "--table-only", "-q")
    r = expect_ok("quantize", dw, "--read-table", table, "--equalize", "-o", os.path.join(d, "t.onnx"))
    assert "same --equalize flags" in r.stderr, r.stderr
    # Combinations that cannot work: one usage error each, nothing written.
    out = os.path.join(d, "never.onnx")
    for extra, words in ((("--weight-only",), ("--bias-correction", "--calib")),
                         (("--read-table", table), ("--bias-correction",)),
                         (("--read-cache", table), ("--bias-correction",))):
        expect_error("quantize", model, "--bias-correction", *extra, "-o", out, code=2, mentions=words)
    expect_error("quantize", model, "--calib", calib, "--bias-correction", "--table-only", "--table", table, code=2,
                 mentions=("--table-only",))
    expect_error("quantize", model, "--calib", calib, "--equalize-relu6", "-o", out, code=2, mentions=("--equalize",))
    assert not os.path.exists(out)
    # The tiny CNN has no equalizable pair (MaxPool between its convs): nothing changes, it still quantizes.
    r = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", os.path.join(d, "tiny_eq_bc.onnx"), "--equalize",
                  "--bias-correction")
    assert "equalized:   0 conv pairs" in r.stdout and "bias corr.:  3 layers corrected" in r.stdout, r.stdout


if __name__ == "__main__":
    sys.exit(cli_test.main(globals()))
