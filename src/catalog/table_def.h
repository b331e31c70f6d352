// What a catalog reader reports about a table, and what a target writer is asked to create.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "types/dms_type.h"

namespace ferry {

enum class Engine { kPostgres, kMysql, kSqlite };
const char* EngineName(Engine engine);  // "postgresql", "mysql", "sqlite"

struct ColumnDef {
  std::string name;         // as the engine spells it (case kept)
  std::string native_type;  // full native type as the engine prints it, e.g.
                            // "character varying(20)", "int(10) unsigned", "NVARCHAR(160)"
  DmsType type;             // the type model's view; decides the value encoding in a Batch
  bool nullable = true;
  // Engine-specific id of the native type for readers that need it (PostgreSQL type OID).
  uint32_t native_id = 0;
  // For user-defined types (enum, domain): the base type a non-same-engine target falls back
  // to is `type`; same-engine targets may recreate `native_type` only when `portable_native`.
  bool portable_native = true;
};

struct IndexDef {
  std::string name;
  std::vector<std::string> columns;
};

struct TableDef {
  Engine engine = Engine::kSqlite;  // where this definition comes from / goes to
  std::string schema;               // PostgreSQL schema, MySQL database, SQLite "main"
  std::string name;
  std::vector<ColumnDef> columns;
  std::vector<std::string> primary_key;   // column names, in key order; empty when none
  std::vector<IndexDef> unique_indexes;   // unique indexes other than the primary key
  int64_t estimated_rows = -1;            // from statistics; -1 when unknown
  int64_t estimated_bytes = -1;

  // "schema.name" for messages.
  std::string QualifiedName() const { return schema.empty() ? name : schema + "." + name; }
  // Index of the column named `column`, or -1.
  int ColumnIndex(const std::string& column) const {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == column) return static_cast<int>(i);
    }
    return -1;
  }
  // The columns that identify a row: the primary key, else the first unique index whose
  // columns are all NOT NULL, else empty.
  std::vector<std::string> RowKey() const;
};

}  // namespace ferry
