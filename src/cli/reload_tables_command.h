// `ferry reload-tables --task-name T --tables s.t,... [--reload-option data-reload |
// validate-only] [--data-dir DIR] [--wait SECONDS]`: AWS DMS ReloadTables for a task of the
// task store.
//
// The request goes into the task store (TaskStore::RequestReload), where the task finds it:
//   - a running CDC task reloads the tables at once, while its change processing goes on:
//     their changes are cached from the moment their apply stops, the tables are loaded in a
//     new snapshot (emptied first), and the cached changes after it are applied before they
//     are live again (engine/cdc_task.h);
//   - a running full-load task reloads them once its other tables are done;
//   - a stopped task reloads them when it resumes (`ferry migrate ... --resume`). DMS allows
//     ReloadTables on a running task only; Ferry also takes it for a stopped one.
// validate-only (DMS: only when the task validates) compares the tables again, rows unchanged.
// --wait: for a running task, waits until it has acted (the tables are loaded, or failed).
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>
#include <vector>

namespace ferry {

struct ReloadTablesArgs {
  std::string task_name;
  std::vector<std::string> tables;  // "schema.table" or "table" (when one table has the name)
  std::string reload_option = "data-reload";
  std::string data_dir;  // "" = DefaultDataDir()
  int wait_seconds = 0;  // 0 = do not wait
};
CLI::App* AddReloadTablesCommand(CLI::App& app, ReloadTablesArgs* args);
// Returns the exit code: 0 asked (and, with --wait, done); 1 when a waited-for table ended in
// error or the wait timed out. Throws Error for bad arguments (unknown task or table, an
// option DMS does not have, validate-only for a task without validation).
int RunReloadTables(const ReloadTablesArgs& args, std::ostream& out);

}  // namespace ferry
