// CatalogReader for PostgreSQL: reads pg_catalog directly (not information_schema, which is
// slow on big catalogs) in three queries per listing: tables, columns, keys.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

class PgCatalogReader : public CatalogReader {
 public:
  explicit PgCatalogReader(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  std::vector<TableDef> ListTables(const std::string& schema) override;
  std::vector<TableDef> ListViews(const std::string& schema) override;
  TableDef GetTable(const std::string& schema, const std::string& name) override;
  std::string ServerVersion() override;
  std::vector<PartitionInfo> ListPartitions(const TableDef& table, bool subpartitions) override;

  // A column named `name` of type `type_oid` with modifier `typmod` (as a pgoutput Relation
  // message describes it), typed as Load types a column of that type: native type, DMS type,
  // native_id (domains resolved to their base). Nullable; no default. Throws Error(kNotFound)
  // when the type no longer exists.
  ColumnDef ColumnOfType(const std::string& name, uint32_t type_oid, int32_t typmod);

 private:
  // Tables (or with `views`, views and materialized views) matching the filters ("" = any);
  // fills columns and keys.
  std::vector<TableDef> Load(const std::string& schema, const std::string& name, bool views);
  // Follows a domain down to its base type (info.typtype == 'd'); cached per domain.
  PgTypeInfo ResolveDomain(const PgTypeInfo& info, const std::string& what);
  std::unique_ptr<PgConnection> conn_;
  std::map<uint32_t, PgTypeInfo> domains_;
};

}  // namespace ferry::postgres
