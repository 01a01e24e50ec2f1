#include "onnx/external_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

namespace lowbit {

namespace {

// Strict decimal parse: external_data values are written by ONNX as plain integers.
bool parse_non_negative_int64(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (v > (std::numeric_limits<int64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

std::string real_path(const std::string& p, int* err) {
  std::unique_ptr<char, decltype(&std::free)> r(realpath(p.c_str(), nullptr), &std::free);
  if (!r) {
    *err = errno;
    return "";
  }
  return r.get();
}

// Closes the descriptor on every return path.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status check_regular_file(const std::string& path, int64_t* size_out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT) return error(StatusCode::kNotFound, "file not found");
    return error(StatusCode::kIoError, "cannot access the file: ", std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) return error(StatusCode::kIoError, "is a directory, not a file");
  if (!S_ISREG(st.st_mode)) return error(StatusCode::kIoError, "is not a regular file");
  if (size_out) *size_out = int64_t(st.st_size);
  return Status::Ok();
}

Expected<ExternalDataRef> parse_external_data_entries(const std::vector<std::pair<std::string, std::string>>& entries,
                                                      const std::string& tensor_name) {
  ExternalDataRef ref;
  bool has_location = false;
  for (auto& [key, value] : entries) {
    if (key == "location") {
      ref.location = value;
      has_location = true;
    } else if (key == "offset") {
      if (!parse_non_negative_int64(value, &ref.offset))
        return error(StatusCode::kInvalidModel, "tensor '", tensor_name, "': external data offset '", value,
                     "' is not a non-negative integer");
    } else if (key == "length") {
      int64_t len = 0;
      if (!parse_non_negative_int64(value, &len))
        return error(StatusCode::kInvalidModel, "tensor '", tensor_name, "': external data length '", value,
                     "' is not a non-negative integer");
      ref.length = len;
    } else if (key == "checksum") {
      ref.checksum = value;
    }
  }
  if (!has_location || ref.location.empty())
    return error(StatusCode::kInvalidModel, "tensor '", tensor_name,
                 "': data_location is EXTERNAL but no 'location' is given in external_data");
  return ref;
}

Expected<std::string> resolve_external_path(const std::string& base_dir, const std::string& location,
                                            const std::string& tensor_name) {
  auto fail = [&](StatusCode code, const std::string& why) {
    return error(code, "tensor '", tensor_name, "': external data file '", location, "' ", why);
  };
  if (base_dir.empty())
    return fail(StatusCode::kInvalidModel,
                "cannot be read: external data is only allowed for models loaded from a file");
  if (location.find('\0') != std::string::npos) return fail(StatusCode::kInvalidModel, "contains a NUL character");
  if (location[0] == '/' || location[0] == '\\' ||
      (location.size() > 2 && std::isalpha(static_cast<unsigned char>(location[0])) && location[1] == ':' &&
       (location[2] == '\\' || location[2] == '/')))
    return fail(StatusCode::kInvalidModel, "is an absolute path; it must be relative to the model's folder");
  // Split on both separators: a model written on Windows must not sneak ".." past us.
  size_t start = 0;
  while (start <= location.size()) {
    size_t end = location.find_first_of("/\\", start);
    if (end == std::string::npos) end = location.size();
    if (location.compare(start, end - start, "..") == 0)
      return fail(StatusCode::kInvalidModel, "contains '..'; it must stay inside the model's folder");
    start = end + 1;
  }
  int err = 0;
  std::string base_real = real_path(base_dir, &err);
  if (base_real.empty())
    return fail(StatusCode::kIoError, str_cat("cannot be read: model folder '", base_dir, "': ", std::strerror(err)));
  std::string file_real = real_path(base_dir + "/" + location, &err);
  if (file_real.empty()) {
    if (err == ENOENT) return fail(StatusCode::kNotFound, "was not found next to the model");
    return fail(StatusCode::kIoError, str_cat("cannot be read: ", std::strerror(err)));
  }
  std::string prefix = base_real == "/" ? "/" : base_real + "/";
  if (file_real.compare(0, prefix.size(), prefix) != 0 || file_real.size() == prefix.size())
    return fail(StatusCode::kInvalidModel,
                "resolves (through a symlink) to '" + file_real + "', outside the model's folder");
  return file_real;
}

Status read_external_data(const std::string& base_dir, const ExternalDataRef& ref, const std::string& tensor_name,
                          int64_t expected_bytes, void* dst) {
  LB_ASSIGN_OR_RETURN(std::string path, resolve_external_path(base_dir, ref.location, tensor_name));
  auto fail = [&](StatusCode code, const auto&... why) {
    return error(code, "tensor '", tensor_name, "': external data file '", ref.location, "' ", why...);
  };
  FdCloser fd{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) return fail(StatusCode::kIoError, "cannot be opened: ", std::strerror(errno));
  // fstat the descriptor we read from, so the checks apply to exactly that file.
  struct stat st;
  if (fstat(fd.fd, &st) != 0) return fail(StatusCode::kIoError, "cannot be read: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(StatusCode::kInvalidModel, "is not a regular file");
  int64_t file_size = int64_t(st.st_size);
  if (ref.offset > file_size)
    return fail(StatusCode::kInvalidModel, "is ", file_size, " bytes; offset ", ref.offset, " lies past its end");
  int64_t length = ref.length ? *ref.length : file_size - ref.offset;
  if (ref.length && *ref.length > file_size - ref.offset)  // written this way so offset + length cannot overflow
    return fail(StatusCode::kInvalidModel, "is ", file_size, " bytes; offset ", ref.offset, " + length ", *ref.length,
                " lies past its end");
  if (length != expected_bytes)
    return fail(StatusCode::kInvalidModel, ref.length ? "holds " : "has ", length,
                ref.length ? " bytes for it (length)" : " bytes after the offset (no length given)",
                ", but its dims and type need ", expected_bytes, " bytes");
  char* out = static_cast<char*>(dst);
  int64_t done = 0;
  while (done < length) {
    size_t chunk = size_t(std::min<int64_t>(length - done, int64_t(1) << 30));
    ssize_t n = pread(fd.fd, out + done, chunk, off_t(ref.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(StatusCode::kIoError, "read failed: ", std::strerror(errno));
    }
    if (n == 0) return fail(StatusCode::kIoError, "ended early (was it truncated while reading?)");
    done += n;
  }
  return Status::Ok();
}

}  // namespace lowbit
