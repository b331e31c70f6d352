#include "control/control_tables.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <ctime>

#include "common/host.h"

namespace ferry {

std::string ControlSchemaFor(Engine engine, const std::string& control_schema) {
  return DialectFor(engine).ControlSchema(control_schema);
}

ControlTables::ControlTables(SqlConnector& target, const ControlTablesSettings& settings,
                             std::string task_name)
    : target_(target),
      settings_(settings),
      task_name_(std::move(task_name)),
      schema_(target.dialect().ControlSchema(settings.control_schema)),
      server_name_(HostName()) {
  if (!settings.control_schema.empty() && settings.control_schema != schema_) {
    spdlog::warn(
        "ControlTablesSettings.ControlSchema '{}' is ignored on a {} target: the "
        "control tables go to \"{}\"",
        settings.control_schema, target.dialect().DisplayName(), schema_);
  }
}

std::unique_ptr<ControlTables> OpenControlTables(Connector& target,
                                                 const ControlTablesSettings& settings,
                                                 std::string task_name) {
  if (SqlConnector* sql = target.sql()) {
    return std::make_unique<ControlTables>(*sql, settings, std::move(task_name));
  }
  if (settings.history_table_enabled || settings.suspended_tables_table_enabled ||
      settings.status_table_enabled || settings.full_load_exception_table_enabled) {
    spdlog::warn(
        "ControlTablesSettings: a {} target ({}) keeps no control tables; the enabled "
        "ones are not written",
        target.types().DisplayName(), target.uri().Describe());
  }
  return nullptr;
}

ControlTables::~ControlTables() = default;

std::string ControlTables::QualifiedName(const std::string& table) const {
  const Dialect& d = target_.dialect();
  return d.QuoteIdentifier(schema_) + "." + d.QuoteIdentifier(table);
}

std::string ControlTables::Column(const std::string& upper_name) const {
  const Dialect& d = target_.dialect();
  return d.QuoteIdentifier(d.ControlColumnName(upper_name));
}

std::string ControlTables::TypeSql(ColType type) const {
  return target_.dialect().ControlColumnSql(type);
}

std::string ControlTables::Lit(const std::string& value) const {
  // Control rows hold text from messages and statements: a NUL byte cannot be stored, drop it.
  std::string clean;
  clean.reserve(value.size());
  for (char c : value) {
    if (c != '\0') clean.push_back(c);
  }
  return target_.dialect().QuoteLiteral(clean);
}

std::string ControlTables::TimeLit(WallClock::time_point t) const {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}'", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis % 1000);
}

std::string ControlTables::OptTimeLit(const std::optional<WallClock::time_point>& t) const {
  return t ? TimeLit(*t) : std::string("NULL");
}

void ControlTables::ExecuteLocked(const std::string& sql) {
  if (!session_) session_ = target_.OpenSession();
  session_->Execute(sql);
}

void ControlTables::Ensure(const char* table, std::initializer_list<Col> cols, bool* done) {
  MutexLock lock(mu_);
  if (*done) return;
  try {
    if (!schema_done_) {
      const std::string create_schema = target_.dialect().CreateSchemaSql(schema_);
      if (!create_schema.empty()) ExecuteLocked(create_schema);
      schema_done_ = true;
    }
    std::string sql = "CREATE TABLE IF NOT EXISTS " + QualifiedName(table) + " (";
    bool first = true;
    for (const Col& c : cols) {
      if (!first) sql += ", ";
      first = false;
      sql += Column(c.name) + " " + TypeSql(c.type) + (c.not_null ? " NOT NULL" : "");
    }
    sql += ")";
    ExecuteLocked(sql);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("creating control table {}.{} on the target: {}", schema_,
                                      table, e.what()));
  }
  *done = true;
}

void ControlTables::Insert(const char* table, std::initializer_list<const char*> cols,
                           std::initializer_list<std::string> values) {
  std::string sql = "INSERT INTO " + QualifiedName(table) + " (";
  bool first = true;
  for (const char* c : cols) {
    if (!first) sql += ", ";
    first = false;
    sql += Column(c);
  }
  sql += ") VALUES (";
  first = true;
  for (const std::string& v : values) {
    if (!first) sql += ", ";
    first = false;
    sql += v;
  }
  sql += ")";
  MutexLock lock(mu_);
  try {
    ExecuteLocked(sql);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("writing to control table {}.{} on the target: {}",
                                      schema_, table, e.what()));
  }
}

void ControlTables::EnsureApplyExceptions() {
  Ensure(kApplyExceptionsTable,
         {{"TASK_NAME", ColType::kName, true},
          {"TABLE_OWNER", ColType::kName, true},
          {"TABLE_NAME", ColType::kName, true},
          {"ERROR_TIME", ColType::kTime, true},
          {"STATEMENT", ColType::kLongText, true},
          {"ERROR", ColType::kLongText, true}},
         &apply_exceptions_done_);
}

void ControlTables::EnsureStatus() {
  Ensure(kStatusTable,
         {{"SERVER_NAME", ColType::kName, true},
          {"TASK_NAME", ColType::kName, true},
          {"TASK_STATUS", ColType::kShortText, false},
          {"STATUS_TIME", ColType::kTime, false},
          {"PENDING_CHANGES", ColType::kInt, false},
          {"DISK_SWAP_SIZE", ColType::kInt, false},
          {"TASK_MEMORY", ColType::kInt, false},
          {"SOURCE_CURRENT_POSITION", ColType::kShortText, false},
          {"SOURCE_CURRENT_TIMESTAMP", ColType::kTime, false},
          {"SOURCE_TAIL_POSITION", ColType::kShortText, false},
          {"SOURCE_TAIL_TIMESTAMP", ColType::kTime, false},
          {"SOURCE_TIMESTAMP_APPLIED", ColType::kTime, false}},
         &status_done_);
}

void ControlTables::EnsureSuspendedTables() {
  Ensure(kSuspendedTablesTable,
         {{"SERVER_NAME", ColType::kName, true},
          {"TASK_NAME", ColType::kName, true},
          {"TABLE_OWNER", ColType::kName, true},
          {"TABLE_NAME", ColType::kName, true},
          {"SUSPEND_REASON", ColType::kLongText, false},
          {"SUSPEND_TIMESTAMP", ColType::kTime, false}},
         &suspended_done_);
}

void ControlTables::EnsureHistory() {
  Ensure(kHistoryTable,
         {{"SERVER_NAME", ColType::kName, true},
          {"TASK_NAME", ColType::kName, true},
          {"TIMESLOT_TYPE", ColType::kShortText, true},
          {"TIMESLOT", ColType::kTime, true},
          {"TIMESLOT_DURATION", ColType::kInt, false},
          {"TIMESLOT_LATENCY", ColType::kInt, false},
          {"TIMESLOT_RECORDS", ColType::kInt, false},
          {"TIMESLOT_VOLUME", ColType::kInt, false}},
         &history_done_);
}

void ControlTables::EnsureValidationFailures() {
  Ensure(kValidationFailuresTable,
         {{"TASK_NAME", ColType::kName, true},
          {"TABLE_OWNER", ColType::kName, true},
          {"TABLE_NAME", ColType::kName, true},
          {"FAILURE_TIME", ColType::kTime, true},
          {"KEY_TYPE", ColType::kShortText, true},
          {"KEY", ColType::kLongText, true},
          {"FAILURE_TYPE", ColType::kShortText, true},
          {"DETAILS", ColType::kLongText, true}},
         &validation_done_);
}

void ControlTables::EnsureEnabled() {
  EnsureApplyExceptions();
  if (settings_.status_table_enabled) EnsureStatus();
  if (settings_.suspended_tables_table_enabled) EnsureSuspendedTables();
  if (settings_.history_table_enabled) EnsureHistory();
}

void ControlTables::RecordApplyException(const std::string& table_owner,
                                         const std::string& table_name,
                                         const std::string& statement, const std::string& error) {
  EnsureApplyExceptions();
  Insert(kApplyExceptionsTable,
         {"TASK_NAME", "TABLE_OWNER", "TABLE_NAME", "ERROR_TIME", "STATEMENT", "ERROR"},
         {Lit(task_name_), Lit(table_owner), Lit(table_name), TimeLit(WallClock::now()),
          Lit(statement), Lit(error)});
}

void ControlTables::UpdateStatus(const TaskStatusRow& s) {
  EnsureStatus();
  {
    MutexLock lock(mu_);
    ExecuteLocked("DELETE FROM " + QualifiedName(kStatusTable) + " WHERE " +
                  Column("TASK_NAME") + " = " + Lit(task_name_) + " AND " +
                  Column("SERVER_NAME") + " = " + Lit(server_name_));
  }
  Insert(kStatusTable,
         {"SERVER_NAME", "TASK_NAME", "TASK_STATUS", "STATUS_TIME", "PENDING_CHANGES",
          "DISK_SWAP_SIZE", "TASK_MEMORY", "SOURCE_CURRENT_POSITION", "SOURCE_CURRENT_TIMESTAMP",
          "SOURCE_TAIL_POSITION", "SOURCE_TAIL_TIMESTAMP", "SOURCE_TIMESTAMP_APPLIED"},
         {Lit(server_name_), Lit(task_name_), Lit(s.task_status), TimeLit(WallClock::now()),
          std::to_string(s.pending_changes), std::to_string(s.disk_swap_size),
          std::to_string(s.task_memory), Lit(s.source_current_position),
          OptTimeLit(s.source_current_timestamp), Lit(s.source_tail_position),
          OptTimeLit(s.source_tail_timestamp), OptTimeLit(s.source_timestamp_applied)});
}

void ControlTables::RecordSuspendedTable(const std::string& table_owner,
                                         const std::string& table_name,
                                         const std::string& reason) {
  EnsureSuspendedTables();
  Insert(kSuspendedTablesTable,
         {"SERVER_NAME", "TASK_NAME", "TABLE_OWNER", "TABLE_NAME", "SUSPEND_REASON",
          "SUSPEND_TIMESTAMP"},
         {Lit(server_name_), Lit(task_name_), Lit(table_owner), Lit(table_name), Lit(reason),
          TimeLit(WallClock::now())});
}

void ControlTables::RecordHistory(const HistoryRow& r) {
  EnsureHistory();
  Insert(kHistoryTable,
         {"SERVER_NAME", "TASK_NAME", "TIMESLOT_TYPE", "TIMESLOT", "TIMESLOT_DURATION",
          "TIMESLOT_LATENCY", "TIMESLOT_RECORDS", "TIMESLOT_VOLUME"},
         {Lit(server_name_), Lit(task_name_), Lit(r.timeslot_type), TimeLit(r.timeslot),
          std::to_string(r.timeslot_duration), std::to_string(r.timeslot_latency),
          std::to_string(r.timeslot_records), std::to_string(r.timeslot_volume)});
}

void ControlTables::RecordValidationFailure(const ValidationFailureRow& r) {
  EnsureValidationFailures();
  Insert(kValidationFailuresTable,
         {"TASK_NAME", "TABLE_OWNER", "TABLE_NAME", "FAILURE_TIME", "KEY_TYPE", "KEY",
          "FAILURE_TYPE", "DETAILS"},
         {Lit(task_name_), Lit(r.table_owner), Lit(r.table_name), TimeLit(r.failure_time),
          Lit(r.key_type), Lit(r.key), Lit(r.failure_type), Lit(r.details)});
}

void ControlTables::ClearValidationFailures(const std::string& table_owner,
                                            const std::string& table_name) {
  EnsureValidationFailures();
  MutexLock lock(mu_);
  ExecuteLocked("DELETE FROM " + QualifiedName(kValidationFailuresTable) + " WHERE " +
                Column("TASK_NAME") + " = " + Lit(task_name_) + " AND " +
                Column("TABLE_OWNER") + " = " + Lit(table_owner) + " AND " +
                Column("TABLE_NAME") + " = " + Lit(table_name));
}

}  // namespace ferry
