#include "connectors/mysql/my_connection.h"

#include <errmsg.h>
#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace ferry::mysql {

ErrorKind KindForMysqlError(unsigned code) {
  switch (code) {
    case ER_ACCESS_DENIED_ERROR:       // 1045
    case ER_DBACCESS_DENIED_ERROR:     // 1044
    case ER_TABLEACCESS_DENIED_ERROR:  // 1142
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
      return ErrorKind::kAuth;
    case ER_BAD_DB_ERROR:   // 1049
    case ER_NO_SUCH_TABLE:  // 1146
    case ER_BAD_TABLE_ERROR:
      return ErrorKind::kNotFound;
    case CR_CONNECTION_ERROR:   // 2002
    case CR_CONN_HOST_ERROR:    // 2003
    case CR_UNKNOWN_HOST:       // 2005
    case CR_SERVER_GONE_ERROR:  // 2006
    case CR_SERVER_LOST:        // 2013
    case CR_SERVER_LOST_EXTENDED:
    case ER_LOCK_WAIT_TIMEOUT:  // transient: worth a retry
    case ER_LOCK_DEADLOCK:
    case ER_CON_COUNT_ERROR:
      return ErrorKind::kConnection;
    case ER_DUP_ENTRY:
    case ER_WARN_DATA_OUT_OF_RANGE:           // 1264
    case WARN_DATA_TRUNCATED:                 // 1265
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:  // 1366
    case ER_TRUNCATED_WRONG_VALUE:            // 1292
    case ER_DATA_TOO_LONG:                    // 1406
    case ER_BAD_NULL_ERROR:
    case ER_CONSTRAINT_FAILED:  // json_valid CHECK
    case ER_INVALID_CHARACTER_STRING:
      return ErrorKind::kData;
    default:
      return ErrorKind::kSchema;
  }
}

namespace {

// TLS as the URI asks (ssl-mode, ssl-ca, ssl-cert, ssl-key, named as the mariadb client names
// them). ssl-mode: disabled, preferred (TLS when the server offers it), required, verify_ca,
// verify_identity; with ssl-ca and no ssl-mode, verify_ca. Connector/C checks the host name
// whenever it verifies the certificate, so verify_ca does too.
void ConfigureTls(MYSQL* my, const EndpointUri& uri) {
  std::string mode = uri.Param("ssl-mode");
  std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) {
    return c == '-' ? '_' : static_cast<char>(std::tolower(c));
  });
  const std::string ca = uri.Param("ssl-ca"), cert = uri.Param("ssl-cert"),
                    key = uri.Param("ssl-key");
  if (mode.empty()) mode = !ca.empty() ? "verify_ca" : (!cert.empty() ? "preferred" : "");
  if (mode.empty() || mode == "disabled") return;
  const bool verify = mode == "verify_ca" || mode == "verify_identity";
  if (mode != "preferred" && mode != "required" && !verify) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("MySQL URI parameter ssl-mode='{}': expected disabled, preferred, "
                            "required, verify_ca or verify_identity",
                            uri.Param("ssl-mode")));
  }
  if (verify && ca.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("MySQL URI parameter ssl-mode={} needs ssl-ca (the certificate "
                            "authority that signed the server's certificate)",
                            uri.Param("ssl-mode").empty() ? mode : uri.Param("ssl-mode")));
  }
  mysql_ssl_set(my, key.empty() ? nullptr : key.c_str(), cert.empty() ? nullptr : cert.c_str(),
                ca.empty() ? nullptr : ca.c_str(), nullptr, nullptr);
  my_bool enforce = mode != "preferred";
  mysql_optionsv(my, MYSQL_OPT_SSL_ENFORCE, &enforce);
  my_bool verify_cert = verify;
  mysql_optionsv(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify_cert);
}

}  // namespace

MyConnection::MyConnection(const EndpointUri& uri, const std::string* database_override,
                           unsigned long extra_client_flags)
    : uri_(uri) {
  Connect(database_override ? *database_override : uri.database, extra_client_flags);
}

MyConnection::~MyConnection() {
  if (my_) mysql_close(my_);
}

std::string MyConnection::Where() const {
  return fmt::format("{}@{}:{}", uri_.user, uri_.host.empty() ? "localhost" : uri_.host,
                     uri_.PortOrDefault());
}

void MyConnection::Connect(const std::string& database, unsigned long extra_client_flags) {
  my_ = mysql_init(nullptr);
  if (!my_) throw Error(ErrorKind::kInternal, "mysql_init failed (out of memory)");
  unsigned timeout = 10;
  unsigned local_infile = 1;
  mysql_options(my_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(my_, MYSQL_OPT_LOCAL_INFILE, &local_infile);
  mysql_options(my_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  try {
    ConfigureTls(my_, uri_);
  } catch (...) {
    mysql_close(my_);
    my_ = nullptr;
    throw;
  }
  const std::string host = uri_.host.empty() ? "127.0.0.1" : uri_.host;
  // Without a password in the URI (or a password file), the mysql client's MYSQL_PWD.
  const char* env_password = std::getenv("MYSQL_PWD");
  const std::string password =
      uri_.password.empty() && env_password != nullptr ? env_password : uri_.password;
  if (!mysql_real_connect(my_, host.c_str(), uri_.user.c_str(), password.c_str(),
                          database.empty() ? nullptr : database.c_str(),
                          static_cast<unsigned>(uri_.PortOrDefault()), nullptr,
                          CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | extra_client_flags)) {
    const unsigned code = mysql_errno(my_);
    const std::string text = mysql_error(my_);
    mysql_close(my_);
    my_ = nullptr;
    const ErrorKind kind = KindForMysqlError(code);
    std::string what;
    if (kind == ErrorKind::kNotFound) {
      what = fmt::format("MySQL database '{}' not found on {}", database, Where());
    } else if (kind == ErrorKind::kAuth) {
      what = fmt::format("MySQL refused the credentials of {} (database '{}')", Where(), database);
    } else {
      what = fmt::format("cannot connect to MySQL server {} (database '{}')", Where(), database);
    }
    // The server never echoes the password, so its text is safe to keep.
    throw Error(kind == ErrorKind::kSchema ? ErrorKind::kConnection : kind,
                fmt::format("{}: {} (MySQL error {})", what, text, code));
  }
  // Session settings, all in one round trip:
  // - time_zone +00:00: TIMESTAMP values are read and written as UTC, which is what the type
  //   model carries for zoned datetimes.
  // - sql_mode: STRICT_ALL_TABLES turns every out-of-range, truncated or invalid value into
  //   an error on write instead of a silent clamp (for every engine, not only transactional
  //   ones). NO_ZERO_DATE / NO_ZERO_IN_DATE are deliberately absent: reads are not affected
  //   by them, but leaving them out keeps zero dates comparable in a user WHERE clause; the
  //   writer never sends a zero date anyway (values are checked first). NO_AUTO_VALUE_ON_ZERO
  //   keeps an explicit 0 in an AUTO_INCREMENT column of an existing target table as 0.
  //   NO_ENGINE_SUBSTITUTION makes ENGINE=InnoDB fail loudly rather than fall back.
  //   NO_BACKSLASH_ESCAPES stays off: LOAD DATA and our string literals use backslash escapes.
  // - net_read/write_timeout: a streaming read can sit idle for a long time while the
  //   downstream writer is slow; the server must not cut the connection meanwhile.
  // - character set: SET NAMES utf8mb4 (also set at connect) so text arrives as UTF-8 bytes of
  //   the stored text whatever the column charset; binary columns are never converted.
  Execute(
      "SET SESSION time_zone='+00:00', "
      "sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,"
      "ERROR_FOR_DIVISION_BY_ZERO', net_read_timeout=3600, net_write_timeout=86400, "
      "character_set_client=utf8mb4, character_set_connection=utf8mb4, "
      "character_set_results=utf8mb4, collation_connection=utf8mb4_bin",
      "setting up the session");
}

void MyConnection::ThrowLastError(std::string_view what) const {
  const unsigned code = mysql_errno(my_);
  throw Error(KindForMysqlError(code),
              fmt::format("{}{}{} (MySQL error {} on {})", what, what.empty() ? "" : ": ",
                          mysql_error(my_), code, Where()));
}

namespace {

// The local-infile callbacks serve one in-memory buffer.
struct InfileSource {
  const std::string* data;
  size_t pos;
};

int InfileInit(void** ptr, const char* /*filename*/, void* userdata) {
  *ptr = userdata;
  return 0;
}

int InfileRead(void* ptr, char* buf, unsigned int len) {
  auto* src = static_cast<InfileSource*>(ptr);
  const size_t n = std::min<size_t>(len, src->data->size() - src->pos);
  std::memcpy(buf, src->data->data() + src->pos, n);
  src->pos += n;
  return static_cast<int>(n);
}

void InfileEnd(void* /*ptr*/) {}

int InfileError(void* /*ptr*/, char* msg, unsigned int len) {
  std::snprintf(msg, len, "ferry: in-memory LOAD DATA source failed");
  return 2000;  // CR_UNKNOWN_ERROR
}

}  // namespace

uint64_t MyConnection::LoadDataFromMemory(std::string_view load_sql, const std::string& data,
                                          std::string_view what) {
  InfileSource src{&data, 0};
  mysql_set_local_infile_handler(my_, InfileInit, InfileRead, InfileEnd, InfileError, &src);
  const int status = mysql_real_query(my_, load_sql.data(), load_sql.size());
  mysql_set_local_infile_default(my_);
  if (status != 0) ThrowLastError(what);
  return mysql_affected_rows(my_);
}

void MyConnection::Execute(std::string_view sql, std::string_view what) {
  if (mysql_real_query(my_, sql.data(), sql.size()) != 0) ThrowLastError(what);
  // Drain every result of a multi-statement; an error in a later statement surfaces here.
  for (;;) {
    MyResult res(mysql_store_result(my_));
    if (!res && mysql_field_count(my_) != 0) ThrowLastError(what);
    const int next = mysql_next_result(my_);
    if (next == -1) break;
    if (next > 0) ThrowLastError(what);
  }
}

std::vector<TextRow> MyConnection::Query(std::string_view sql, std::string_view what) {
  if (mysql_real_query(my_, sql.data(), sql.size()) != 0) ThrowLastError(what);
  std::vector<TextRow> rows;
  MyResult res(mysql_store_result(my_));
  if (!res) {
    if (mysql_field_count(my_) != 0) ThrowLastError(what);
  } else {
    const unsigned n = mysql_num_fields(res.get());
    while (MYSQL_ROW row = mysql_fetch_row(res.get())) {
      unsigned long* lengths = mysql_fetch_lengths(res.get());
      TextRow out(n);
      for (unsigned i = 0; i < n; ++i) {
        if (row[i]) out[i].emplace(row[i], lengths[i]);
      }
      rows.push_back(std::move(out));
    }
  }
  res.Reset();
  // Results of further statements (multi-statement text) are discarded.
  for (;;) {
    const int next = mysql_next_result(my_);
    if (next == -1) break;
    if (next > 0) ThrowLastError(what);
    MyResult more(mysql_store_result(my_));
  }
  return rows;
}

MyResult MyConnection::QueryStreaming(std::string_view sql, std::string_view what) {
  if (mysql_real_query(my_, sql.data(), sql.size()) != 0) ThrowLastError(what);
  MyResult res(mysql_use_result(my_));
  if (!res) ThrowLastError(what);
  return res;
}

}  // namespace ferry::mysql
