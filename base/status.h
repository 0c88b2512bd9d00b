// Status and Result: how every module reports failure across a boundary.
//
// A Status is a code, an optional Cosmos sub-status and a message. It is
// [[nodiscard]]: ignoring one is a bug; when a caller really means to drop it,
// it says so with IgnoreError(). Codes are Cosmos-flavoured because the product
// speaks Cosmos, but nothing here knows about HTTP: codes map to HTTP
// statuses in one place (base/http_status.h).
//
// Result<T> holds either a value or a non-OK Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace regionlab {

enum class StatusCode : int {
  kOk = 0,
  kNotModified,         // conditional read: nothing changed
  kBadRequest,          // the input is malformed or violates a rule
  kUnauthorized,        // missing or wrong signature
  kForbidden,           // refused (e.g. writes to a region taken offline)
  kNotFound,            // no such resource
  kConflict,            // the resource already exists
  kPreconditionFailed,  // If-Match / fence mismatch
  kTooLarge,            // request entity too large
  kTooManyRequests,     // throttled
  kUnavailable,         // region offline or dependency down
  kInternal,            // a bug or an unexpected failure
  kIOError,             // the store failed
  kCorruption,          // persisted data does not decode
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, int substatus = 0)
      : code_(code), substatus_(substatus), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadRequest(std::string m) { return {StatusCode::kBadRequest, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {StatusCode::kUnauthorized, std::move(m)}; }
  static Status Forbidden(std::string m, int sub = 0) {
    return {StatusCode::kForbidden, std::move(m), sub};
  }
  static Status NotFound(std::string m, int sub = 0) {
    return {StatusCode::kNotFound, std::move(m), sub};
  }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status PreconditionFailed(std::string m) {
    return {StatusCode::kPreconditionFailed, std::move(m)};
  }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status NotModified() { return {StatusCode::kNotModified, ""}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  int substatus() const { return substatus_; }
  const std::string& message() const { return message_; }
  bool Is(StatusCode c) const { return code_ == c; }

  // "NotFound: message" — for logs.
  std::string ToString() const;

  // Explicitly drops the status. Use only where failure truly does not matter.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  int substatus_ = 0;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace regionlab

// Propagates a non-OK Status from an expression returning Status.
#define RL_RETURN_IF_ERROR(expr)         \
  do {                                   \
    ::regionlab::Status _rl_st = (expr); \
    if (!_rl_st.ok()) return _rl_st;     \
  } while (0)
