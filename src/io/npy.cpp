// NumPy .npy reader/writer. The format (numpy/lib/format.py):
//   "\x93NUMPY" major minor  header_len (uint16 LE for 1.0, uint32 LE for 2.0/3.0)  header  data
// where the header is a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n'. Everything in the header is checked, and the data length
// compared with the file, before a single byte of tensor memory is allocated.
#include "io/npy.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <system_error>

namespace lowbit {
namespace {

static_assert(std::endian::native == std::endian::little, "lowbit's .npy code assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy refuses headers above 10000 bytes by default; allow more (many dims) but stay bounded.
constexpr uint32_t kMaxHeaderLen = 1 << 20;
constexpr size_t kMaxRank = 64;

// ---- A tiny parser for the Python literals numpy writes into the header ----------------------

struct PyValue {
  enum class Kind { kString, kBool, kInt, kTuple, kList, kDict, kNone } kind = Kind::kNone;
  std::string str;
  bool b = false;
  int64_t i = 0;
  bool int_overflow = false;
  std::vector<PyValue> items;                         // tuple / list
  std::vector<std::pair<std::string, PyValue>> dict;  // keys are always strings in a header

  // Special members defined below, where PyValue is complete: clang (with libstdc++ 12) otherwise
  // instantiates the vector<pair<string, PyValue>> members while PyValue is still incomplete.
  PyValue();
  PyValue(const PyValue&);
  PyValue(PyValue&&) noexcept;
  PyValue& operator=(const PyValue&);
  PyValue& operator=(PyValue&&) noexcept;
  ~PyValue();
};
PyValue::PyValue() = default;
PyValue::PyValue(const PyValue&) = default;
PyValue::PyValue(PyValue&&) noexcept = default;
PyValue& PyValue::operator=(const PyValue&) = default;
PyValue& PyValue::operator=(PyValue&&) noexcept = default;
PyValue::~PyValue() = default;

class LiteralParser {
 public:
  explicit LiteralParser(const std::string& text) : s_(text) {}

  bool parse_header_dict(PyValue* out, std::string* why) {
    skip_space();
    if (!parse_value(out, 0)) {
      *why = error_;
      return false;
    }
    skip_space();
    if (pos_ != s_.size()) {
      *why = at("unexpected text after the dictionary");
      return false;
    }
    if (out->kind != PyValue::Kind::kDict) {
      *why = "the header is not a Python dict literal";
      return false;
    }
    return true;
  }

 private:
  std::string at(const std::string& what) const { return str_cat(what, " at header offset ", pos_); }
  bool fail(const std::string& what) {
    error_ = at(what);
    return false;
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool parse_value(PyValue* v, int depth) {
    if (depth > 8) return fail("nesting too deep");
    skip_space();
    if (pos_ >= s_.size()) return fail("unexpected end of header");
    char c = s_[pos_];
    if (c == '\'' || c == '"') {
      v->kind = PyValue::Kind::kString;
      return parse_string(&v->str);
    }
    if (c == '{') return parse_dict(v, depth);
    if (c == '(') return parse_sequence(v, ')', PyValue::Kind::kTuple, depth);
    if (c == '[') return parse_sequence(v, ']', PyValue::Kind::kList, depth);
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return parse_int(v);
    for (auto [word, kind, b] :
         {std::tuple{"True", PyValue::Kind::kBool, true}, std::tuple{"False", PyValue::Kind::kBool, false},
          std::tuple{"None", PyValue::Kind::kNone, false}}) {
      size_t n = std::strlen(word);
      if (s_.compare(pos_, n, word) == 0) {
        pos_ += n;
        v->kind = kind;
        v->b = b;
        return true;
      }
    }
    return fail(str_cat("unexpected character '", c, "'"));
  }

  bool parse_string(std::string* out) {
    char quote = s_[pos_++];
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') {
        if (pos_ + 1 >= s_.size()) break;
        ++pos_;
      }
      out->push_back(s_[pos_++]);
    }
    if (pos_ >= s_.size()) return fail("unterminated string");
    ++pos_;
    return true;
  }

  bool parse_int(PyValue* v) {
    bool negative = false;
    if (s_[pos_] == '-' || s_[pos_] == '+') negative = s_[pos_++] == '-';
    if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) return fail("malformed integer");
    uint64_t value = 0;
    bool overflow = false;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      uint64_t digit = uint64_t(s_[pos_++] - '0');
      if (value > (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10)
        overflow = true;
      else
        value = value * 10 + digit;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long suffix
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) return fail("expected an integer");
    v->kind = PyValue::Kind::kInt;
    v->i = negative ? -int64_t(value) : int64_t(value);
    v->int_overflow = overflow;
    return true;
  }

  bool parse_sequence(PyValue* v, char close, PyValue::Kind kind, int depth) {
    ++pos_;
    v->kind = kind;
    if (eat(close)) return true;
    bool saw_comma = false;
    while (true) {
      PyValue item;
      if (!parse_value(&item, depth + 1)) return false;
      v->items.push_back(std::move(item));
      if (v->items.size() > kMaxRank + 1) return fail("too many elements");
      if (eat(close)) break;
      if (!eat(',')) return fail(str_cat("expected ',' or '", close, "'"));
      saw_comma = true;
      if (eat(close)) break;  // trailing comma: (3,)
    }
    // "(3)" is just the int 3 in Python, not a tuple (so it is then rejected as a shape).
    if (kind == PyValue::Kind::kTuple && v->items.size() == 1 && !saw_comma) {
      PyValue inner = std::move(v->items[0]);
      *v = std::move(inner);
    }
    return true;
  }

  bool parse_dict(PyValue* v, int depth) {
    ++pos_;
    v->kind = PyValue::Kind::kDict;
    if (eat('}')) return true;
    while (true) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return fail("expected a string key");
      std::string key;
      if (!parse_string(&key)) return false;
      if (!eat(':')) return fail("expected ':'");
      PyValue value;
      if (!parse_value(&value, depth + 1)) return false;
      for (auto& [k, unused] : v->dict)
        if (k == key) return fail(str_cat("duplicate key '", key, "'"));
      v->dict.emplace_back(std::move(key), std::move(value));
      if (eat('}')) break;
      if (!eat(',')) return fail("expected ',' or '}'");
      if (eat('}')) break;  // trailing comma
    }
    return true;
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

// ---- dtype strings ------------------------------------------------------------------------

bool dtype_from_descr(const std::string& descr, DType* dtype, bool* swap, std::string* why) {
  if (descr.size() < 2) {
    *why = str_cat("unsupported dtype '", descr, "'");
    return false;
  }
  char order = descr[0];
  std::string code = descr.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    order = '=';
    code = descr;  // e.g. "f4" without a byte-order mark
  }
  static const std::map<std::string, DType> codes = {
      {"b1", DType::kBool},   {"?", DType::kBool},    {"i1", DType::kInt8},    {"u1", DType::kUint8},
      {"i2", DType::kInt16},  {"u2", DType::kUint16}, {"i4", DType::kInt32},   {"u4", DType::kUint32},
      {"i8", DType::kInt64},  {"u8", DType::kUint64}, {"f2", DType::kFloat16}, {"f4", DType::kFloat32},
      {"f8", DType::kFloat64}};
  auto it = codes.find(code);
  if (it == codes.end()) {
    std::string kind;
    if (!code.empty()) {
      switch (code[0]) {
        case 'c':
          kind = " (complex numbers)";
          break;
        case 'U':
        case 'S':
        case 'a':
          kind = " (strings)";
          break;
        case 'O':
          kind = " (Python objects)";
          break;
        case 'V':
          kind = " (raw/structured records)";
          break;
        case 'M':
        case 'm':
          kind = " (dates/times)";
          break;
        case 'f':
          kind = " (this float width)";
          break;
        default:
          break;
      }
    }
    *why = str_cat("unsupported dtype '", descr, "'", kind,
                   "; supported: bool, int8/16/32/64, uint8/16/32/64, float16/32/64");
    return false;
  }
  *dtype = it->second;
  *swap = order == '>' && dtype_size(*dtype) > 1;
  return true;
}

const char* descr_for(DType t) {
  switch (t) {
    case DType::kBool:
      return "|b1";
    case DType::kInt8:
      return "|i1";
    case DType::kUint8:
      return "|u1";
    case DType::kInt16:
      return "<i2";
    case DType::kUint16:
      return "<u2";
    case DType::kInt32:
      return "<i4";
    case DType::kUint32:
      return "<u4";
    case DType::kInt64:
      return "<i8";
    case DType::kUint64:
      return "<u8";
    case DType::kFloat16:
      return "<f2";
    case DType::kFloat32:
      return "<f4";
    case DType::kFloat64:
      return "<f8";
    default:
      return nullptr;
  }
}

std::string python_tuple(const Shape& shape) {
  if (shape.empty()) return "()";
  std::string r = "(";
  for (size_t i = 0; i < shape.size(); ++i) r += (i ? ", " : "") + std::to_string(shape[i]);
  return r + (shape.size() == 1 ? ",)" : ")");
}

uint32_t read_le(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}

// Checks magic and version in the first bytes of a file of `total_size` bytes and returns where the
// header starts (*preamble_len) and how long it is (*header_len), checked against the file size.
Status parse_preamble(const std::string& head, uint64_t total_size, const std::string& name, size_t* header_len,
                      size_t* preamble_len) {
  if (head.size() < kMagicLen || std::memcmp(head.data(), kMagic, kMagicLen) != 0)
    return error(StatusCode::kInvalidArgument, "'", name, "' is not a .npy file (bad magic; expected \\x93NUMPY)");
  if (head.size() < kMagicLen + 2)
    return error(StatusCode::kInvalidArgument, "'", name, "': truncated .npy file (no version)");
  unsigned major = static_cast<unsigned char>(head[6]), minor = static_cast<unsigned char>(head[7]);
  if (major < 1 || major > 3 || minor != 0)
    return error(StatusCode::kUnsupported, "'", name, "': unsupported .npy format version ", major, ".", minor,
                 " (supported: 1.0, 2.0, 3.0)");
  size_t len_bytes = major == 1 ? 2 : 4;
  *preamble_len = kMagicLen + 2 + len_bytes;
  if (head.size() < *preamble_len)
    return error(StatusCode::kInvalidArgument, "'", name, "': truncated .npy file (no header length)");
  *header_len = read_le(reinterpret_cast<const unsigned char*>(head.data()) + 8, len_bytes);
  if (*header_len > kMaxHeaderLen)
    return error(StatusCode::kInvalidArgument, "'", name, "': .npy header length ", *header_len,
                 " is implausibly large");
  if (*preamble_len + *header_len > total_size)
    return error(StatusCode::kInvalidArgument, "'", name, "': truncated .npy file (header says ", *header_len,
                 " header bytes but the file has ", total_size, " bytes in all)");
  return Status::Ok();
}

Expected<NpyHeader> parse_header_text(const std::string& text, size_t preamble_len, uint64_t total_size,
                                      const std::string& name, int64_t max_bytes) {
  auto bad = [&](const std::string& why) {
    return error(StatusCode::kInvalidArgument, "'", name, "': malformed .npy header: ", why);
  };
  PyValue dict;
  std::string why;
  if (!LiteralParser(text).parse_header_dict(&dict, &why)) return bad(why);
  const PyValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (auto& [key, value] : dict.dict) {
    if (key == "descr")
      descr = &value;
    else if (key == "fortran_order")
      fortran = &value;
    else if (key == "shape")
      shape = &value;
    else
      return bad(str_cat("unexpected key '", key, "' (expected descr, fortran_order, shape)"));
  }
  if (!descr || !fortran || !shape) return bad("the header must have the keys 'descr', 'fortran_order' and 'shape'");

  NpyHeader h;
  if (descr->kind == PyValue::Kind::kList)
    return error(StatusCode::kUnsupported, "'", name, "': structured dtypes (records with fields) are not supported");
  if (descr->kind != PyValue::Kind::kString) return bad("'descr' must be a string");
  if (!dtype_from_descr(descr->str, &h.dtype, &h.swap_bytes, &why))
    return error(StatusCode::kUnsupported, "'", name, "': ", why);
  if (fortran->kind != PyValue::Kind::kBool) return bad("'fortran_order' must be True or False");
  if (fortran->b)
    return error(StatusCode::kUnsupported, "'", name,
                 "': Fortran-order (column-major) arrays are not supported; save a C-order copy "
                 "(np.save(path, np.ascontiguousarray(a)))");
  if (shape->kind != PyValue::Kind::kTuple) return bad("'shape' must be a tuple of integers");
  if (shape->items.size() > kMaxRank) return bad(str_cat("rank ", shape->items.size(), " is too large"));
  for (auto& d : shape->items) {
    if (d.kind != PyValue::Kind::kInt) return bad("'shape' must be a tuple of integers");
    if (d.int_overflow) return bad("a dimension of 'shape' does not fit in 64 bits");
    if (d.i < 0) return bad(str_cat("negative dimension ", d.i, " in 'shape'"));
    h.shape.push_back(d.i);
  }
  // Element count and byte size with overflow checks; nothing is allocated yet.
  auto numel = checked_numel(h.shape);
  if (!numel)
    return error(StatusCode::kInvalidArgument, "'", name, "': shape ", python_tuple(h.shape), " is too large");
  int64_t elem = int64_t(dtype_size(h.dtype));
  if (*numel > std::numeric_limits<int64_t>::max() / elem)
    return error(StatusCode::kInvalidArgument, "'", name, "': shape ", python_tuple(h.shape), " is too large");
  h.data_bytes = *numel * elem;
  h.data_offset = int64_t(preamble_len + text.size());
  h.file_size = int64_t(total_size);
  uint64_t available = total_size - uint64_t(h.data_offset);
  if (uint64_t(h.data_bytes) != available)
    return error(StatusCode::kInvalidArgument, "'", name, "': data size mismatch: shape ", python_tuple(h.shape),
                 " of ", dtype_name(h.dtype), " needs ", h.data_bytes, " bytes but the file holds ", available,
                 " bytes of data", uint64_t(h.data_bytes) > available ? " (truncated file?)" : "");
  if (h.data_bytes > max_bytes)
    return error(StatusCode::kResourceExhausted, "'", name, "': array of ", h.data_bytes,
                 " bytes exceeds the limit of ", max_bytes, " bytes");
  return h;
}

void swap_in_place(void* data, DType dtype, int64_t count) {
  size_t w = dtype_size(dtype);
  auto* p = static_cast<unsigned char*>(data);
  for (int64_t i = 0; i < count; ++i, p += w) std::reverse(p, p + w);
}
void swap_in_place(Tensor& t) { swap_in_place(t.raw(), t.dtype(), t.numel()); }

Expected<Tensor> allocate_for(const NpyHeader& h, const std::string& name, int64_t max_bytes) {
  auto t = Tensor::create(h.dtype, h.shape, max_bytes);
  if (!t) return t.status().with_context("'" + name + "'");
  return t;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

Expected<Tensor> parse_npy(const std::string& bytes, const std::string& display_name, int64_t max_bytes) {
  size_t header_len = 0, preamble_len = 0;
  LB_RETURN_IF_ERROR(parse_preamble(bytes, bytes.size(), display_name, &header_len, &preamble_len));
  LB_ASSIGN_OR_RETURN(NpyHeader h, parse_header_text(bytes.substr(preamble_len, header_len), preamble_len, bytes.size(),
                                                     display_name, max_bytes));
  LB_ASSIGN_OR_RETURN(Tensor t, allocate_for(h, display_name, max_bytes));
  if (h.data_bytes > 0) std::memcpy(t.raw(), bytes.data() + size_t(h.data_offset), size_t(h.data_bytes));
  if (h.swap_bytes) swap_in_place(t);
  return t;
}

namespace {

// Opens a regular file for reading and tells its size. Devices and pipes are refused: they have no
// size to check the header against (and /dev/zero never ends).
Status open_regular_file(const std::string& path, std::ifstream& in, uint64_t* size) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    return error(StatusCode::kNotFound, "cannot open '", path, "': no such file");
  if (std::filesystem::is_directory(status))
    return error(StatusCode::kIoError, "cannot read '", path, "': it is a directory");
  if (!std::filesystem::is_regular_file(status))
    return error(StatusCode::kIoError, "cannot read '", path, "': not a regular file");
  in.open(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, "cannot open '", path, "': ", errno_text(errno));
  in.seekg(0, std::ios::end);
  std::streamoff end = in.tellg();
  if (end < 0) return error(StatusCode::kIoError, "cannot read '", path, "': not a seekable file");
  *size = uint64_t(end);
  in.seekg(0);
  return Status::Ok();
}

Expected<NpyHeader> read_header_from(std::ifstream& in, uint64_t total, const std::string& path, int64_t max_bytes) {
  // Preamble first (at most 12 bytes), then exactly the header it announces.
  std::string head(std::min<uint64_t>(total, kMagicLen + 2 + 4), '\0');
  in.read(head.data(), std::streamsize(head.size()));
  if (!in) return error(StatusCode::kIoError, "cannot read '", path, "'");
  size_t header_len = 0, preamble_len = 0;
  LB_RETURN_IF_ERROR(parse_preamble(head, total, path, &header_len, &preamble_len));
  std::string header(header_len, '\0');
  in.seekg(std::streamoff(preamble_len));
  in.read(header.data(), std::streamsize(header_len));
  if (!in) return error(StatusCode::kIoError, "cannot read the header of '", path, "'");
  return parse_header_text(header, preamble_len, total, path, max_bytes);
}

}  // namespace

Expected<NpyHeader> read_npy_header(const std::string& path) {
  std::ifstream in;
  uint64_t total = 0;
  LB_RETURN_IF_ERROR(open_regular_file(path, in, &total));
  return read_header_from(in, total, path, std::numeric_limits<int64_t>::max());
}

Status read_npy_elements(const std::string& path, const NpyHeader& header, int64_t first, int64_t count, void* dst) {
  const int64_t elem = int64_t(dtype_size(header.dtype));
  const int64_t numel = elem > 0 ? header.data_bytes / elem : 0;
  if (first < 0 || count < 0 || first > numel || count > numel - first)
    return error(StatusCode::kOutOfRange, "'", path, "': elements [", first, ", ", first + count,
                 ") are outside its array of ", numel, " elements");
  if (count == 0) return Status::Ok();
  std::ifstream in;
  uint64_t total = 0;
  LB_RETURN_IF_ERROR(open_regular_file(path, in, &total));
  // The header was read earlier (possibly long ago, by CalibrationData::open): a file rewritten since
  // would be read at wrong offsets, so at least its size must be unchanged.
  if (int64_t(total) != header.file_size)
    return error(StatusCode::kIoError, "'", path, "' changed since its header was read (", header.file_size,
                 " bytes then, ", total, " now)");
  in.seekg(std::streamoff(header.data_offset + first * elem));
  in.read(static_cast<char*>(dst), std::streamsize(count * elem));
  if (!in || in.gcount() != std::streamsize(count * elem))
    return error(StatusCode::kIoError, "cannot read the data of '", path, "' (file changed while reading?)");
  if (header.swap_bytes) swap_in_place(dst, header.dtype, count);
  return Status::Ok();
}

Expected<Tensor> read_npy(const std::string& path, int64_t max_bytes) {
  std::ifstream in;
  uint64_t total = 0;
  LB_RETURN_IF_ERROR(open_regular_file(path, in, &total));
  LB_ASSIGN_OR_RETURN(NpyHeader h, read_header_from(in, total, path, max_bytes));
  LB_ASSIGN_OR_RETURN(Tensor t, allocate_for(h, path, max_bytes));
  if (h.data_bytes > 0) {
    in.seekg(std::streamoff(h.data_offset));
    in.read(static_cast<char*>(t.raw()), std::streamsize(h.data_bytes));
    if (!in || in.gcount() != std::streamsize(h.data_bytes))
      return error(StatusCode::kIoError, "cannot read the data of '", path, "' (file changed while reading?)");
  }
  if (h.swap_bytes) swap_in_place(t);
  return t;
}

std::string serialize_npy(const Tensor& t) {
  // numpy has no bfloat16: widen to float32 so the file stays readable everywhere.
  if (t.dtype() == DType::kBFloat16) {
    Tensor wide(DType::kFloat32, t.shape());
    const uint16_t* src = t.data<uint16_t>();
    float* dst = wide.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) dst[i] = bfloat16_to_float(src[i]);
    return serialize_npy(wide);
  }
  const char* descr = descr_for(t.dtype());
  if (!descr) return "";
  std::string dict =
      str_cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", python_tuple(t.shape()), ", }");
  // Version 1.0 unless the header does not fit in 16 bits; total preamble+header is a multiple of 64.
  bool v2 = dict.size() + 1 + 10 + 64 > 65535;
  size_t preamble = v2 ? 12 : 10;
  size_t padded = ((preamble + dict.size() + 1 + 63) / 64) * 64 - preamble;
  dict.append(padded - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicLen);
  out.push_back(char(v2 ? 2 : 1));
  out.push_back(0);
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out.push_back(char((dict.size() >> (8 * i)) & 0xff));
  out += dict;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
  if (!descr_for(t.dtype()) && t.dtype() != DType::kBFloat16)
    return error(StatusCode::kUnsupported, "cannot write '", path, "': dtype ", dtype_name(t.dtype()),
                 " has no .npy equivalent");
  std::string bytes = serialize_npy(t);
  // Temp file in the same folder so the rename is atomic.
  std::random_device rd;
  std::string tmp = str_cat(path, ".tmp-", getpid(), "-", rd() % 1000000);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return error(StatusCode::kIoError, "cannot write '", path, "': ", errno_text(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  int err = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    return error(StatusCode::kIoError, "cannot write '", path, "': ", errno_text(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    return error(StatusCode::kIoError, "cannot write '", path, "': ", errno_text(err));
  }
  return Status::Ok();
}

}  // namespace lowbit
