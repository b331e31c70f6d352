// Ferry extension (beyond AWS DMS, which creates only tables, primary keys and unique
// indexes): the source's secondary indexes, foreign keys and column defaults, converted to the
// target engine's DDL where they can be, and a reason for each one that cannot.
//
// Where each kind of object is created:
// - Indexes: after the load (CREATE INDEX), per table, only when that table completed; an index
//   built once over loaded rows is cheaper than maintained row by row.
// - Foreign keys: after the load (ALTER TABLE ... ADD CONSTRAINT) on PostgreSQL and MySQL, when
//   both tables completed, so the load order never matters. SQLite cannot add a constraint to an
//   existing table: for SQLite targets they go into CREATE TABLE (SQLite enforces them only on
//   connections that enable PRAGMA foreign_keys, which the writer does not), and are verified in
//   the target catalog after the load.
// - Defaults: after the load (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT, a metadata change on
//   both servers) on PostgreSQL and MySQL, so a default the target refuses is reported without
//   failing the table's load, and tables kept by DO_NOTHING / TRUNCATE_BEFORE_LOAD get them too.
//   SQLite cannot alter a column: its defaults go into CREATE TABLE. Defaults never affect the
//   bulk load, which supplies every column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "task_model/plan.h"

namespace ferry::schema {

// What the user asked for (FerrySettings in the task settings, or migrate flags).
struct SchemaObjectOptions {
  bool indexes = false;       // CreateSecondaryIndexes / --create-indexes
  bool foreign_keys = false;  // CreateForeignKeys / --create-foreign-keys
  bool defaults = false;      // CreateColumnDefaults / --create-defaults
  bool Any() const { return indexes || foreign_keys || defaults; }
};

enum class ObjectKind { kIndex, kForeignKey, kDefault };
const char* ObjectKindName(ObjectKind kind);  // "index", "foreign key", "default"

enum class ObjectStatus {
  kPending,       // converted; its DDL has not run yet
  kCreated,       // exists on the target
  kNotConverted,  // cannot be expressed on the target engine (reason says why)
  kFailed,        // the target refused the DDL (reason holds the server's message)
  kSkipped,       // a table it needs did not complete its load
};
const char* ObjectStatusName(ObjectStatus status);  // "pending", "created", "not converted", ...

// One source object and what becomes of it on the target.
struct SchemaObject {
  ObjectKind kind = ObjectKind::kIndex;
  std::string source;  // source object for messages: "public.film.idx_title",
                       // "public.film.fk_lang", "public.film.title" (a column's default)
  std::string table;   // the target table (qualified) the object belongs to
  std::string name;    // target index / constraint name, or the target column of a default
  // The statement run after the load; empty when created with the table or not converted.
  std::string sql;
  // Created by CREATE TABLE (SQLite targets): `clause` is the column's DEFAULT expression or
  // the table constraint; the object is verified in the target catalog after the load.
  bool with_table = false;
  std::string clause;
  std::vector<std::string> required_tables;  // target tables that must have completed
  ObjectStatus status = ObjectStatus::kPending;
  std::string reason;  // why not converted / failed / skipped; a note when created
};

// A column default converted to the target.
struct ConvertedDefault {
  bool converted = false;
  std::string sql;     // the expression after DEFAULT on the target; "" = no default at all
  std::string reason;  // why not, when !converted
};

// Converts the default `expression` (as the catalog of `source_engine` prints it, see
// ColumnDef::default_expression) for `target_column` (its target native type decides boolean
// and text renderings) on `target_engine`. Converted: NULL (to no default), numbers, strings,
// booleans, CURRENT_TIMESTAMP / now() / CURRENT_DATE / CURRENT_TIME and their spellings.
// Not converted: sequences (nextval, AUTO_INCREMENT, identity) on any target, and other
// expressions unless source and target are the same engine (then kept verbatim).
ConvertedDefault ConvertDefault(std::string_view expression, Engine source_engine,
                                const ColumnDef& target_column, Engine target_engine);

// Every requested object of every plan, in plan order (indexes, then foreign keys, then
// defaults per table), converted for `target_engine`. Source names map to target names
// through the plans (renamed tables and columns; a column not migrated makes its objects not
// convertible); a foreign key whose referenced table is not planned is not converted. Unique
// indexes the load already creates (TablePlan::target.unique_indexes) are not repeated.
// Index names are made unique where the target needs it (PostgreSQL per schema, SQLite per
// database, MySQL per table): "<table>_" is prefixed on SQLite targets and from MySQL sources
// (whose index names are per table), then "_2", "_3"... on a clash, cut to the engine's limit
// (63 / 64 bytes). Deterministic for the same plans.
std::vector<SchemaObject> PlanSchemaObjects(const std::vector<TablePlan>& plans,
                                            Engine source_engine, Engine target_engine,
                                            const SchemaObjectOptions& options);

// For SQLite targets, puts the requested defaults and foreign keys into the plans' target
// TableDefs (ColumnDef::create_default, TableDef::create_table_clauses) so CREATE TABLE makes
// them; call before the load. Does nothing for other targets or when nothing is requested.
void PrepareCreateTimeObjects(std::vector<TablePlan>& plans, Engine source_engine,
                              const SchemaObjectOptions& options);

}  // namespace ferry::schema
