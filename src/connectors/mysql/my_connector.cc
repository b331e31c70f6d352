// The MySQL/MariaDB connector: wires the catalog reader, table reader, table writer, SQL
// session and dialect of this folder behind ferry::Connector.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <regex>

#include "connectors/mysql/my_applier.h"
#include "connectors/mysql/my_capture.h"
#include "connectors/mysql/my_catalog.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_names.h"
#include "connectors/mysql/my_partitions.h"
#include "connectors/mysql/my_position.h"
#include "connectors/mysql/my_reader.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_writer.h"
#include "connectors/mysql/mysql_connector.h"

namespace ferry::mysql {

namespace {

// varchar(n) / varbinary(n) beyond InnoDB's 3072-byte key limit in utf8mb4, and the text,
// blob and json types, cannot be indexed whole.
bool IsLongText(const ColumnDef& c) {
  std::string t = c.native_type;
  for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* prefix : {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob",
                             "mediumblob", "longblob", "json"}) {
    if (t.rfind(prefix, 0) == 0) return true;
  }
  static const std::regex var(R"(var(char|binary)\((\d+)\).*)");
  std::smatch m;
  if (std::regex_match(t, m, var)) return std::stol(m[2]) * 4 > 3072;
  return false;
}

class MyDialect : public Dialect {
 public:
  std::string_view DisplayName() const override { return "MySQL"; }
  std::string QuoteIdentifier(std::string_view name) const override { return QuoteIdent(name); }
  std::string QuoteLiteral(std::string_view value) const override {
    return mysql::QuoteLiteral(value);
  }
  ColumnDef MapColumn(const ColumnDef& source, Engine source_engine, bool in_key) const override {
    return MapColumnToMysql(source, source_engine, in_key);
  }
  std::vector<std::string> CreateTableSql(const TableDef& target) const override {
    return CreateTableStatements(target);
  }
  // MySQL -> MySQL: dates and datetimes go as the source prints them, so a zero date
  // ('0000-00-00', '2024-00-15') arrives as it is (the session's sql_mode takes them).
  bool KeepsSourceValue(Engine source_engine, const ColumnDef& column) const override {
    if (source_engine != Engine::kMysql) return false;
    const MyBase base = ParseNativeType(column.native_type).base;
    return base == MyBase::kDate || base == MyBase::kDatetime || base == MyBase::kTimestamp;
  }
  std::optional<std::string> EngineValueLiteral(std::string_view encoded) const override {
    return mysql::QuoteLiteral(encoded);
  }

  // Capabilities: every ALTER commits at once; key-range segments pay off (one server thread
  // per reader); partition names are case-insensitive.
  bool TransactionalDdl() const override { return false; }
  bool AutoSegmentsByDefault() const override { return true; }
  bool PartitionNamesFoldCase() const override { return true; }

  // Control tables: a database of their own by default, created utf8mb4 (they hold messages
  // and statements in any language, whatever the server's default character set).
  std::string ControlSchema(const std::string& configured) const override {
    return configured.empty() ? "awsdms_control" : configured;
  }
  std::string ControlColumnSql(ControlColumnType type) const override {
    switch (type) {
      case ControlColumnType::kName:
      case ControlColumnType::kShortText:
        return "varchar(128)";
      case ControlColumnType::kLongText:
        return "longtext";
      case ControlColumnType::kPosition:
        return "varchar(1024)";
      case ControlColumnType::kTime:
        return "datetime(3)";
      case ControlColumnType::kPreciseTime:
        return "datetime(6)";
      case ControlColumnType::kInt:
        return "bigint";
    }
    return "longtext";
  }
  std::string CreateSchemaSql(const std::string& schema) const override {
    return "CREATE DATABASE IF NOT EXISTS " + QuoteIdent(schema) + " CHARACTER SET utf8mb4";
  }
  std::string TimestampMicrosSql(const std::string& quoted_column) const override {
    return fmt::format("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {})", quoted_column);
  }
  std::string UpsertSql(const std::string& quoted_table,
                        const std::vector<std::string>& quoted_columns,
                        const std::vector<std::string>& values,
                        const std::string& /*quoted_key*/) const override {
    return fmt::format("REPLACE INTO {} ({}) VALUES ({})", quoted_table,
                       fmt::join(quoted_columns, ", "), fmt::join(values, ", "));
  }

  // ALTER TABLE: NULL explicitly (a timestamp column would otherwise be NOT NULL on old
  // servers); MODIFY COLUMN restates nullability.
  std::string AddColumnSql(const std::string& quoted_table,
                           const ColumnDef& column) const override {
    return Dialect::AddColumnSql(quoted_table, column) + " NULL";
  }
  std::string RetypeColumnSql(const std::string& quoted_table,
                              const ColumnDef& column) const override {
    return fmt::format("ALTER TABLE {} MODIFY COLUMN {} {} {}", quoted_table,
                       QuoteIdent(column.name), column.native_type,
                       column.nullable ? "NULL" : "NOT NULL");
  }

  // Schema objects. information_schema defaults come as QuoteLiteral made them
  // (my_catalog.cc): backslash escapes.
  ParsedDefault ParseDefault(std::string_view expression) const override {
    DefaultSyntax syntax;
    syntax.backslash_escapes = true;
    return ParseDefaultExpression(expression, syntax);
  }
  // A current date or time default is an expression default, which MySQL takes only in
  // parentheses.
  std::string CurrentTimeDefaultSql(ParsedDefault::Kind kind) const override {
    switch (kind) {
      case ParsedDefault::kDate:
        return "(curdate())";
      case ParsedDefault::kTime:
        return "(curtime())";
      default:
        return "CURRENT_TIMESTAMP";
    }
  }
  size_t ObjectNameLimit() const override { return 64; }
  NameScope IndexNameScope() const override { return NameScope::kTable; }
  NameScope ConstraintNameScope() const override { return NameScope::kSchema; }
  bool CreateIndexIfNotExists() const override { return false; }
  bool NamedIndexMethod(std::string_view method) const override {
    return method == "FULLTEXT" || method == "SPATIAL";
  }
  bool IndexPrefixes() const override { return true; }
  bool IndexableWhole(const ColumnDef& column) const override { return !IsLongText(column); }
  std::string ForeignKeyRefusal(const ForeignKeyDef& fk) const override {
    if (fk.on_delete == ForeignKeyAction::kSetDefault ||
        fk.on_update == ForeignKeyAction::kSetDefault) {
      return "ON DELETE/UPDATE SET DEFAULT is not supported by InnoDB";
    }
    return {};
  }
  bool DeferrableConstraints() const override { return false; }
};

class MySqlSession : public SqlSession {
 public:
  explicit MySqlSession(const EndpointUri& uri) : conn_(uri) {}
  void Execute(const std::string& sql) override { conn_.Execute(sql, "executing SQL"); }
  std::vector<std::vector<std::optional<std::string>>> Query(const std::string& sql) override {
    return conn_.Query(sql, "running a query");
  }

 private:
  MyConnection conn_;
};

class MyConnector : public SqlConnector {
 public:
  explicit MyConnector(const EndpointUri& uri) : uri_(uri) {
    ParseZeroDates(uri_.Param("zero_dates"));  // a bad setting stops before anything connects
  }
  Engine engine() const override { return Engine::kMysql; }
  const EndpointUri& uri() const override { return uri_; }
  void TestConnection() override { MyConnection conn(uri_); }
  std::string Identity() override {
    // The server's identity: the database may not exist yet (a target creates it).
    const std::string no_database;
    MyConnection conn(uri_, &no_database);
    // MySQL has a server_uuid; MariaDB does not, and its host, port and data directory name
    // one server as well.
    for (const auto& row : conn.Query("SHOW GLOBAL VARIABLES LIKE 'server_uuid'",
                                      "reading the server's identity")) {
      if (row.size() == 2 && row[1] && !row[1]->empty()) {
        return fmt::format("mysql server {} database {}", *row[1], uri_.database);
      }
    }
    const auto rows = conn.Query("SELECT @@hostname, @@port, @@datadir",
                                 "reading the server's identity");
    auto at = [&](size_t i) {
      return rows.empty() || rows[0].size() <= i || !rows[0][i] ? std::string("?")
                                                                : *rows[0][i];
    };
    return fmt::format("mariadb server {}:{} datadir {} database {}", at(0), at(1), at(2),
                       uri_.database);
  }
  std::unique_ptr<CatalogReader> OpenCatalog() override {
    return std::make_unique<MyCatalogReader>(uri_);
  }
  std::unique_ptr<TableReader> OpenReader() override {
    return std::make_unique<MyTableReader>(uri_);
  }
  std::unique_ptr<TableWriter> OpenWriter() override {
    return std::make_unique<MyTableWriter>(uri_);
  }
  std::unique_ptr<SqlSession> OpenSession() override {
    return std::make_unique<MySqlSession>(uri_);
  }
  const Dialect& dialect() const override { return dialect_; }
  std::unique_ptr<NameRules> TargetNameRules() override { return OpenMyNameRules(uri_); }
  std::unique_ptr<cdc::ChangeApplier> OpenChangeApplier() override {
    return std::make_unique<MyChangeApplier>(uri_);
  }
  std::unique_ptr<SourceSnapshot> OpenSnapshot(const TableDef& table) override {
    return OpenMySnapshot(uri_, table);
  }
  std::unique_ptr<cdc::ChangeCapture> OpenChangeCapture(
      const cdc::CaptureOptions& options) override {
    return OpenMyChangeCapture(uri_, options);
  }
  const cdc::PositionCodec* positions() const override { return &BinlogCodec(); }
  // The writer creates a missing database (EnsureSchema).
  bool CreatesMissingDatabase() const override { return true; }
  // A MySQL endpoint is one database: every source schema lands in it.
  std::string DefaultTargetSchema(const std::string& /*source_schema*/,
                                  Engine /*source_engine*/) const override {
    return uri_.database;
  }

 private:
  EndpointUri uri_;
  const Dialect& dialect_ = EngineDialect();
};

}  // namespace

const Dialect& EngineDialect() {
  static const MyDialect dialect;
  return dialect;
}

std::unique_ptr<SqlConnector> OpenMysqlConnector(const EndpointUri& uri) {
  return std::make_unique<MyConnector>(uri);
}

}  // namespace ferry::mysql
