// CatalogReader over information_schema: one query per kind of object (tables, columns,
// JSON check constraints, unique indexes) for the whole database, never one per table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/mysql/my_connection.h"

namespace ferry::mysql {

class MyCatalogReader : public CatalogReader {
 public:
  explicit MyCatalogReader(const EndpointUri& uri);
  // `schema` is a MySQL database; empty = the URI's database.
  std::vector<TableDef> ListTables(const std::string& schema) override;
  std::vector<TableDef> ListViews(const std::string& schema) override;
  TableDef GetTable(const std::string& schema, const std::string& name) override;
  std::string ServerVersion() override;
  std::vector<PartitionInfo> ListPartitions(const TableDef& table, bool subpartitions) override;

 private:
  // Tables (with `views`, views) of `database`, all of them when `only_table` is empty.
  std::vector<TableDef> Load(const std::string& database, const std::string& only_table,
                             bool views);

  MyConnection conn_;
};

// "MariaDB 10.11.6" / "MySQL 8.0.36" from SELECT VERSION().
std::string DescribeServerVersion(const std::string& version);

}  // namespace ferry::mysql
