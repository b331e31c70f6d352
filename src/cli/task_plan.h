// What `ferry migrate` and `ferry validate` share before they start: reading the files given on
// the command line, connecting to the endpoints, and planning the tables from --tables or
// --table-mappings, so that both commands pair the same source and target tables.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "settings/task_settings.h"
#include "task_model/plan.h"

namespace ferry {

// The values of a repeatable comma-separated option: {"a,b", "c"} -> {"a", "b", "c"}.
std::vector<std::string> SplitList(const std::vector<std::string>& items);

// The whole file; ErrorKind::kNotFound "cannot read <what> file '<path>'" when it cannot be read.
std::string ReadFile(const std::string& path, const char* what);

// The --task-settings file, parsed; throws on a file that cannot be read or parsed.
TaskSettings LoadTaskSettings(const std::string& path);

// Opens and tests the endpoint `text`; `role` ("source", "target", ...) names it in errors.
// `as_target`: a MySQL database that does not exist yet is fine for a target (the load
// creates it, as it creates a missing PostgreSQL schema). `password_file`, when not empty,
// holds the password (its first line; --source-password-file and the like), so it need not
// be in the URI, where `ps` would show it; a URI that has a password too is refused.
// Without either, PostgreSQL takes PGPASSWORD or ~/.pgpass (libpq) and MySQL MYSQL_PWD.
std::unique_ptr<Connector> Connect(const std::string& text, const char* role,
                                   bool as_target = false, const std::string& password_file = "");
// The same for an endpoint that must be a database (a source, or a target validated with
// SQL): throws Error(kInvalidArgument) naming `role` when `text` is an endpoint of another kind.
std::unique_ptr<SqlConnector> ConnectDatabase(const std::string& text, const char* role,
                                              bool as_target = false,
                                              const std::string& password_file = "");

// The --table-mappings file, parsed; nullopt when `path` is empty. Throws when `tables`
// (--tables) selects tables too.
std::optional<TableMappings> LoadTableMappings(const std::string& path,
                                               const std::vector<std::string>& tables);

struct TaskTables {
  std::vector<TablePlan> plans;
  // With table mappings: the mapped tables, one per plan and in the same order.
  std::optional<std::vector<MappedTable>> mapped;
};

// Takes the views out of `tables` (a CDC task's: AWS DMS loads views only in full-load tasks)
// and returns their qualified source names. Throws kInvalidArgument when only views were
// selected.
std::vector<std::string> LeaveOutViews(TaskTables* tables);

// Plans the tables of `schema` on `source`: by `mappings` when given (`mappings_path` names
// the file in errors), else those named by `tables` (every table when empty).
// `target_schema` overrides the target URI's schema= when not empty. Throws
// ErrorKind::kNotFound "no tables to <verb>: ..." when nothing is selected. `as_of`: source
// tables planned as given instead of as the catalog has them now (a resumed CDC task's tables
// as they were when it started, CdcTaskOptions::replan); one the catalog no longer lists is
// planned too.
TaskTables PlanTaskTables(Connector& source, Connector& target, const std::string& schema,
                          const std::string& target_schema,
                          const std::optional<TableMappings>& mappings,
                          const std::string& mappings_path, const std::vector<std::string>& tables,
                          const char* verb, const std::vector<TableDef>& as_of = {});

}  // namespace ferry
