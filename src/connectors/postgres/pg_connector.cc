// The PostgreSQL connector: wires the connection, catalog, reader, writer, SQL session and
// dialect together behind ferry::Connector.
#include <fmt/format.h>

#include "connectors/postgres/pg_applier.h"
#include "connectors/postgres/pg_capture.h"
#include "connectors/postgres/pg_catalog.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_partitions.h"
#include "connectors/postgres/pg_position.h"
#include "connectors/postgres/pg_reader.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/postgres/pg_writer.h"
#include "connectors/postgres/postgres_connector.h"

namespace ferry::postgres {

namespace {

class PgSqlSession : public SqlSession {
 public:
  explicit PgSqlSession(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

  void Execute(const std::string& sql) override { conn_->Exec(sql, "executing SQL"); }

  std::vector<std::vector<std::optional<std::string>>> Query(const std::string& sql) override {
    PgResult r = conn_->Exec(sql, "running query");
    std::vector<std::vector<std::optional<std::string>>> rows;
    const int n = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    rows.reserve(n);
    for (int i = 0; i < n; ++i) {
      std::vector<std::optional<std::string>> row;
      row.reserve(cols);
      for (int c = 0; c < cols; ++c) row.push_back(GetText(r.get(), i, c));
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  std::unique_ptr<PgConnection> conn_;
};

class PgDialect : public Dialect {
 public:
  std::string QuoteIdentifier(std::string_view name) const override { return QuoteIdent(name); }

  ColumnDef MapColumn(const ColumnDef& source, Engine source_engine, bool in_key) const override {
    ColumnDef out = source;
    out.native_type = PgDdlType(source, source_engine);
    out.native_id = 0;
    // A recreated native type is portable again for a further PostgreSQL hop; a fallback to
    // the DMS type is a built-in type anyway.
    out.portable_native = true;
    return out;
  }

  std::vector<std::string> CreateTableSql(const TableDef& target) const override {
    return PgCreateTableSql(target);
  }
};

class PgConnector : public Connector {
 public:
  explicit PgConnector(const EndpointUri& uri) : uri_(uri) {}
  Engine engine() const override { return Engine::kPostgres; }
  const EndpointUri& uri() const override { return uri_; }
  void TestConnection() override { PgConnection::Connect(uri_); }
  std::string Identity() override {
    std::unique_ptr<PgConnection> c = PgConnection::Connect(uri_);
    PgResult r = c->Exec(
        "SELECT system_identifier::text, current_database() FROM pg_control_system()",
        "reading the server's identity");
    return fmt::format("postgresql system {} database {}", GetText(r.get(), 0, 0).value_or("?"),
                       GetText(r.get(), 0, 1).value_or("?"));
  }
  std::unique_ptr<CatalogReader> OpenCatalog() override {
    return std::make_unique<PgCatalogReader>(PgConnection::Connect(uri_));
  }
  std::unique_ptr<TableReader> OpenReader() override {
    return std::make_unique<PgTableReader>(PgConnection::Connect(uri_));
  }
  std::unique_ptr<TableWriter> OpenWriter() override {
    return std::make_unique<PgTableWriter>(PgConnection::Connect(uri_));
  }
  std::unique_ptr<SqlSession> OpenSession() override {
    return std::make_unique<PgSqlSession>(PgConnection::Connect(uri_));
  }
  // CDC apply (pg_applier.h): one connection of its own per applier.
  std::unique_ptr<cdc::ChangeApplier> OpenChangeApplier() override {
    return std::make_unique<PgChangeApplier>(PgConnection::Connect(uri_));
  }
  const Dialect& dialect() const override { return dialect_; }
  // Names are compared exactly (Ferry quotes every one); a longer name is cut to
  // NAMEDATALEN - 1 bytes with only a NOTICE.
  std::unique_ptr<NameRules> TargetNameRules() override {
    auto rules = std::make_unique<FixedNameRules>();
    rules->engine = "PostgreSQL";
    rules->max_bytes = 63;
    return rules;
  }
  std::unique_ptr<SourceSnapshot> OpenSnapshot(const TableDef& /*table*/) override {
    return OpenPgSnapshot(uri_);
  }
  std::unique_ptr<cdc::ChangeCapture> OpenChangeCapture(
      const cdc::CaptureOptions& options) override {
    return std::make_unique<PgChangeCapture>(uri_, options);
  }
  const cdc::PositionCodec* positions() const override { return &LsnCodec(); }
  cdc::Position PositionAtTime(int64_t /*unix_micros*/) override {
    // Follows AWS DMS, which supports CdcStartTime for no PostgreSQL source either.
    throw Error(ErrorKind::kUnsupported,
                "--cdc-start-time: a PostgreSQL source cannot start change data capture at a "
                "time: a replication slot starts at a WAL position (LSN), and the WAL keeps no "
                "index from commit times to positions (AWS DMS does not support CdcStartTime "
                "for PostgreSQL either). Give --cdc-start-position with an LSN, e.g. what "
                "SELECT pg_current_wal_lsn() printed at the moment to start from");
  }
  std::string DefaultTargetSchema(const std::string& source_schema,
                                  Engine source_engine) const override {
    if (source_engine == Engine::kSqlite && source_schema == "main") return "public";
    if (source_engine == Engine::kMysql && source_schema.empty()) return uri_.database;
    return source_schema.empty() ? "public" : source_schema;
  }

 private:
  EndpointUri uri_;
  PgDialect dialect_;
};

}  // namespace

std::unique_ptr<Connector> OpenPostgresConnector(const EndpointUri& uri) {
  return std::make_unique<PgConnector>(uri);
}

}  // namespace ferry::postgres
