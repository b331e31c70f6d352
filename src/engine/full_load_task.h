// A full-load task: the full load (engine/full_load.h) as a task of the task store, so that
// `ferry status` shows it while it runs and after (DMS status, StopReason, table statistics),
// and `--resume` continues one that was stopped, failed or killed: the tables it completed are
// kept, the others are loaded again (engine/full_load.h InterruptedLoad says how a table whose
// load was cut off is emptied first).
//
// Life: Run() takes the task's lock (one owner per task), records the task at once (status
// "starting", then "running"), saves the tables' statistics every 2 s, and records how it
// ended: "stopped" with "Stop Reason FULL_LOAD_ONLY_FINISHED" when every table was loaded or
// failed on its own, "stopped" with "Stop Reason NORMAL" after Stop(), "failed" when an error
// policy stopped the task or the load could not go on.
//
// Threading: Run() on one thread; Stop() from any thread (a signal watcher).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "connectors/connector.h"
#include "engine/full_load.h"
#include "task/data_dir.h"
#include "task/task_lock.h"
#include "task/task_store.h"
#include "task_model/plan.h"

namespace ferry {

struct FullLoadTaskOptions {
  std::string task = "ferry";  // ReplicationTaskIdentifier
  std::filesystem::path data_dir;
  bool resume = false;  // DMS resume-processing: keep what an earlier run completed
  FullLoadOptions full_load;
  // Kept in the task store for `ferry status` (passwords are removed there).
  std::string source_uri, target_uri, table_mappings_json, task_settings_json;
};

class FullLoadTask {
 public:
  // `source` and `target` must outlive the task.
  FullLoadTask(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
               FullLoadTaskOptions options);
  ~FullLoadTask();

  // Records the task, loads, records how it ended. Throws Error for what stops it before the
  // load starts (the task is running elsewhere, nothing to resume, another kind of task of
  // that name); the load's own failures are in load() and the stored status.
  // `on_running` is called once the task is recorded and stats() is valid, before any row
  // moves (the caller starts its progress display there).
  void Run(const std::function<void()>& on_running = {});
  // Stops the load soon (tables in progress end "Table cancelled"); --resume continues.
  void Stop();

  // The load (statistics, stop reason); valid once Run() has begun.
  FullLoad& load() { return *load_; }
  const std::vector<std::unique_ptr<TableStats>>& stats() const { return load_->stats(); }

 private:
  void Setup();
  // `ferry reload-tables`: the tables asked for (while the task ran, or before it resumed)
  // load again once the others are done, emptied first (TRUNCATE_BEFORE_LOAD for a task that
  // does not drop and create them); until none is asked for or the task stops.
  void ReloadRequested();
  void SaveProgress(bool final);
  // Deletes every segment mark of this task on the target (a fresh start); logs a failure.
  void ClearSegmentMarks(const FullLoadOptions& fo);
  // Table i's record: its statistics now and its resume state.
  TableRecord RecordOf(size_t i);
  // Writes table i's record now (a segment or table just ended); logs a store failure.
  void PutTableNow(size_t i);
  // The per-table resume state recorded so far (guarded by mu_).
  struct TableResume {
    bool began = false, started_empty = false, pk_after = false;
    std::vector<Segment> segments;             // as planned when its load began
    std::map<size_t, int64_t> segments_done;  // committed: segment -> rows
  };

  SqlConnector& source_;
  Connector& target_;
  std::vector<TablePlan> plans_;
  FullLoadTaskOptions options_;
  TaskPaths paths_;
  std::unique_ptr<TaskLock> lock_;
  std::unique_ptr<TaskStore> store_;
  TaskRecord record_;
  std::unique_ptr<FullLoad> load_;
  std::atomic<bool> stop_requested_{false};
  Mutex mu_;
  std::vector<TableResume> resume_ FERRY_GUARDED_BY(mu_);  // by plan index
};

}  // namespace ferry
