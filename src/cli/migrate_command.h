// `ferry migrate`: one task in the foreground. A full load (the default), or with
// --migration-type cdc / full-load-and-cdc a task that keeps the target in step with the
// source's changes until stopped (engine/cdc_task.h), its state in --data-dir.
//
// Exit codes (RunMigrate's return): 0 success (a CDC task stopped normally); 1 some table did not
// complete, or the task stopped on an error; bad input or no connection throws ferry::Error,
// which main turns into 2.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "settings/task_settings.h"
#include "task_model/error_policy.h"

namespace ferry {

struct MigrateArgs {
  std::string source, target;
  std::string source_password_file, target_password_file;  // first line = the password
  std::vector<std::string> tables;
  std::string schema;
  std::string target_schema;
  std::string prep_mode = "DO_NOTHING";
  int parallel = 0;
  int auto_segments = -1;  // -1 = default (one per core, at most 4), 0 = off
  int64_t auto_segment_min_rows = 1000000;
  std::string task_settings;  // path of a DMS ReplicationTaskSettings JSON file
  std::string table_mappings;  // path of a DMS table-mappings JSON file
  bool prep_mode_given = false, parallel_given = false, target_schema_given = false;
  bool json = false;
  bool no_progress = false;
  size_t batch_rows = 10000;
  bool batch_rows_given = false;
  // From --task-settings: ErrorBehavior and FullLoadSettings.CreatePkAfterFullLoad.
  std::optional<ErrorBehavior> error_behavior;
  bool create_pk_after_load = false;
  bool verbose = false;
  std::optional<TaskSettings> settings;  // the --task-settings document, when given
  // Ferry extension (src/schema/): also create these after the load; FerrySettings in
  // --task-settings turns them on too.
  bool create_indexes = false, create_foreign_keys = false, create_defaults = false;
  bool create_schema_objects = false;

  // Change data capture (engine/cdc_task.h).
  std::string migration_type = "full-load";  // full-load | cdc | full-load-and-cdc
  std::string data_dir;                      // "" = task/data_dir.h DefaultDataDir()
  std::string task_name = "ferry";
  bool resume = false;
  std::string cdc_start_position, cdc_stop_position;  // the source's position text ("" = none)
  std::string cdc_start_time;                         // DMS CdcStartTime ("" = none)
  std::string slot_name, publication;
  int heartbeat_seconds = 60;

  // Set by AddMigrateCommand: flags the user gave explicitly win over --task-settings.
  CLI::Option* prep_mode_opt = nullptr;
  CLI::Option* parallel_opt = nullptr;
  CLI::Option* target_schema_opt = nullptr;
  CLI::Option* batch_rows_opt = nullptr;
};

// Adds the `migrate` subcommand and its flags, bound to `args` (which must outlive the parse).
CLI::App* AddMigrateCommand(CLI::App& app, MigrateArgs* args);

// Runs the task and prints its statistics (text, or JSON with --json) to stdout.
int RunMigrate(MigrateArgs args);


}  // namespace ferry
