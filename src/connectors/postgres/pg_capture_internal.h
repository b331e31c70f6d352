// What the two halves of PgChangeCapture share (pg_capture.cc: starting the stream and the
// source-side work while it runs; pg_capture_objects.cc: slot, publication, snapshots,
// prerequisites): the replication connection and a few text helpers (Trim and Contains:
// common/text.h). Private to them: include nowhere else.
#pragma once

#include <fmt/format.h>

#include <string>

#include "common/error.h"
#include "common/text.h"
#include "connectors/postgres/pg_capture.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::postgres {

namespace capture_internal {

// A string option of a replication command (START_REPLICATION ... (publication_names '...')).
// Not SQL: the walsender's grammar (repl_scanner.l) has '...' strings with '' only, no E''
// form, and takes backslashes as they are, so QuoteLiteral's E'' would be refused there.
inline std::string ReplicationCommandLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

inline bool PlainIdent(const std::string& s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace capture_internal

// A replication=database connection.
class PgChangeCapture::Replication {
 public:
  static std::unique_ptr<Replication> Connect(const EndpointUri& uri) {
    const PgServer server(uri);
    const std::string& host = server.host;
    const std::string& port = server.port;
    const std::string& database = server.database;
    // The settings that fix the values' text form, after the user's PGOPTIONS (which this
    // explicit option would otherwise replace): e.g. -c logical_decoding_work_mem=256MB.
    const char* user_options = std::getenv("PGOPTIONS");
    const std::string options =
        std::string(user_options ? user_options : "") +
        " -c DateStyle=ISO -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3 "
        "-c bytea_output=hex -c lc_monetary=C";
    PGconn* conn = PgOpen(
        uri, {{"replication", "database"}, {"options", options}, {"client_encoding", "UTF8"}});
    const std::string where =
        fmt::format("PostgreSQL at {}:{} database '{}' (replication connection)", host, port,
                    database);
    std::unique_ptr<Replication> r(new Replication(conn, where, uri.password));
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string msg = r->Scrub(Trim(PQerrorMessage(conn)));
      const bool auth =
          Contains(msg, "authentication failed") || Contains(msg, "no pg_hba.conf entry") ||
          Contains(msg, "must have replication") || Contains(msg, "permission denied");
      throw Error(auth ? ErrorKind::kAuth : ErrorKind::kConnection,
                  fmt::format("cannot open a replication connection to PostgreSQL at {}:{} "
                              "(database '{}', user '{}'): {}",
                              host, port, database, uri.user, msg));
    }
    return r;
  }
  ~Replication() { PQfinish(conn_); }

  PGconn* get() const { return conn_; }
  const std::string& where() const { return where_; }

  std::string Scrub(std::string message) const { return ScrubPassword(std::move(message), password_); }

  Error MakeError(const std::string& what, const PGresult* result) const {
    std::string msg;
    ErrorKind kind = ErrorKind::kInternal;
    if (result != nullptr) {
      msg = Trim(PQresultErrorMessage(result));
      const char* st = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      const std::string s = st ? st : "";
      if (s.size() == 5) {
        const std::string cls = s.substr(0, 2);
        if (cls == "08" || cls == "57" || cls == "53" || s == "55006") {
          kind = ErrorKind::kConnection;  // lost, shut down, out of resources, slot in use
        } else if (s == "42704") {
          kind = ErrorKind::kNotFound;
        } else if (cls == "42" || cls == "55") {
          kind = ErrorKind::kInvalidArgument;
        } else if (cls == "0A") {
          kind = ErrorKind::kUnsupported;
        }
      }
    }
    if (msg.empty()) msg = Trim(PQerrorMessage(conn_));
    if (PQstatus(conn_) != CONNECTION_OK) kind = ErrorKind::kConnection;
    return Error(kind, fmt::format("{} failed on {}: {}", what, where_, Scrub(msg)));
  }

  PgResult Exec(const std::string& sql, const std::string& what) {
    PgResult r(PQexec(conn_, sql.c_str()));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw MakeError(what, r.get());
    return r;
  }

 private:
  Replication(PGconn* conn, std::string where, std::string password)
      : conn_(conn), where_(std::move(where)), password_(std::move(password)) {}
  PGconn* conn_;
  std::string where_;
  std::string password_;
};

}  // namespace ferry::postgres
