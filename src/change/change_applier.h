// The target side of change data capture: applies row changes inside target transactions and
// commits the task's position with them, so a crash anywhere resumes exactly after the last
// committed source transaction (on a SQL target the "awsdms_txn_state" table, in the control
// schema). Every target has one: the checkpoint store is part of this contract, not of SQL.
//
// Use: Prepare(); ReadCheckpoint(); then per group of source transactions
//   Begin(); Apply(...)...; Flush() -> issues; [more Apply]; Commit(checkpoint)
// or Rollback() after any Error.
//
// Threading: one thread. Errors: RowError (connector.h) for a value the target column cannot
// hold, found before anything of that change is sent; Error for a failed statement or lost
// connection (kConnection), after which the transaction is unusable: call Rollback().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "change/change.h"

namespace ferry::cdc {

inline constexpr const char* kTxnStateTable = "awsdms_txn_state";

// What awsdms_txn_state holds for a task: the last source transaction whose changes are
// committed on the target.
struct Checkpoint {
  std::string position;  // the source position in its engine's spelling (PositionCodec::Format)
  int64_t commit_time_us = 0;  // that transaction's commit time, microseconds since 1970 UTC
};

enum class ApplyOutcome : uint8_t {
  kApplied,
  kNoRow,      // UPDATE or DELETE matched no row on the target
  kDuplicate,  // INSERT found a row with the same key (nothing written)
};

struct ApplyIssue {
  uint64_t tag = 0;  // what the caller passed to Apply
  ApplyOutcome outcome = ApplyOutcome::kApplied;
};

class ChangeApplier {
 public:
  virtual ~ChangeApplier() = default;

  // Makes the checkpoint store ready. SQL targets create the control schema and
  // awsdms_txn_state when missing. Columns: SERVER_NAME, TASK_NAME (key), CHECKPOINT,
  // CHECKPOINT_TIME (UTC), UPDATED_AT; lower case on PostgreSQL, upper case elsewhere (as
  // control_tables.h). A target that is not a database keeps the checkpoint its own way, and
  // commits it with the changes as Commit says.
  virtual void Prepare(const std::string& control_schema) = 0;
  // This task's checkpoint, or nullopt when it has none yet. `task` is the row's key: a CDC
  // task's CheckpointKey (task name and id), so two same-named tasks never share a row.
  virtual std::optional<Checkpoint> ReadCheckpoint(const std::string& task) = 0;
  // Deletes this task's checkpoint row (a task started afresh).
  virtual void ClearCheckpoint(const std::string& task) = 0;

  // Starts a target transaction.
  virtual void Begin() = 0;
  // Applies `change` to `target` (the table as the target writer created it). The change's rows
  // have target.columns. The row is identified by target.primary_key, or when it has none, by
  // every column compared NULL-safe, affecting one row only (tables without a key may hold
  // duplicates). INSERT writes the new image; UPDATE sets the new image's columns that are not
  // unchanged (Cell::unchanged), finding the row by the old image's key when there is one, else
  // the new image's; DELETE finds the row by the old image; TRUNCATE empties the table.
  // `upsert`: INSERT overwrites a row with the same key (ApplyErrorInsertPolicy INSERT_RECORD),
  // UPDATE inserts the new image when no row matched (ApplyErrorUpdatePolicy UPDATE_RECORD).
  // May only queue the change (pipelining); outcomes come from Flush. `tag` identifies it there.
  virtual void Apply(const TableDef& target, const ChangeView& change, bool upsert,
                     uint64_t tag) = 0;
  // Waits for every queued change. Returns those that did not apply (kNoRow, kDuplicate), in
  // order; they changed nothing, and the transaction goes on.
  virtual std::vector<ApplyIssue> Flush() = 0;
  // Flushes (an issue found here throws Error(kInternal): call Flush first when issues matter),
  // writes `checkpoint` as this task's awsdms_txn_state row and commits, all in one transaction.
  virtual void Commit(const std::string& task, const Checkpoint& checkpoint) = 0;
  // Abandons the transaction. Never throws.
  virtual void Rollback() noexcept = 0;

  // Runs `sql` (a target ALTER that follows the source table's columns, cdc/ddl_sync.h) inside
  // the open transaction, so it commits or rolls back with the changes around it. Call Flush
  // first. Statements prepared before are forgotten (the tables they name may have other
  // columns now). Throws Error when it fails (call Rollback), and Error(kUnsupported) on a
  // target whose DDL is not transactional (MySQL commits each ALTER at once): the default.
  virtual void ExecuteInTransaction(const std::string& sql);

  // Batch apply (see net_changes.h): inside the open transaction, deletes every row of
  // `target` whose primary key is in `remove_keys` (rows of the key columns only, in
  // target.primary_key order; a key matching no row is fine), then inserts `rows` (full rows
  // with target.columns, none unchanged; their keys are all among remove_keys). A `target`
  // without a primary key takes no keys (remove_keys has no rows): `rows` are appended. Conflicts are not reported. Throws RowError for a value a column cannot hold
  // (before anything of the batch is sent) and Error for a failed statement; either way the
  // transaction is unusable: call Rollback(). Call Flush before it when the outcomes of
  // changes queued with Apply matter (the default implementation's own Flush drops them).
  // The default goes row by row through Apply and Flush (every engine); appliers override it
  // with set-based statements.
  virtual void ApplyNet(const TableDef& target, const Batch& remove_keys, const Batch& rows);

  // The change as text for logs and awsdms_apply_exceptions.STATEMENT. A SQL target writes
  // one SQL statement with literal values, in its dialect, e.g. UPDATE "public"."t" SET
  // "a"='x' WHERE "id"=5; another target describes the change its own way. Values longer
  // than 200 bytes are shortened with "...".
  virtual std::string Statement(const TableDef& target, const ChangeView& change) = 0;
};

}  // namespace ferry::cdc
