// Source table changes (ALTER TABLE seen by the capture) carried to the target, as DMS does with
// ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered.
//
// The capture reports a table's new column list (CaptureSink::OnTableChanged); PlanTableChange
// compares it with the list it had and says what to run on the target and what the table's
// plan becomes. Column changes are recognised by name:
//   added     a name only in `after`: ADD COLUMN on the target, with the type Dialect::MapColumn
//             gives (as a full load would create it), always nullable (rows already on the
//             target have no value; DMS adds it nullable too), appended to the plan;
//   dropped   a name only in `before`: DROP COLUMN on the target and out of the plan (a dropped
//             primary key column takes the target's primary key with it, as on the source);
//   renamed   a name gone from position i and a new name at the same position i with the same
//             type is taken as RENAME COLUMN (the stream cannot tell a rename from a drop plus an
//             add; a drop and an add of the same type at the same position is replayed as a
//             rename, so rows already on the target keep their old value there);
//   retyped   same name, other type (DmsType or native type): PostgreSQL `ALTER COLUMN c TYPE x
//             USING c::x`, MySQL `MODIFY COLUMN c x [NOT NULL]`. SQLite cannot alter a column's
//             type: the table is rebuilt (a new table with the new declared types, every row
//             copied, converted as PostgreSQL's cast would: a scaled decimal to text keeps its
//             scale; the old table dropped, the new one renamed, its unique indexes created).
// Nullability and default changes are not carried (the stream does not say them reliably).
//
// Plans with a row transform (add-column expressions, change-data-type): new source columns
// join the transform's source and are copied to a new target column; target columns copied
// unchanged from a dropped, renamed or retyped source column follow it; columns converted by
// a change-data-type rule keep their target type; an add-column expression that reads a
// dropped column keeps reading it (as NULL) and a note says so. Columns renamed by a mapping
// rule keep their target name when their source column is renamed.
//
// With handle_altered false (HandleSourceTableAltered false) nothing runs on the target: the
// plan keeps its target columns (new source columns are not replicated, dropped or renamed
// ones arrive as NULL), with a note.
//
// Pure functions: nothing touches a database; the caller runs `statements` (e.g. through
// SqlConnector::OpenSession) while no target transaction is open, then adopts `new_plan`.
#pragma once

#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "connectors/connector.h"
#include "task_model/plan.h"

namespace ferry::cdc {

struct TableChangePlan {
  std::vector<std::string> statements;  // ALTER TABLE ... in the target's dialect, in order
  TablePlan new_plan;                   // the table's plan after the change
  std::vector<std::string> notes;       // what was not replicated and why (to be logged)
};

// `plan`: the table's plan now; `before`/`after`: the captured source definitions (every
// column of the source table, in source order). `target` supplies the dialect and engine.
// Never throws for a change it cannot carry: it leaves that part of the target alone and says
// so in `notes`.
TableChangePlan PlanTableChange(const TablePlan& plan, const TableDef& before,
                                const TableDef& after, const SqlConnector& target,
                                Engine source_engine, bool handle_altered);

}  // namespace ferry::cdc
