// Status and Expected<T>: lowbit never throws or aborts on bad user input.
// Every error carries a code and a message that names the file / node / tensor at fault.
//
//   lowbit::Expected<lowbit::Tensor> t = lowbit::read_npy("x.npy");
//   if (!t) { std::cerr << t.status().message() << "\n"; return 1; }
#pragma once
#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace lowbit {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad command line / bad API argument / bad input tensor
  kInvalidModel,      // malformed or inconsistent model file
  kUnsupported,       // valid ONNX that lowbit does not implement (yet)
  kNotFound,          // missing file / input name / tensor
  kIoError,           // cannot read or write a file
  kOutOfRange,        // index / size outside what the data allows
  kResourceExhausted, // would exceed a memory cap
  kInternal,          // a lowbit bug
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Adds context in front: "while importing 'model.onnx': <message>".
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Builds a message from any streamable pieces: str_cat("node '", name, "': bad axis ", axis).
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <typename... Args>
Status error(StatusCode code, const Args&... args) {
  return Status(code, str_cat(args...));
}

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}             // NOLINT: implicit on purpose
  Expected(Status status) : v_(std::move(status)) {}      // NOLINT: must be an error
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lowbit

#define LB_CONCAT_INNER(a, b) a##b
#define LB_CONCAT(a, b) LB_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if it is an error.
#define LB_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::lowbit::Status lb_status_ = (expr);         \
    if (!lb_status_.ok()) return lb_status_;      \
  } while (0)

// LB_ASSIGN_OR_RETURN(auto x, expected_expr);
#define LB_ASSIGN_OR_RETURN(lhs, expr) LB_ASSIGN_OR_RETURN_IMPL(LB_CONCAT(lb_expected_, __LINE__), lhs, expr)
#define LB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
