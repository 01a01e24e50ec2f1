// Inference for the shape & data-movement family, part 2: Slice, Pad, Expand, Tile (ops whose
// output extent comes from a second input's value) and the tensor creators Constant,
// ConstantOfShape and Range. Every op whose output can grow beyond its inputs checks the
// size against ctx.max_tensor_bytes here, before the runtime allocates anything.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/broadcast.h"
#include "ops/op_table.h"
#include "ops/shape_ops_util.h"

namespace lowbit {

using shape_ops::check_output_size;
using shape_ops::expect_storable;
using shape_ops::set_checked;
using shape_ops::unknown_shape;
using shape_ops::to_int64s;

namespace {


// A 1-D int input (shape, repeats, pads): its length when the type says so, else -1.
int64_t known_length(const InferContext& ctx, size_t i) {
  const ValueType& t = ctx.in(i);
  if (t.has_shape && t.rank() == 1 && t.dims[0].known()) return t.dims[0].value;
  return -1;
}

Status expect_1d(const InferContext& ctx, size_t i, const char* what) {
  const ValueType& t = ctx.in(i);
  if (t.has_shape && t.rank() != 1) return ctx.fail("'", what, "' must be 1-D, got rank ", t.rank());
  return Status::Ok();
}

// Ends this large mean "to the end" of a symbolic axis (PyTorch writes INT64_MAX).
constexpr int64_t kOpenEnd = std::numeric_limits<int32_t>::max();

}  // namespace

// ---- Slice ------------------------------------------------------------------------------------------

Status infer_Slice(InferContext& ctx) {
  if (ctx.opset < 10) {
    LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  } else {
    LB_RETURN_IF_ERROR(ctx.expect_inputs(3, 5));
    for (size_t i = 1; i < 5; ++i) {
      if (!ctx.has_input(i)) continue;
      LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kInt64, DType::kInt32}));
      if (ctx.in(i).dtype != ctx.in(1).dtype) return ctx.fail("starts/ends/axes/steps must share one integer type");
    }
  }
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) return set_checked(ctx, 0, unknown_shape(x.dtype));
  int64_t rank = int64_t(x.rank());
  std::vector<Dim> out = x.dims;

  bool all_known = true;
  if (ctx.opset >= 10)
    for (size_t i = 1; i < 5; ++i) all_known &= !ctx.has_input(i) || ctx.value(i) != nullptr;
  if (!all_known) {
    // Values arrive at run time: only the sliced axes lose their size, if we can tell which they are.
    std::vector<int64_t> axes;
    if (ctx.has_input(3) && ctx.value(3)) {
      axes = to_int64s(*ctx.value(3));
      LB_RETURN_IF_ERROR(shape_ops::normalize_axes(ctx.node, &axes, rank, "'axes'"));
    } else if (!ctx.has_input(3) && known_length(ctx, 1) >= 0 && known_length(ctx, 1) <= rank) {
      for (int64_t i = 0; i < known_length(ctx, 1); ++i) axes.push_back(i);
    } else {
      for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    }
    for (int64_t a : axes) out[size_t(a)] = Dim();
    return set_checked(ctx, 0, ValueType(x.dtype, out));
  }

  shape_ops::SliceArgs args;
  LB_RETURN_IF_ERROR(shape_ops::read_slice_args(ctx.node, ctx.opset, rank, ctx.input_values, &args));
  for (size_t i = 0; i < args.axes.size(); ++i) {
    Dim& d = out[size_t(args.axes[i])];
    int64_t start = args.starts[i], end = args.ends[i], step = args.steps[i];
    if (d.known()) {
      d = Dim(shape_ops::clamp_slice(d.value, start, end, step).count);
    } else {
      bool whole = step == 1 && (start == 0 || start <= -kOpenEnd) && end >= kOpenEnd;
      if (!whole) d = Dim();  // a symbolic axis sliced by a real range: size unknown until run time
    }
  }
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

// ---- Pad --------------------------------------------------------------------------------------------

Status infer_Pad(InferContext& ctx) {
  if (ctx.opset < 11) {
    LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  } else {
    // A 4th input (axes) is opset 18, which lowbit does not import.
    LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 3));
    LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
    LB_RETURN_IF_ERROR(expect_1d(ctx, 1, "pads"));
  }
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  const ValueType& x = ctx.in(0);
  if (ctx.has_input(2)) {
    if (ctx.in(2).dtype != x.dtype)
      return ctx.fail("constant_value has type ", dtype_name(ctx.in(2).dtype), " but data has ", dtype_name(x.dtype));
    if (const Tensor* v = ctx.value(2); v && v->numel() != 1)
      return ctx.fail("constant_value must hold one value, got ", v->numel());
  }
  shape_ops::PadMode mode;
  LB_RETURN_IF_ERROR(shape_ops::read_pad_mode(ctx.node, &mode));
  if (!x.has_shape) return set_checked(ctx, 0, unknown_shape(x.dtype));
  int64_t rank = int64_t(x.rank());
  if (ctx.opset >= 11 && !ctx.value(1))
    return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(size_t(rank), Dim())));
  std::vector<int64_t> pads;
  LB_RETURN_IF_ERROR(shape_ops::read_pads(ctx.node, ctx.opset, rank, ctx.value(1), &pads));
  std::vector<Dim> out = x.dims;
  for (int64_t a = 0; a < rank; ++a) {
    int64_t begin = pads[size_t(a)], end = pads[size_t(a + rank)];
    constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 4;
    if (begin > kLimit || begin < -kLimit || end > kLimit || end < -kLimit)
      return ctx.fail("pad amount out of range on axis ", a);
    Dim& d = out[size_t(a)];
    if (!d.known()) {
      if (begin != 0 || end != 0) d = Dim();
      continue;
    }
    int64_t size = d.value + begin + end;
    if (size < 0) return ctx.fail("pads ", begin, "/", end, " crop axis ", a, " of size ", d.value, " below zero");
    if (mode != shape_ops::PadMode::kConstant && (begin > 0 || end > 0)) {
      // Pads read existing elements; cropping first can leave none.
      int64_t kept = d.value + std::min<int64_t>(begin, 0) + std::min<int64_t>(end, 0);
      if (kept <= 0)
        return ctx.fail("cannot ", mode == shape_ops::PadMode::kEdge ? "edge" : "reflect", "-pad axis ", a,
                        ": no elements left to repeat");
    }
    d = Dim(size);
  }
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

// ---- Expand -----------------------------------------------------------------------------------------

Status infer_Expand(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  LB_RETURN_IF_ERROR(expect_1d(ctx, 1, "shape"));
  const ValueType& x = ctx.in(0);
  const Tensor* shape = ctx.value(1);
  if (!shape) {
    int64_t n = known_length(ctx, 1);
    if (!x.has_shape || n < 0) return set_checked(ctx, 0, unknown_shape(x.dtype));
    return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(size_t(std::max<int64_t>(n, x.rank())), Dim())));
  }
  std::vector<Dim> target;
  for (int64_t v : to_int64s(*shape)) {
    if (v < 0) return ctx.fail("'shape' has the negative value ", v);
    target.push_back(Dim(v));
  }
  if (!x.has_shape) return set_checked(ctx, 0, unknown_shape(x.dtype));
  std::vector<Dim> out;
  std::string why;
  if (!broadcast_dims({x.dims, target}, &out, &why)) return ctx.fail(why);
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

// ---- Tile -------------------------------------------------------------------------------------------

Status infer_Tile(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  LB_RETURN_IF_ERROR(expect_1d(ctx, 1, "repeats"));
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) return set_checked(ctx, 0, unknown_shape(x.dtype));
  size_t rank = x.rank();
  int64_t n = known_length(ctx, 1);
  if (n >= 0 && size_t(n) != rank) return ctx.fail("'repeats' has ", n, " values for a rank-", rank, " input");
  const Tensor* repeats = ctx.value(1);
  if (!repeats) return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(rank, Dim())));
  std::vector<int64_t> reps = to_int64s(*repeats);
  if (reps.size() != rank) return ctx.fail("'repeats' has ", reps.size(), " values for a rank-", rank, " input");
  std::vector<Dim> out = x.dims;
  for (size_t a = 0; a < rank; ++a) {
    int64_t r = reps[a];
    if (r < 0) return ctx.fail("'repeats' has the negative value ", r);
    Dim& d = out[a];
    if (d.known()) {
      if (d.value != 0 && r > std::numeric_limits<int64_t>::max() / d.value)
        return error(StatusCode::kResourceExhausted, ctx.node.describe(), ": tiled size overflows int64 on axis ", a);
      d = Dim(d.value * r);
    } else if (r == 0) {
      d = Dim(0);
    } else if (r != 1) {
      d = Dim();
    }
  }
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

// ---- Constant ---------------------------------------------------------------------------------------

Status infer_Constant(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(0, 0));
  const Node& n = ctx.node;
  for (const char* s : {"value_string", "value_strings", "sparse_value"})
    if (n.has_attr(s)) return ctx.unsupported("attribute '", s, "' is not supported (only numeric constants)");
  int count = 0;
  for (const char* s : {"value", "value_float", "value_floats", "value_int", "value_ints"}) count += n.has_attr(s);
  if (count != 1) return ctx.fail("needs exactly one of value, value_float(s), value_int(s); got ", count);
  if (const Attribute* a = n.attr("value")) {
    if (a->kind != Attribute::Kind::kTensor || !a->t.defined()) return ctx.fail("'value' must be a tensor");
    return set_checked(ctx, 0, ValueType::of(a->t));
  }
  if (n.has_attr("value_float")) return set_checked(ctx, 0, ValueType(DType::kFloat32, {}));
  if (n.has_attr("value_int")) return set_checked(ctx, 0, ValueType(DType::kInt64, {}));
  if (n.has_attr("value_floats"))
    return set_checked(ctx, 0, ValueType(DType::kFloat32, {Dim(int64_t(n.attr_floats("value_floats").size()))}));
  return set_checked(ctx, 0, ValueType(DType::kInt64, {Dim(int64_t(n.attr_ints("value_ints").size()))}));
}

// ---- ConstantOfShape --------------------------------------------------------------------------------

Status infer_ConstantOfShape(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kInt64}));
  LB_RETURN_IF_ERROR(expect_1d(ctx, 0, "input"));
  DType dtype = DType::kFloat32;
  if (const Attribute* a = ctx.node.attr("value")) {
    if (a->kind != Attribute::Kind::kTensor || !a->t.defined()) return ctx.fail("'value' must be a tensor");
    if (a->t.numel() != 1) return ctx.fail("'value' must hold exactly one element, got ", a->t.numel());
    dtype = a->t.dtype();
  }
  const Tensor* shape = ctx.value(0);
  if (!shape) {
    int64_t n = known_length(ctx, 0);
    if (n < 0) return set_checked(ctx, 0, unknown_shape(dtype));
    return set_checked(ctx, 0, ValueType(dtype, std::vector<Dim>(size_t(n), Dim())));
  }
  std::vector<Dim> out;
  for (int64_t v : to_int64s(*shape)) {
    if (v < 0) return ctx.fail("the shape has the negative value ", v);
    out.push_back(Dim(v));
  }
  return set_checked(ctx, 0, ValueType(dtype, out));
}

// ---- Range ------------------------------------------------------------------------------------------

Status infer_Range(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(3, 3));
  const std::initializer_list<DType> types = {DType::kFloat32, DType::kFloat64, DType::kInt16, DType::kInt32,
                                              DType::kInt64};
  for (size_t i = 0; i < 3; ++i) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, types));
    if (ctx.in(i).dtype != ctx.in(0).dtype) return ctx.fail("start, limit and delta must have one type");
    const ValueType& t = ctx.in(i);
    if (t.fully_known() && numel_unchecked(t.concrete()) != 1)
      return ctx.fail("input ", i, " must be a scalar, got shape ", t.to_string());
  }
  DType dtype = ctx.in(0).dtype;
  if (!ctx.value(0) || !ctx.value(1) || !ctx.value(2)) return set_checked(ctx, 0, ValueType(dtype, {Dim()}));
  int64_t count;
  if (dtype_is_float(dtype)) {
    double start = ctx.value(0)->get_as_double(0), limit = ctx.value(1)->get_as_double(0);
    double delta = ctx.value(2)->get_as_double(0);
    if (delta == 0) return ctx.fail("delta must not be 0");
    // Like ONNX Runtime: the difference in the tensor's type, then divided in double.
    double diff = dtype == DType::kFloat32 ? double(float(limit) - float(start)) : limit - start;
    double n = std::ceil(diff / delta);
    if (std::isnan(n)) return ctx.fail("start, limit and delta give no finite element count");
    if (n > 9.0e18) return error(StatusCode::kResourceExhausted, ctx.node.describe(), ": range is too long");
    count = n > 0 ? int64_t(n) : 0;
  } else {
    __int128 start = ctx.value(0)->get_as_int64(0), limit = ctx.value(1)->get_as_int64(0);
    __int128 delta = ctx.value(2)->get_as_int64(0);
    if (delta == 0) return ctx.fail("delta must not be 0");
    __int128 diff = limit - start, n = 0;
    if (delta > 0 && diff > 0) n = (diff + delta - 1) / delta;
    if (delta < 0 && diff < 0) n = (-diff - delta - 1) / -delta;
    if (n > std::numeric_limits<int64_t>::max())
      return error(StatusCode::kResourceExhausted, ctx.node.describe(), ": range is too long");
    count = int64_t(n);
  }
  return set_checked(ctx, 0, ValueType(dtype, {Dim(count)}));
}

}  // namespace lowbit
