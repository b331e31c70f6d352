// Errors in Ferry carry a kind, and the kind decides what the task does next:
// retry (transient), skip or log the row (data), stop the table (schema, unsupported),
// or stop the task (fatal, config, auth).
//
// Inside a subsystem, failures are thrown as ferry::Error; library exceptions and C error
// codes (libpq, libmariadb, sqlite3) are turned into ferry::Error at the connector edge.
// Module boundaries that expect failure as a normal outcome (URI parsing, config parsing)
// return ferry::Result<T> instead.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace ferry {

enum class ErrorKind {
  kInvalidArgument,  // the user's input (URI, flag, JSON) is malformed
  kConnection,       // cannot reach the server, or the connection dropped (retryable)
  kAuth,             // the server refused the credentials
  kNotFound,         // a database, schema, table or column that should exist does not
  kUnsupported,      // a type or feature Ferry cannot handle; names the object
  kData,             // one value cannot be read, converted or written; names table/column/key
  kSchema,           // DDL failed, or source and target disagree on a table's shape
  kIo,               // local file system
  kCancelled,        // the operation was asked to stop
  kInternal,         // a bug in Ferry
};

const char* ErrorKindName(ErrorKind kind);

// True for kinds worth retrying after a pause (a dropped connection, a restarted server).
inline bool IsTransient(ErrorKind kind) { return kind == ErrorKind::kConnection; }

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// A value or the error that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}                      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}                  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { Check(); return std::get<T>(v_); }
  T& value() & { Check(); return std::get<T>(v_); }
  T&& value() && { Check(); return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(v_); }
  // Returns the value or throws the error.
  T ValueOrThrow() && {
    if (!ok()) throw std::get<Error>(v_);
    return std::get<T>(std::move(v_));
  }

 private:
  void Check() const {
    if (!ok()) throw std::get<Error>(v_);
  }
  std::variant<T, Error> v_;
};

}  // namespace ferry
