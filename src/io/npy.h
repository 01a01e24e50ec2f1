// NumPy .npy files (format versions 1.0, 2.0, 3.0), little- and big-endian, every numeric dtype
// lowbit holds (bool, int8..int64, uint8..uint64, float16, float32, float64), C order.
// Malformed files (bad magic, bad header dict, unknown dtype, fortran_order, size mismatch with
// the file, absurd shapes) give one clear error naming the file; nothing is allocated before the
// header has been checked against the file size.
//
//   Expected<Tensor> t = read_npy("x.npy");                  // the whole array
//   // Big files, a slice at a time (calibration data): the header first, then only the bytes needed.
//   Expected<NpyHeader> h = read_npy_header("x.npy");         // shape [1000, 3, 224, 224]
//   std::vector<float> two(2 * 3 * 224 * 224);               // (h->dtype == kFloat32 here)
//   Status s = read_npy_elements("x.npy", *h, /*first=*/5 * 3 * 224 * 224, two.size(), two.data());  // samples 5, 6
#pragma once
#include <string>

#include "lowbit/tensor.h"

namespace lowbit {

// What a .npy header says, checked against the file: data_offset + data_bytes == file_size.
struct NpyHeader {
  DType dtype = DType::kUndefined;
  bool swap_bytes = false;  // stored big-endian: read_npy* swap to native order
  Shape shape;
  int64_t data_offset = 0;  // bytes before the data
  int64_t data_bytes = 0;   // what the shape needs
  int64_t file_size = 0;    // the whole file, when the header was read (read_npy_elements re-checks it)
};

// Reads and checks only the header (a few hundred bytes whatever the array size): no max_bytes cap,
// since nothing is allocated for the data.
Expected<NpyHeader> read_npy_header(const std::string& path);
// Reads elements [first, first + count) of the array (flat C order) into dst, which must hold
// count * dtype_size(header.dtype) bytes, in native byte order. Seeks to them: the rest of the file is
// never read. Fails (naming the file) if the range is outside the array or the file no longer has the
// size it had when the header was read.
Status read_npy_elements(const std::string& path, const NpyHeader& header, int64_t first, int64_t count, void* dst);

Expected<Tensor> read_npy(const std::string& path, int64_t max_bytes = kDefaultMaxTensorBytes);
Expected<Tensor> parse_npy(const std::string& bytes, const std::string& display_name,
                           int64_t max_bytes = kDefaultMaxTensorBytes);
// Writes atomically (temp file + rename), so a failed write leaves nothing half-written.
Status write_npy(const std::string& path, const Tensor& t);
std::string serialize_npy(const Tensor& t);

}  // namespace lowbit
