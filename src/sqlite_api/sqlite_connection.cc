#include "sqlite_api/sqlite_connection.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>

namespace ferry::sqlite {

namespace {

ErrorKind KindOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorKind::kConnection;
    case SQLITE_CANTOPEN:
      return ErrorKind::kNotFound;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return ErrorKind::kData;
    case SQLITE_IOERR:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return ErrorKind::kIo;
    case SQLITE_AUTH:
      return ErrorKind::kAuth;
    case SQLITE_INTERRUPT:
      return ErrorKind::kCancelled;
    case SQLITE_ERROR:
      // Syntax errors, missing tables and columns: the statement does not fit the schema.
      return ErrorKind::kSchema;
    default:
      return ErrorKind::kInternal;
  }
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void ThrowSqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  throw Error(KindOf(rc), fmt::format("SQLite error {}{}: {} (code {})", what,
                                      file && *file ? fmt::format(" in '{}'", file) : "", msg,
                                      rc));
}

Connection::Connection(const std::string& path, Mode mode) : path_(path) {
  struct stat st;
  int flags = SQLITE_OPEN_NOMUTEX;
  if (mode == Mode::kReadOnly) {
    if (stat(path.c_str(), &st) != 0) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("SQLite database file '{}' does not exist", path));
    }
    if (S_ISDIR(st.st_mode)) {
      throw Error(ErrorKind::kIo,
                  fmt::format("SQLite database file '{}' is a directory, not a file", path));
    }
    flags |= SQLITE_OPEN_READONLY;
  } else {
    const std::string dir = DirectoryOf(path);
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("directory '{}' of SQLite database file '{}' does not exist", dir,
                              path));
    }
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      throw Error(ErrorKind::kIo,
                  fmt::format("SQLite database file '{}' is a directory, not a file", path));
    }
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error(KindOf(rc), fmt::format("cannot open SQLite database file '{}': {}", path, msg));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // The open is lazy: reading the schema is what finds a file that is not a database.
  rc = sqlite3_exec(db_, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db_);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    if ((rc & 0xff) == SQLITE_NOTADB) {
      throw Error(ErrorKind::kIo,
                  fmt::format("'{}' is not a SQLite database ({})", path, msg));
    }
    throw Error(KindOf(rc), fmt::format("cannot read SQLite database file '{}': {}", path, msg));
  }
}

Connection::~Connection() {
  if (db_) sqlite3_close_v2(db_);
}

void Connection::Exec(const std::string& sql) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string head = sql.size() > 200 ? sql.substr(0, 200) + "..." : sql;
    ThrowSqliteError(db_, rc, fmt::format("running '{}'", head));
  }
}

int Connection::ExecBusyAware(const std::string& sql) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY) return rc;
  ThrowSqliteError(db_, rc, fmt::format("running '{}'", sql));
}

void Connection::BeginImmediate(int wait_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (ExecBusyAware("BEGIN IMMEDIATE") != SQLITE_OK) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ErrorKind::kConnection,
                  fmt::format("SQLite database '{}' stayed locked by another writer for {} "
                              "seconds",
                              path(), wait_seconds));
    }
  }
}

int64_t Connection::QueryInt(const std::string& sql, int64_t fallback) {
  Statement st(*this, sql);
  if (!st.Step() || st.ColumnIsNull(0)) return fallback;
  return st.ColumnInt(0);
}

Statement::Statement(Connection& conn, std::string_view sql) : conn_(conn) {
  int rc = sqlite3_prepare_v2(conn.get(), sql.data(), static_cast<int>(sql.size()), &stmt_,
                              nullptr);
  if (rc != SQLITE_OK) {
    std::string head(sql.substr(0, 200));
    if (sql.size() > 200) head += "...";
    ThrowSqliteError(conn.get(), rc, fmt::format("preparing '{}'", head));
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  if (sql.size() > 200) sql = sql.substr(0, 200) + "...";
  ThrowSqliteError(conn_.get(), rc, fmt::format("running '{}'", sql));
}

void Statement::BindText(int index, std::string_view text) {
  int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) ThrowSqliteError(conn_.get(), rc, "binding a parameter");
}

void Statement::BindInt(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) ThrowSqliteError(conn_.get(), rc, "binding a parameter");
}

std::string_view Statement::ColumnText(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string QuoteLiteral(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    throw Error(ErrorKind::kData, "a SQLite string literal cannot hold a NUL byte");
  }
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace ferry::sqlite
