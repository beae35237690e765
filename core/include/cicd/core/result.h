#pragma once
// Expected failures as values (STYLE.md principle 4). Exceptions are kept for
// broken contracts and start-up misconfiguration only.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace cicd {

// What kind of failure a Status carries; callers branch on the kind, users
// read the message.
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // bad user input: config, flags, request bodies
  kNotFound,
  kParse,            // a payload that is not what the contract says
  kUnavailable,      // connection refused, 5xx
  kTimeout,
  kUnauthenticated,  // 401 / 403 without rate-limit headers
  kRateLimited,      // 429 or 403 with an exhausted quota
  kIo,
  kResourceExhausted,  // a response or request larger than allowed
  kCancelled,          // the process is stopping
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

// A success or an error with a message a user can act on. Cheap to copy.
class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(ErrorCode code, std::string message) {
    assert(code != ErrorCode::kOk);
    return Status(code, std::move(message));
  }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "kind: message", for logs.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const;

 private:
  Status(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status::Error(ErrorCode::kInvalidArgument, std::move(m));
}
inline Status ParseError(std::string m) {
  return Status::Error(ErrorCode::kParse, std::move(m));
}

// Either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                    // NOLINT
  Result(Status status) : v_(std::move(status)) {              // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cicd
