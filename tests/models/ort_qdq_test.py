#!/usr/bin/python3
"""QDQ models written the way other tools write them run on lowbit's integer kernels and agree with ONNX Runtime.

    ort_qdq_test.py LOWBIT ORT_RUN_JS WORK_DIR

Builds (python3-onnx, no lowbit involved) a small CNN - Conv+Relu, MaxPool, a Conv whose output is added to a
skip connection, Relu, GlobalAveragePool, Flatten, Gemm - in four QDQ styles:
  u8s8_per_channel   ONNX Runtime's default: uint8 asymmetric activations, int8 per-channel weights, int32 bias,
                     the Relu after a Conv removed (its Q's range starts at 0), Relu elsewhere kept with its own QDQ
  u8s8_per_tensor    the same with one weight scale per tensor
  s8s8_symmetric     int8 symmetric activations (zero point 0) and weights, as TensorRT's toolkit writes them
  s8_relu_kept       int8 activations, Relu kept between Conv and Q (as lowbit quantize writes them)
For each: lowbit's optimized graph must have lowered both Convs to QLinearConv (integer execution), and its output
must match ONNX Runtime's within a few output steps (both engines run integer kernels; they may round a tie
differently).

Which ONNX Runtime: the QDQ graph run node by node in float (graph optimizations disabled) is the model's own
meaning and is always compared. ONNX Runtime's fused integer kernels (its default) are compared too where the CPU
has VNNI; without it MLAS's u8 x s8 kernels add products in saturating int16 pairs (vpmaddubsw) and drift far
from both (0.2 of the output range in s8_relu_kept on an AMD Zen 3), so there that figure is only printed.
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


class QdqNet:
    def __init__(self, style, rng):
        self.style, self.rng = style, rng
        self.nodes, self.inits = [], []
        self.signed = style.startswith("s8")
        self.per_channel = style == "u8s8_per_channel" or style == "s8_relu_kept"

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output + "_node", **attrs))
        return output

    def act_params(self, name, lo, hi):
        """Scale/zero point of an activation with range [lo, hi] in this style."""
        if self.signed:
            t = max(-lo, hi)
            return self.const(name + "_s", np.array(t / 127, np.float32)), self.const(name + "_z", np.array(0, np.int8))
        s = (hi - min(lo, 0.0)) / 255
        z = int(round(-min(lo, 0.0) / s))
        return self.const(name + "_s", np.array(s, np.float32)), self.const(name + "_z", np.array(z, np.uint8))

    def qdq(self, value, params):
        s, z = params
        q = self.node("QuantizeLinear", [value, s, z], value + "_q")
        return self.node("DequantizeLinear", [q, s, z], value + "_dq")

    def weight(self, name, w, x_scale):
        axis_scales = np.abs(w.reshape(w.shape[0], -1)).max(axis=1) / 127
        scales = axis_scales if self.per_channel else np.array([axis_scales.max()] * w.shape[0])
        q = np.clip(np.round(w / scales.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
        if self.per_channel:
            s = self.const(name + "_ws", scales.astype(np.float32))
            z = self.const(name + "_wz", np.zeros(w.shape[0], np.int8))
            return self.node("DequantizeLinear", [self.const(name + "_wq", q), s, z], name + "_w", axis=0), scales
        s = self.const(name + "_ws", np.array(scales[0], np.float32))
        z = self.const(name + "_wz", np.array(0, np.int8))
        return self.node("DequantizeLinear", [self.const(name + "_wq", q), s, z], name + "_w"), scales

    def bias(self, name, b, x_scale, w_scales):
        bs = (np.float32(x_scale) * w_scales.astype(np.float32)).astype(np.float32)
        q = np.round(b / bs).astype(np.int32)
        s = self.const(name + "_bs", bs if self.per_channel else np.array(bs[0], np.float32))
        args = [self.const(name + "_bq", q), s]
        return self.node("DequantizeLinear", args, name + "_b", **({"axis": 0} if self.per_channel else {}))

    def scale_of(self, params):
        return float(numpy_helper.to_array([i for i in self.inits if i.name == params[0]][0]))

    def conv(self, name, x_dq, x_params, cin, cout, pad=1):
        w = (self.rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(cin * 9) * 1.5).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.1).astype(np.float32)
        wdq, scales = self.weight(name, w, self.scale_of(x_params))
        bdq = self.bias(name, b, self.scale_of(x_params), scales)
        return self.node("Conv", [x_dq, wdq, bdq], name, pads=[pad] * 4)

    def build(self):
        xp = self.act_params("x", -3, 3)
        x = self.qdq("x", xp)
        c1 = self.conv("conv1", x, xp, 8, 16)
        if self.style == "s8_relu_kept":
            a1p = self.act_params("a1", 0, 6) if not self.signed else self.act_params("a1", -6, 6)
            a1 = self.qdq(self.node("Relu", [c1], "relu1"), a1p)
        else:  # ONNX Runtime removes the Relu: the Q's range [0, hi] clips instead
            a1p = self.act_params("a1", 0, 6) if not self.signed else self.act_params("a1", -6, 6)
            a1 = self.qdq(c1, a1p)
            if self.signed:  # a symmetric int8 range cannot clip at 0: keep the Relu with its own QDQ
                a1 = self.qdq(self.node("Relu", [a1], "relu1"), a1p)
        pool = self.qdq(self.node("MaxPool", [a1], "pool", kernel_shape=[2, 2], strides=[2, 2]), a1p)
        c2 = self.conv("conv2", pool, a1p, 16, 16)
        c2dq = self.qdq(c2, self.act_params("c2", -6, 6))
        s = self.qdq(self.node("Add", [c2dq, pool], "add"), self.act_params("sum", -8, 10))
        r = self.qdq(self.node("Relu", [s], "relu2"), self.act_params("relu2", 0, 10))
        gp = self.act_params("gap", 0, 6)
        g = self.qdq(self.node("GlobalAveragePool", [r], "gap"), gp)
        f = self.qdq(self.node("Flatten", [g], "flat"), gp)
        wf = (self.rng.standard_normal((10, 16)) * 0.3).astype(np.float32)
        wq, ws = self.weight("fc", wf, self.scale_of(gp))
        bq = self.bias("fc", np.zeros(10, np.float32), self.scale_of(gp), ws)
        self.node("Gemm", [f, wq, bq], "y", transB=1)
        graph = helper.make_graph(self.nodes, "qdq_" + self.style,
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ort-style")
        model.ir_version = 7
        onnx.checker.check_model(model)
        return model


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    lowbit, ort_run, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(3)
    x = rng.uniform(-2.5, 2.5, (1, 8, 16, 16)).astype(np.float32)
    x_path = os.path.join(work, "x.npy")
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    has_vnni = "avx512_vnni" in flags or "avx_vnni" in flags
    print("CPU " + ("with" if has_vnni else "without") + " VNNI")
    np.save(x_path, x)
    for style in ["u8s8_per_channel", "u8s8_per_tensor", "s8s8_symmetric", "s8_relu_kept"]:
        model = QdqNet(style, np.random.default_rng(7)).build()
        path = os.path.join(work, style + ".onnx")
        onnx.save(model, path)
        info = json.loads(subprocess.run([lowbit, "inspect", path, "--optimized", "--json"], check=True,
                                         capture_output=True, text=True).stdout)
        ops = info.get("optimized", {}).get("op_counts_after", {})
        if ops.get("QLinearConv", 0) != 2 or ops.get("Conv", 0) != 0:
            fail(f"{style}: expected both Convs lowered to QLinearConv, optimized graph has {ops}")
        lb_dir = os.path.join(work, style + "_lowbit")
        want = {}
        for level in ["disabled", "all"]:
            ort_dir = os.path.join(work, f"{style}_ort_{level}")
            subprocess.run(["node", ort_run, path, ort_dir, "x=" + x_path], check=True, capture_output=True,
                           env=dict(os.environ, ORT_GRAPH_OPT=level))
            want[level] = np.load(os.path.join(ort_dir, "y.npy"))
        for backend in ["onednn", "ref"]:
            subprocess.run([lowbit, "run", path, "-i", x_path, "-o", lb_dir, "-b", backend, "-q"], check=True)
            got = np.load(os.path.join(lb_dir, "y.npy"))
            for level, what in [("disabled", "float QDQ"), ("all", "fused int8")]:
                err = float(np.abs(got - want[level]).max() / np.abs(want[level]).max())
                gated = level == "disabled" or has_vnni
                print(f"{style:18s} {backend:6s} max |lowbit - onnxruntime {what:10s}| / max |onnxruntime| = "
                      f"{err:.2e}{'' if gated else '  (not checked: no VNNI)'}")
                if gated and not err <= 0.02:
                    fail(f"{style} ({backend}): lowbit and ONNX Runtime ({what}) differ by {err:.3g} of the output "
                         "range")
    print("PASS")


if __name__ == "__main__":
    main()
