// Inference for Resize (opsets 10-17) and Upsample (7-9). Kernels: src/kernels/ref/resize.cpp.
//
// The output shape comes from `sizes` (concrete as soon as its value is known) or from
// floor(input * scale) per axis (known where the input dim and the scale are known; a scale of 1 keeps
// even a symbolic dim). Opset 11+ omission rules: roi/scales/sizes may be empty names (opset 13) or empty
// tensors (opset 11: scales is required but may be empty when sizes is given).
#include "ops/op_table.h"
#include "ops/resize_params.h"

namespace lowbit {
namespace {

constexpr std::initializer_list<DType> kNearestTypes = {
    DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt8,   DType::kUint8, DType::kInt16,
    DType::kUint16,  DType::kInt32,   DType::kUint32,  DType::kInt64,    DType::kUint64, DType::kBool};
constexpr std::initializer_list<DType> kInterpolatedTypes = {DType::kFloat32, DType::kFloat64};

// How an optional roi/scales/sizes input stands at inference time.
enum class Presence { kAbsent, kEmpty, kGiven, kUnknown };

Presence presence(const InferContext& ctx, int slot) {
  if (slot < 0 || !ctx.has_input(size_t(slot))) return Presence::kAbsent;
  if (const Tensor* v = ctx.value(size_t(slot))) return v->numel() == 0 ? Presence::kEmpty : Presence::kGiven;
  const ValueType& t = ctx.in(size_t(slot));
  if (t.has_shape)
    for (auto& d : t.dims)
      if (d.known() && d.value == 0) return Presence::kEmpty;
  return Presence::kUnknown;
}

ValueType unknown_rank(DType dtype) {
  ValueType t;
  t.dtype = dtype;
  return t;
}

Status infer_resize(InferContext& ctx) {
  const bool upsample = ctx.node.op_type == "Upsample";
  const ResizeInputSlots slots = resize_input_slots(ctx.node, ctx.opset);
  if (slots.scales_attr)
    LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  else if (slots.sizes < 0)
    LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  else
    LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 4));
  if (ctx.num_outputs() != 1) return ctx.fail("expects 1 output, got ", ctx.num_outputs());
  if (slots.scales_attr && !ctx.node.has_attr("scales")) return ctx.fail("attribute 'scales' is required");
  if (!slots.scales_attr && ctx.node.has_attr("scales"))
    return ctx.fail("'scales' is an input from opset 9, not an attribute");

  ResizeAttrs attrs;
  LB_RETURN_IF_ERROR(parse_resize_attrs(ctx.node, ctx.opset, &attrs));
  if (attrs.exclude_outside && attrs.mode != ResizeMode::kCubic)
    return ctx.fail("exclude_outside=1 is only defined for mode 'cubic'");
  if (attrs.mode == ResizeMode::kNearest)
    LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kNearestTypes));
  else
    LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kInterpolatedTypes));
  if (slots.roi >= 0 && ctx.has_input(size_t(slots.roi)))
    LB_RETURN_IF_ERROR(ctx.expect_dtype(size_t(slots.roi), {DType::kFloat32, DType::kFloat64, DType::kFloat16}));
  if (slots.scales >= 0 && ctx.has_input(size_t(slots.scales)))
    LB_RETURN_IF_ERROR(ctx.expect_dtype(size_t(slots.scales), {DType::kFloat32}));
  if (slots.sizes >= 0 && ctx.has_input(size_t(slots.sizes)))
    LB_RETURN_IF_ERROR(ctx.expect_dtype(size_t(slots.sizes), {DType::kInt64}));

  const ValueType& x = ctx.in(0);
  const Presence scales = slots.scales_attr ? Presence::kGiven : presence(ctx, slots.scales);
  const Presence sizes = presence(ctx, slots.sizes);
  if (scales == Presence::kGiven && sizes == Presence::kGiven)
    return ctx.fail("only one of 'scales' and 'sizes' may be given (the other must be omitted or empty)");
  if ((scales == Presence::kAbsent || scales == Presence::kEmpty) &&
      (sizes == Presence::kAbsent || sizes == Presence::kEmpty))
    return ctx.fail("needs either non-empty 'scales' or 'sizes'");

  const bool scales_known = slots.scales_attr || (scales == Presence::kGiven && ctx.value(size_t(slots.scales)));
  const bool sizes_known = sizes == Presence::kGiven && ctx.value(size_t(slots.sizes));
  if (!scales_known && !sizes_known) {
    // Values arrive at run time: only the rank is known.
    if (x.has_shape)
      ctx.set_output(0, ValueType(x.dtype, std::vector<Dim>(x.rank())));
    else
      ctx.set_output(0, unknown_rank(x.dtype));
    return Status::Ok();
  }

  ResizeRequest request;
  const Tensor* scales_value = scales_known && !slots.scales_attr ? ctx.value(size_t(slots.scales)) : nullptr;
  const Tensor* sizes_value = sizes_known ? ctx.value(size_t(slots.sizes)) : nullptr;
  size_t rank = x.rank();
  if (!x.has_shape) {  // take the rank from the request itself
    rank = sizes_value ? size_t(sizes_value->numel())
                       : (scales_value ? size_t(scales_value->numel()) : ctx.node.attr_floats("scales").size());
  }
  LB_RETURN_IF_ERROR(read_resize_request(ctx.node, upsample, rank, scales_value, sizes_value, &request));

  if (attrs.coord == CoordTransform::kTfCropAndResize && slots.roi >= 0 && ctx.value(size_t(slots.roi))) {
    const int64_t n = ctx.value(size_t(slots.roi))->numel();
    if (n != 0 && n != int64_t(2 * rank))
      return ctx.fail("roi must hold 2 * rank = ", 2 * rank, " values (starts then ends), got ", n);
  }

  std::vector<Dim> dims(rank);
  for (size_t d = 0; d < rank; ++d) {
    const bool in_known = x.has_shape && x.dims[d].known();
    if (in_known && x.dims[d].value == 0 && request.by_sizes && request.sizes[d] != 0)
      return ctx.fail("cannot resize axis ", d, " of size 0 to ", request.sizes[d]);
    if (request.by_sizes)
      dims[d] = Dim(request.sizes[d]);
    else if (in_known)
      dims[d] = Dim(resize_output_dim(request, d, x.dims[d].value));
    else if (x.has_shape && request.scales[d] == 1.f)
      dims[d] = x.dims[d];  // keeps a symbolic batch
  }
  ctx.set_output(0, ValueType(x.dtype, dims));
  return Status::Ok();
}

}  // namespace

Status infer_Resize(InferContext& ctx) { return infer_resize(ctx); }
Status infer_Upsample(InferContext& ctx) { return infer_resize(ctx); }

}  // namespace lowbit
