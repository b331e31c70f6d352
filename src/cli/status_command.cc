#include "cli/status_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ostream>
#include <vector>

#include "common/error.h"
#include "engine/report.h"
#include "task/data_dir.h"
#include "task_model/table_stats.h"

namespace ferry {

namespace {

int64_t SystemNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string TimeText(int64_t us) {
  if (us == 0) return "";
  return IsoTime(WallClock::time_point(std::chrono::microseconds(us)));
}

std::string Bytes(int64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

// Table counts for ReplicationTaskStats.
struct TableCounts {
  int total = 0, loaded = 0, loading = 0, queued = 0, errored = 0;
  int64_t full_load_start_us = 0, full_load_end_us = 0;  // 0 = not started / not finished
};

TableCounts CountTables(const std::vector<TableRecord>& tables) {
  TableCounts c;
  c.total = static_cast<int>(tables.size());
  bool all_ended = !tables.empty();
  for (const TableRecord& t : tables) {
    if (t.state == kStateCompleted) {
      ++c.loaded;
    } else if (t.state == kStateFullLoad || t.state == "Table is being reloaded") {
      ++c.loading;
    } else if (t.state == kStateBeforeLoad) {
      ++c.queued;
    } else if (t.state == kStateError) {
      ++c.errored;
    }
    if (t.load_start_us != 0 &&
        (c.full_load_start_us == 0 || t.load_start_us < c.full_load_start_us)) {
      c.full_load_start_us = t.load_start_us;
    }
    if (t.load_end_us == 0) all_ended = false;
    c.full_load_end_us = std::max(c.full_load_end_us, t.load_end_us);
  }
  if (!all_ended) c.full_load_end_us = 0;
  return c;
}

bool IsActive(const std::string& status) {
  return status == "running" || status == "starting" || status == "stopping" ||
         status == "creating";
}

int64_t ElapsedMillis(const TaskRecord& t, int64_t now_us) {
  if (t.started_at_us == 0) return 0;
  int64_t end = t.stopped_at_us;
  if (end == 0 || IsActive(t.status)) end = IsActive(t.status) ? now_us : t.updated_at_us;
  return std::max<int64_t>(0, (end - t.started_at_us) / 1000);
}

void PutIfSet(nlohmann::json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

// A text table with right-aligned numbers.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right_aligned) {
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += right_aligned[i] ? fmt::format("{:>{}}", row[i], width[i])
                               : fmt::format("{:<{}}", row[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

nlohmann::json TaskStatusJson(const TaskRecord& task, const std::vector<TableRecord>& tables,
                              int64_t now_us) {
  const TableCounts counts = CountTables(tables);
  nlohmann::json stats = {
      {"FullLoadProgressPercent", counts.total == 0 ? 0 : counts.loaded * 100 / counts.total},
      {"ElapsedTimeMillis", ElapsedMillis(task, now_us)},
      {"TablesLoaded", counts.loaded},
      {"TablesLoading", counts.loading},
      {"TablesQueued", counts.queued},
      {"TablesErrored", counts.errored},
  };
  PutIfSet(stats, "StartDate", TimeText(task.started_at_us));
  PutIfSet(stats, "StopDate", TimeText(task.stopped_at_us));
  PutIfSet(stats, "FullLoadStartDate", TimeText(counts.full_load_start_us));
  PutIfSet(stats, "FullLoadFinishDate", TimeText(counts.full_load_end_us));

  nlohmann::json j = {
      {"ReplicationTaskIdentifier", task.name},
      {"MigrationType", task.migration_type},
      {"Status", task.status},
  };
  PutIfSet(j, "TableMappings", task.table_mappings_json);
  PutIfSet(j, "ReplicationTaskSettings", task.task_settings_json);
  PutIfSet(j, "StopReason", task.stop_reason);
  PutIfSet(j, "LastFailureMessage", task.last_failure_message);
  PutIfSet(j, "ReplicationTaskCreationDate", TimeText(task.created_at_us));
  PutIfSet(j, "ReplicationTaskStartDate", TimeText(task.started_at_us));
  PutIfSet(j, "CdcStartPosition", task.cdc_start_position);
  PutIfSet(j, "RecoveryCheckpoint", task.recovery_checkpoint);
  j["ReplicationTaskStats"] = std::move(stats);

  nlohmann::json ferry = {
      {"CDCLatencySource", task.cdc_latency_source_s},
      {"CDCLatencyTarget", task.cdc_latency_target_s},
      {"MemoryBytes", task.memory_bytes},
      {"SpilledBytes", task.spilled_bytes},
      {"PendingChanges", task.pending_changes},
  };
  PutIfSet(ferry, "SourceEndpoint", RedactEndpointUri(task.source_endpoint));
  PutIfSet(ferry, "TargetEndpoint", RedactEndpointUri(task.target_endpoint));
  PutIfSet(ferry, "WaitingFor", task.waiting_for);
  PutIfSet(ferry, "SlotName", task.slot);
  PutIfSet(ferry, "PublicationName", task.publication);
  PutIfSet(ferry, "SourcePosition", task.source_position);
  PutIfSet(ferry, "AppliedPosition", task.applied_position);
  PutIfSet(ferry, "LastUpdateTime", TimeText(task.updated_at_us));
  j["Ferry"] = std::move(ferry);

  nlohmann::json list = nlohmann::json::array();
  for (const TableRecord& t : tables) {
    nlohmann::json s = {
        {"TableIndex", t.index},
        {"SchemaName", t.source_schema},
        {"TableName", t.source_table},
        {"TargetSchemaName", t.target_schema},
        {"TargetTableName", t.target_table},
        {"TableState", t.state},
        {"FullLoadRows", t.full_load_rows},
        {"Inserts", t.inserts},
        {"Deletes", t.deletes},
        {"Updates", t.updates},
        {"Ddls", t.ddls},
        {"AppliedInserts", t.applied_inserts},
        {"AppliedDeletes", t.applied_deletes},
        {"AppliedUpdates", t.applied_updates},
        {"AppliedDdls", t.applied_ddls},
        {"ApplyErrors", t.apply_errors},
        {"CdcLive", t.cdc_live},
    };
    PutIfSet(s, "FullLoadStartTime", TimeText(t.load_start_us));
    PutIfSet(s, "FullLoadEndTime", TimeText(t.load_end_us));
    PutIfSet(s, "LastUpdateTime", TimeText(t.updated_at_us));
    PutIfSet(s, "LoadPosition", t.load_position);
    PutIfSet(s, "Error", t.last_error);
    if (!t.validation_state.empty()) {
      s["ValidationState"] = t.validation_state;
      s["ValidationPendingRecords"] = t.validation_pending;
      s["ValidationFailedRecords"] = t.validation_failed;
      s["ValidationSuspendedRecords"] = t.validation_suspended;
    }
    list.push_back(std::move(s));
  }
  j["TableStatistics"] = std::move(list);
  return j;
}

namespace {

// One row per table of a task with change processing: state, live, full-load rows, changes
// captured and applied, apply errors.
std::string CdcTableLines(const std::vector<TableRecord>& tables) {
  std::vector<std::vector<std::string>> rows = {
      {"#", "Source table", "Target table", "State", "CDC", "Full load rows", "Inserts", "Updates",
       "Deletes", "DDLs", "Applied ins", "Applied upd", "Applied del", "Applied DDLs", "Errors"}};
  const std::vector<bool> right = {true, false, false, false, false, true, true, true,
                                   true, true,  true,  true,  true,  true, true};
  for (const TableRecord& t : tables) {
    rows.push_back({std::to_string(t.index), t.source_schema + "." + t.source_table,
                    t.target_schema + "." + t.target_table, t.state, t.cdc_live ? "live" : "-",
                    std::to_string(t.full_load_rows), std::to_string(t.inserts),
                    std::to_string(t.updates), std::to_string(t.deletes), std::to_string(t.ddls),
                    std::to_string(t.applied_inserts), std::to_string(t.applied_updates),
                    std::to_string(t.applied_deletes), std::to_string(t.applied_ddls),
                    std::to_string(t.apply_errors)});
  }
  return FormatTable(rows, right);
}

// Entries of a task store list: segments as JSON (an array) or "k:rows,..." (segments done).
size_t SegmentCount(const std::string& text) {
  if (text.empty()) return 0;
  if (text.front() == '[') {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_array() ? j.size() : 0;
  }
  return static_cast<size_t>(std::count(text.begin(), text.end(), ',')) + 1;
}

}  // namespace

std::string TaskStatusText(const TaskRecord& task, const std::vector<TableRecord>& tables,
                           int64_t now_us) {
  std::string out = fmt::format("Task {} ({}): {}\n", task.name,
                                task.migration_type.empty() ? "?" : task.migration_type,
                                task.status.empty() ? "?" : task.status);
  auto line = [&](const char* label, const std::string& value) {
    if (!value.empty()) out += fmt::format("  {:<21}{}\n", label, value);
  };
  line("Waiting for", task.waiting_for);
  line("Stop reason", task.stop_reason);
  line("Last failure", task.last_failure_message);
  line("Source", RedactEndpointUri(task.source_endpoint));
  line("Target", RedactEndpointUri(task.target_endpoint));
  line("Created", TimeText(task.created_at_us));
  line("Started", TimeText(task.started_at_us));
  line("Stopped", TimeText(task.stopped_at_us));
  line("Updated", TimeText(task.updated_at_us));
  if (task.started_at_us != 0) {
    line("Elapsed", fmt::format("{:.1f} s", ElapsedMillis(task, now_us) / 1000.0));
  }
  line("Replication slot", task.slot);
  line("Publication", task.publication);
  line("CDC start position", task.cdc_start_position);
  line("Read position", task.source_position);
  line("Applied position", task.applied_position);
  line("Recovery checkpoint", task.recovery_checkpoint);
  if (task.migration_type != "full-load") {
    line("CDC latency", fmt::format("source {} s, target {} s", task.cdc_latency_source_s,
                                    task.cdc_latency_target_s));
    line("Memory", fmt::format("{} in use, {} spilled, {} changes pending",
                               Bytes(task.memory_bytes), Bytes(task.spilled_bytes),
                               task.pending_changes));
  }
  const TableCounts c = CountTables(tables);
  line("Tables", fmt::format("{}: {} loaded, {} loading, {} queued, {} errored", c.total,
                             c.loaded, c.loading, c.queued, c.errored));
  if (tables.empty()) return out;

  if (task.migration_type == "full-load") {
    // No change processing: the load's own figures, with the committed segments of a table
    // loaded in segments (what a --resume keeps).
    std::vector<std::vector<std::string>> rows = {
        {"#", "Source table", "Target table", "State", "Full load rows", "Segments done"}};
    for (const TableRecord& t : tables) {
      std::string segments = "-";
      if (const size_t planned = SegmentCount(t.segments); planned > 0) {
        segments = fmt::format("{}/{}", SegmentCount(t.segments_done), planned);
      }
      rows.push_back({std::to_string(t.index), t.source_schema + "." + t.source_table,
                      t.target_schema + "." + t.target_table, t.state,
                      std::to_string(t.full_load_rows), segments});
    }
    out += "\n" + FormatTable(rows, {true, false, false, false, true, true});
  } else {
    out += "\n" + CdcTableLines(tables);
  }
  bool validation_header = false;
  for (const TableRecord& t : tables) {
    if (t.validation_state.empty()) continue;
    if (!validation_header) out += "  Validation:\n";
    validation_header = true;
    out += fmt::format("    {}.{}: {} ({} pending, {} failed, {} suspended)\n", t.source_schema,
                       t.source_table, t.validation_state, t.validation_pending,
                       t.validation_failed, t.validation_suspended);
  }
  bool header = false;
  for (const TableRecord& t : tables) {
    if (t.last_error.empty()) continue;
    if (!header) out += "  Table errors:\n";
    header = true;
    out += fmt::format("    {}.{}: {}\n", t.source_schema, t.source_table, t.last_error);
  }
  return out;
}

int RunStatusCommand(const StatusOptions& options, std::ostream& out, std::ostream& err) {
  const std::filesystem::path dir =
      options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  const int64_t now = options.now_us != 0 ? options.now_us : SystemNowMicros();
  try {
    auto store = TaskStore::Open(dir, /*read_only=*/true);
    std::vector<TaskRecord> tasks;
    if (options.task.empty()) {
      tasks = store->ListTasks();
    } else if (auto t = store->GetTask(options.task)) {
      tasks.push_back(std::move(*t));
    } else {
      std::vector<TaskRecord> all = store->ListTasks();
      std::string names;
      for (const TaskRecord& a : all) names += (names.empty() ? "" : ", ") + a.name;
      err << fmt::format("ferry status: no task '{}' in task store '{}'; {}\n", options.task,
                         store->path().string(),
                         all.empty() ? std::string("it has no tasks")
                                     : "its tasks are: " + names);
      return 1;
    }
    if (options.json) {
      nlohmann::json list = nlohmann::json::array();
      for (const TaskRecord& t : tasks) {
        list.push_back(TaskStatusJson(t, store->GetTables(t.name), now));
      }
      out << nlohmann::json{{"ReplicationTasks", std::move(list)}}.dump(2) << "\n";
      return 0;
    }
    if (tasks.empty()) {
      out << fmt::format("No tasks in task store '{}'.\n", store->path().string());
      return 0;
    }
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (i > 0) out << "\n";
      out << TaskStatusText(tasks[i], store->GetTables(tasks[i].name), now);
    }
    return 0;
  } catch (const Error& e) {
    err << "ferry status: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace ferry
