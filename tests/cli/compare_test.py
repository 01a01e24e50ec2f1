#!/usr/bin/python3
"""End-to-end tests of `lowbit compare` (layer-by-layer FP32 vs quantized, --json, --html checked in headless
Chromium) and of `lowbit quantize --target-sqnr/--target-metric` (automatic mixed precision), on quantize_test.py's
tiny CNN.

Usage: /usr/bin/python3 compare_test.py --lowbit BIN --models DIR --source REPO CASE
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test  # noqa: E402
from cli_test import expect_error, expect_ok, fresh_dir  # noqa: E402
from quantize_test import setup  # noqa: E402


def quantized(tag, *extra):
    d, model, calib = setup(tag)
    q = os.path.join(d, "tiny.int8.onnx")
    expect_ok("quantize", model, "--calib", "x=" + calib, "-o", q, "--quiet", *extra)
    samples = os.path.join(d, "samples.npy")
    np.save(samples, np.random.RandomState(7).rand(6, 3, 16, 16).astype(np.float32))
    return d, model, q, samples


def case_compare_basic():
    d, model, q, samples = quantized("compare_basic")
    js, html = os.path.join(d, "r.json"), os.path.join(d, "r.html")
    out = expect_ok("compare", model, q, "--input", "x=" + samples, "--json", js, "--html", html, "--threads", "1").stdout
    # Text: a row per matched tensor in topological order, the outputs with their task metric, the worst layers.
    for needle in ("tensors matched, 6 samples", "accumulated", "layer alone", "prob: SQNR", "top-1 agreement",
                   "worst layers", "wrote " + js, "wrote " + html):
        assert needle in out, (needle, out)
    r = json.load(open(js))
    assert r["samples"] == 6 and r["tool"] == "lowbit compare", r.keys()
    tensors = [L["tensor"] for L in r["layers"]]
    # x (input Q/DQ), BN output (BN folded into conv1 keeps its name), relu, pool, conv2, add, gap, flatten, logits
    for t in ("x", "bn1", "r1", "p1", "c2", "a1", "g1", "logits", "prob"):
        assert t in tensors, (t, tensors)
    assert tensors.index("r1") < tensors.index("c2") < tensors.index("logits"), tensors
    by = {L["tensor"]: L for L in r["layers"]}
    assert by["r1"]["quantized"] and by["r1"]["scale"] > 0 and len(by["r1"]["range"]) == 2, by["r1"]
    assert not by["prob"]["quantized"] and by["prob"]["scale"] is None
    for L in r["layers"]:
        assert L["accumulated"]["sqnr_db"] is not None and L["local"] is not None, L
        assert sum(L["histogram"]["counts"]) == 6 * np.prod(L["shape"][1:]) * L["shape"][0], L["tensor"]
    # The first quantized tensor sees exact inputs in both runs: accumulated == layer alone.
    assert abs(by["x"]["accumulated"]["sqnr_db"] - by["x"]["local"]["sqnr_db"]) < 1e-9
    out0 = r["outputs"][0]
    assert out0["tensor"] == "prob" and out0["task"]["kind"] == "classifier" and out0["task"]["count"] == 6, out0
    assert 0 <= out0["task"]["top1_agreement"] <= 1
    assert r["worst"] and r["worst"][0] in tensors
    # The HTML report renders in headless Chromium without script errors and draws the chart.
    check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_html_report.py")
    shot = os.path.join(cli_test.ARGS.models, "..", "compare_report.png")
    p = subprocess.run([sys.executable, check, html, shot], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, (p.stdout, p.stderr)
    print(p.stdout.strip())
    # --brief keeps only outputs and worst layers; --no-local drops the layer-alone column.
    brief = expect_ok("compare", model, q, "--input", "x=" + samples, "--brief", "--no-local", "--quiet", "--limit", "2").stdout
    assert "layer alone" not in brief and "2 samples" in brief and "prob: SQNR" in brief, brief


def case_compare_io_uint8():
    """A model quantized with --io uint8 takes uint8 input: compare quantizes the float samples itself."""
    d, model, q, samples = quantized("compare_io", "--io", "uint8")
    js = os.path.join(d, "r.json")
    expect_ok("compare", model, q, "--input", "x=" + samples, "--json", js, "--quiet")
    r = json.load(open(js))
    out0 = r["outputs"][0]
    assert out0["accumulated"]["sqnr_db"] is not None and out0["accumulated"]["sqnr_db"] > 10, out0


def case_compare_errors():
    d, model, q, samples = quantized("compare_errors")
    other = os.path.join(d, "other.onnx")
    m = onnx.load(model)
    m.graph.input[0].name = "y"
    for n in m.graph.node:
        n.input[:] = ["y" if i == "x" else i for i in n.input]
    onnx.save(m, other)
    bad_npy = os.path.join(d, "bad.npy")
    with open(bad_npy, "wb") as f:
        f.write(b"\x93NUMPY garbage")
    wrong_shape = os.path.join(d, "wrong.npy")
    np.save(wrong_shape, np.zeros((2, 3, 8, 8), np.float32))
    reports = os.path.join(d, "reports")
    expect_error("compare", model, q, code=2, mentions=("--input",))
    expect_error("compare", model, os.path.join(d, "missing.onnx"), "--input", "x=" + samples, mentions=("missing.onnx",))
    expect_error("compare", model, q, "--input", "x=" + bad_npy, mentions=("bad.npy",))
    expect_error("compare", model, q, "--input", "x=" + wrong_shape, mentions=("wrong.npy",))
    expect_error("compare", model, q, "--input", "z=" + samples, mentions=("'z'",))
    expect_error("compare", other, q, "--input", "y=" + samples, mentions=("'x'", "tiny.int8.onnx"))
    expect_error("compare", model, q, "--input", "x=" + samples, "--html", os.path.join(reports, "r.html"),
                 mentions=("reports",))
    expect_error("compare", model, q, "--input", "x=" + samples, "--json", d, mentions=("folder",))
    expect_error("compare", model, q, "--input", "x=" + samples, "--json", q, code=2, mentions=("overwrite",))
    expect_error("compare", model, q, "--input", "x=" + samples, "--limit", "0", code=2)
    assert not os.path.exists(reports)
    # Same input and output names, different output shapes: one message naming the output and both shapes.
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])
    for name, node, shape in (("relu.onnx", helper.make_node("Relu", ["x"], ["y"]), ["N", 3, 16, 16]),
                              ("mean.onnx", helper.make_node("ReduceMean", ["x"], ["y"], axes=[1]), ["N", 1, 16, 16])):
        g = helper.make_graph([node], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(d, name))
    expect_error("compare", os.path.join(d, "relu.onnx"), os.path.join(d, "mean.onnx"), "--input", "x=" + samples,
                 "--json", os.path.join(d, "shape.json"), mentions=("'y'", "shape"), allow_progress=True)
    assert not os.path.exists(os.path.join(d, "shape.json"))


def case_quantize_target():
    d, model, calib = setup("quantize_target", samples=20)
    out = os.path.join(d, "mixed.onnx")
    # An easy target is met by the all-INT8 model: nothing is kept in FP32.
    s = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-metric", "cosine=0.5").stdout
    assert "met without FP32 layers" in s and "held back" in s, s
    # An SQNR target above the all-INT8 value keeps layers in FP32, says which and why, and the file has them float.
    s = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-sqnr", "0", "--holdout", "4").stdout
    all_int8 = float(s.split("all INT8 ")[1].split(",")[0])
    samples = os.path.join(d, "held.npy")
    np.save(samples, np.load(calib)[-4:])
    target = all_int8 + 4
    s = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-sqnr", "%.2f" % target, "--holdout", "4").stdout
    assert "node(s) in FP32" in s and "fp32:" in s and "sensitivity rank " in s and "speed:" in s, s
    kept = [line.split()[1] for line in s.splitlines() if line.strip().startswith("fp32:")]
    assert kept, s
    g = onnx.load(out).graph
    dq_outputs = {o for n in g.node if n.op_type == "DequantizeLinear" for o in n.output}
    nodes = {n.name: n for n in g.node}
    for k in kept:  # a node kept in FP32 reads no dequantized input (weights included)
        assert k in nodes and not any(i in dq_outputs for i in nodes[k].input), (k, list(nodes[k].input))
    js2 = os.path.join(d, "mixed.json")
    expect_ok("compare", model, out, "--input", "x=" + samples, "--json", js2, "--quiet")
    reached = json.load(open(js2))["outputs"][0]["accumulated"]["sqnr_db"]
    assert reached >= target - 1e-6, (reached, target, s)
    # Bad combinations and values.
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-sqnr", "abc", code=2, mentions=("abc",))
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-metric", "top1", code=2, mentions=("top1",))
    expect_error("quantize", model, "--weight-only", "-o", out, "--target-sqnr", "30", code=2, mentions=("--weight-only",))
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", out, "--holdout", "3", code=2, mentions=("--holdout",))
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-metric", "iou:0.3=0.9",
                 mentions=("map-like",), allow_progress=True)
    expect_error("quantize", model, "--calib", "x=" + calib, "-o", out, "--target-sqnr", "30", "--holdout", "20",
                 mentions=("holding back",))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    cli_test.main(globals())
