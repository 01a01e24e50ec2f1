// upgrade_opset: see upgrade_opset.h.
//
// For every node, the ONNX versions at which its schema changed between the graph's opset and the target
// are read from ONNX's schema registry, and each one must have an entry in kChanges below: a rule that
// rewrites the node into the newer form, or nullptr when the newer version only added types, optional
// inputs/outputs or attributes whose defaults keep the old behaviour. A change without an entry is an
// error, so a schema change nobody looked at can never slip through silently.
//
// The rules reproduce what lowbit's own kernels do at the old opset (src/ops, src/kernels/ref), which
// follow ONNX Runtime, so the rewritten node gives bit-identical results there.
#include "passes/upgrade_opset.h"

#include <onnx/defs/schema.h>

#include <cstring>
#include <map>

#include "kernels/ref/shape_ops_copy.h"
#include "passes/graph_rewrite.h"

namespace lowbit {

namespace {

struct Upgrader;
using Rule = Status (*)(Upgrader&, Node&);
struct Change {
  int version;  // the opset at which ONNX changed the op
  Rule rule;    // nullptr: nothing to rewrite
};

template <typename... Args>
Status node_error(StatusCode code, const Node& n, const Args&... args) {
  return error(code, n.describe(), ": ", args...);
}

struct Upgrader {
  Graph& g;
  int from, to;
  std::vector<Node> added;  // nodes created by rules; inserted (and sorted) after the walk

  const ValueType* type_of(const std::string& name) const {
    const ValueInfo* v = g.find(name);
    return v ? &v->type : nullptr;
  }
  Expected<DType> dtype_of(const Node& n, size_t input) const {
    const ValueType* t = n.has_input(input) ? type_of(n.inputs[input]) : nullptr;
    if (!t || t->dtype == DType::kUndefined)
      return node_error(StatusCode::kInvalidArgument, n, "the element type of input ", input,
                        " is unknown; run shape inference first");
    return t->dtype;
  }
  std::string int64_constant(const Node& n, const std::string& what, const std::vector<int64_t>& v) {
    return add_constant(g, n.name + "_" + what, Tensor::from_vector(DType::kInt64, {int64_t(v.size())}, v));
  }
  // A scalar of `dtype` holding `v` converted exactly as the old-opset kernels convert their float attributes.
  std::string scalar_constant(const Node& n, const std::string& what, DType dtype, double v) {
    Tensor t(dtype, {});
    uint8_t bytes[8];
    shape_ops::scalar_to_bytes(dtype, v, bytes);
    std::memcpy(t.raw(), bytes, dtype_size(dtype));
    return add_constant(g, n.name + "_" + what, std::move(t));
  }
  // Reserves a fresh value name (its type comes from inference once the node producing it exists).
  std::string new_value(const std::string& base) { return add_value(g, base); }
  Node& add_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                 std::vector<std::string> outputs) {
    added.push_back(make_node(op, name, std::move(inputs), std::move(outputs)));
    return added.back();
  }
};

Attribute int_attr(int64_t v) { return Attribute::of_int(v); }
Attribute string_attr(std::string v) { return Attribute::of_string(std::move(v)); }

// Drops trailing omitted ("") inputs, which some newer schemas count against their maximum.
void trim_inputs(Node& n) {
  while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
}

// An ints attribute that became an int64 input at position `slot`; absent stays absent.
void ints_attr_to_input(Upgrader& u, Node& n, const char* attr, size_t slot) {
  if (!n.has_attr(attr)) return;
  std::vector<int64_t> v = n.attr_ints(attr);
  n.attrs.erase(attr);
  if (n.inputs.size() <= slot) n.inputs.resize(slot + 1);
  n.inputs[slot] = u.int64_constant(n, attr, v);
}

// ---- rules ---------------------------------------------------------------------------------------------

// Clip-11: min/max attributes (floats, default +-FLT_MAX) -> optional scalar inputs of the input's type. A
// float16 bound rounds to float16; the input values are float16 too, so clamping gives the same results.
Status clip_inputs(Upgrader& u, Node& n) {
  LB_ASSIGN_OR_RETURN(DType t, u.dtype_of(n, 0));
  std::string lo, hi;
  if (n.has_attr("min")) lo = u.scalar_constant(n, "min", t, n.attr_float("min", 0));
  if (n.has_attr("max")) hi = u.scalar_constant(n, "max", t, n.attr_float("max", 0));
  n.attrs.erase("min");
  n.attrs.erase("max");
  n.inputs = {n.inputs[0], lo, hi};
  trim_inputs(n);
  return Status::Ok();
}

// Pad-11: pads -> int64 input; value (float, constant mode only) -> constant_value of the input's type.
Status pad_inputs(Upgrader& u, Node& n) {
  if (!n.has_attr("pads"))
    return node_error(StatusCode::kInvalidModel, n, "attribute 'pads' is required before opset 11");
  n.inputs.resize(1);
  n.inputs.push_back(u.int64_constant(n, "pads", n.attr_ints("pads")));
  if (n.has_attr("value") && n.attr_string("mode", "constant") == "constant") {
    LB_ASSIGN_OR_RETURN(DType t, u.dtype_of(n, 0));
    n.inputs.push_back(u.scalar_constant(n, "value", t, n.attr_float("value", 0)));
  }
  n.attrs.erase("pads");
  n.attrs.erase("value");
  return Status::Ok();
}

// Slice-10: starts/ends/axes attributes -> int64 inputs (steps default to 1, as before).
Status slice_inputs(Upgrader& u, Node& n) {
  if (!n.has_attr("starts") || !n.has_attr("ends"))
    return node_error(StatusCode::kInvalidModel, n, "attributes 'starts' and 'ends' are required before opset 10");
  n.inputs.resize(1);
  ints_attr_to_input(u, n, "starts", 1);
  ints_attr_to_input(u, n, "ends", 2);
  ints_attr_to_input(u, n, "axes", 3);
  return Status::Ok();
}

Status axes_input(Upgrader& u, Node& n) {  // Squeeze-13, Unsqueeze-13
  n.inputs.resize(1);
  ints_attr_to_input(u, n, "axes", 1);
  return Status::Ok();
}

Status split_input(Upgrader& u, Node& n) {  // Split-13
  n.inputs.resize(1);
  ints_attr_to_input(u, n, "split", 1);
  return Status::Ok();
}

// ReduceSum-13: axes -> input. An empty axes list meant "all axes", which is also what an omitted input
// means (noop_with_empty_axes defaults to 0).
Status reduce_sum_axes(Upgrader& u, Node& n) {
  if (n.has_attr("axes") && n.attr_ints("axes").empty()) n.attrs.erase("axes");
  n.inputs.resize(1);
  ints_attr_to_input(u, n, "axes", 1);
  return Status::Ok();
}

// Softmax/LogSoftmax before 13 flatten the input to 2-D at `axis` (default 1) and normalize each row; from
// 13 they normalize along `axis` alone (default -1). Both agree when axis is the last axis; otherwise the
// old meaning is spelled out. Reshape takes its target from Shape(x) so symbolic dims stay symbolic.
Status softmax_single_axis(Upgrader& u, Node& n) {
  const int64_t axis = n.attr_int("axis", 1);
  const ValueType* t = u.type_of(n.inputs[0]);
  if (axis == -1 || (t && t->has_shape && axis == int64_t(t->rank()) - 1)) {
    n.attrs["axis"] = int_attr(-1);
    return Status::Ok();
  }
  const std::string x = n.inputs[0], y = n.outputs[0];
  const std::string shape = u.new_value(n.name + "_shape");
  const std::string flat = u.new_value(n.name + "_2d");
  const std::string flat_out = u.new_value(n.name + "_2d_out");
  u.add_node("Shape", shape, {x}, {shape});
  u.add_node("Flatten", flat, {x}, {flat}).attrs["axis"] = int_attr(axis);
  u.add_node("Reshape", n.name + "_reshape", {flat_out, shape}, {y});
  n.inputs = {flat};
  n.outputs = {flat_out};
  n.attrs["axis"] = int_attr(-1);
  return Status::Ok();
}

// Dropout-10: the mask became bool (it had the input's type). Inference masks are all ones either way, so
// a mask someone reads is cast back to the old type under its old name.
Status dropout_bool_mask(Upgrader& u, Node& n) {
  if (n.outputs.size() < 2 || n.outputs[1].empty()) return Status::Ok();
  LB_ASSIGN_OR_RETURN(DType t, u.dtype_of(n, 0));
  const std::string old_mask = n.outputs[1];
  n.outputs[1] = u.new_value(old_mask + "_bool");
  u.add_node("Cast", n.name + "_mask_cast", {n.outputs[1]}, {old_mask}).attrs["to"] = int_attr(int64_t(t));
  return Status::Ok();
}

// Dropout-12: ratio became an input. lowbit (like ONNX Runtime) runs Dropout in inference mode, where the
// ratio has no effect, so it is simply dropped.
Status dropout_drop_ratio(Upgrader&, Node& n) {
  n.attrs.erase("ratio");
  return Status::Ok();
}

// BatchNormalization-9 removed `spatial` (it is always 1 from then on).
Status batchnorm_spatial(Upgrader&, Node& n) {
  if (n.attr_int("spatial", 1) == 0)
    return node_error(StatusCode::kUnsupported, n,
                      "spatial=0 (per-activation statistics) has no BatchNormalization equivalent from opset 9");
  n.attrs.erase("spatial");
  return Status::Ok();
}

// BatchNormalization-14 has at most 3 outputs. lowbit only runs the single-output (inference) form, so any
// further outputs are unnamed placeholders and can go.
Status batchnorm_outputs(Upgrader&, Node& n) {
  while (n.outputs.size() > 1 && n.outputs.back().empty()) n.outputs.pop_back();
  if (n.outputs.size() > 1)
    return node_error(StatusCode::kUnsupported, n, "training outputs cannot be upgraded (inference graphs only)");
  return Status::Ok();
}

// Resize-10 (X, scales) -> Resize-13 (X, roi="", scales). Resize-10 samples at x_out / scale
// (asymmetric); nearest rounds down when an axis is upsampled and up when it is downsampled (ONNX Runtime's
// rule, which lowbit follows). Resize-13 has one nearest_mode for all axes, so the scales must be known.
Status resize10_inputs(Upgrader& u, Node& n) {
  std::string mode = n.attr_string("mode", "nearest");
  if (mode == "bilinear") mode = "linear";
  n.attrs["mode"] = string_attr(mode);
  n.attrs["coordinate_transformation_mode"] = string_attr("asymmetric");
  if (mode == "nearest") {
    const Tensor* scales = constant_value(u.g, n.inputs[1]);
    if (!scales || scales->dtype() != DType::kFloat32)
      return node_error(StatusCode::kUnsupported, n,
                        "opset-10 nearest Resize rounds per axis depending on whether its scale is below 1; "
                        "the scales must be a constant to upgrade it");
    bool any_up = false, any_down = false;
    for (int64_t i = 0; i < scales->numel(); ++i) {
      any_up |= scales->data<float>()[i] > 1.f;
      any_down |= scales->data<float>()[i] < 1.f;
    }
    if (any_up && any_down)
      return node_error(StatusCode::kUnsupported, n,
                        "opset-10 nearest Resize that upsamples some axes and downsamples others rounds them "
                        "differently, which no opset-13 nearest_mode expresses");
    // A scale of exactly 1 samples integer positions, where floor and ceil agree.
    n.attrs["nearest_mode"] = string_attr(any_down ? "ceil" : "floor");
  }
  n.inputs = {n.inputs[0], "", n.inputs[1]};
  return Status::Ok();
}

// Resize-13 removed coordinate_transformation_mode "tf_half_pixel_for_nn": x_in = (x + 0.5) / scale. The
// same pixels come from half_pixel, x_in' = x_in - 0.5: round_prefer_floor(x_in) = ceil(x_in - 0.5) and
// floor(x_in) = floor(x_in - 0.5 + 0.5) = round_prefer_ceil(x_in').
Status resize_tf_half_pixel(Upgrader&, Node& n) {
  const std::string coord = n.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord != "tf_half_pixel_for_nn" && coord != "tf_half_pixel_for_nearest") return Status::Ok();
  const std::string nearest = n.attr_string("nearest_mode", "round_prefer_floor");
  if (n.attr_string("mode", "nearest") != "nearest" || (nearest != "round_prefer_floor" && nearest != "floor"))
    return node_error(StatusCode::kUnsupported, n, "coordinate_transformation_mode '", coord, "' with nearest_mode '",
                      nearest, "' has no opset-13 equivalent");
  n.attrs["coordinate_transformation_mode"] = string_attr("half_pixel");
  n.attrs["nearest_mode"] = string_attr(nearest == "floor" ? "round_prefer_ceil" : "ceil");
  return Status::Ok();
}

// Upsample (7: scales attribute, 9: scales input; removed at 10) -> Resize-13. Upsample samples at
// x_out / scale with scales >= 1 and nearest rounds down: asymmetric + floor.
Status upsample_to_resize(Upgrader& u, Node& n) {
  std::string scales;
  if (n.has_attr("scales")) {
    std::vector<float> v = n.attr_floats("scales");
    scales = add_constant(u.g, n.name + "_scales", Tensor::from_vector(DType::kFloat32, {int64_t(v.size())}, v));
    n.attrs.erase("scales");
  } else if (n.has_input(1)) {
    scales = n.inputs[1];
  } else {
    return node_error(StatusCode::kInvalidModel, n, "has no scales");
  }
  std::string mode = n.attr_string("mode", "nearest");
  if (mode == "bilinear") mode = "linear";
  n.op_type = "Resize";
  n.attrs["mode"] = string_attr(mode);
  n.attrs["coordinate_transformation_mode"] = string_attr("asymmetric");
  if (mode == "nearest") n.attrs["nearest_mode"] = string_attr("floor");
  n.inputs = {n.inputs[0], "", scales};
  return Status::Ok();
}

// ---- the table -----------------------------------------------------------------------------------------

// Every ai.onnx op lowbit supports whose schema changes somewhere in opsets 8-17, with every version at which
// it changes. Ops absent here (HardSigmoid, Elu, Softplus, Not/And/Or/Xor, InstanceNormalization, the global
// pools, ConstantOfShape, Range, HardSwish, LayerNormalization) do not change in that range.
const std::map<std::string, std::vector<Change>>& changes() {
  // Versions listed with nullptr only widened type lists (bfloat16, integers, ...), unless noted.
  static const std::map<std::string, std::vector<Change>> table = {
      {"Add", {{13, nullptr}, {14, nullptr}}},
      {"Sub", {{13, nullptr}, {14, nullptr}}},
      {"Mul", {{13, nullptr}, {14, nullptr}}},
      {"Div", {{13, nullptr}, {14, nullptr}}},
      {"Pow", {{12, nullptr}, {13, nullptr}, {15, nullptr}}},
      {"Min", {{8, nullptr}, {12, nullptr}, {13, nullptr}}},  // 8: adds broadcasting (same-shape inputs unchanged)
      {"Max", {{8, nullptr}, {12, nullptr}, {13, nullptr}}},
      {"Sum", {{8, nullptr}, {13, nullptr}}},
      {"Sqrt", {{13, nullptr}}},
      {"Exp", {{13, nullptr}}},
      {"Log", {{13, nullptr}}},
      {"Neg", {{13, nullptr}}},
      {"Abs", {{13, nullptr}}},
      {"Reciprocal", {{13, nullptr}}},
      {"Floor", {{13, nullptr}}},
      {"Ceil", {{13, nullptr}}},
      {"Erf", {{13, nullptr}}},
      {"Relu", {{13, nullptr}, {14, nullptr}}},
      {"LeakyRelu", {{16, nullptr}}},
      {"PRelu", {{9, nullptr}, {16, nullptr}}},
      {"Clip", {{11, clip_inputs}, {12, nullptr}, {13, nullptr}}},
      {"Sigmoid", {{13, nullptr}}},
      {"Tanh", {{13, nullptr}}},
      {"Where", {{16, nullptr}}},
      {"Equal", {{11, nullptr}, {13, nullptr}}},
      {"Less", {{9, nullptr}, {13, nullptr}}},
      {"Greater", {{9, nullptr}, {13, nullptr}}},
      {"LessOrEqual", {{16, nullptr}}},
      {"GreaterOrEqual", {{16, nullptr}}},
      {"Cast", {{9, nullptr}, {13, nullptr}}},
      {"Identity", {{13, nullptr}, {14, nullptr}, {16, nullptr}}},  // 14/16: sequence and optional types
      {"Dropout", {{10, dropout_bool_mask}, {12, dropout_drop_ratio}, {13, nullptr}}},
      {"Conv", {{11, nullptr}}},                               // 11: documentation of auto_pad / kernel_shape only
      {"ConvTranspose", {{11, nullptr}}},                      // same
      {"Gemm", {{9, nullptr}, {11, nullptr}, {13, nullptr}}},  // 11: C becomes optional
      {"MatMul", {{9, nullptr}, {13, nullptr}}},
      {"BatchNormalization", {{9, batchnorm_spatial}, {14, batchnorm_outputs}, {15, nullptr}}},
      // MaxPool 8: Indices output, storage_order (default 0); 10: ceil_mode (default 0), dilations
      // (default 1); 11: auto_pad documentation; 12: int8/uint8.
      {"MaxPool", {{8, nullptr}, {10, nullptr}, {11, nullptr}, {12, nullptr}}},
      {"AveragePool", {{10, nullptr}, {11, nullptr}}},          // 10: ceil_mode (default 0)
      {"Softmax", {{11, nullptr}, {13, softmax_single_axis}}},  // 11: negative axis allowed
      {"LogSoftmax", {{11, nullptr}, {13, softmax_single_axis}}},
      {"Concat", {{11, nullptr}, {13, nullptr}}},  // 11: negative axis
      {"Split", {{11, nullptr}, {13, split_input}}},
      {"Slice", {{10, slice_inputs}, {11, nullptr}, {13, nullptr}}},  // 11: negative axes
      {"Gather", {{11, nullptr}, {13, nullptr}}},                     // 11: negative indices
      {"Shape", {{13, nullptr}, {15, nullptr}}},                      // 15: start/end (default: all)
      {"Size", {{13, nullptr}}},
      {"Reshape", {{13, nullptr}, {14, nullptr}}},  // 14: allowzero (default 0: the old meaning of 0)
      {"Flatten", {{9, nullptr}, {11, nullptr}, {13, nullptr}}},
      {"Transpose", {{13, nullptr}}},
      {"Squeeze", {{11, nullptr}, {13, axes_input}}},
      {"Unsqueeze", {{11, nullptr}, {13, axes_input}}},
      {"Expand", {{13, nullptr}}},
      {"Tile", {{13, nullptr}}},
      {"Pad", {{11, pad_inputs}, {13, nullptr}}},
      {"Constant", {{9, nullptr}, {11, nullptr}, {12, nullptr}, {13, nullptr}}},  // 11/12: more value_* forms
      {"Resize", {{11, resize10_inputs}, {13, resize_tf_half_pixel}}},
      {"ReduceMean", {{11, nullptr}, {13, nullptr}}},  // 11: negative axes
      {"ReduceSum", {{11, nullptr}, {13, reduce_sum_axes}}},
      {"ReduceMax", {{11, nullptr}, {12, nullptr}, {13, nullptr}}},
      {"ReduceMin", {{11, nullptr}, {12, nullptr}, {13, nullptr}}},
      {"ReduceProd", {{11, nullptr}, {13, nullptr}}},
      {"ReduceL2", {{11, nullptr}, {13, nullptr}}},
      {"ArgMax", {{11, nullptr}, {12, nullptr}, {13, nullptr}}},  // 12: select_last_index (default 0)
      {"ArgMin", {{11, nullptr}, {12, nullptr}, {13, nullptr}}},
      // 13: axis for per-axis scales (default 1); opset-10 scales are scalars, which it does not affect.
      {"QuantizeLinear", {{13, nullptr}}},
      {"DequantizeLinear", {{13, nullptr}}},
  };
  return table;
}

Status upgrade_node(Upgrader& u, Node& n) {
  if (!n.domain.empty() && n.domain != "ai.onnx")
    return node_error(StatusCode::kUnsupported, n, "domain '", n.domain, "' has no known opset upgrade");
  // Upsample no longer exists at the target: it becomes a Resize directly.
  if (n.op_type == "Upsample") return upsample_to_resize(u, n);
  const auto& table = changes();
  auto entry = table.find(n.op_type);
  for (int v = u.from + 1; v <= u.to; ++v) {
    const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(n.op_type, v, "");
    if (!schema || schema->since_version() != v) continue;  // no change at v
    const Change* change = nullptr;
    if (entry != table.end())
      for (const Change& c : entry->second)
        if (c.version == v) change = &c;
    if (!change)
      return node_error(StatusCode::kUnsupported, n, "lowbit does not know how to upgrade ", n.op_type, " from opset ",
                        u.from, " to ", u.to, " (its ONNX definition changes at opset ", v, ")");
    if (change->rule) LB_RETURN_IF_ERROR(change->rule(u, n));
  }
  return Status::Ok();
}

// Every attribute a rewritten node keeps must exist in the target schema: a leftover would be rejected by
// ONNX's checker, or worse, silently change meaning.
Status check_target_attributes(const Node& n, int opset) {
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(n.op_type, opset, "");
  if (!schema || schema->Deprecated())
    return node_error(StatusCode::kInternal, n, n.op_type, " does not exist at opset ", opset, " after the upgrade");
  for (auto& [name, attr] : n.attrs)
    if (name.rfind("lowbit_", 0) != 0 && !schema->attributes().count(name))
      return node_error(StatusCode::kInternal, n, "attribute '", name, "' does not exist at opset ", opset,
                        " after the upgrade");
  return Status::Ok();
}

}  // namespace

Status upgrade_opset(Graph& g, int target_opset) {
  if (target_opset < 13 || target_opset > 17)
    return error(StatusCode::kInvalidArgument, "upgrade_opset: target opset ", target_opset,
                 " is outside 13-17 (the opsets lowbit upgrades to)");
  if (g.opset < 7 || g.opset > 17)
    return error(StatusCode::kInvalidArgument, "upgrade_opset: the graph's opset ", g.opset, " is outside 7-17");
  if (g.opset > target_opset)
    return error(StatusCode::kInvalidArgument, "upgrade_opset: the graph already uses opset ", g.opset,
                 ", newer than the target ", target_opset, " (downgrades are not supported)");
  if (g.opset == target_opset) {
    g.opset_imports[""] = target_opset;
    return Status::Ok();
  }
  // Work on a copy (tensors share their buffers) so that a failure leaves `g` as it was.
  Graph work = g;
  Upgrader u{work, g.opset, target_opset, {}};
  for (Node& n : work.nodes) {
    Status s = upgrade_node(u, n);
    if (!s.ok()) return s.with_context(str_cat("upgrading from opset ", g.opset, " to ", target_opset));
  }
  for (Node& n : u.added) work.nodes.push_back(std::move(n));
  for (const Node& n : work.nodes)
    if (n.domain.empty()) LB_RETURN_IF_ERROR(check_target_attributes(n, target_opset));
  work.opset = target_opset;
  work.opset_imports.erase("ai.onnx");
  work.opset_imports[""] = target_opset;
  LB_RETURN_IF_ERROR(commit_rewrite(work, {}, "upgrade_opset"));
  g = std::move(work);
  return Status::Ok();
}

}  // namespace lowbit
