// The PostgreSQL connector: wires the connection, catalog, reader, writer, SQL session and
// dialect together behind ferry::Connector.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

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
  std::string_view DisplayName() const override { return "PostgreSQL"; }
  std::string QuoteIdentifier(std::string_view name) const override {
    return DoubleQuoteIdent(name);
  }
  std::string QuoteLiteral(std::string_view value) const override {
    return postgres::QuoteLiteral(value);
  }

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

  // A heap is read in ctid page ranges (PgConnector::MeasurePages): `ctid < '(b,0)'::tid`
  // reads the pages before b (a TID range scan since PostgreSQL 14).
  bool ScansPageRanges() const override { return true; }
  std::string PageRangePredicate(int64_t from_page, int64_t to_page) const override {
    std::string predicate;
    if (from_page >= 0) predicate = fmt::format("ctid >= '({},0)'::tid", from_page);
    if (to_page >= 0) {
      predicate += fmt::format("{}ctid < '({},0)'::tid", predicate.empty() ? "" : " AND ", to_page);
    }
    return predicate;
  }
  bool PartitionsAreTables() const override { return true; }

  // Control tables: DMS names lower case, what unquoted names become here.
  std::string ControlSchema(const std::string& configured) const override {
    return configured.empty() ? "public" : configured;
  }
  std::string ControlColumnName(std::string_view upper) const override {
    std::string name(upper);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  std::string ControlColumnSql(ControlColumnType type) const override {
    switch (type) {
      case ControlColumnType::kName:
      case ControlColumnType::kShortText:
        return "varchar(128)";
      case ControlColumnType::kLongText:
      case ControlColumnType::kPosition:
        return "text";
      case ControlColumnType::kTime:
        return "timestamp(3)";
      case ControlColumnType::kPreciseTime:
        return "timestamp(6)";
      case ControlColumnType::kInt:
        return "bigint";
    }
    return "text";
  }
  std::string CreateSchemaSql(const std::string& schema) const override {
    return "CREATE SCHEMA IF NOT EXISTS " + DoubleQuoteIdent(schema);
  }
  std::string TimestampMicrosSql(const std::string& quoted_column) const override {
    return fmt::format("CAST(EXTRACT(EPOCH FROM {}) * 1000000 AS bigint)", quoted_column);
  }
  std::string UpsertSql(const std::string& quoted_table,
                        const std::vector<std::string>& quoted_columns,
                        const std::vector<std::string>& values,
                        const std::string& quoted_key) const override {
    std::vector<std::string> set;
    for (const std::string& c : quoted_columns) {
      if (c != quoted_key) set.push_back(fmt::format("{} = EXCLUDED.{}", c, c));
    }
    return fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                       quoted_table, fmt::join(quoted_columns, ", "), fmt::join(values, ", "),
                       quoted_key, fmt::join(set, ", "));
  }

  std::string RetypeColumnSql(const std::string& quoted_table,
                              const ColumnDef& column) const override {
    return fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}", quoted_table,
                       DoubleQuoteIdent(column.name), column.native_type,
                       DoubleQuoteIdent(column.name), column.native_type);
  }

  // Schema objects. pg_get_expr prints E'' strings and '...'::type casts.
  ParsedDefault ParseDefault(std::string_view expression) const override {
    DefaultSyntax syntax;
    syntax.escape_strings = true;
    syntax.casts = true;
    return ParseDefaultExpression(expression, syntax);
  }
  bool IsBooleanColumn(const ColumnDef& column) const override {
    std::string t = column.native_type;
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t == "boolean" || t == "bool";
  }
  // pg_get_expr prints a complete expression: kept as it is.
  std::string VerbatimDefaultSql(const std::string& original,
                                 const std::string& /*body*/) const override {
    return original;
  }
  size_t ObjectNameLimit() const override { return 63; }
  // Indexes share the schema's relation names with tables.
  NameScope IndexNameScope() const override { return NameScope::kSchema; }
  std::optional<std::string> PrimaryKeyIndexName(const TableDef& table) const override {
    return table.name + "_pkey";
  }
  // pg_get_indexdef: "CREATE INDEX i ON s.t USING btree (...)": the part from USING.
  std::optional<std::string> VerbatimIndexTail(const std::string& definition) const override {
    return IndexDefinitionTail(definition, " using ");
  }
};

class PgConnector : public SqlConnector {
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
  std::optional<PageLayout> MeasurePages(const TableDef& table) override {
    std::unique_ptr<PgConnection> c = PgConnection::Connect(uri_);
    PgResult r = c->Exec(
        fmt::format("SELECT c.relkind, pg_relation_size(c.oid) / "
                    "current_setting('block_size')::int8, c.reltuples::int8, "
                    "pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                    "c.relnamespace WHERE n.nspname = {} AND c.relname = {}",
                    QuoteLiteral(table.schema), QuoteLiteral(table.name)),
        "measuring table " + table.QualifiedName());
    if (PQntuples(r.get()) != 1) return std::nullopt;
    const std::optional<std::string> relkind = GetText(r.get(), 0, 0);
    if (!relkind) return std::nullopt;
    PageLayout out;
    if (*relkind == "p") {
      out.partitioned = true;
      return out;
    }
    if (*relkind != "r" && *relkind != "m") return std::nullopt;
    out.pages = std::stoll(GetText(r.get(), 0, 1).value_or("0"));
    out.tuples = std::stoll(GetText(r.get(), 0, 2).value_or("-1"));
    out.bytes = std::stoll(GetText(r.get(), 0, 3).value_or("-1"));
    return out;
  }
  std::string DefaultTargetSchema(const std::string& source_schema,
                                  Engine source_engine) const override {
    if (source_engine == Engine::kSqlite && source_schema == "main") return "public";
    if (source_engine == Engine::kMysql && source_schema.empty()) return uri_.database;
    return source_schema.empty() ? "public" : source_schema;
  }

 private:
  EndpointUri uri_;
  const Dialect& dialect_ = EngineDialect();
};

}  // namespace

const Dialect& EngineDialect() {
  static const PgDialect dialect;
  return dialect;
}

std::unique_ptr<SqlConnector> OpenPostgresConnector(const EndpointUri& uri) {
  return std::make_unique<PgConnector>(uri);
}

}  // namespace ferry::postgres
