#include "cli/reload_tables_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <ostream>
#include <thread>

#include "common/error.h"
#include "settings/task_settings.h"
#include "task/data_dir.h"
#include "task/task_lock.h"
#include "task/task_store.h"

namespace ferry {

namespace {

std::string NameOf(const TableRecord& t) { return t.source_schema + "." + t.source_table; }

std::string TableList(const std::vector<TableRecord>& tables) {
  std::vector<std::string> names;
  names.reserve(tables.size());
  for (const TableRecord& t : tables) names.push_back(NameOf(t));
  return fmt::format("{}", fmt::join(names, ", "));
}

// The task's table `name` names: "schema.table", or "table" when one table has that name.
int FindTable(const std::string& task, const std::vector<TableRecord>& tables,
              const std::string& name) {
  std::vector<int> by_name;
  for (const TableRecord& t : tables) {
    if (NameOf(t) == name) return t.index;
    if (t.source_table == name) by_name.push_back(t.index);
  }
  if (by_name.size() == 1) return by_name[0];
  if (by_name.size() > 1) {
    std::vector<std::string> which;
    which.reserve(by_name.size());
    for (int i : by_name) which.push_back(NameOf(tables[static_cast<size_t>(i)]));
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--tables {}: task '{}' has several tables of that name ({}); give "
                            "schema.table",
                            name, task, fmt::join(which, ", ")));
  }
  throw Error(ErrorKind::kNotFound,
              fmt::format("--tables {}: not a table of task '{}' (its tables, by source name: "
                          "{})",
                          name, task, TableList(tables)));
}

bool ValidationEnabled(const TaskRecord& task) {
  if (task.task_settings_json.empty()) return false;
  Result<TaskSettings> settings = ParseTaskSettings(task.task_settings_json, "the task");
  return settings.ok() && (settings->validation_settings.enable_validation ||
                           settings->validation_settings.validation_only);
}

}  // namespace

CLI::App* AddReloadTablesCommand(CLI::App& app, ReloadTablesArgs* a) {
  CLI::App* cmd = app.add_subcommand(
      "reload-tables",
      "Reload tables of a task (AWS DMS ReloadTables): at once while it runs (CDC goes on; the "
      "tables' changes are cached during their load and applied after), when it resumes if it "
      "is stopped");
  cmd->add_option("--task-name", a->task_name, "The task (as given to ferry migrate)")->required();
  cmd->add_option("--tables", a->tables,
                  "Tables to reload by source name: schema.table, or table when only one "
                  "table of the task has that name; comma-separated")
      ->required()
      ->delimiter(',');
  cmd->add_option("--reload-option", a->reload_option,
                  "data-reload (load the tables again, and validate them again when the task "
                  "validates) or validate-only (validate them again; the task must validate)")
      ->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "The task's data directory (default as for migrate)");
  cmd->add_option("--wait", a->wait_seconds,
                  "Wait up to this many seconds for a running task to have reloaded the tables "
                  "(0 = do not wait)")
      ->check(CLI::NonNegativeNumber);
  return cmd;
}

int RunReloadTables(const ReloadTablesArgs& args, std::ostream& out) {
  bool validate_only = false;
  if (args.reload_option == "validate-only") {
    validate_only = true;
  } else if (args.reload_option != "data-reload") {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--reload-option '{}': expected data-reload or validate-only",
                            args.reload_option));
  }
  if (std::string bad = CheckTaskName(args.task_name); !bad.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "--task-name: " + bad);
  }
  const std::filesystem::path dir =
      args.data_dir.empty() ? DefaultDataDir() : std::filesystem::path(args.data_dir);
  // A data directory without a store is an error, never a new store.
  if (!std::filesystem::exists(dir / kStoreFileName)) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("no task store in {} (no {}): give the --data-dir the task ran "
                            "with",
                            dir.string(), kStoreFileName));
  }
  std::unique_ptr<TaskStore> store = TaskStore::Open(dir);
  std::optional<TaskRecord> task = store->GetTask(args.task_name);
  if (!task) {
    std::vector<std::string> names;
    for (const TaskRecord& t : store->ListTasks()) names.push_back(t.name);
    throw Error(ErrorKind::kNotFound,
                fmt::format("no task '{}' in task store '{}' (tasks there: {})", args.task_name,
                            store->path().string(),
                            names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  const std::vector<TableRecord> tables = store->GetTables(task->name);
  if (tables.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("task '{}' has no tables recorded yet (it never got past starting): "
                            "run it, then reload",
                            task->name));
  }
  if (validate_only && !ValidationEnabled(*task)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--reload-option validate-only: task '{}' does not validate (its "
                            "task settings have no ValidationSettings.EnableValidation); use "
                            "data-reload, or ferry validate",
                            task->name));
  }
  std::vector<int> indexes;
  for (const std::string& name : args.tables) {
    if (name.empty()) continue;
    const int i = FindTable(task->name, tables, name);
    if (std::find(indexes.begin(), indexes.end(), i) == indexes.end()) indexes.push_back(i);
  }
  if (indexes.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "--tables: name at least one table");
  }
  std::vector<std::string> names;
  names.reserve(indexes.size());
  for (int i : indexes) names.push_back(NameOf(tables[static_cast<size_t>(i)]));
  store->RequestReload(task->name, indexes, validate_only);
  const std::string what = validate_only ? "validates again" : "reloads";

  const std::filesystem::path task_dir = dir / "tasks" / task->name;
  const std::string holder = TaskLockHolder(task_dir);
  if (holder.empty()) {
    out << fmt::format(
        "Task '{}' is not running: it {} {} when it resumes (ferry migrate ... "
        "--task-name {} --resume).\n",
        task->name, what, fmt::join(names, ", "), task->name);
    return 0;
  }
  out << fmt::format("Task '{}' is running ({}): it {} {} now{}.\n", task->name, holder, what,
                     fmt::join(names, ", "),
                     task->migration_type == "full-load"
                         ? " (a full-load task: once its other tables are loaded)"
                         : "; their changes are cached while they load and applied after");
  if (args.wait_seconds <= 0 || validate_only) return 0;

  // --wait: until the task no longer holds the requests and each table is loaded (and, with
  // change processing, live again) or failed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.wait_seconds);
  const bool cdc = task->migration_type != "full-load";
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    bool asked = false;
    for (const ReloadRequest& r : store->GetReloadRequests(task->name)) {
      if (std::find(indexes.begin(), indexes.end(), r.table_index) != indexes.end()) asked = true;
    }
    const std::vector<TableRecord> now = store->GetTables(task->name);
    std::vector<std::string> done, failed;
    for (int i : indexes) {
      if (asked || static_cast<size_t>(i) >= now.size()) break;
      const TableRecord& t = now[static_cast<size_t>(i)];
      if (t.state == "Table error" || t.state == "Suspended") {
        failed.push_back(fmt::format("{} ({}: {})", NameOf(t), t.state, t.last_error));
      } else if (t.state == "Table completed" && (!cdc || t.cdc_live)) {
        done.push_back(NameOf(t));
      }
    }
    if (done.size() + failed.size() == indexes.size()) {
      if (!failed.empty()) {
        out << fmt::format("Reload failed: {}\n", fmt::join(failed, "; "));
        return 1;
      }
      out << fmt::format("Reloaded: {}\n", fmt::join(done, ", "));
      return 0;
    }
    if (TaskLockHolder(task_dir).empty()) {
      out << fmt::format(
          "Task '{}' stopped before the reload was over; it reloads the tables "
          "when it resumes.\n",
          task->name);
      return 1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      out << fmt::format(
          "Task '{}' has not finished reloading after {} s; ferry status "
          "--task-name {} shows where it is.\n",
          task->name, args.wait_seconds, task->name);
      return 1;
    }
  }
}

}  // namespace ferry
