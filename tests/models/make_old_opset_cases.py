#!/usr/bin/python3
"""Small old-opset models for every op upgrade_opset rewrites, to check the rewrites against ONNX Runtime.

    make_old_opset_cases.py OUT_DIR

Writes OUT_DIR/<case>/model.onnx (one op at its old opset, single input "x" with a symbolic batch) and
OUT_DIR/<case>/x.npy, and prints one line per case: "<case> <target opset> [outputs,not,compared,with,ORT]". run_old_opset_cases.sh upgrades
and exports each model with lowbit, then ONNX Runtime runs the original and the exported file: ONNX Runtime
implements the old opsets independently of lowbit, so agreement shows that the rewrite keeps the meaning
for other runtimes too, not only for lowbit's kernels.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CASES = []


def case(name, opset, op, attrs=None, inputs_shape=(2, 3, 4, 5), consts=(), outputs=1, target=13, out_shape=None,
         skip_ort=()):
    """out_shape: declared output shape (all outputs), for the few cases ONNX 1.12's inference leaves open.
    skip_ort: outputs whose value ONNX leaves unspecified and ONNX Runtime fills differently per opset."""
    CASES.append(dict(name=name, opset=opset, op=op, attrs=attrs or {}, shape=inputs_shape, consts=consts,
                      outputs=outputs, target=target, out_shape=out_shape, skip_ort=skip_ort))


f32 = np.float32
# Clip < 11: attributes.
case("clip7_min_max", 7, "Clip", {"min": -0.5, "max": 0.7})
case("clip10_min_only", 10, "Clip", {"min": 0.1})
case("clip9_max_only", 9, "Clip", {"max": -0.2}, target=17)
# Pad < 11.
case("pad9_constant", 9, "Pad", {"pads": [0, 1, 2, 1, 0, 0, -1, 2], "value": 1.5})
case("pad10_reflect", 10, "Pad", {"pads": [0, 0, 2, 1, 0, 0, 1, 3], "mode": "reflect"})
case("pad7_edge", 7, "Pad", {"pads": [0, 1, 0, 2, 0, 2, 3, 0], "mode": "edge"})
# Slice < 10.
case("slice9_axes", 9, "Slice", {"starts": [1, -4], "ends": [2**63 - 1, -1], "axes": [1, 3]})
case("slice9_no_axes", 9, "Slice", {"starts": [0, 1, 1], "ends": [1000, 3, 100]})
# Squeeze / Unsqueeze / Split / ReduceSum < 13.
case("squeeze11", 11, "Squeeze", {"axes": [-2]}, inputs_shape=(2, 3, 1, 5), out_shape=["N", 3, 5])
case("unsqueeze9", 9, "Unsqueeze", {"axes": [0, 5]})
case("split11_sizes", 11, "Split", {"axis": 3, "split": [1, 3, 1]}, outputs=3)
case("split9_equal", 9, "Split", {"axis": 1}, outputs=3)
case("reducesum11_axes", 11, "ReduceSum", {"axes": [1, -1], "keepdims": 0})
case("reducesum9_all", 9, "ReduceSum", {})
# Softmax / LogSoftmax < 13: coerced 2-D.
case("softmax9_default_axis", 9, "Softmax", {})
case("softmax11_axis2", 11, "Softmax", {"axis": 2})
case("softmax12_last_axis", 12, "Softmax", {"axis": 3})
case("logsoftmax11_axis_neg2", 11, "LogSoftmax", {"axis": -2}, target=17)
case("logsoftmax7_axis0", 7, "LogSoftmax", {"axis": 0})
# Upsample (7: attribute, 9: input) and Resize 10/11.
case("upsample7_nearest", 7, "Upsample", {"scales": [1.0, 1.0, 2.0, 3.0]})
case("upsample7_linear", 7, "Upsample", {"scales": [1.0, 1.0, 2.0, 1.5], "mode": "linear"})
case("upsample9_nearest", 9, "Upsample", {"mode": "nearest"}, consts=[("scales", np.array([1, 1, 1.5, 2.5], f32))])
case("upsample9_linear", 9, "Upsample", {"mode": "linear"}, consts=[("scales", np.array([1, 1, 2, 2], f32))])
case("resize10_nearest_up", 10, "Resize", {"mode": "nearest"}, consts=[("scales", np.array([1, 1, 2, 1.5], f32))])
case("resize10_nearest_down", 10, "Resize", {"mode": "nearest"}, inputs_shape=(2, 3, 9, 10),
     consts=[("scales", np.array([1, 1, 0.5, 0.6], f32))])
case("resize10_linear_up", 10, "Resize", {"mode": "linear"}, consts=[("scales", np.array([1, 1, 2, 1.7], f32))])
case("resize10_linear_down", 10, "Resize", {"mode": "linear"}, inputs_shape=(2, 3, 9, 10),
     consts=[("scales", np.array([1, 1, 0.5, 0.8], f32))])
for mode in ("round_prefer_floor", "floor"):
    for tag, scales in (("up", [1, 1, 2, 1.7]), ("down", [1, 1, 0.6, 0.45])):
        case("resize11_tf_half_pixel_%s_%s" % (mode, tag), 11, "Resize",
             {"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn", "nearest_mode": mode},
             inputs_shape=(2, 3, 9, 10),
             consts=[("roi", np.zeros([0], f32)), ("scales", np.array(scales, f32))])
# Dropout < 12 (ratio attribute; mask of the input's type before 10) and BatchNormalization < 9.
# The inference mask: ONNX Runtime writes all false before opset 12 and all true from 12 (ONNX's reference).
case("dropout7_mask", 7, "Dropout", {"ratio": 0.3}, outputs=2, out_shape=["N", 3, 4, 5], skip_ort=["y1"])
case("dropout10_mask", 10, "Dropout", {"ratio": 0.2}, outputs=2, skip_ort=["y1"])
bn_consts = [("scale", np.linspace(0.5, 1.5, 3).astype(f32)), ("bias", np.linspace(-1, 1, 3).astype(f32)),
             ("mean", np.linspace(-0.2, 0.3, 3).astype(f32)), ("var", np.linspace(0.5, 2, 3).astype(f32))]
case("batchnorm7_spatial", 7, "BatchNormalization", {"spatial": 1, "epsilon": 1e-3}, consts=bn_consts)
case("batchnorm8_default", 8, "BatchNormalization", {}, consts=bn_consts, target=15)


def build(c):
    consts = [numpy_helper.from_array(v, name) for name, v in c["consts"]]
    outs = ["y%d" % i for i in range(c["outputs"])]
    node = helper.make_node(c["op"], ["x"] + [name for name, _ in c["consts"]], outs, name=c["name"], **c["attrs"])
    shape = ["N"] + list(c["shape"][1:])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    # Output types are left to shape inference (the old Dropout mask is float, the new one bool).
    ys = [helper.make_tensor_value_info(o, TensorProto.FLOAT if c["out_shape"] else 0, c["out_shape"]) for o in outs]
    graph = helper.make_graph([node], c["name"], [x], ys, initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", c["opset"])], producer_name="lowbit-test")
    model.ir_version = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7}[c["opset"]]
    model = onnx.shape_inference.infer_shapes(model)
    # ONNX Runtime wants an element type on every output; IR 3 needs the initializers listed as inputs.
    for o in model.graph.output:
        if o.type.tensor_type.elem_type == 0:
            o.type.tensor_type.elem_type = TensorProto.FLOAT
    if model.ir_version < 4:
        for t in consts:
            model.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    onnx.checker.check_model(model)
    return model


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20240517)
    for c in CASES:
        d = os.path.join(out, c["name"])
        os.makedirs(d, exist_ok=True)
        onnx.save(build(c), os.path.join(d, "model.onnx"))
        np.save(os.path.join(d, "x.npy"), (rng.standard_normal(c["shape"]) * 2).astype(f32))
        print(c["name"], c["target"], ",".join(c["skip_ort"]))


if __name__ == "__main__":
    main()
