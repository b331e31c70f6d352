// The SQL of awsdms_txn_state, the table on the target that holds each CDC task's applied
// position (change/change_applier.h). One row per task, written in the same target transaction as
// the changes it covers. Every engine's ChangeApplier runs these statements on its own
// connection, so they are plain SQL text with literals (no parameters).
//
// Columns: SERVER_NAME, TASK_NAME (primary key), CHECKPOINT (the source position text),
// CHECKPOINT_TIME (the last applied source commit, UTC), UPDATED_AT (UTC) — lower case on
// PostgreSQL, upper case on MySQL/MariaDB and SQLite, as the other control tables. The
// engine's spelling (types, upsert, time arithmetic) comes from its Dialect.
#pragma once

#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "change/change_applier.h"
#include "connectors/dialect.h"

namespace ferry::cdc {

class TxnStateSql {
 public:
  // `control_schema` as ControlTablesSettings.ControlSchema ("" = the engine's default, see
  // control/control_tables.h ControlSchemaFor).
  TxnStateSql(Engine engine, const std::string& control_schema);

  // The schema, and the quoted schema-qualified table name.
  const std::string& schema() const { return schema_; }
  const std::string& table() const { return table_; }
  // Statements that create the schema (PostgreSQL, MySQL) and the table when missing.
  std::vector<std::string> Create() const;
  // SELECT checkpoint, checkpoint_time (as microseconds since 1970 UTC, an integer) of `task`.
  std::string Select(const std::string& task) const;
  // Deletes `task`'s row.
  std::string Delete(const std::string& task) const;
  // Writes `task`'s row (insert or replace), updated_at = now.
  std::string Upsert(const std::string& task, const Checkpoint& checkpoint) const;

 private:
  std::string Col(const char* upper) const;
  std::string Lit(const std::string& value) const;
  std::string TimeLit(int64_t micros) const;
  const Dialect* dialect_;  // not owned: DialectFor(engine)
  std::string schema_;
  std::string table_;
  std::string server_;
};

}  // namespace ferry::cdc
