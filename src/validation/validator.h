// Row-level data validation (AWS DMS ValidationSettings, `ferry validate`): proves, per table,
// that the target holds what the source holds, with bounded memory and no ORDER BY.
//
// Per table:
//  1. Pass 1 reads the source (the plan's source columns and filter) and the target (its own
//     catalog definition, columns picked by the plan's target names in plan order) at once, on
//     two threads. Each row gets a key (the plan target's TableDef::RowKey) and a row hash
//     (validation/row_compare.h); the key's hash picks one of P = ceil(estimated rows /
//     PartitionSize) partitions, and each partition keeps an order-independent summary.
//  2. Only partitions whose summaries differ are read again (pass 2), in rounds that hold at
//     most ValidatorOptions::pass2_max_rows source rows (a partition bigger than that is split
//     further by a second hash); rows are matched by key and reported as RECORD_DIFF,
//     MISSING_TARGET (on the source only) or MISSING_SOURCE (on the target only).
// Failures are written to awsdms_validation_failures_v1 (control/control_tables.h) with
// KEY_TYPE "Row" and KEY as {"key": [...]}; at most TableFailureMaxCount per table and
// FailureMaxCount per task are recorded, then the table's validation stops, the rows not yet
// compared are counted as pending and the message says so.
//
// HandleCollationDiff: DMS uses it to order rows the same way on both sides; this scheme never
// depends on order or collation (partitions come from hashes of the key's exact text), so it
// needs no handling and text always compares exactly (case and accents included).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "control/control_tables.h"
#include "settings/task_settings.h"
#include "task_model/plan.h"
#include "task_model/table_stats.h"
#include "validation/row_compare.h"

namespace ferry {

// DMS ValidationState values.
inline constexpr const char* kValidationNotEnabled = "Not enabled";
inline constexpr const char* kValidationPending = "Pending records";
inline constexpr const char* kValidationMismatched = "Mismatched records";
inline constexpr const char* kValidationSuspended = "Suspended records";
inline constexpr const char* kValidationNoPrimaryKey = "No primary key";
inline constexpr const char* kValidationTableError = "Table error";
inline constexpr const char* kValidationValidated = "Validated";
inline constexpr const char* kValidationError = "Error";

struct ValidatorOptions {
  size_t pass2_max_rows = 200000;  // source rows held in memory at once in pass 2
  size_t batch_rows = 10000;       // scan batch size
  std::string task_name = "ferry";  // only for log lines (ControlTables carries its own)
};

struct TableValidation {
  std::string source_name;  // schema.table on the source
  std::string target_schema, target_table;
  std::string state = kValidationPending;
  int64_t source_rows = 0, target_rows = 0;
  int64_t partitions = 0, differing_partitions = 0;
  int64_t failed = 0, pending = 0, suspended = 0;  // ValidationFailed/Pending/SuspendedRecords
  int64_t record_diff = 0, missing_source = 0, missing_target = 0;
  std::vector<RowDifference> differences;  // the ones recorded (limits applied)
  std::string message;  // why not Validated, or the limit reached
};

class Validator {
 public:
  // `source`, `target` and `control` (may be null: nothing is written) must outlive this.
  Validator(SqlConnector& source, SqlConnector& target, ValidationSettings settings,
            ControlTables* control, ValidatorOptions options = {});

  // Validates one table on the calling thread and one helper thread. Never throws: a failure
  // (connection, missing table or column) gives state "Error" and the message.
  TableValidation ValidateTable(const TablePlan& plan);

  // Validates every plan, ThreadCount tables at once; results in plan order. With `stats`
  // (one per plan, or empty), a table whose load ended "Table error" is not compared (state
  // "Table error"), and each TableStats gets its validation fields as its table finishes.
  std::vector<TableValidation> Run(const std::vector<TablePlan>& plans,
                                   const std::vector<TableStats*>& stats = {});

  // Asks running validations to stop soon (their tables end "Error", "cancelled").
  void Cancel() { cancelled_ = true; }

  // Compares only the rows of `plan` (a plan as ValidateTable takes) whose target key
  // (TableDef::RowKey of the plan's target: each key column's canonical text, in key order) is
  // one of `keys`, read by key on both sides. Returns the differences, each naming its row by
  // RowDifference::key_json (KeyJson of the same texts). Nothing is recorded. Throws Error:
  // kUnsupported when rows cannot be read by key value (no key; a key column of a binary,
  // floating or LOB type), kSchema when the target lacks a column, and read failures.
  std::vector<RowDifference> CompareKeys(const TablePlan& plan,
                                         const std::vector<std::vector<std::string>>& keys);

 private:
  // A table's comparison set up: the comparable plan, the spec and the target as its own
  // catalog has it (columns in plan order).
  struct Prepared {
    TablePlan plan;
    std::vector<std::string> key;  // target key column names
    CompareSpec spec;
    TableDef target_def;
  };
  Prepared Prepare(const TablePlan& comparable, const std::vector<std::string>& key);
  TableValidation Validate(const TablePlan& plan);

  SqlConnector& source_;
  SqlConnector& target_;
  ValidationSettings settings_;
  ControlTables* control_;
  ValidatorOptions options_;
  std::atomic<int64_t> task_failures_{0};  // failures recorded across tables (FailureMaxCount)
  std::atomic<bool> cancelled_{false};
};

// The awsdms_validation_failures_v1 row of difference `d` of target table `target`.
ValidationFailureRow FailureRow(const TableDef& target, const RowDifference& d);

// Copies a result into the DMS statistics of its table.
void ApplyValidationToStats(const TableValidation& result, TableStats* stats);

}  // namespace ferry
