// One replication task, whatever its migration type: what `ferry migrate` runs, and what
// `ferry serve` will run many of in one process. It is built from a task definition (the
// endpoints, the planned tables, the migration type, the DMS settings) and runs to its end:
//
//   full-load           FullLoadTask (engine/full_load_task.h), then the post-load steps:
//                       Ferry's schema objects (indexes, foreign keys, defaults), the DMS
//                       control tables, and validation (ValidationSettings.EnableValidation);
//   cdc,
//   full-load-and-cdc   CdcTask (engine/cdc_task.h): full load, cached changes, change
//                       processing, validation of changes, until stopped.
//
// Stopping: Run() takes a std::stop_token. A stop request ends the task cleanly at its next
// consistent point (a full load rolls back the tables in progress and keeps the completed
// ones; CDC commits what it applied with its checkpoint); `--resume` continues it. The caller
// owns where requests come from (the CLI: SIGINT/SIGTERM; the service: StopReplicationTask).
//
// Threading: Run() on one thread; stats() once on_running was called, StatusLine() and the stop
// source from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "change/position.h"
#include "connectors/connector.h"
#include "engine/cdc_task.h"
#include "engine/full_load.h"
#include "engine/full_load_task.h"
#include "schema/post_load.h"
#include "settings/task_settings.h"
#include "task_model/plan.h"

namespace ferry {

// What a task is: DMS CreateReplicationTask's fields as Ferry runs them.
struct ReplicationTaskDefinition {
  std::string name = "ferry";  // ReplicationTaskIdentifier
  MigrationType type = MigrationType::kFullLoad;
  std::filesystem::path data_dir;  // the task store and the task's files
  bool resume = false;             // DMS resume-processing
  // The DMS task settings; nullopt = none given (Ferry's defaults: LOBs whole, no control
  // tables, no validation; a CDC task then suspends a table on a data error, as DMS does).
  std::optional<TaskSettings> settings;
  FullLoadOptions full_load;
  schema::SchemaObjectOptions schema_objects;  // Ferry extension, full-load tasks
  // CDC: where to start and stop (source positions, the source connector's codec), the
  // replication slot and publication ("" = the task's own), heartbeat interval.
  std::optional<cdc::Position> cdc_start_position, cdc_stop_position;
  std::string slot, publication;
  std::chrono::seconds heartbeat{60};
  // CDC resume: the tables planned again as they were (CdcTaskOptions::replan).
  std::function<std::vector<TablePlan>(const std::vector<TableDef>& as_of)> replan;
  // Kept in the task store for `ferry status` (passwords removed there).
  std::string source_uri, target_uri, table_mappings_json, task_settings_json;
};

// How a task ended.
struct ReplicationTaskOutcome {
  std::string stop_reason;  // why an error policy or a failure stopped it ("" = it did not)
  // Full load: Ferry's schema objects created after the load.
  schema::SchemaObjectsReport schema_objects;
  int64_t rows_differing = 0;      // validation: rows that differ between the two sides
  bool validation_failed = false;  // a table did not validate (differing rows or an error)
  std::vector<std::string> tables_not_applied;  // CDC: "schema.table (state): error"
  bool all_tables_completed = true;             // full load: every table loaded
  // 0 when everything went through; 1 otherwise (stopped by a failure, a table not loaded or
  // not applied, a schema object refused, rows that differ).
  int ExitCode() const;
};

class ReplicationTask {
 public:
  // `source` and `target` must outlive the task; `plans` in plan order.
  ReplicationTask(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
                  ReplicationTaskDefinition definition);
  ~ReplicationTask();

  // Runs the task to its end (see the header comment); `stop` ends it early and cleanly.
  // `on_running` is called once stats() is valid, before any row moves. Throws Error for what
  // stops it before it runs (prerequisites, nothing to resume, the task running elsewhere).
  ReplicationTaskOutcome Run(const std::stop_token& stop,
                             const std::function<void()>& on_running = {});

  // One per plan, in plan order; valid from on_running on.
  const std::vector<std::unique_ptr<TableStats>>& stats() const;
  bool changes() const { return definition_.type != MigrationType::kFullLoad; }
  // CDC: the change-processing line for displays ("" for a full-load task).
  std::string StatusLine() const;

 private:
  ReplicationTaskOutcome RunFullLoad(const std::stop_token& stop,
                                     const std::function<void()>& on_running);
  ReplicationTaskOutcome RunCdc(const std::stop_token& stop,
                                const std::function<void()>& on_running);
  // DMS control tables after a full load (ControlTablesSettings), best effort.
  void RecordControlTables(const FullLoad& load);

  SqlConnector& source_;
  Connector& target_;
  std::vector<TablePlan> plans_;
  ReplicationTaskDefinition definition_;
  std::unique_ptr<FullLoadTask> full_load_;
  std::unique_ptr<CdcTask> cdc_;
};

}  // namespace ferry
