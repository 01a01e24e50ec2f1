// Tensor: a dense, row-major (C order) n-dimensional array that owns (or shares) its buffer.
//
//   lowbit::Tensor t(lowbit::DType::kFloat32, {1, 3, 224, 224});   // zero-filled
//   float* p = t.data<float>();
//   lowbit::Tensor flat = t.reshaped({1, 3 * 224 * 224});           // shares the buffer
//
// Element types use ONNX's TensorProto.DataType codes, so conversion is a cast.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,  // recognised so errors can name it; never stored
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUint32 = 12,
  kUint64 = 13,
  kBFloat16 = 16,
};

// Bytes per element; 0 for kUndefined/kString.
size_t dtype_size(DType t);
// "float32", "int64", ... (numpy-style names, used in every message).
const char* dtype_name(DType t);
// Parses a numpy/ONNX-style name ("float32", "float", "int64", "uint8", "bool", ...).
bool parse_dtype(const std::string& name, DType* out);
// True for ONNX codes lowbit can hold in a Tensor.
bool dtype_is_storable(DType t);
bool dtype_is_float(DType t);    // float16/bfloat16/float32/float64
bool dtype_is_integer(DType t);  // signed or unsigned integers (not bool)

using Shape = std::vector<int64_t>;

// "1x3x224x224" ("scalar" for rank 0).
std::string shape_to_string(const Shape& s);
// Product of dims, with overflow and negative-dim checks.
Expected<int64_t> checked_numel(const Shape& s);
int64_t numel_unchecked(const Shape& s);

// Half-precision helpers (round to nearest even on the way down).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);

// Default cap on a single tensor allocation driven by model or input data (16 GiB);
// callers that know better (e.g. --max-memory) pass their own.
constexpr int64_t kDefaultMaxTensorBytes = int64_t(16) << 30;

class Tensor {
 public:
  Tensor() = default;
  // Allocates a zero-filled tensor. Aborting on absurd sizes is not allowed for user data:
  // use Tensor::create() whenever the shape comes from a file or a model.
  Tensor(DType dtype, Shape shape);
  // Checked allocation: fails (does not allocate) on negative dims, overflow or > max_bytes.
  static Expected<Tensor> create(DType dtype, Shape shape, int64_t max_bytes = kDefaultMaxTensorBytes,
                                 bool zero_fill = true);  // false: the caller overwrites every byte (saves a pass)
  // A rank-0 or 1-D tensor from values, for tests and small constants.
  template <typename T>
  static Tensor from_vector(DType dtype, Shape shape, const std::vector<T>& values) {
    Tensor t(dtype, std::move(shape));
    size_t bytes = std::min(t.nbytes(), values.size() * sizeof(T));
    if (bytes) std::memcpy(t.raw(), values.data(), bytes);
    return t;
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return size_t(numel_) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T> T* data() { return static_cast<T*>(data_); }
  template <typename T> const T* data() const { return static_cast<const T*>(data_); }

  // Same buffer, new shape (numel must match; checked by the caller).
  Tensor reshaped(Shape shape) const;
  // Deep copy.
  Tensor clone() const;
  // Reads element i of any numeric dtype as double / int64 (for shape code and tests).
  double get_as_double(int64_t i) const;
  int64_t get_as_int64(int64_t i) const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> buffer_;  // 64-byte aligned allocation
  void* data_ = nullptr;
};

}  // namespace lowbit
