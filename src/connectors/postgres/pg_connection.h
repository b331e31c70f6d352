// RAII over libpq: one PGconn, PGresult handles, and the translation of libpq failures into
// ferry::Error (kind from the connection state or SQLSTATE, server message kept, password
// scrubbed).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::postgres {

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// The libpq keywords and values for `uri`: host, port, dbname, user, password (left out when
// empty, so libpq takes PGPASSWORD or ~/.pgpass), application_name ("ferry" unless the URI
// names one), connect_timeout (10 s unless the URI says) and the URI's sslmode, sslrootcert,
// sslcert, sslkey and sslcrl. Shared by SQL and replication connections.
std::vector<std::pair<std::string, std::string>> PgConnectParams(const EndpointUri& uri);

// The server and database `uri` names, as messages spell them.
struct PgServer {
  std::string host, port, database;
  explicit PgServer(const EndpointUri& uri);
};

// Opens a libpq connection (blocking) with PgConnectParams(uri) followed by `extra`
// parameters. Never null: throws Error(kInternal) when libpq is out of memory; the caller
// checks PQstatus and owns the connection (PQfinish).
PGconn* PgOpen(const EndpointUri& uri,
               const std::vector<std::pair<std::string, std::string>>& extra = {});

class PgConnection {
 public:
  // Connects (blocking). Throws Error: kAuth when the server refused the credentials,
  // kNotFound when the database does not exist, kConnection when the server cannot be reached.
  // Messages name host:port, database and user, never the password.
  static std::unique_ptr<PgConnection> Connect(const EndpointUri& uri);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* get() const { return conn_; }
  // "PostgreSQL at host:port database 'db'" for messages.
  const std::string& where() const { return where_; }

  // Runs `sql` (one or more statements); throws Error naming `what` on failure. Returns the
  // last result (tuples or command status).
  PgResult Exec(const std::string& sql, const std::string& what);
  // Runs one statement with text parameters ($1, $2...).
  PgResult ExecParams(const std::string& sql, const std::vector<std::string>& params,
                      const std::string& what);

  // Error for a failed result (or the connection's last error when `result` is null).
  Error MakeError(const std::string& what, const PGresult* result) const;
  // The server's message with the password masked where it stands as a password
  // (ScrubPassword).
  std::string Scrub(std::string message) const;
  // Drains a COPY in progress and any pending results so the connection can be reused.
  // Never throws.
  void ResetAfterFailedCopy() noexcept;

 private:
  PgConnection(PGconn* conn, std::string where, std::string password);
  PGconn* conn_;
  std::string where_;
  std::string password_;
};

// Field `col` of row `row` as text, nullopt for NULL.
std::optional<std::string> GetText(const PGresult* r, int row, int col);

}  // namespace ferry::postgres
