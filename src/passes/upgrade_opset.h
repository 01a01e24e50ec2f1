// upgrade_opset: rewrites a graph from its ai.onnx opset (7-17) to a newer one (13-17), node by node, so
// that every node means exactly what it meant before (same reference-kernel results), then sets g.opset.
// Quantization needs it: per-axis QuantizeLinear/DequantizeLinear exist only from opset 13, and one graph
// has one opset.
//
//   Expected<Graph> g = import_onnx_file("ocr_cls.onnx");   // opset 9
//   LB_RETURN_IF_ERROR(upgrade_opset(*g, 13));
//   LB_RETURN_IF_ERROR(export_onnx(*g, "ocr_cls.opset13.onnx"));
//
// Rewrites (everything else whose ONNX signature changed in between only gained types, optional inputs or
// attributes whose defaults keep the old behaviour, and is left as it is):
//   Clip < 11                 min/max attributes -> scalar inputs of the input's type
//   Pad < 11                  pads/value attributes -> pads (int64) / constant_value inputs
//   Slice < 10                starts/ends/axes attributes -> int64 inputs
//   Squeeze, Unsqueeze < 13   axes attribute -> int64 input
//   Split < 13                split attribute -> int64 input
//   ReduceSum < 13            axes attribute -> int64 input
//   Softmax, LogSoftmax < 13  coerced-2D semantics: kept when axis is the last axis, otherwise
//                             Flatten(axis) -> op(axis=-1) -> Reshape(to Shape(x)), dynamic dims stay dynamic
//   Upsample (7-9)            -> Resize(X, roi="", scales), asymmetric, nearest_mode=floor
//   Resize 10                 -> Resize(X, roi="", scales), asymmetric; nearest rounds down when upsampling
//                             and up when downsampling, so nearest needs constant scales all >= 1 or all <= 1
//   Resize 11/12              tf_half_pixel_for_nn -> half_pixel with the nearest_mode that picks the same pixel
//   Dropout < 10              a used mask output (input's type before 10, bool after) gets a Cast back
//   Dropout < 12              ratio attribute dropped (inference ignores it)
//   BatchNormalization < 9    spatial attribute dropped (spatial=0 has no equivalent: error)
//   BatchNormalization < 14   unused trailing training outputs removed (opset 14 allows 3)
// Any op without a known upgrade across a version where its signature changed is an error naming the
// node and op; so is a downgrade or a target outside 13-17. On error the graph is left unchanged.
#pragma once
#include "ir/graph.h"

namespace lowbit {

Status upgrade_opset(Graph& g, int target_opset);

}  // namespace lowbit
