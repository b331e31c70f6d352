// RAII over the sqlite3 C API: one Connection per Ferry object (catalog, reader, writer,
// session), prepared Statements, and the translation of SQLite result codes into ferry::Error.
//
// Connections are opened with SQLITE_OPEN_NOMUTEX: each one is used by a single thread at a
// time (the connector contract), so SQLite's own per-connection mutex would only cost time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/text.h"

namespace ferry::sqlite {

// How long a statement waits for another connection's lock before SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 10'000;

// Throws Error for a failed call: kConnection for BUSY/LOCKED (retryable), kNotFound for
// CANTOPEN, kData for constraint violations and mismatches, kIo for I/O and a corrupt or
// non-database file, kInternal otherwise. `what` says what was being done ("preparing ...").
[[noreturn]] void ThrowSqliteError(sqlite3* db, int rc, std::string_view what);

class Statement;

class Connection {
 public:
  enum class Mode {
    kReadOnly,   // source: the file must exist
    kReadWrite,  // target: created when missing; its directory must exist
  };

  // Opens `path`, sets busy_timeout and checks it is a SQLite database (reads the schema).
  // Throws Error(kNotFound) when a read-only file or a read-write file's directory is
  // missing, Error(kIo) naming the path for a file that is not a database.
  Connection(const std::string& path, Mode mode);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

  // Runs one or more statements without results (sqlite3_exec). Throws on failure.
  void Exec(const std::string& sql);
  // Like Exec but returns the result code instead of throwing on SQLITE_BUSY.
  int ExecBusyAware(const std::string& sql);
  // BEGIN IMMEDIATE (SQLite's write lock), tried again while another process holds it (each
  // attempt waits busy_timeout) for up to `wait_seconds`; then Error(kConnection) naming the
  // file.
  void BeginImmediate(int wait_seconds);
  // Runs a query returning one integer (first column of the first row); `fallback` when
  // there is no row or it is NULL.
  int64_t QueryInt(const std::string& sql, int64_t fallback = 0);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(Connection& conn, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const { return stmt_; }
  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else throws (naming `what`).
  bool Step();
  void Reset() { sqlite3_reset(stmt_); }
  void BindText(int index, std::string_view text);  // SQLITE_TRANSIENT: copies
  void BindInt(int index, int64_t value);
  std::string_view ColumnText(int col) const;
  bool ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  Connection& conn_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Identifiers are quoted with DoubleQuoteIdent (common/text.h): "name" with embedded quotes
// doubled.

// The SQLite string literal of `text` (Dialect::QuoteLiteral): 'text' with embedded quotes
// doubled (SQLite has no backslash escapes). Throws Error(kData) on a NUL byte: SQLite's
// tokenizer ends a statement there.
std::string QuoteLiteral(std::string_view text);

}  // namespace ferry::sqlite
