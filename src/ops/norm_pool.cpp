// Inference for normalization, pooling and softmax ops. Kernels: src/kernels/ref/{norm,pool,softmax}.cpp.
#include <algorithm>

#include "ops/op_table.h"
#include "ops/pool_params.h"

namespace lowbit {

namespace {

const std::initializer_list<DType> kFloatTypes = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16};

// Checks that input i is 1-D of length `expected` (when both are known).
Status expect_channel_vector(const InferContext& ctx, size_t i, const Dim& expected, const char* what) {
  const ValueType& t = ctx.in(i);
  if (!t.has_shape) return Status::Ok();
  if (t.rank() != 1) return ctx.fail(what, " must be 1-D (one value per channel), got ", t.to_string());
  if (expected.known() && t.dims[0].known() && t.dims[0].value != expected.value)
    return ctx.fail(what, " has ", t.dims[0].value, " values but the input has ", expected.value, " channels");
  return Status::Ok();
}

Status expect_min_rank(const InferContext& ctx, size_t i, size_t min_rank, const char* layout) {
  const ValueType& t = ctx.in(i);
  if (t.has_shape && t.rank() < min_rank)
    return ctx.fail("input ", i, " must have rank >= ", min_rank, " (", layout, "), got ", t.to_string());
  return Status::Ok();
}

// Number of named (non-omitted) outputs after the first.
size_t extra_outputs(const Node& node) {
  size_t n = 0;
  for (size_t i = 1; i < node.outputs.size(); ++i) n += !node.outputs[i].empty();
  return n;
}

Status infer_pool(InferContext& ctx, bool is_max) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  if (is_max)
    LB_RETURN_IF_ERROR(
        ctx.expect_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt8, DType::kUint8}));
  else
    LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16}));
  if (ctx.num_outputs() > (is_max ? 2u : 1u))
    return ctx.fail("has ", ctx.num_outputs(), " outputs; at most ", is_max ? 2 : 1, " allowed");
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) {
    ValueType indices;
    indices.dtype = DType::kInt64;
    ctx.set_output(0, x);
    ctx.set_output(1, indices);
    return Status::Ok();
  }
  LB_RETURN_IF_ERROR(expect_min_rank(ctx, 0, 3, "N x C x D1 x ..."));
  PoolParams p;
  LB_RETURN_IF_ERROR(parse_pool_params(ctx.node, ctx.opset, is_max, x.rank() - 2, &p));
  std::vector<Dim> out;
  LB_RETURN_IF_ERROR(pool_output_dims(ctx.node, p, x.dims, &out));
  ctx.set_output(0, ValueType(x.dtype, out));
  ctx.set_output(1, ValueType(DType::kInt64, out));
  return Status::Ok();
}

Status infer_global_pool(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16}));
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) {
    ctx.set_output(0, x);
    return Status::Ok();
  }
  LB_RETURN_IF_ERROR(expect_min_rank(ctx, 0, 3, "N x C x D1 x ..."));
  std::vector<Dim> out(x.rank(), Dim(1));
  out[0] = x.dims[0];
  out[1] = x.dims[1];
  ctx.set_output(0, ValueType(x.dtype, out));
  return Status::Ok();
}

Status infer_softmax_like(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kFloatTypes));
  const ValueType& x = ctx.in(0);
  if (x.has_shape) {
    const int64_t rank = int64_t(x.rank());
    const int64_t axis = ctx.node.attr_int("axis", ctx.opset >= 13 ? -1 : 1);
    if (rank == 0) return ctx.fail("input must have rank >= 1");
    if (axis < -rank || axis >= rank) return ctx.fail("axis ", axis, " is out of range [", -rank, ", ", rank - 1, "]");
  }
  ctx.set_output(0, x);
  return Status::Ok();
}

}  // namespace

Status infer_BatchNormalization(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(5, 5));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kFloatTypes));
  for (size_t i = 1; i < 5; ++i) LB_RETURN_IF_ERROR(ctx.expect_dtype(i, kFloatTypes));
  if (ctx.opset >= 14 && ctx.node.attr_int("training_mode", 0) != 0)
    return ctx.unsupported("training_mode=1 (batch statistics) is not supported; lowbit runs inference only");
  if (extra_outputs(ctx.node) > 0)
    return ctx.unsupported(
        "training outputs (running/saved mean and variance) are not supported; "
        "export the model in eval mode so BatchNormalization has a single output");
  const ValueType& x = ctx.in(0);
  LB_RETURN_IF_ERROR(expect_min_rank(ctx, 0, 2, "N x C x ..."));
  const bool spatial = ctx.opset >= 9 || ctx.node.attr_int("spatial", 1) != 0;
  static const char* kNames[] = {"", "scale", "B", "mean", "var"};
  for (size_t i = 1; i < 5; ++i) {
    if (spatial) {
      LB_RETURN_IF_ERROR(expect_channel_vector(ctx, i, x.has_shape ? x.dims[1] : Dim(), kNames[i]));
      continue;
    }
    // spatial=0 (opset < 9): one parameter per activation, shaped like X without the batch axis.
    const ValueType& t = ctx.in(i);
    if (!x.has_shape || !t.has_shape) continue;
    bool match = t.rank() == x.rank() - 1;
    for (size_t d = 0; match && d < t.rank(); ++d)
      match = !t.dims[d].known() || !x.dims[d + 1].known() || t.dims[d].value == x.dims[d + 1].value;
    if (!match)
      return ctx.fail(kNames[i], " ", t.to_string(), " must have the shape of the input without its batch axis (",
                      x.to_string(), ") when spatial=0");
  }
  ctx.set_output(0, x);
  return Status::Ok();
}

Status infer_InstanceNormalization(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(3, 3));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kFloatTypes));
  for (size_t i = 1; i < 3; ++i) LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {ctx.in(0).dtype}));
  const ValueType& x = ctx.in(0);
  LB_RETURN_IF_ERROR(expect_min_rank(ctx, 0, 3, "N x C x D1 x ..."));
  LB_RETURN_IF_ERROR(expect_channel_vector(ctx, 1, x.has_shape ? x.dims[1] : Dim(), "scale"));
  LB_RETURN_IF_ERROR(expect_channel_vector(ctx, 2, x.has_shape ? x.dims[1] : Dim(), "B"));
  ctx.set_output(0, x);
  return Status::Ok();
}

Status infer_LayerNormalization(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 3));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kFloatTypes));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {ctx.in(0).dtype}));
  if (ctx.has_input(2)) LB_RETURN_IF_ERROR(ctx.expect_dtype(2, {ctx.in(0).dtype}));
  const int64_t stash = ctx.node.attr_int("stash_type", 1);
  const DType stash_type = static_cast<DType>(stash);
  if (stash_type != DType::kFloat32 && stash_type != DType::kFloat64 && stash_type != DType::kFloat16 &&
      stash_type != DType::kBFloat16)
    return ctx.fail("stash_type ", stash, " is not a floating-point type");
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) {
    ctx.set_output(0, x);
    for (size_t o = 1; o < 3; ++o) {
      ValueType t;
      t.dtype = stash_type;
      ctx.set_output(o, t);
    }
    return Status::Ok();
  }
  const int64_t rank = int64_t(x.rank());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (rank == 0) return ctx.fail("input must have rank >= 1");
  if (axis < -rank || axis >= rank) return ctx.fail("axis ", axis, " is out of range [", -rank, ", ", rank - 1, "]");
  if (axis < 0) axis += rank;
  // Scale and B broadcast one way onto the normalized shape X[axis:].
  std::vector<Dim> normalized(x.dims.begin() + axis, x.dims.end());
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i) || !ctx.in(i).has_shape) continue;
    const ValueType& t = ctx.in(i);
    bool ok = t.rank() <= normalized.size();
    for (size_t k = 0; ok && k < t.rank(); ++k) {
      const Dim& d = t.dims[t.rank() - 1 - k];
      const Dim& n = normalized[normalized.size() - 1 - k];
      ok = !d.known() || d.value == 1 || !n.known() || d.value == n.value;
    }
    if (!ok)
      return ctx.fail(i == 1 ? "Scale " : "B ", t.to_string(), " does not broadcast to the normalized shape of ",
                      x.to_string(), " from axis ", axis);
  }
  ctx.set_output(0, x);
  std::vector<Dim> stat_dims(x.dims.begin(), x.dims.begin() + axis);
  stat_dims.resize(x.rank(), Dim(1));
  ctx.set_output(1, ValueType(stash_type, stat_dims));
  ctx.set_output(2, ValueType(stash_type, stat_dims));
  return Status::Ok();
}

Status infer_MaxPool(InferContext& ctx) { return infer_pool(ctx, /*is_max=*/true); }
Status infer_AveragePool(InferContext& ctx) { return infer_pool(ctx, /*is_max=*/false); }
Status infer_GlobalAveragePool(InferContext& ctx) { return infer_global_pool(ctx); }
Status infer_GlobalMaxPool(InferContext& ctx) { return infer_global_pool(ctx); }
Status infer_Softmax(InferContext& ctx) { return infer_softmax_like(ctx); }
Status infer_LogSoftmax(InferContext& ctx) { return infer_softmax_like(ctx); }

}  // namespace lowbit
