// CatalogReader over one SQLite file (schema "main").
//
// Tables are PRAGMA table_list's type 'table' in main, minus sqlite_* internals: views,
// virtual tables and their shadow tables (FTS, R*Tree) are not listed.
// Columns come from PRAGMA table_xinfo: generated columns (stored or virtual) are listed as
// ordinary columns (their values are data to the target, which gets plain columns, as DMS
// does); hidden columns of virtual tables never appear since those tables are skipped.
// Unique indexes are the non-partial unique indexes from UNIQUE constraints and CREATE UNIQUE
// INDEX on plain columns (origin 'u' or 'c'); the primary key's own index is not repeated.
// Row estimate: SQLite keeps no live row count. sqlite_stat1 (written by ANALYZE) is used
// when it has the table; otherwise count(*), which SQLite answers by walking the smallest
// b-tree page by page without decoding rows (milliseconds per million rows), so exact counts
// are affordable. estimated_bytes stays -1 (dbstat is not always compiled in).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

class SqliteCatalogReader : public CatalogReader {
 public:
  explicit SqliteCatalogReader(const std::string& path);
  std::vector<TableDef> ListTables(const std::string& schema) override;
  std::vector<TableDef> ListViews(const std::string& schema) override;
  TableDef GetTable(const std::string& schema, const std::string& name) override;
  std::string ServerVersion() override;

 private:
  // The tables (`type` "table") or views ("view") of "main", in one read transaction.
  std::vector<TableDef> List(const std::string& schema, const char* type);
  void CheckSchema(const std::string& schema) const;

  Connection conn_;
  bool has_stat1_ = false;
};

// The table's definition read over `conn` (shared with the writer's TableExists checks).
TableDef ReadSqliteTable(Connection& conn, const std::string& name, bool use_stat1);
// A view's columns as SQLite declares them (a column that is not a plain column reference has
// no declared type); is_view set, no keys.
TableDef ReadSqliteView(Connection& conn, const std::string& name);

}  // namespace ferry::sqlite
