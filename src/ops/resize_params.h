// Resize / Upsample parameters and the coordinate arithmetic ONNX defines for them. Shared by inference
// (src/ops/resize.cpp) and the reference kernels (src/kernels/ref/resize.cpp), so the output sizes inference
// promises and the sampling positions the kernel uses come from the same code.
//
//   ResizeAttrs a;
//   LB_RETURN_IF_ERROR(parse_resize_attrs(node, opset, &a));
//   ResizeInputSlots slots = resize_input_slots(node, opset);   // where roi / scales / sizes live
//   ResizeRequest r;                                            // scales or sizes, read from the tensors
//   LB_RETURN_IF_ERROR(read_resize_request(node, a, rank, scales_tensor, sizes_tensor, &r));
//   int64_t out = resize_output_dim(r, axis, input_dim);
//   double x_in = a.original_coordinate(x_out, axis_geometry);
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"

namespace lowbit {

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class CoordTransform {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNearest,
  kTfCropAndResize
};
// kSimple: Upsample and Resize-10, which have no nearest_mode: ONNX Runtime floors when upsampling an axis
// and takes the ceiling when downsampling it.
enum class NearestRounding { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeAttrs {
  ResizeMode mode = ResizeMode::kNearest;
  CoordTransform coord = CoordTransform::kHalfPixel;
  NearestRounding nearest = NearestRounding::kRoundPreferFloor;
  float cubic_coeff_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation_value = 0.f;
};

// Input positions of roi / scales / sizes for this op and opset (-1: the form does not exist).
struct ResizeInputSlots {
  int roi = -1, scales = -1, sizes = -1;
  bool scales_attr = false;  // Upsample 7-8: `scales` is an attribute
};

inline ResizeInputSlots resize_input_slots(const Node& node, int opset) {
  ResizeInputSlots s;
  if (node.op_type == "Upsample") {
    if (opset < 9)
      s.scales_attr = true;
    else
      s.scales = 1;
  } else if (opset < 11) {
    s.scales = 1;
  } else {
    s.roi = 1, s.scales = 2, s.sizes = 3;
  }
  return s;
}

namespace resize_detail {
template <typename... Args>
Status bad(const Node& node, const Args&... args) {
  return error(StatusCode::kInvalidModel, node.describe(), ": ", args...);
}
}  // namespace resize_detail

inline Status parse_resize_attrs(const Node& node, int opset, ResizeAttrs* a) {
  using resize_detail::bad;
  const bool modern = node.op_type == "Resize" && opset >= 11;
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest")
    a->mode = ResizeMode::kNearest;
  else if (mode == "linear" || (!modern && mode == "bilinear"))
    a->mode = ResizeMode::kLinear;
  else if (mode == "cubic" && modern)
    a->mode = ResizeMode::kCubic;
  else
    return bad(node, "unknown mode '", mode, "' (expected nearest, linear", modern ? " or cubic)" : ")");
  if (!modern) {
    // Upsample and Resize-10 sample at x_out / scale and (nearest) round down, as ONNX Runtime does.
    a->coord = CoordTransform::kAsymmetric;
    a->nearest = NearestRounding::kSimple;
    return Status::Ok();
  }
  const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel")
    a->coord = CoordTransform::kHalfPixel;
  else if (coord == "pytorch_half_pixel")
    a->coord = CoordTransform::kPytorchHalfPixel;
  else if (coord == "align_corners")
    a->coord = CoordTransform::kAlignCorners;
  else if (coord == "asymmetric")
    a->coord = CoordTransform::kAsymmetric;
  else if (coord == "tf_half_pixel_for_nearest" || coord == "tf_half_pixel_for_nn")
    a->coord = CoordTransform::kTfHalfPixelForNearest;
  else if (coord == "tf_crop_and_resize")
    a->coord = CoordTransform::kTfCropAndResize;
  else
    return bad(node, "unknown coordinate_transformation_mode '", coord, "'");
  const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor")
    a->nearest = NearestRounding::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil")
    a->nearest = NearestRounding::kRoundPreferCeil;
  else if (nearest == "floor")
    a->nearest = NearestRounding::kFloor;
  else if (nearest == "ceil")
    a->nearest = NearestRounding::kCeil;
  else
    return bad(node, "unknown nearest_mode '", nearest, "'");
  a->cubic_coeff_a = node.attr_float("cubic_coeff_a", -0.75f);
  a->exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  a->extrapolation_value = node.attr_float("extrapolation_value", 0.f);
  return Status::Ok();
}

// What the model asks for: per-axis scales, or per-axis output sizes.
struct ResizeRequest {
  bool by_sizes = false;
  std::vector<float> scales;   // when !by_sizes
  std::vector<int64_t> sizes;  // when by_sizes
};

// Validates and reads the request for a rank-`rank` input. Pass nullptr for a tensor that is omitted or empty
// (the caller applies the omission rules); for Upsample 7-8 the attribute is read.
inline Status read_resize_request(const Node& node, bool upsample_semantics, size_t rank, const Tensor* scales,
                                  const Tensor* sizes, ResizeRequest* r) {
  using resize_detail::bad;
  if (scales && sizes) return bad(node, "only one of 'scales' and 'sizes' may be given");
  if (sizes) {
    if (sizes->dtype() != DType::kInt64) return bad(node, "sizes must be int64, got ", dtype_name(sizes->dtype()));
    if (sizes->rank() != 1 || size_t(sizes->numel()) != rank)
      return bad(node, "sizes must hold one value per input axis (", rank, "), got shape ",
                 shape_to_string(sizes->shape()));
    r->by_sizes = true;
    r->sizes.assign(sizes->data<int64_t>(), sizes->data<int64_t>() + rank);
    for (int64_t v : r->sizes)
      if (v < 0) return bad(node, "sizes must not be negative, got ", v);
    return Status::Ok();
  }
  if (scales) {
    if (scales->dtype() != DType::kFloat32)
      return bad(node, "scales must be float32, got ", dtype_name(scales->dtype()));
    r->scales.assign(scales->data<float>(), scales->data<float>() + scales->numel());
  } else if (node.op_type == "Upsample" && node.has_attr("scales")) {
    r->scales = node.attr_floats("scales");
  } else {
    return bad(node, "needs either 'scales' or 'sizes'");
  }
  if (r->scales.size() != rank)
    return bad(node, "scales must hold one value per input axis (", rank, "), got ", r->scales.size());
  for (float s : r->scales) {
    if (!(s > 0)) return bad(node, "scales must be positive, got ", s);
    if (upsample_semantics && s < 1) return bad(node, "Upsample scales must be >= 1, got ", s);
  }
  return Status::Ok();
}

// Output size along `axis`: the requested size, or floor(input * scale) computed in float32 as ONNX's shape
// inference and ONNX Runtime do (so 10 * 0.7f gives 7, not 6).
inline int64_t resize_output_dim(const ResizeRequest& r, size_t axis, int64_t input_dim) {
  if (r.by_sizes) return r.sizes[axis];
  return int64_t(std::floor(r.scales[axis] * float(input_dim)));
}

// Everything the coordinate transform needs along one axis. Coordinates are computed in float32 with ONNX
// Runtime's operation order, so nearest picks the same pixel as ONNX Runtime even at near-ties
// (e.g. 4 / 0.8f is exactly 5 in float32 but 4.99999... in double).
struct ResizeAxis {
  int64_t in = 0, out = 0;
  float scale = 1;           // given scale, or out / in when sizes were given
  float length_resized = 0;  // scale * in: ONNX's reference uses this, not `out`, for align_corners / crop
  float roi_start = 0, roi_end = 1;
};

inline ResizeAxis make_resize_axis(const ResizeRequest& r, size_t axis, int64_t in, const std::vector<float>& roi,
                                   size_t rank) {
  ResizeAxis a;
  a.in = in;
  a.out = resize_output_dim(r, axis, in);
  if (r.by_sizes) {
    a.scale = in > 0 ? float(a.out) / float(in) : 1.f;
    a.length_resized = float(a.out);
  } else {
    a.scale = r.scales[axis];
    a.length_resized = a.scale * float(in);
  }
  if (roi.size() == 2 * rank) a.roi_start = roi[axis], a.roi_end = roi[rank + axis];
  return a;
}

// Position in the input that output index x samples (ONNX Resize's coordinate_transformation_mode).
inline float original_coordinate(CoordTransform m, int64_t x_out, const ResizeAxis& a) {
  const float x = float(x_out);
  const float in_last = float(a.in - 1);
  switch (m) {
    case CoordTransform::kHalfPixel:
      return (x + 0.5f) / a.scale - 0.5f;
    case CoordTransform::kPytorchHalfPixel:
      return a.length_resized > 1 ? (x + 0.5f) / a.scale - 0.5f : 0.f;
    case CoordTransform::kAlignCorners:
      return a.length_resized == 1 ? 0.f : x * in_last / (a.length_resized - 1);
    case CoordTransform::kAsymmetric:
      return x / a.scale;
    case CoordTransform::kTfHalfPixelForNearest:
      return (x + 0.5f) / a.scale;
    case CoordTransform::kTfCropAndResize:
      if (a.length_resized > 1)
        return a.roi_start * in_last + (x * (a.roi_end - a.roi_start) * in_last) / (a.length_resized - 1);
      return 0.5f * (a.roi_start + a.roi_end) * in_last;
  }
  return 0;
}

// The input index nearest-mode Resize reads for input coordinate xo (ONNX nearest_mode; kSimple is the
// opset-10/Upsample rule), clamped to the input. Shared by the reference and the oneDNN kernels.
inline int64_t nearest_index(NearestRounding mode, const ResizeAxis& ax, float xo) {
  double i = 0;
  switch (mode) {
    case NearestRounding::kRoundPreferFloor:
      i = std::ceil(xo - 0.5);
      break;
    case NearestRounding::kRoundPreferCeil:
      i = std::floor(xo + 0.5);
      break;
    case NearestRounding::kFloor:
      i = std::floor(xo);
      break;
    case NearestRounding::kCeil:
      i = std::ceil(xo);
      break;
    case NearestRounding::kSimple:
      i = ax.scale < 1 ? std::ceil(xo) : std::floor(xo);
      break;
  }
  return std::clamp<int64_t>(int64_t(i), 0, ax.in - 1);
}

}  // namespace lowbit
