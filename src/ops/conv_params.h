// Attribute parsing and output-size arithmetic shared by Conv / ConvTranspose inference and kernels.
//
//   LB_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node, /*spatial=*/2, weight_spatial, /*transposed=*/false));
//   LB_ASSIGN_OR_RETURN(ConvAxis axis, conv_axis(attrs, 0, /*in=*/224));   // axis.out, axis.pad_begin, ...
//
// Errors come back as kInvalidModel with a message that does not name the node; callers prefix it
// (InferContext::fail). Kernels call the same functions on shapes inference already accepted.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit {

struct ConvAttrs {
  size_t spatial = 0;                   // number of spatial axes (input rank - 2)
  int64_t group = 1;
  std::string auto_pad = "NOTSET";      // NOTSET, SAME_UPPER, SAME_LOWER or VALID
  std::vector<int64_t> kernel;          // per axis; -1 where neither kernel_shape nor W tells
  std::vector<int64_t> strides, dilations;
  std::vector<int64_t> pads;            // explicit pads: begin of every axis, then end of every axis
  std::vector<int64_t> output_padding;  // ConvTranspose only (zeros otherwise)
  std::vector<int64_t> output_shape;    // ConvTranspose only: requested spatial output size, empty if absent
};

// The resolved geometry of one spatial axis.
struct ConvAxis {
  int64_t out = -1;  // output size
  int64_t pad_begin = 0, pad_end = 0;
};

namespace conv_detail {
inline Status invalid(const std::string& msg) { return Status(StatusCode::kInvalidModel, msg); }

inline std::string list_to_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Reads an ints attribute that must have `want` entries, or `fallback` when absent.
inline Status per_axis_ints(const Node& node, const char* name, size_t want, int64_t fallback, int64_t min_value,
                            std::vector<int64_t>* out) {
  if (!node.has_attr(name)) {
    out->assign(want, fallback);
    return Status::Ok();
  }
  *out = node.attr_ints(name);
  if (out->size() != want)
    return invalid(str_cat("attribute '", name, "' has ", out->size(), " values ", list_to_string(*out), " but the input has ",
                           want == 0 ? 0 : want, " spatial axes"));
  for (int64_t v : *out)
    if (v < min_value)
      return invalid(str_cat("attribute '", name, "' = ", list_to_string(*out), " must have every value >= ", min_value));
  return Status::Ok();
}
}  // namespace conv_detail

// Parses and validates the attributes of a Conv (transposed=false) or ConvTranspose node whose input has
// `spatial` spatial axes. `weight_spatial` holds W's spatial dims (-1 where unknown, empty if W's rank is unknown).
inline Expected<ConvAttrs> parse_conv_attrs(const Node& node, size_t spatial, const std::vector<int64_t>& weight_spatial,
                                            bool transposed) {
  using conv_detail::invalid;
  using conv_detail::list_to_string;
  ConvAttrs a;
  a.spatial = spatial;
  if (spatial == 0) return invalid("the input needs at least one spatial axis (rank >= 3: N x C x D1 ...)");
  a.group = node.attr_int("group", 1);
  if (a.group < 1) return invalid(str_cat("attribute 'group' = ", a.group, " must be >= 1"));
  a.auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (a.auto_pad.empty()) a.auto_pad = "NOTSET";
  if (a.auto_pad != "NOTSET" && a.auto_pad != "SAME_UPPER" && a.auto_pad != "SAME_LOWER" && a.auto_pad != "VALID")
    return invalid(str_cat("attribute 'auto_pad' = '", a.auto_pad,
                           "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"));

  if (node.has_attr("kernel_shape")) {
    LB_RETURN_IF_ERROR(conv_detail::per_axis_ints(node, "kernel_shape", spatial, 1, 1, &a.kernel));
    for (size_t i = 0; i < weight_spatial.size() && i < spatial; ++i)
      if (weight_spatial[i] >= 0 && weight_spatial[i] != a.kernel[i])
        return invalid(str_cat("attribute 'kernel_shape' = ", list_to_string(a.kernel),
                               " does not match the weight's spatial dims ", list_to_string(weight_spatial)));
  } else {
    a.kernel.assign(spatial, -1);
    for (size_t i = 0; i < weight_spatial.size() && i < spatial; ++i) a.kernel[i] = weight_spatial[i];
  }
  LB_RETURN_IF_ERROR(conv_detail::per_axis_ints(node, "strides", spatial, 1, 1, &a.strides));
  LB_RETURN_IF_ERROR(conv_detail::per_axis_ints(node, "dilations", spatial, 1, 1, &a.dilations));
  LB_RETURN_IF_ERROR(conv_detail::per_axis_ints(node, "pads", 2 * spatial, 0, 0, &a.pads));
  if (a.auto_pad != "NOTSET") a.pads.assign(2 * spatial, 0);  // auto_pad wins over explicit pads

  a.output_padding.assign(spatial, 0);
  if (transposed) {
    LB_RETURN_IF_ERROR(conv_detail::per_axis_ints(node, "output_padding", spatial, 0, 0, &a.output_padding));
    if (node.has_attr("output_shape")) {
      a.output_shape = node.attr_ints("output_shape");
      // Some exporters write the full N x C x ... shape; only the spatial tail matters.
      if (a.output_shape.size() == spatial + 2) a.output_shape.erase(a.output_shape.begin(), a.output_shape.begin() + 2);
      if (a.output_shape.size() != spatial)
        return invalid(str_cat("attribute 'output_shape' = ", list_to_string(node.attr_ints("output_shape")),
                               " must have one value per spatial axis (", spatial, ")"));
      for (int64_t v : a.output_shape)
        if (v < 1) return invalid(str_cat("attribute 'output_shape' = ", list_to_string(a.output_shape), " must be positive"));
    }
  } else if (node.has_attr("output_padding") || node.has_attr("output_shape")) {
    return invalid("attributes 'output_padding' / 'output_shape' belong to ConvTranspose, not Conv");
  }
  return a;
}

// Conv: output size and padding of spatial axis `i` for an input of size `in` (kernel must be known).
inline Expected<ConvAxis> conv_axis(const ConvAttrs& a, size_t i, int64_t in) {
  const int64_t stride = a.strides[i], dilation = a.dilations[i];
  const int64_t extent = dilation * (a.kernel[i] - 1) + 1;  // the kernel's reach once dilated
  ConvAxis r;
  if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
    r.out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, (r.out - 1) * stride + extent - in);
    // SAME_UPPER puts the odd pixel of padding at the end, SAME_LOWER at the beginning.
    r.pad_begin = a.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    r.pad_end = total - r.pad_begin;
    return r;
  }
  if (a.auto_pad == "NOTSET") {
    r.pad_begin = a.pads[i];
    r.pad_end = a.pads[i + a.spatial];
  }
  const int64_t padded = in + r.pad_begin + r.pad_end;
  if (padded < extent)
    return conv_detail::invalid(str_cat("spatial axis ", i, ": the kernel reaches ", extent, " (kernel ", a.kernel[i],
                                        ", dilation ", dilation, ") but the padded input has only ", padded, " (size ", in,
                                        ", pads ", r.pad_begin, "+", r.pad_end, ")"));
  r.out = (padded - extent) / stride + 1;
  return r;
}

// ConvTranspose: output size and the padding cropped from the full result on spatial axis `i`.
inline Expected<ConvAxis> conv_transpose_axis(const ConvAttrs& a, size_t i, int64_t in) {
  const int64_t stride = a.strides[i], dilation = a.dilations[i];
  const int64_t full = stride * (in - 1) + a.output_padding[i] + dilation * (a.kernel[i] - 1) + 1;
  ConvAxis r;
  const bool same = a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER";
  if (!a.output_shape.empty() || same) {
    r.out = a.output_shape.empty() ? in * stride : a.output_shape[i];
    // A negative total (output larger than the full result) leaves the extra cells to the bias.
    const int64_t total = std::max<int64_t>(0, full - r.out);
    r.pad_begin = a.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    r.pad_end = total - r.pad_begin;
    return r;
  }
  if (a.auto_pad == "NOTSET") {
    r.pad_begin = a.pads[i];
    r.pad_end = a.pads[i + a.spatial];
  }
  r.out = full - r.pad_begin - r.pad_end;
  if (r.out < 1)
    return conv_detail::invalid(str_cat("spatial axis ", i, ": pads ", r.pad_begin, "+", r.pad_end,
                                        " crop the whole transposed output (full size ", full, ")"));
  return r;
}

}  // namespace lowbit
