#include "engine/task_records.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <mutex>

#include "common/error.h"
#include "logging/log.h"

namespace ferry {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t Micros(WallClock::time_point t) {
  if (t == WallClock::time_point{}) return 0;
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TableRecord TableRecordOf(size_t index, const TablePlan& plan, TableStats& st) {
  TableRecord r;
  r.index = static_cast<int>(index);
  r.source_schema = plan.source.schema;
  r.source_table = plan.source.name;
  r.target_schema = plan.target.schema;
  r.target_table = plan.target.name;
  r.full_load_rows = st.full_load_rows.load();
  r.inserts = st.cdc_inserts.load();
  r.updates = st.cdc_updates.load();
  r.deletes = st.cdc_deletes.load();
  r.ddls = st.cdc_ddls.load();
  r.applied_inserts = st.applied_inserts.load();
  r.applied_updates = st.applied_updates.load();
  r.applied_deletes = st.applied_deletes.load();
  r.applied_ddls = st.applied_ddls.load();
  r.apply_errors = st.cdc_apply_errors.load();
  MutexLock lock(st.mu);
  r.state = st.state;
  r.last_error = st.error;
  r.load_start_us = Micros(st.start_time);
  r.load_end_us = Micros(st.end_time);
  r.validation_state = st.validation_state;
  r.validation_pending = st.validation_pending_records;
  r.validation_failed = st.validation_failed_records;
  r.validation_suspended = st.validation_suspended_records;
  return r;
}

TaskRecord TaskToResume(TaskStore& store, const std::string& name,
                        const std::string& migration_type) {
  const std::optional<TaskRecord> existing = store.GetTask(name);
  if (!existing) {
    std::vector<std::string> names;
    for (const TaskRecord& t : store.ListTasks()) names.push_back(t.name);
    throw Error(ErrorKind::kNotFound,
                fmt::format("--resume: there is no task '{}' in {} (tasks there: {}); run it "
                            "once without --resume",
                            name, store.path().string(),
                            names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  if (existing->migration_type != migration_type) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--resume: task '{}' is a {} task, not {}", name,
                            existing->migration_type, migration_type));
  }
  return *existing;
}

std::optional<TaskRecord> TaskToContinue(TaskStore& store, const std::string& name,
                                         const std::string& migration_type) {
  TaskRecord task = TaskToResume(store, name, migration_type);
  if (store.GetTables(name).empty()) {
    logging::For(LogComponentId::kTaskManager)
        .info(
            "task '{}' was stopped before it finished starting: starting it from the "
            "beginning",
            name);
    return std::nullopt;
  }
  return task;
}

void RecordStarting(TaskStore& store, TaskRecord& task) {
  task.status = "starting";
  task.waiting_for.clear();
  task.stop_reason.clear();
  task.last_failure_message.clear();
  if (task.created_at_us == 0) task.created_at_us = NowMicros();
  task.started_at_us = NowMicros();
  task.stopped_at_us = 0;
  store.PutTask(task);
}

void RecordStartFailure(TaskStore* store, TaskRecord& task, const std::string& message) {
  if (!store || task.status != "starting") return;
  task.status = "failed";
  task.stop_reason = "Stop Reason FATAL_ERROR";
  task.last_failure_message = message;
  task.waiting_for.clear();
  task.stopped_at_us = NowMicros();
  try {
    store->PutTask(task);
  } catch (const Error& e) {
    logging::For(LogComponentId::kTaskManager)
        .error("task store {}: {}", store->path().string(), e.what());
  }
}

void CheckIdentity(const TaskRecord& task, const char* side, const std::string& recorded,
                   const std::string& recorded_uri, const std::string& now,
                   const std::string& now_uri) {
  if (recorded.empty() || recorded == now) return;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("--resume: task '{}' was created with {} {} ({}), but --{} is {} ({}): "
                          "a task resumes only against its own {}, or changes would be lost. "
                          "Give the task's {}, or start it again without --resume to reload",
                          task.name, side, recorded, RedactEndpointUri(recorded_uri), side, now,
                          RedactEndpointUri(now_uri), side, side));
}

void CheckResumedTables(const std::string& task, const std::vector<TableRecord>& stored,
                        const std::vector<TablePlan>& plans) {
  if (stored.size() != plans.size()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--resume: task '{}' had {} table(s), the mappings now select {}; "
                            "run it without --resume to start over",
                            task, stored.size(), plans.size()));
  }
  for (size_t i = 0; i < plans.size(); ++i) {
    const TableRecord& r = stored[i];
    if (r.source_schema != plans[i].source.schema || r.source_table != plans[i].source.name) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--resume: task '{}' table {} was {}.{}; the table selection "
                              "changed: run it without --resume to start over",
                              task, i, r.source_schema, r.source_table));
    }
    if (r.target_schema != plans[i].target.schema || r.target_table != plans[i].target.name) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--resume: task '{}' applied {}.{} to {}.{}, and would now apply "
                              "it to {}.{}: the target mapping changed; run it without "
                              "--resume to start over",
                              task, r.source_schema, r.source_table, r.target_schema,
                              r.target_table, plans[i].target.schema, plans[i].target.name));
    }
  }
}

}  // namespace ferry
