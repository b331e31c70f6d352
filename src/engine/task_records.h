// What every kind of task writes to and checks against the task store (task/task_store.h),
// shared by the full-load task (engine/full_load_task.h) and the CDC task (engine/cdc_task.h):
// a table's record made from its live statistics, and the checks a resume makes before it
// touches anything (the task exists and is of the same kind, the same source and target, the
// same tables mapped to the same target tables).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "task/task_store.h"
#include "task_model/plan.h"
#include "task_model/table_stats.h"

namespace ferry {

// Microseconds since the Unix epoch, now / at `t` (0 for an unset time point).
int64_t NowMicros();
int64_t Micros(WallClock::time_point t);

// Table `index` of a task as its statistics say now: names from `plan`, state, error, load
// times, full-load rows, change counters and validation figures. The caller adds what only it
// knows (CDC hand-over state, full-load resume state).
TableRecord TableRecordOf(size_t index, const TablePlan& plan, TableStats& stats);

// The stored task `name` that --resume continues. Throws Error(kNotFound) when there is none
// (listing the tasks there are), Error(kInvalidArgument) when it is of another migration type.
TaskRecord TaskToResume(TaskStore& store, const std::string& name,
                        const std::string& migration_type);

// What --resume of task `name` continues: its record (TaskToResume's checks and errors), or
// nullopt when it never ran (stopped, failed or killed while starting, before its tables were
// recorded): such a task starts from the beginning (logged).
std::optional<TaskRecord> TaskToContinue(TaskStore& store, const std::string& name,
                                         const std::string& migration_type);

// Records `task` in `store` as starting now: status "starting", nothing waited for, no stop
// reason or failure from an earlier run, started now (and created now when it never was).
// Throws what TaskStore::PutTask throws.
void RecordStarting(TaskStore& store, TaskRecord& task);
// A task that failed while starting (after RecordStarting; `task.status` is still "starting"):
// recorded failed with `message`, so `ferry status` says why it never ran. No-op for a task
// not recorded as starting (`store` null, or already running). A store failure is logged.
void RecordStartFailure(TaskStore* store, TaskRecord& task, const std::string& message);

// Refuses a resume against another source or target than the task's own (`side` is "source"
// or "target"; `recorded`/`now` are Connector::Identity() values, the URIs name them). A task
// recorded before identities were (recorded == "") passes.
void CheckIdentity(const TaskRecord& task, const char* side, const std::string& recorded,
                   const std::string& recorded_uri, const std::string& now,
                   const std::string& now_uri);

// Refuses a resume whose table selection or target mapping changed since the task's tables
// were recorded (`stored`, in index order).
void CheckResumedTables(const std::string& task, const std::vector<TableRecord>& stored,
                        const std::vector<TablePlan>& plans);

}  // namespace ferry
