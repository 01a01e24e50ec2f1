#!/usr/bin/python3
"""Writes the tiny models, .npy inputs and broken files the CLI tests use into OUTDIR.

Usage: /usr/bin/python3 make_models.py OUTDIR
Needs python3-onnx and python3-numpy (Debian). Everything is small and deterministic.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    model.producer_name = "lowbit-tests"
    model.producer_version = "1.0"
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def make(nodes, inputs, outputs, initializers=(), opset=13, name="g", extra_opsets=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    return helper.make_model(graph, opset_imports=opsets, ir_version=7)


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    f32 = TensorProto.FLOAT

    # add.onnx: two static float inputs.
    save(make([helper.make_node("Add", ["a", "b"], ["sum"], name="add0")],
              [helper.make_tensor_value_info("a", f32, [2, 3]), helper.make_tensor_value_info("b", f32, [2, 3])],
              [helper.make_tensor_value_info("sum", f32, [2, 3])], name="add_graph"), p("add.onnx"))

    # relu.onnx: one input with a symbolic batch dim.
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
              [helper.make_tensor_value_info("x", f32, ["batch", 3])],
              [helper.make_tensor_value_info("y", f32, ["batch", 3])]), p("relu.onnx"))

    # identity_names.onnx: output names with characters unsafe in file names.
    save(make([helper.make_node("Identity", ["x"], ["scores/out:0"], name="id0"),
               helper.make_node("Identity", ["x"], ["../evil"], name="id1")],
              [helper.make_tensor_value_info("x", f32, [4])],
              [helper.make_tensor_value_info("scores/out:0", f32, [4]),
               helper.make_tensor_value_info("../evil", f32, [4])]), p("identity_names.onnx"))

    # conv.onnx: Conv (3x3, pad 1, weights + bias initializers) -> Relu; 1x1x4x4 -> 1x2x4x4.
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    bias = np.array([0.5, -0.25], dtype=np.float32)
    save(make([helper.make_node("Conv", ["x", "w", "bias"], ["c"], name="conv0", kernel_shape=[3, 3],
                                pads=[1, 1, 1, 1]),
               helper.make_node("Relu", ["c"], ["y"], name="relu0")],
              [helper.make_tensor_value_info("x", f32, [1, 1, 4, 4])],
              [helper.make_tensor_value_info("y", f32, [1, 2, 4, 4])],
              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "bias")], name="conv_graph"),
         p("conv.onnx"))
    np.save(p("conv_w.npy"), w)
    np.save(p("conv_bias.npy"), bias)

    # unsupported.onnx: TopK (not supported, has a hint) and a contrib-domain op; the rest is fine.
    save(make([helper.make_node("Relu", ["x"], ["r"], name="relu0"),
               helper.make_node("TopK", ["r", "k"], ["values", "indices"], name="topk0", axis=1),
               helper.make_node("FusedGemm", ["r", "r"], ["fg"], name="fused0", domain="com.microsoft")],
              [helper.make_tensor_value_info("x", f32, [2, 8])],
              [helper.make_tensor_value_info("values", f32, [2, 3]),
               helper.make_tensor_value_info("indices", TensorProto.INT64, [2, 3]),
               helper.make_tensor_value_info("fg", f32, None)],
              [numpy_helper.from_array(np.array([3], dtype=np.int64), "k")],
              extra_opsets=[("com.microsoft", 1)]), p("unsupported.onnx"))

    # Broken model files.
    with open(p("conv.onnx"), "rb") as f:
        conv_bytes = f.read()
    with open(p("truncated.onnx"), "wb") as f:
        f.write(conv_bytes[: len(conv_bytes) // 2])
    open(p("empty.onnx"), "wb").close()
    with open(p("random.onnx"), "wb") as f:
        f.write(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())

    # Inputs.
    a = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    b = np.full((2, 3), 0.25, dtype=np.float32)
    np.save(p("a.npy"), a)
    np.save(p("b.npy"), b)
    np.save(p("a_f64.npy"), a.astype(np.float64))
    np.save(p("a_i32.npy"), np.arange(6, dtype=np.int32).reshape(2, 3))
    np.save(p("a_3x2.npy"), a.reshape(3, 2))
    np.save(p("x_relu.npy"), np.array([[-1, 2, -3], [4, -5, 6], [0.5, -0.5, 0]], dtype=np.float32))
    np.save(p("x4.npy"), np.array([1, -2, 3, -4], dtype=np.float32))
    np.save(p("x_conv.npy"), rng.standard_normal((1, 1, 4, 4)).astype(np.float32))
    np.save(p("x_big_endian.npy"), a.astype(">f4"))
    with open(p("malformed.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (2,3" + b" " * 10)
    with open(p("not_npy.npy"), "wb") as f:
        f.write(b"this is not a numpy file at all\n")
    # Same header as a.npy but a few data bytes short.
    with open(p("a.npy"), "rb") as f:
        a_bytes = f.read()
    with open(p("a_truncated.npy"), "wb") as f:
        f.write(a_bytes[:-5])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
