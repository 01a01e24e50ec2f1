#include "lowbit/tensor.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>

namespace lowbit {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kInvalidModel: return "invalid model";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kIoError: return "i/o error";
    case StatusCode::kOutOfRange: return "out of range";
    case StatusCode::kResourceExhausted: return "resource exhausted";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: case DType::kInt32: case DType::kUint32: return 4;
    case DType::kUint8: case DType::kInt8: case DType::kBool: return 1;
    case DType::kUint16: case DType::kInt16: case DType::kFloat16: case DType::kBFloat16: return 2;
    case DType::kInt64: case DType::kFloat64: case DType::kUint64: return 8;
    default: return 0;
  }
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kUndefined: return "undefined";
    case DType::kFloat32: return "float32";
    case DType::kUint8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kUint16: return "uint16";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kString: return "string";
    case DType::kBool: return "bool";
    case DType::kFloat16: return "float16";
    case DType::kFloat64: return "float64";
    case DType::kUint32: return "uint32";
    case DType::kUint64: return "uint64";
    case DType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

bool parse_dtype(const std::string& n, DType* out) {
  static const std::pair<const char*, DType> names[] = {
      {"float32", DType::kFloat32}, {"float", DType::kFloat32},   {"uint8", DType::kUint8},
      {"int8", DType::kInt8},       {"uint16", DType::kUint16},   {"int16", DType::kInt16},
      {"int32", DType::kInt32},     {"int64", DType::kInt64},     {"bool", DType::kBool},
      {"float16", DType::kFloat16}, {"half", DType::kFloat16},    {"float64", DType::kFloat64},
      {"double", DType::kFloat64},  {"uint32", DType::kUint32},   {"uint64", DType::kUint64},
      {"bfloat16", DType::kBFloat16}};
  for (auto& [name, t] : names)
    if (n == name) { *out = t; return true; }
  return false;
}

bool dtype_is_storable(DType t) { return dtype_size(t) != 0; }
bool dtype_is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 || t == DType::kBFloat16;
}
bool dtype_is_integer(DType t) {
  switch (t) {
    case DType::kInt8: case DType::kUint8: case DType::kInt16: case DType::kUint16:
    case DType::kInt32: case DType::kUint32: case DType::kInt64: case DType::kUint64: return true;
    default: return false;
  }
}

std::string shape_to_string(const Shape& s) {
  if (s.empty()) return "scalar";
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r;
}

Expected<int64_t> checked_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) return error(StatusCode::kInvalidArgument, "negative dimension in shape ", shape_to_string(s));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return error(StatusCode::kResourceExhausted, "shape ", shape_to_string(s), " overflows int64");
    n *= d;
  }
  return n;
}

int64_t numel_unchecked(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) return uint16_t(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));  // inf/nan
  if (absx >= 0x477ff000) return uint16_t(sign | 0x7c00);  // overflow -> inf
  if (absx < 0x38800000) {  // subnormal or zero in half
    float af;
    std::memcpy(&af, &absx, 4);
    // scale so that the half subnormal LSB (2^-24) becomes 1, round half to even
    float scaled = af * 16777216.0f;
    uint32_t m = uint32_t(std::nearbyint(scaled));
    return uint16_t(sign | m);
  }
  uint32_t mant = absx & 0x7fffff;
  uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return uint16_t(sign | h);
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);  // keep NaN a NaN
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7fff + lsb;
  return uint16_t(x >> 16);
}

namespace {
std::shared_ptr<void> allocate(size_t bytes, bool zero_fill = true) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) return nullptr;
  if (zero_fill) std::memset(p, 0, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = numel_unchecked(shape_);
  buffer_ = allocate(nbytes());
  if (!buffer_) throw std::bad_alloc();
  data_ = buffer_.get();
}

Expected<Tensor> Tensor::create(DType dtype, Shape shape, int64_t max_bytes, bool zero_fill) {
  if (!dtype_is_storable(dtype))
    return error(StatusCode::kUnsupported, "cannot hold tensors of type ", dtype_name(dtype));
  LB_ASSIGN_OR_RETURN(int64_t n, checked_numel(shape));
  int64_t elem = int64_t(dtype_size(dtype));
  if (n > max_bytes / elem)
    return error(StatusCode::kResourceExhausted, "tensor of shape ", shape_to_string(shape), " (", dtype_name(dtype),
                 ") needs more than the ", max_bytes, "-byte cap");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  t.buffer_ = allocate(size_t(n * elem), zero_fill);
  if (!t.buffer_)
    return error(StatusCode::kResourceExhausted, "out of memory allocating ", n * elem, " bytes for a ",
                 shape_to_string(t.shape_), " tensor");
  t.data_ = t.buffer_.get();
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  t.numel_ = numel_unchecked(t.shape_);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

double Tensor::get_as_double(int64_t i) const {
  switch (dtype_) {
    case DType::kFloat32: return data<float>()[i];
    case DType::kFloat64: return data<double>()[i];
    case DType::kFloat16: return half_to_float(data<uint16_t>()[i]);
    case DType::kBFloat16: return bfloat16_to_float(data<uint16_t>()[i]);
    case DType::kInt8: return data<int8_t>()[i];
    case DType::kUint8: return data<uint8_t>()[i];
    case DType::kBool: return data<uint8_t>()[i] ? 1 : 0;
    case DType::kInt16: return data<int16_t>()[i];
    case DType::kUint16: return data<uint16_t>()[i];
    case DType::kInt32: return data<int32_t>()[i];
    case DType::kUint32: return data<uint32_t>()[i];
    case DType::kInt64: return double(data<int64_t>()[i]);
    case DType::kUint64: return double(data<uint64_t>()[i]);
    default: return 0;
  }
}

int64_t Tensor::get_as_int64(int64_t i) const {
  switch (dtype_) {
    case DType::kInt64: return data<int64_t>()[i];
    case DType::kUint64: return int64_t(data<uint64_t>()[i]);
    case DType::kInt32: return data<int32_t>()[i];
    case DType::kUint32: return data<uint32_t>()[i];
    default: {
      double d = get_as_double(i);
      if (!(d > -9.2e18 && d < 9.2e18)) return 0;  // NaN/huge: callers validate ranges anyway
      return int64_t(d);
    }
  }
}

}  // namespace lowbit
