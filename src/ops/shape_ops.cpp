// Inference for the shape & data-movement family, part 1: Concat, Split, Gather, Shape, Size,
// Reshape, Flatten, Transpose, Squeeze, Unsqueeze. (Slice, Pad, Expand, Tile, Constant,
// ConstantOfShape and Range are in shape_ops_slice_pad.cpp.)
//
// These ops carry PyTorch's shape sub-graphs, so they accept every storable dtype (int64, int32,
// bool included) and keep symbolic dims (the batch) wherever the result is still provable.
#include <algorithm>
#include <limits>

#include "ops/op_table.h"
#include "ops/shape_ops_util.h"

namespace lowbit {

using shape_ops::check_output_size;
using shape_ops::expect_storable;
using shape_ops::set_checked;
using shape_ops::unknown_shape;
using shape_ops::dim_product;
using shape_ops::normalize_axes;
using shape_ops::normalize_axis;
using shape_ops::to_int64s;

namespace {


// Two dims that must be equal: a known value beats a symbol; mismatched known values fail.
bool merge_dims(const Dim& a, const Dim& b, Dim* out) {
  if (a.known() && b.known()) {
    *out = a;
    return a.value == b.value;
  }
  *out = a.known() ? a : b.known() ? b : (a == b ? a : Dim());
  return true;
}

std::string dims_to_string(const std::vector<Dim>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + dims[i].to_string();
  return s + "]";
}

}  // namespace

// ---- Concat -----------------------------------------------------------------------------------------

Status infer_Concat(InferContext& ctx) {
  size_t n = ctx.num_inputs();
  if (n == 0) return ctx.fail("needs at least one input");
  for (size_t i = 0; i < n; ++i) {
    LB_RETURN_IF_ERROR(expect_storable(ctx, i));
    if (ctx.in(i).dtype != ctx.in(0).dtype)
      return ctx.fail("input ", i, " has type ", dtype_name(ctx.in(i).dtype), " but input 0 has ",
                      dtype_name(ctx.in(0).dtype));
  }
  if (!ctx.node.has_attr("axis")) return ctx.fail("attribute 'axis' is required");
  const ValueType* ref = nullptr;
  for (size_t i = 0; i < n; ++i)
    if (ctx.in(i).has_shape) {
      ref = &ctx.in(i);
      break;
    }
  if (!ref) return set_checked(ctx, 0, unknown_shape(ctx.in(0).dtype));
  int64_t rank = int64_t(ref->rank()), axis;
  if (rank == 0) return ctx.fail("cannot concatenate scalars");
  if (!normalize_axis(ctx.node.attr_int("axis", 0), rank, &axis))
    return ctx.fail("axis ", ctx.node.attr_int("axis", 0), " is out of range for rank ", rank);
  std::vector<Dim> out = ref->dims;
  int64_t axis_total = 0;
  bool axis_known = true;
  for (size_t i = 0; i < n; ++i) {
    const ValueType& t = ctx.in(i);
    if (!t.has_shape) {
      axis_known = false;
      continue;
    }
    if (int64_t(t.rank()) != rank) return ctx.fail("input ", i, " has rank ", t.rank(), " but input 0 has ", rank);
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      if (!merge_dims(out[size_t(d)], t.dims[size_t(d)], &out[size_t(d)]))
        return ctx.fail("input ", i, " has shape ", dims_to_string(t.dims), ", which differs from ",
                        dims_to_string(ref->dims), " outside axis ", axis);
    }
    const Dim& a = t.dims[size_t(axis)];
    if (!a.known())
      axis_known = false;
    else if (a.value > std::numeric_limits<int64_t>::max() - axis_total)
      return ctx.fail("concatenated size overflows");
    else
      axis_total += a.value;
  }
  out[size_t(axis)] = axis_known ? Dim(axis_total) : Dim();
  return set_checked(ctx, 0, ValueType(ctx.in(0).dtype, out));
}

// ---- Split ------------------------------------------------------------------------------------------

Status infer_Split(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, ctx.opset >= 13 ? 2 : 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  if (ctx.opset >= 13 && ctx.has_input(1)) LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  size_t outputs = ctx.num_outputs();
  if (outputs == 0) return ctx.fail("needs at least one output");
  DType dtype = ctx.in(0).dtype;
  std::vector<int64_t> split;
  bool present, known;
  shape_ops::read_split(ctx.node, ctx.opset, ctx.input_values, &split, &present, &known);
  if (present && known && split.empty()) present = false;  // an empty list means "equal parts" (as in ORT)
  if (present && known) {
    if (split.size() != outputs)
      return ctx.fail("'split' has ", split.size(), " values but the node has ", outputs, " outputs");
    for (int64_t s : split)
      if (s < 0) return ctx.fail("'split' contains the negative size ", s);
  }
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) {
    for (size_t i = 0; i < outputs; ++i) ctx.set_output(i, unknown_shape(dtype));
    return Status::Ok();
  }
  int64_t axis;
  if (!normalize_axis(ctx.node.attr_int("axis", 0), int64_t(x.rank()), &axis))
    return ctx.fail("axis ", ctx.node.attr_int("axis", 0), " is out of range for rank ", x.rank());
  const Dim& d = x.dims[size_t(axis)];
  std::vector<Dim> sizes(outputs, Dim());
  if (present && known) {
    int64_t total = 0;
    for (size_t i = 0; i < outputs; ++i) {
      if (split[i] > std::numeric_limits<int64_t>::max() - total) return ctx.fail("'split' sizes overflow");
      total += split[i];
      sizes[i] = Dim(split[i]);
    }
    if (d.known() && total != d.value)
      return ctx.fail("'split' sizes add up to ", total, " but axis ", axis, " has size ", d.value);
  } else if (!present && d.known()) {
    // Uneven last chunks are only allowed from opset 18 (num_outputs), which lowbit does not import.
    if (d.value % int64_t(outputs) != 0)
      return ctx.fail("axis ", axis, " of size ", d.value, " cannot be split evenly into ", outputs, " outputs");
    std::fill(sizes.begin(), sizes.end(), Dim(d.value / int64_t(outputs)));
  } else if (!present && outputs == 1) {
    sizes[0] = d;
  }
  for (size_t i = 0; i < outputs; ++i) {
    std::vector<Dim> dims = x.dims;
    dims[size_t(axis)] = sizes[i];
    ctx.set_output(i, ValueType(dtype, dims));
  }
  return Status::Ok();
}

// ---- Gather -----------------------------------------------------------------------------------------

Status infer_Gather(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  // 8-bit indices are a lowbit extension: pass lower_qdq writes 256-entry lookup tables as Gather(table, codes)
  // (int8 codes index from the end, as negative indices do, so the table is in two's-complement order).
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64, DType::kInt32, DType::kInt8, DType::kUint8}));
  const ValueType& data = ctx.in(0);
  const ValueType& idx = ctx.in(1);
  if (!data.has_shape || !idx.has_shape) return set_checked(ctx, 0, unknown_shape(data.dtype));
  int64_t rank = int64_t(data.rank()), axis;
  if (rank == 0) return ctx.fail("data must have rank >= 1");
  if (!normalize_axis(ctx.node.attr_int("axis", 0), rank, &axis))
    return ctx.fail("axis ", ctx.node.attr_int("axis", 0), " is out of range for rank ", rank);
  const Dim& extent = data.dims[size_t(axis)];
  if (const Tensor* v = ctx.value(1); v && extent.known()) {
    for (int64_t i = 0; i < v->numel(); ++i) {
      int64_t k = v->get_as_int64(i);
      if (k < -extent.value || k >= extent.value)
        return error(StatusCode::kOutOfRange, ctx.node.describe(), ": index ", k, " is out of range for axis ", axis,
                     " of size ", extent.value);
    }
  }
  std::vector<Dim> out(data.dims.begin(), data.dims.begin() + axis);
  out.insert(out.end(), idx.dims.begin(), idx.dims.end());
  out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
  return set_checked(ctx, 0, ValueType(data.dtype, out));
}

// ---- Shape / Size -----------------------------------------------------------------------------------

Status infer_Shape(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) return set_checked(ctx, 0, ValueType(DType::kInt64, {Dim()}));
  int64_t start, end;
  shape_ops::shape_op_range(ctx.node, ctx.opset, int64_t(x.rank()), &start, &end);
  return set_checked(ctx, 0, ValueType(DType::kInt64, {Dim(end - start)}));
}

Status infer_Size(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  return set_checked(ctx, 0, ValueType(DType::kInt64, {}));
}

// ---- Reshape ----------------------------------------------------------------------------------------

namespace {
// The -1 of a Reshape when the input has symbolic dims: cancel symbols that appear on both sides;
// what remains must be a known ratio (or exactly one leftover symbol with ratio 1).
Dim infer_reshape_minus_one(const std::vector<Dim>& in, const std::vector<Dim>& out, size_t minus_one) {
  std::vector<std::string> symbols;
  int64_t in_known = 1, out_known = 1;
  for (const Dim& d : in) {
    if (d.known()) {
      if (d.value == 0) return Dim();  // 0 elements: -1 is ambiguous (ONNX leaves it to the runtime)
      if (in_known > std::numeric_limits<int64_t>::max() / d.value) return Dim();
      in_known *= d.value;
    } else if (!d.param.empty()) {
      symbols.push_back(d.param);
    } else {
      return Dim();
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == minus_one) continue;
    const Dim& d = out[i];
    if (d.known()) {
      if (d.value == 0) return Dim();
      if (out_known > std::numeric_limits<int64_t>::max() / d.value) return Dim();
      out_known *= d.value;
    } else if (!d.param.empty()) {
      auto it = std::find(symbols.begin(), symbols.end(), d.param);
      if (it == symbols.end()) return Dim();
      symbols.erase(it);
    } else {
      return Dim();
    }
  }
  if (symbols.empty()) return in_known % out_known == 0 ? Dim(in_known / out_known) : Dim();
  if (symbols.size() == 1 && in_known == out_known) return Dim::symbol(symbols[0]);
  return Dim();
}
}  // namespace

Status infer_Reshape(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  const ValueType& x = ctx.in(0);
  DType dtype = x.dtype;
  const Tensor* shape_value = ctx.value(1);
  const ValueType& shape_type = ctx.in(1);
  if (shape_type.has_shape && shape_type.rank() != 1)
    return ctx.fail("'shape' must be 1-D, got rank ", shape_type.rank());
  if (!shape_value) {
    if (shape_type.has_shape && shape_type.dims[0].known())
      return set_checked(ctx, 0, ValueType(dtype, std::vector<Dim>(size_t(shape_type.dims[0].value), Dim())));
    return set_checked(ctx, 0, unknown_shape(dtype));
  }
  std::vector<int64_t> target = to_int64s(*shape_value);
  bool allow_zero = ctx.opset >= 14 && ctx.node.attr_int("allowzero", 0) != 0;
  std::vector<Dim> out(target.size());
  int64_t minus_one = -1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t v = target[i];
    if (v == -1) {
      if (minus_one >= 0) return ctx.fail("'shape' has more than one -1");
      minus_one = int64_t(i);
    } else if (v == 0 && !allow_zero) {
      if (!x.has_shape) continue;  // copies an input dim we do not know
      if (i >= x.rank()) return ctx.fail("'shape'[", i, "] is 0 (copy) but the input has rank ", x.rank());
      out[i] = x.dims[i];
    } else if (v < 0) {
      return ctx.fail("'shape' has the invalid value ", v);
    } else {
      has_zero |= v == 0;
      out[i] = Dim(v);
    }
  }
  if (allow_zero && has_zero && minus_one >= 0)
    return ctx.fail("'shape' has both 0 and -1 with allowzero=1, which leaves -1 undefined");
  if (!x.has_shape) return set_checked(ctx, 0, ValueType(dtype, out));
  bool overflow = false;
  Dim in_numel = dim_product(x.dims, 0, x.rank(), &overflow);
  if (minus_one >= 0) {
    std::vector<Dim> others = out;  // every output dim but the -1
    others.erase(others.begin() + minus_one);
    Dim rest = dim_product(others, 0, others.size(), &overflow);
    if (overflow) return ctx.fail("'shape' overflows int64");
    if (in_numel.known() && rest.known()) {
      if (rest.value == 0 || in_numel.value % rest.value != 0)
        return ctx.fail("cannot reshape ", x.to_string(), " to ", shape_to_string(target), ": ", in_numel.value,
                        " elements do not divide into ", rest.value);
      out[size_t(minus_one)] = Dim(in_numel.value / rest.value);
    } else {
      out[size_t(minus_one)] = infer_reshape_minus_one(x.dims, out, size_t(minus_one));
    }
  } else {
    Dim out_numel = dim_product(out, 0, out.size(), &overflow);
    if (overflow) return ctx.fail("'shape' overflows int64");
    if (in_numel.known() && out_numel.known() && in_numel.value != out_numel.value)
      return ctx.fail("cannot reshape ", x.to_string(), " (", in_numel.value, " elements) to ", shape_to_string(target),
                      " (", out_numel.value, " elements)");
  }
  return set_checked(ctx, 0, ValueType(dtype, out));
}

// ---- Flatten ----------------------------------------------------------------------------------------

Status infer_Flatten(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) return set_checked(ctx, 0, ValueType(x.dtype, {Dim(), Dim()}));
  int64_t rank = int64_t(x.rank());
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < -rank || axis > rank) return ctx.fail("axis ", axis, " is out of range [", -rank, ", ", rank, "]");
  if (axis < 0) axis += rank;
  bool overflow = false;
  Dim outer = dim_product(x.dims, 0, size_t(axis), &overflow);
  Dim inner = dim_product(x.dims, size_t(axis), x.rank(), &overflow);
  if (overflow) return ctx.fail("input size overflows int64");
  return set_checked(ctx, 0, ValueType(x.dtype, {outer, inner}));
}

// ---- DepthToSpace -----------------------------------------------------------------------------------

Status infer_DepthToSpace(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  const int64_t b = ctx.node.attr_int("blocksize", 0);
  if (b < 1) return ctx.fail("attribute 'blocksize' must be >= 1, got ", b);
  const std::string mode = ctx.node.attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") return ctx.fail("mode must be DCR or CRD, got '", mode, "'");
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(4, Dim())));
  if (x.rank() != 4) return ctx.fail("input must be N x C x H x W, got ", x.to_string());
  std::vector<Dim> out = x.dims;
  if (x.dims[1].known()) {
    if (x.dims[1].value % (b * b) != 0)
      return ctx.fail("channels (", x.dims[1].value, ") must be a multiple of blocksize^2 (", b * b, ")");
    out[1] = Dim(x.dims[1].value / (b * b));
  } else {
    out[1] = Dim();
  }
  for (size_t d : {2, 3}) out[d] = x.dims[d].known() ? Dim(x.dims[d].value * b) : Dim();
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

// ---- Transpose --------------------------------------------------------------------------------------

Status infer_Transpose(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  const ValueType& x = ctx.in(0);
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  bool has_perm = ctx.node.has_attr("perm");
  if (!x.has_shape) {
    if (has_perm) return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(perm.size(), Dim())));
    return set_checked(ctx, 0, unknown_shape(x.dtype));
  }
  int64_t rank = int64_t(x.rank());
  if (!has_perm) {
    perm.resize(size_t(rank));
    for (int64_t i = 0; i < rank; ++i) perm[size_t(i)] = rank - 1 - i;
  }
  if (int64_t(perm.size()) != rank) return ctx.fail("'perm' has ", perm.size(), " entries for a rank-", rank, " input");
  std::vector<bool> seen(size_t(rank), false);
  std::vector<Dim> out(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) {
    int64_t p = perm[size_t(i)];
    if (p < 0 || p >= rank || seen[size_t(p)]) return ctx.fail("'perm' is not a permutation of 0..", rank - 1);
    seen[size_t(p)] = true;
    out[size_t(i)] = x.dims[size_t(p)];
  }
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

// ---- Squeeze / Unsqueeze ----------------------------------------------------------------------------

Status infer_Squeeze(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, ctx.opset >= 13 ? 2 : 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  if (ctx.opset >= 13 && ctx.has_input(1)) LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  const ValueType& x = ctx.in(0);
  std::vector<int64_t> axes;
  bool present, known;
  shape_ops::read_axes(ctx.node, ctx.opset, ctx.input_values, &axes, &present, &known);
  if (!x.has_shape) return set_checked(ctx, 0, unknown_shape(x.dtype));
  int64_t rank = int64_t(x.rank());
  if (!known) {
    // The axes' count fixes the output rank even when their values are unknown.
    const ValueType& a = ctx.in(1);
    if (a.has_shape && a.rank() == 1 && a.dims[0].known() && a.dims[0].value <= rank)
      return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(size_t(rank - a.dims[0].value), Dim())));
    return set_checked(ctx, 0, unknown_shape(x.dtype));
  }
  std::vector<bool> drop(size_t(rank), false);
  if (present && !axes.empty()) {  // an empty list squeezes every 1, like no list (ONNX Runtime agrees)
    LB_RETURN_IF_ERROR(normalize_axes(ctx.node, &axes, rank, "'axes'"));
    for (int64_t a : axes) {
      const Dim& d = x.dims[size_t(a)];
      if (d.known() && d.value != 1) return ctx.fail("cannot squeeze axis ", a, " of size ", d.value);
      drop[size_t(a)] = true;
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) {
      const Dim& d = x.dims[size_t(i)];
      if (!d.known()) return set_checked(ctx, 0, unknown_shape(x.dtype));  // would it be 1? unknowable now
      drop[size_t(i)] = d.value == 1;
    }
  }
  std::vector<Dim> out;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[size_t(i)]) out.push_back(x.dims[size_t(i)]);
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

Status infer_Unsqueeze(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(ctx.opset >= 13 ? 2 : 1, ctx.opset >= 13 ? 2 : 1));
  LB_RETURN_IF_ERROR(expect_storable(ctx, 0));
  if (ctx.opset >= 13) LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  const ValueType& x = ctx.in(0);
  std::vector<int64_t> axes;
  bool present, known;
  shape_ops::read_axes(ctx.node, ctx.opset, ctx.input_values, &axes, &present, &known);
  if (!present) return ctx.fail("'axes' is required");
  if (!x.has_shape) return set_checked(ctx, 0, unknown_shape(x.dtype));
  int64_t rank = int64_t(x.rank());
  if (!known) {
    const ValueType& a = ctx.in(1);
    if (a.has_shape && a.rank() == 1 && a.dims[0].known())
      return set_checked(ctx, 0, ValueType(x.dtype, std::vector<Dim>(size_t(rank + a.dims[0].value), Dim())));
    return set_checked(ctx, 0, unknown_shape(x.dtype));
  }
  int64_t out_rank = rank + int64_t(axes.size());
  LB_RETURN_IF_ERROR(normalize_axes(ctx.node, &axes, out_rank, "'axes'"));
  std::vector<bool> inserted(size_t(out_rank), false);
  for (int64_t a : axes) inserted[size_t(a)] = true;
  std::vector<Dim> out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(inserted[size_t(i)] ? Dim(1) : x.dims[next++]);
  return set_checked(ctx, 0, ValueType(x.dtype, out));
}

}  // namespace lowbit
