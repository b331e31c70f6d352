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
  // Ferry extension (src/schema/): the column default as the source engine prints it, empty
  // when the column has none: PostgreSQL pg_get_expr (e.g. "'a'::text", "now()",
  // "nextval('s'::regclass)"), MariaDB information_schema COLUMN_DEFAULT (string literals
  // quoted, "current_timestamp()"; "AUTO_INCREMENT" for an auto_increment column), SQLite
  // PRAGMA table_xinfo dflt_value (the text as written in CREATE TABLE).
  std::string default_expression;
  // DDL text a target CREATE TABLE puts after DEFAULT for this column (already in the target's
  // SQL); empty = no DEFAULT clause. Set only by schema::PrepareCreateTimeObjects (SQLite
  // targets, which cannot add a default later); catalog readers leave it empty.
  std::string create_default;
};

struct IndexDef {
  std::string name;
  std::vector<std::string> columns;
};

// Ferry extension (src/schema/): one key part of a secondary index.
struct IndexColumn {
  std::string name;         // column name; empty for an expression part
  bool descending = false;  // DESC
  int prefix_length = 0;    // MySQL prefix index part (SUB_PART); 0 = whole column
  bool operator==(const IndexColumn&) const = default;
};

// Ferry extension: an index other than the primary key, as the source engine defines it.
struct SecondaryIndexDef {
  std::string name;
  std::vector<IndexColumn> columns;  // key parts in order (expression parts have no name)
  bool unique = false;
  // true when the index is an ordinary B-tree over whole or prefixed columns, with no
  // expression, no predicate and no special method: it converts to any engine.
  bool plain = true;
  std::string method;  // "btree", "gin", "FULLTEXT", "SPATIAL", ... as the engine names it
  // The engine's own complete definition (PostgreSQL pg_get_indexdef, SQLite sqlite_schema.sql;
  // empty on MySQL): kept verbatim for a same-engine target when the index is not plain.
  std::string definition;
};

// Ferry extension: ON DELETE / ON UPDATE actions of a foreign key.
enum class ForeignKeyAction { kNoAction, kRestrict, kCascade, kSetNull, kSetDefault };
const char* ForeignKeyActionSql(ForeignKeyAction action);  // "NO ACTION", "CASCADE", ...

// Ferry extension: a foreign key of this table.
struct ForeignKeyDef {
  std::string name;
  std::vector<std::string> columns;      // referencing columns, in key order
  std::string ref_schema, ref_table;     // the referenced table (same catalog scope)
  std::vector<std::string> ref_columns;  // referenced columns, paired with `columns`
  ForeignKeyAction on_delete = ForeignKeyAction::kNoAction;
  ForeignKeyAction on_update = ForeignKeyAction::kNoAction;
  bool deferrable = false;          // PostgreSQL (and SQLite when declared) DEFERRABLE
  bool initially_deferred = false;  // INITIALLY DEFERRED
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
  // A view (PostgreSQL also a materialized view), listed by CatalogReader::ListViews: no keys
  // or indexes, read with a plain SELECT in one stream, loaded into a target table like any
  // other, never captured (AWS DMS loads views only in full-load tasks).
  bool is_view = false;
  // Ferry extension (src/schema/), filled by every catalog reader:
  // every index but the primary key (unique ones too, also listed in unique_indexes when
  // plain), and the foreign keys of this table.
  std::vector<SecondaryIndexDef> secondary_indexes;
  std::vector<ForeignKeyDef> foreign_keys;
  // Table constraints (target SQL) that a target CREATE TABLE appends inside its parentheses,
  // e.g. "CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id)". Set only by
  // schema::PrepareCreateTimeObjects for SQLite targets; catalog readers leave it empty.
  std::vector<std::string> create_table_clauses;

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
