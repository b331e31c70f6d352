// One MariaDB/MySQL client connection (Connector/C), with every driver error turned into a
// ferry::Error at this edge. All other files of the connector talk to the server through it.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::mysql {

// Owns a MYSQL_RES; frees it on destruction.
class MyResult {
 public:
  MyResult() = default;
  explicit MyResult(MYSQL_RES* res) : res_(res) {}
  MyResult(MyResult&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
  MyResult& operator=(MyResult&& other) noexcept {
    if (this != &other) {
      Reset();
      res_ = other.res_;
      other.res_ = nullptr;
    }
    return *this;
  }
  MyResult(const MyResult&) = delete;
  MyResult& operator=(const MyResult&) = delete;
  ~MyResult() { Reset(); }

  MYSQL_RES* get() const { return res_; }
  explicit operator bool() const { return res_ != nullptr; }
  void Reset() {
    if (res_) mysql_free_result(res_);
    res_ = nullptr;
  }

 private:
  MYSQL_RES* res_ = nullptr;
};

using TextRow = std::vector<std::optional<std::string>>;

class MyConnection {
 public:
  // Connects to `uri` (host, port, user, password, database; `database_override` replaces
  // the URI's database when not null, "" connects without a default database) and sets the
  // session up (see Connect in my_connection.cc for the settings and why).
  // Throws Error(kAuth | kConnection | kNotFound) naming user@host:port and the database.
  // `extra_client_flags` are added to the mysql_real_connect flags (the CDC applier passes
  // CLIENT_FOUND_ROWS so an UPDATE reports the rows it matched, not those it changed).
  MyConnection(const EndpointUri& uri, const std::string* database_override = nullptr,
               unsigned long extra_client_flags = 0);
  MyConnection(const MyConnection&) = delete;
  MyConnection& operator=(const MyConnection&) = delete;
  ~MyConnection();

  MYSQL* get() const { return my_; }
  const EndpointUri& uri() const { return uri_; }

  // Runs `sql` (possibly several statements) and discards every result. `what` names the
  // object for error messages ("creating table db.t").
  void Execute(std::string_view sql, std::string_view what = {});
  // Runs one query and returns all its rows as text (use only for small results).
  std::vector<TextRow> Query(std::string_view sql, std::string_view what = {});
  // Sends `sql` and returns a streaming result (mysql_use_result): rows are fetched from the
  // socket one at a time and memory stays flat.
  MyResult QueryStreaming(std::string_view sql, std::string_view what = {});

  // Runs `load_sql`, a LOAD DATA LOCAL INFILE statement, feeding it `data` from memory whatever
  // file name it asks for (no file on disk is ever read); returns the rows affected. Throws
  // like Execute.
  uint64_t LoadDataFromMemory(std::string_view load_sql, const std::string& data,
                              std::string_view what);

  // Throws the Error for the connection's last failure: kind from the error code, message
  // "<what>: <server text> (MySQL error <code>)".
  [[noreturn]] void ThrowLastError(std::string_view what) const;
  // "user@host:port".
  std::string Where() const;

 private:
  void Connect(const std::string& database, unsigned long extra_client_flags);

  EndpointUri uri_;
  MYSQL* my_ = nullptr;
};

// The ErrorKind for a client or server error code.
ErrorKind KindForMysqlError(unsigned code);

}  // namespace ferry::mysql
