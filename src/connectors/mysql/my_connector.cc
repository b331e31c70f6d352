// The MySQL/MariaDB connector: wires the catalog reader, table reader, table writer, SQL
// session and dialect of this folder behind ferry::Connector.
#include <fmt/format.h>

#include "connectors/mysql/my_applier.h"
#include "connectors/mysql/my_catalog.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_names.h"
#include "connectors/mysql/my_partitions.h"
#include "connectors/mysql/my_reader.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_writer.h"
#include "connectors/mysql/mysql_connector.h"

namespace ferry::mysql {

namespace {

class MyDialect : public Dialect {
 public:
  std::string QuoteIdentifier(std::string_view name) const override { return QuoteIdent(name); }
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
    return QuoteString(encoded);
  }
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

class MyConnector : public Connector {
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
  // A MySQL endpoint is one database: every source schema lands in it.
  std::string DefaultTargetSchema(const std::string& /*source_schema*/,
                                  Engine /*source_engine*/) const override {
    return uri_.database;
  }

 private:
  EndpointUri uri_;
  MyDialect dialect_;
};

}  // namespace

std::unique_ptr<Connector> OpenMysqlConnector(const EndpointUri& uri) {
  return std::make_unique<MyConnector>(uri);
}

}  // namespace ferry::mysql
