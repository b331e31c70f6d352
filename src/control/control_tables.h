// The AWS DMS control tables on a task's target (user guide: "Control table task settings",
// CHAP_Tasks.CustomizingTasks.TaskSettings.ControlTable; "AWS DMS data validation",
// CHAP_Validating): created when missing in ControlTablesSettings.ControlSchema and written
// through one plain SQL session of the target.
//
// Where: ControlSchema, or when empty PostgreSQL "public", MySQL/MariaDB database
// "awsdms_control" (created when missing), SQLite "main" (SQLite has no other schema to create;
// a ControlSchema other than "main" is ignored there with a warning).
//
// Column names are DMS's; PostgreSQL gets them lower case (what an unquoted DMS name becomes
// there), MySQL/MariaDB and SQLite upper case. Times are written in UTC.
//
// Thread-safety: every method may be called from any thread; one session behind a mutex.
// Errors: methods throw ferry::Error with the server's message and the table's name.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "connectors/connector.h"
#include "settings/task_settings.h"
#include "task_model/table_stats.h"

namespace ferry {

inline constexpr const char* kApplyExceptionsTable = "awsdms_apply_exceptions";
inline constexpr const char* kStatusTable = "awsdms_status";
inline constexpr const char* kSuspendedTablesTable = "awsdms_suspended_tables";
inline constexpr const char* kHistoryTable = "awsdms_history";
inline constexpr const char* kValidationFailuresTable = "awsdms_validation_failures_v1";

// The schema the control tables go to on `engine` for `control_schema` ("" = the default).
std::string ControlSchemaFor(Engine engine, const std::string& control_schema);

// One row of awsdms_status.
struct TaskStatusRow {
  std::string task_status;  // "FULL LOAD", "CHANGE PROCESSING", ...
  int64_t pending_changes = 0;
  int64_t disk_swap_size = 0;
  int64_t task_memory = 0;  // MB
  std::string source_current_position;
  std::optional<WallClock::time_point> source_current_timestamp;
  std::string source_tail_position;
  std::optional<WallClock::time_point> source_tail_timestamp;
  std::optional<WallClock::time_point> source_timestamp_applied;
};

// One row of awsdms_history.
struct HistoryRow {
  std::string timeslot_type;  // "FULL LOAD" or "CHANGE PROCESSING"
  WallClock::time_point timeslot{};  // end of the time slot
  int64_t timeslot_duration = 0;     // minutes
  int64_t timeslot_latency = 0;      // seconds (CDC slots)
  int64_t timeslot_records = 0;
  int64_t timeslot_volume = 0;       // MB
};

// One row of awsdms_validation_failures_v1.
struct ValidationFailureRow {
  std::string table_owner;  // the target table's schema
  std::string table_name;   // the target table's name
  std::string key_type = "Row";
  std::string key;           // JSON, e.g. {"key": ["42"]}
  std::string failure_type;  // RECORD_DIFF | MISSING_SOURCE | MISSING_TARGET
  std::string details;
  WallClock::time_point failure_time = WallClock::now();
};

class ControlTables {
 public:
  // `target` must outlive this object. Opens the session lazily on first use; nothing is
  // created until an Ensure*/Record* call.
  ControlTables(SqlConnector& target, const ControlTablesSettings& settings, std::string task_name);
  ~ControlTables();
  ControlTables(const ControlTables&) = delete;
  ControlTables& operator=(const ControlTables&) = delete;

  // The schema the tables live in (see ControlSchemaFor).
  const std::string& schema() const { return schema_; }
  const std::string& task_name() const { return task_name_; }
  // The quoted, schema-qualified name of `table` on the target (for queries in tests).
  std::string QualifiedName(const std::string& table) const;
  // The column name as created on this engine ("task_name" on PostgreSQL, else "TASK_NAME"),
  // quoted.
  std::string Column(const std::string& upper_name) const;

  // Creates the control schema and the table when missing. awsdms_apply_exceptions is always
  // created by a task; the others when their settings enable them (the callers decide).
  void EnsureApplyExceptions();
  void EnsureStatus();
  void EnsureSuspendedTables();
  void EnsureHistory();
  void EnsureValidationFailures();
  // Creates every table the settings enable, and awsdms_apply_exceptions.
  void EnsureEnabled();

  // Each Record* creates its table when missing, then inserts one row.
  void RecordApplyException(const std::string& table_owner, const std::string& table_name,
                            const std::string& statement, const std::string& error);
  // Replaces this task's row of awsdms_status (delete + insert).
  void UpdateStatus(const TaskStatusRow& status);
  void RecordSuspendedTable(const std::string& table_owner, const std::string& table_name,
                            const std::string& reason);
  void RecordHistory(const HistoryRow& row);
  void RecordValidationFailure(const ValidationFailureRow& row);
  // Deletes this task's earlier validation failures for one table (before it is revalidated).
  void ClearValidationFailures(const std::string& table_owner, const std::string& table_name);

 private:
  using ColType = ControlColumnType;
  struct Col {
    const char* name;
    ColType type;
    bool not_null;
  };
  void Ensure(const char* table, std::initializer_list<Col> cols, bool* done);
  void ExecuteLocked(const std::string& sql) FERRY_REQUIRES(mu_);
  std::string TypeSql(ColType type) const;
  std::string Lit(const std::string& value) const;
  std::string TimeLit(WallClock::time_point t) const;
  std::string OptTimeLit(const std::optional<WallClock::time_point>& t) const;
  void Insert(const char* table, std::initializer_list<const char*> cols,
              std::initializer_list<std::string> values);

  SqlConnector& target_;
  ControlTablesSettings settings_;
  std::string task_name_;
  std::string schema_;
  std::string server_name_;
  Mutex mu_;
  std::unique_ptr<SqlSession> session_ FERRY_GUARDED_BY(mu_);
  bool schema_done_ FERRY_GUARDED_BY(mu_) = false;
  bool apply_exceptions_done_ = false, status_done_ = false, suspended_done_ = false;
  bool history_done_ FERRY_GUARDED_BY(mu_) = false;
  bool validation_done_ FERRY_GUARDED_BY(mu_) = false;
};

// The control tables of `target` (`target` outlives them), or nullptr when it is not a database:
// a target of another kind (a file target) has none, and a warning says so when
// `settings` enable one of the optional tables. Callers treat nullptr as "nothing to record".
std::unique_ptr<ControlTables> OpenControlTables(Connector& target,
                                                 const ControlTablesSettings& settings,
                                                 std::string task_name);

}  // namespace ferry
