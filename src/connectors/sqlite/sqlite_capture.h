// Change data capture from a SQLite source. SQLite has no log another process can read, so
// Ferry records changes itself, inside the source file, with triggers (docs/user-guide: "SQLite
// as a CDC source"). For a task whose capture base name is B (CaptureOptions::slot: by default
// cdc::CaptureObjectName, "ferry_<task>_<id>"), Prepare creates, only when CDC is asked for:
//
//   B_changes  one row per row change, in commit order:
//              seq INTEGER PRIMARY KEY AUTOINCREMENT  the position (sqlite_position.h); never
//                                                     reused, also after rows are deleted
//              tbl TEXT    the captured table's name
//              op  TEXT    'I' insert, 'U' update, 'D' delete
//              at_us INTEGER  when the trigger ran, microseconds since 1970 (latency figures)
//   B_values   the row images, one row per value, WITHOUT ROWID, PRIMARY KEY (seq, img, col):
//              img 0 old image (update, delete), 1 new image (insert, update); col the
//              column's index in the table; val the value with no declared type (no
//              affinity), so it keeps its storage class and bytes exactly. A table with a
//              primary key records only the key columns of the old image; one without, all.
//   B_meta     one row: owner (cdc::CaptureOwner::ToText, whose objects these are) and
//              confirmed (the seq up to which the target has committed; rows at or before it
//              are deleted by Confirm).
//   triggers   B_ins_<table>, B_upd_<table>, B_del_<table>: AFTER INSERT/UPDATE/DELETE on
//              each captured table, naming its columns.
//
// Writers are serialized in SQLite and seq is allocated inside the writer's transaction, so
// seq order is commit order and a reader that sees a change sees its whole transaction. Poll
// delivers every committed change it has not delivered yet as one transaction (which may hold
// several source transactions, whole), cut only where a table's snapshot stands (a point
// between transactions) so that no transaction holds changes from both sides of it. Values are read
// with the full load's own conversion (sqlite_values.h). A schema change of a captured table
// (PRAGMA schema_version moved, the table's columns differ from the captured ones) recreates its
// triggers and reports OnTableChanged; a table that is gone reports OnTableDropped. DropObjects
// (ferry delete-task) removes the triggers and the three tables.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "change/change_capture.h"
#include "connectors/sqlite/sqlite_values.h"

namespace ferry::sqlite {

// The names of a capture's objects for base name `base`.
struct CaptureTables {
  explicit CaptureTables(const std::string& base);
  std::string base, changes, values, meta;
  std::string InsertTrigger(const std::string& table) const { return base + "_ins_" + table; }
  std::string UpdateTrigger(const std::string& table) const { return base + "_upd_" + table; }
  std::string DeleteTrigger(const std::string& table) const { return base + "_del_" + table; }
};

// Whether table `name` is one of a capture's own tables (B_changes, B_values, B_meta where
// all three exist in `tables`, the names of the file's tables): the catalog lists no such table,
// so no task selects them.
bool IsCaptureTable(const std::string& name, const std::vector<std::string>& tables);

// The SQL creating the triggers that record `table`'s changes into `names`'s tables (three
// CREATE TRIGGER statements separated by ';'). Throws Error(kData) for a name with a NUL byte.
std::string TriggerSql(const CaptureTables& names, const TableDef& table);

std::unique_ptr<cdc::ChangeCapture> OpenSqliteCapture(const std::string& path,
                                                      DatetimeNumbers numbers,
                                                      const cdc::CaptureOptions& options);

}  // namespace ferry::sqlite
