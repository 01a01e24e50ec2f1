// NumPy .npy files (format versions 1.0, 2.0, 3.0), little- and big-endian, every numeric dtype
// lowbit holds (bool, int8..int64, uint8..uint64, float16, float32, float64), C order.
// Malformed files (bad magic, bad header dict, unknown dtype, fortran_order, size mismatch with
// the file, absurd shapes) give one clear error naming the file; nothing is allocated before the
// header has been checked against the file size.
#pragma once
#include <string>

#include "lowbit/tensor.h"

namespace lowbit {

Expected<Tensor> read_npy(const std::string& path, int64_t max_bytes = kDefaultMaxTensorBytes);
Expected<Tensor> parse_npy(const std::string& bytes, const std::string& display_name,
                           int64_t max_bytes = kDefaultMaxTensorBytes);
// Writes atomically (temp file + rename), so a failed write leaves nothing half-written.
Status write_npy(const std::string& path, const Tensor& t);
std::string serialize_npy(const Tensor& t);

}  // namespace lowbit
