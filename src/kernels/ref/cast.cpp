// Reference kernel: Cast between every pair of storable types (see convert_element in
// src/ops/elementwise_kernels.h for the rules), and convert_tensor, which other kernels reuse.
#include <cstring>

#include "ops/elementwise_kernels.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

// bool is stored as uint8_t, so From/To == uint8_t may mean either uint8 or bool: the flags tell.
template <typename From, typename To>
void convert_all(KernelContext& ctx, const Tensor& src, Tensor& dst) {
  const bool from_bool = src.dtype() == DType::kBool;
  const bool to_bool = dst.dtype() == DType::kBool;
  const From* in = src.data<From>();
  To* out = dst.data<To>();
  ctx.parallel_for(
      src.numel(),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          From v = in[i];
          if constexpr (std::is_same_v<From, uint8_t>)
            if (from_bool) v = v != 0;  // any non-zero byte is true
          if constexpr (std::is_same_v<To, uint8_t>) {
            if (to_bool) {
              out[i] = convert_element<From, bool>(v) ? 1 : 0;
              continue;
            }
          }
          out[i] = convert_element<From, To>(v);
        }
      },
      kElementwiseGrain);
}

}  // namespace

Status convert_tensor(KernelContext& ctx, const Tensor& src, Tensor& dst) {
  if (src.dtype() == dst.dtype()) {
    std::memcpy(dst.raw(), src.raw(), dst.nbytes());
    return Status::Ok();
  }
  bool dst_handled = false;
  bool src_handled = visit_dtype<kAllTypes>(src.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    dst_handled = visit_dtype<kAllTypes>(dst.dtype(), [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      convert_all<From, To>(ctx, src, dst);
    });
  });
  if (!src_handled) return unexpected_dtype(ctx, src.dtype());
  if (!dst_handled) return unexpected_dtype(ctx, dst.dtype());
  return Status::Ok();
}

Status ref_Cast(KernelContext& ctx) { return convert_tensor(ctx, ctx.in(0), ctx.out(0)); }

}  // namespace lowbit
