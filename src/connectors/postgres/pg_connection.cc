#include "connectors/postgres/pg_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/text.h"
#include "connectors/connector.h"
#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

namespace {

ErrorKind KindFromSqlState(const char* state) {
  if (state == nullptr || std::strlen(state) != 5) return ErrorKind::kInternal;
  const std::string s(state);
  const std::string cls = s.substr(0, 2);
  if (cls == "08" || cls == "57" || cls == "53" || s == "40001" || s == "40P01") {
    return ErrorKind::kConnection;  // connection lost, shutdown, resources, serialization
  }
  if (cls == "28") return ErrorKind::kAuth;
  if (s == "3D000" || s == "3F000" || s == "42P01" || s == "42703" || s == "42704") {
    return ErrorKind::kNotFound;
  }
  if (cls == "22" || cls == "23") return ErrorKind::kData;
  if (cls == "42") return ErrorKind::kSchema;
  if (cls == "0A") return ErrorKind::kUnsupported;
  return ErrorKind::kInternal;
}

}  // namespace

PgConnection::PgConnection(PGconn* conn, std::string where, std::string password)
    : conn_(conn), where_(std::move(where)), password_(std::move(password)) {}

PgConnection::~PgConnection() { PQfinish(conn_); }

std::vector<std::pair<std::string, std::string>> PgConnectParams(const EndpointUri& uri) {
  std::vector<std::pair<std::string, std::string>> out = {
      {"host", uri.host.empty() ? "localhost" : uri.host},
      {"port", std::to_string(uri.PortOrDefault())},
      {"dbname", uri.database.empty() ? uri.user : uri.database},
      {"user", uri.user},
      // Ferry's sessions show as "ferry" in pg_stat_activity unless the URI names another.
      {"application_name",
       uri.Param("application_name").empty() ? "ferry" : uri.Param("application_name")},
      {"connect_timeout",
       uri.Param("connect_timeout").empty() ? "10" : uri.Param("connect_timeout")}};
  if (!uri.password.empty()) out.emplace_back("password", uri.password);
  for (const char* key : {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl"}) {
    if (!uri.Param(key).empty()) out.emplace_back(key, uri.Param(key));
  }
  return out;
}

PgServer::PgServer(const EndpointUri& uri)
    : host(uri.host.empty() ? "localhost" : uri.host),
      port(std::to_string(uri.PortOrDefault())),
      database(uri.database.empty() ? uri.user : uri.database) {}

PGconn* PgOpen(const EndpointUri& uri,
               const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::pair<std::string, std::string>> params = PgConnectParams(uri);
  params.insert(params.end(), extra.begin(), extra.end());
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 0);
  if (conn == nullptr) {
    const PgServer server(uri);
    throw Error(ErrorKind::kInternal,
                fmt::format("out of memory connecting to PostgreSQL at {}:{} database '{}'",
                            server.host, server.port, server.database));
  }
  return conn;
}

std::unique_ptr<PgConnection> PgConnection::Connect(const EndpointUri& uri) {
  const PgServer server(uri);
  const std::string& host = server.host;
  const std::string& port = server.port;
  const std::string& database = server.database;
  PGconn* conn = PgOpen(uri);
  const std::string where = fmt::format("PostgreSQL at {}:{} database '{}'", host, port, database);
  std::unique_ptr<PgConnection> c(new PgConnection(conn, where, uri.password));
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string msg = c->Scrub(Trim(PQerrorMessage(conn)));
    if (Contains(msg, "password authentication failed") || Contains(msg, "no password supplied") ||
        Contains(msg, "authentication failed") ||
        (Contains(msg, "role \"") && Contains(msg, "does not exist")) ||
        Contains(msg, "no pg_hba.conf entry")) {
      throw Error(ErrorKind::kAuth,
                  fmt::format("PostgreSQL at {}:{} refused user '{}' (password authentication "
                              "failed or not allowed) for database '{}': {}",
                              host, port, uri.user, database, msg));
    }
    if (Contains(msg, "database \"") && Contains(msg, "does not exist")) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("PostgreSQL at {}:{}: database '{}' does not exist (user '{}'): {}",
                              host, port, database, uri.user, msg));
    }
    throw Error(ErrorKind::kConnection,
                fmt::format("cannot connect to PostgreSQL at {}:{} (database '{}', user '{}'): {}",
                            host, port, database, uri.user, msg));
  }
  // Server NOTICEs ("table does not exist, skipping") would go straight to stderr and tear the
  // progress display; they are debug information, so route them to the log.
  PQsetNoticeProcessor(
      conn,
      [](void*, const char* message) {
        std::string_view m(message);
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.remove_suffix(1);
        spdlog::debug("PostgreSQL: {}", m);
      },
      nullptr);
  // Ferry's value encodings assume these; set them once per connection.
  c->Exec(
      "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; "
      "SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET TimeZone = 'UTC'",
      "session setup");
  return c;
}

std::string PgConnection::Scrub(std::string message) const {
  return ScrubPassword(std::move(message), password_);
}

Error PgConnection::MakeError(const std::string& what, const PGresult* result) const {
  std::string msg;
  ErrorKind kind = ErrorKind::kInternal;
  if (result != nullptr) {
    msg = Trim(PQresultErrorMessage(result));
    kind = KindFromSqlState(PQresultErrorField(result, PG_DIAG_SQLSTATE));
  }
  if (msg.empty()) msg = Trim(PQerrorMessage(conn_));
  if (PQstatus(conn_) != CONNECTION_OK) kind = ErrorKind::kConnection;
  std::string hint;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state != nullptr && std::string_view(state) == "42501") {
    // insufficient_privilege: name the GRANT that gives what the work needs.
    const char* user = PQuser(conn_);
    const std::string role = DoubleQuoteIdent(user ? user : "");
    const std::string_view m(msg);
    constexpr std::string_view kSchema = "permission denied for schema ";
    constexpr std::string_view kTable = "permission denied for table ";
    if (auto at = m.find(kSchema); at != std::string_view::npos) {
      std::string_view name = m.substr(at + kSchema.size());
      name = name.substr(0, name.find_first_of("\n "));
      hint = fmt::format(
          "the role needs CREATE on the schema to create tables there (GRANT "
          "CREATE ON SCHEMA {} TO {})",
          DoubleQuoteIdent(name), role);
    } else if (auto at2 = m.find(kTable); at2 != std::string_view::npos) {
      std::string_view name = m.substr(at2 + kTable.size());
      name = name.substr(0, name.find_first_of("\n "));
      hint = fmt::format(
          "a load needs INSERT on the table, TRUNCATE_BEFORE_LOAD also TRUNCATE, "
          "DROP_AND_CREATE ownership, CDC also UPDATE and DELETE (GRANT INSERT, "
          "UPDATE, DELETE, TRUNCATE ON TABLE {} TO {})",
          DoubleQuoteIdent(name), role);
    }
  }
  if (state != nullptr && std::string_view(state) == "23505") {
    // unique_violation: the key, from DETAIL, and where such a row comes from.
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    hint = kDuplicateKeyHint;
    msg = fmt::format("{}{}{}", primary ? primary : msg, detail ? ": " : "", detail ? detail : "");
  }
  return Error(kind, fmt::format("{} failed on {}: {}{}", what, where_,
                                 hint.empty() ? "" : hint + "; the server said: ", Scrub(msg)));
}

PgResult PgConnection::Exec(const std::string& sql, const std::string& what) {
  PgResult r(PQexec(conn_, sql.c_str()));
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    throw MakeError(what, r.get());
  }
  return r;
}

PgResult PgConnection::ExecParams(const std::string& sql, const std::vector<std::string>& params,
                                  const std::string& what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  PgResult r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0));
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw MakeError(what, r.get());
  return r;
}

void PgConnection::ResetAfterFailedCopy() noexcept {
  // A COPY TO still streaming: ask the server to stop, then read what is left.
  PGresult* r;
  for (int guard = 0; guard < 1000000; ++guard) {
    r = PQgetResult(conn_);
    if (r == nullptr) break;
    const ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COPY_OUT) {
      if (PGcancel* cancel = PQgetCancel(conn_)) {
        char err[256];
        PQcancel(cancel, err, sizeof(err));
        PQfreeCancel(cancel);
      }
      char* buf = nullptr;
      while (PQgetCopyData(conn_, &buf, 0) > 0) PQfreemem(buf);
    } else if (st == PGRES_COPY_IN) {
      PQputCopyEnd(conn_, "aborted by ferry");
    } else if (st == PGRES_COPY_BOTH) {
      break;
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) PQreset(conn_);
  PQclear(PQexec(conn_, "ROLLBACK"));
}

std::optional<std::string> GetText(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

}  // namespace ferry::postgres
