// Exact int8 convolutions and matmuls on CPUs without VNNI (see int8_pairs.h).
#include "kernels/onednn/int8_pairs.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace lowbit::onednn {

bool int8_pairs_saturate() {
  // LOWBIT_INT8_PAIRS=split forces the split on any CPU (tests; read per kernel, as the other A/B switches are).
  const char* env = std::getenv("LOWBIT_INT8_PAIRS");
  if (env && std::string(env) == "split") return true;
  // VNNI (vpdpbusd) accumulates the u8 x s8 products straight into int32: the avx512_core_vnni (and up) and
  // avx2_vnni ISA values carry these bits.
  const unsigned isa = unsigned(dnnl::get_effective_cpu_isa());
  return (isa & unsigned(dnnl_cpu_isa_avx512_core_vnni & ~dnnl_cpu_isa_avx512_core)) == 0 &&
         (isa & unsigned(dnnl_cpu_isa_avx2_vnni & ~dnnl_cpu_isa_avx2)) == 0;
}

bool needs_weight_split(const int8_t* w, int64_t n) {
  if (!int8_pairs_saturate()) return false;
  for (int64_t i = 0; i < n; ++i)
    if (w[i] > kPairSafeWeight || w[i] < -kPairSafeWeight) return true;
  return false;
}

std::vector<int8_t> split_weights(const int8_t* w, int64_t outer, int64_t k, int64_t inner) {
  std::vector<int8_t> out(size_t(outer * 2 * k * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t r = 0; r < k; ++r)
      for (int64_t i = 0; i < inner; ++i) {
        const int v = w[(o * k + r) * inner + i];
        const int low = v >= 0 ? v / 2 : -((1 - v) / 2);  // floor(v / 2): in [-64, 63]
        out[size_t((o * 2 * k + r) * inner + i)] = int8_t(low);
        out[size_t((o * 2 * k + k + r) * inner + i)] = int8_t(v - low);  // ceil(v / 2): in [-64, 64]
      }
  return out;
}

void SourceCopy::prepare(const memory::desc& from, const memory::desc& rows_major, int copies_wanted,
                         bool flip_sign, const memory::dims& pad_begin, const memory::dims& pad_end,
                         uint8_t fill_code) {
  to_rows.prepare(from, rows_major);
  copies = copies_wanted;
  const memory::dims dims = rows_major.dims();
  flip = flip_sign;
  fill = fill_code;
  int64_t out_rows = 1;
  if (pad_begin.empty()) {  // matmul: [..., M, K], every axis but the last one flattened into rows
    width = dims.back();
    for (size_t i = 0; i + 1 < dims.size(); ++i) out_rows *= dims[i];
    spatial = {out_rows, 1}, pad_l = {0, 0}, pad_r = {0, 0};
    images = 1;
  } else {  // convolution: [N, C, spatial...] in channels-last memory order
    width = dims[1];
    images = dims[0];
    out_rows = images;
    for (size_t i = 2; i < dims.size(); ++i) {
      spatial.push_back(dims[i]);
      pad_l.push_back(pad_begin[i - 2]), pad_r.push_back(pad_end[i - 2]);
      out_rows *= dims[i] + pad_begin[i - 2] + pad_end[i - 2];
    }
  }
  scratch = memory(memory::desc({out_rows * copies * width}, memory::data_type::u8, memory::format_tag::a), cpu_engine());
}

memory SourceCopy::apply(dnnl::stream& stream, const memory& src, ThreadPool* pool) {
  const auto* x = static_cast<const uint8_t*>(to_rows.apply(stream, src).get_data_handle());
  stream.wait();  // the copy below runs outside the stream
  auto* y = static_cast<uint8_t*>(scratch.get_data_handle());
  const size_t axes = spatial.size();
  // Output pixels: images x padded spatial extents; the padded last axis is one "line" of output pixels.
  int64_t lines = images;
  for (size_t a = 0; a + 1 < axes; ++a) lines *= spatial[a] + pad_l[a] + pad_r[a];
  const int64_t last = spatial[axes - 1], line_pixels = last + pad_l[axes - 1] + pad_r[axes - 1];
  auto copy = [&](int64_t b, int64_t e) {
    for (int64_t l = b; l < e; ++l) {
      const int64_t pixel = copies * width;  // output bytes per pixel
      uint8_t* out = y + l * line_pixels * pixel;
      // Which input line this output line shows, if any: the padded coordinates of l, outermost last.
      int64_t rest = l, in_line = 0, stride = 1;
      bool inside = true;
      for (size_t a = axes - 1; a-- > 0;) {
        const int64_t extent = spatial[a] + pad_l[a] + pad_r[a], coord = rest % extent - pad_l[a];
        rest /= extent;
        inside = inside && coord >= 0 && coord < spatial[a];
        in_line += coord * stride;
        stride *= spatial[a];
      }
      in_line += rest * stride;  // the image
      if (!inside) {
        std::memset(out, fill, size_t(line_pixels * pixel));
        continue;
      }
      std::memset(out, fill, size_t(pad_l[axes - 1] * pixel));
      std::memset(out + (pad_l[axes - 1] + last) * pixel, fill, size_t(pad_r[axes - 1] * pixel));
      const uint8_t* in = x + in_line * last * width;
      out += pad_l[axes - 1] * pixel;
      for (int64_t p = 0; p < last; ++p, in += width) {
        for (int c = 0; c < copies; ++c, out += width) {
          if (flip) {  // s8 -> u8 of x + 128: the sign bit flipped
            for (int64_t i = 0; i < width; ++i) out[i] = uint8_t(in[i] ^ 0x80);
          } else {
            std::memcpy(out, in, size_t(width));
          }
        }
      }
    }
  };
  if (pool && lines * line_pixels * width >= (int64_t(1) << 16)) pool->parallel_for(lines, copy);
  else copy(0, lines);
  return scratch;
}

}  // namespace lowbit::onednn
