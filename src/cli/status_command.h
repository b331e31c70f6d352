// `ferry status [--data-dir DIR] [--task-name NAME] [--json]`: what the task store of a data
// directory says about its tasks, read-only, so it works from another shell while a task runs
// (and after it stopped or crashed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "task/task_store.h"

namespace ferry {

struct StatusOptions {
  std::filesystem::path data_dir;  // "" = DefaultDataDir()
  std::string task;                // "" = every task in the store
  bool json = false;
  int64_t now_us = 0;              // the clock for elapsed times; 0 = the system clock (tests)
};

// Prints the task(s) to `out`.
// Text: per task its name, migration type, status, stop reason, last failure, endpoints
// (never a password), times, slot/publication, CDC positions and latency, memory and spill,
// table counts; then one row per table: state, CDC live, full-load rows, Inserts / Updates /
// Deletes / DDLs captured, the same applied, apply errors; then each table's last error.
// JSON (--json): {"ReplicationTasks": [task...]}, each task shaped like a DMS
// DescribeReplicationTasks ReplicationTask (ReplicationTaskIdentifier, MigrationType, Status,
// StopReason, ..., ReplicationTaskStats {TablesLoaded, ...}), with Ferry's additions under
// "Ferry" and its tables under "TableStatistics" shaped like DMS DescribeTableStatistics
// (SchemaName, TableName, Inserts, ..., AppliedInserts, ..., TableState). Optional members
// that are not set are left out, as the DMS API does; times are ISO 8601 UTC.
// Returns the exit code: 0; 1 with a message on `err` when the data directory has no store,
// the store cannot be read, or the named task does not exist (the message lists the tasks
// that do).
int RunStatusCommand(const StatusOptions& options, std::ostream& out, std::ostream& err);

// The JSON object of one task (see RunStatusCommand), for the status command and `ferry serve`.
nlohmann::json TaskStatusJson(const TaskRecord& task, const std::vector<TableRecord>& tables,
                              int64_t now_us);

// The text block of one task (see RunStatusCommand).
std::string TaskStatusText(const TaskRecord& task, const std::vector<TableRecord>& tables,
                           int64_t now_us);

}  // namespace ferry
