// A task with change data capture (DMS migration types "cdc" and "full-load-and-cdc"): the
// lifecycle that ties the capture (source), the transaction buffer, the full load, the apply
// stage (target) and the task store together.
//
//   capture thread:  ChangeCapture::Poll -> TransactionBuffer -> committed transactions
//                    -> bounded queue; confirms to the source what the target committed
//   apply thread:    ApplyStage (cdc/apply_stage.h): cached changes, grouping, checkpoint
//   calling thread:  the full load of the tables that need one (in the slot's snapshot), then
//                    waits for a stop, saving progress to the task store every few seconds
//
// Consistency: a fresh full-load-and-cdc task creates the slot with an exported snapshot and
// loads every table in it; changes of transactions that end after the slot's start are cached
// per table while it loads and applied right after. A resumed task reads its checkpoint from
// the target (awsdms_txn_state): tables that were live skip what the checkpoint covers; tables
// that were not (their load or cached changes were cut short) are reloaded in a new snapshot
// and skip the changes it already holds.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cdc/apply_stage.h"
#include "cdc/transaction_buffer.h"
#include "change/change_capture.h"
#include "common/mutex.h"
#include "connectors/connector.h"
#include "engine/full_load.h"
#include "settings/task_settings.h"
#include "task/data_dir.h"
#include "task/task_lock.h"
#include "task/task_store.h"
#include "task_model/plan.h"
#include "validation/change_validator.h"

namespace ferry {

enum class MigrationType { kFullLoad, kCdc, kFullLoadAndCdc };
// "full-load", "cdc", "full-load-and-cdc" (DMS MigrationType spellings); nullopt otherwise.
std::optional<MigrationType> ParseMigrationType(std::string_view text);
const char* MigrationTypeName(MigrationType type);

struct CdcTaskOptions {
  std::string task = "ferry";  // ReplicationTaskIdentifier: names the slot, store entry, files
  MigrationType type = MigrationType::kFullLoadAndCdc;
  std::filesystem::path data_dir;
  bool resume = false;  // DMS resume-processing: continue from the task's checkpoint
  // cdc only: start after this position instead of the slot's start ("now"). Positions are
  // the source connector's (Connector::positions()).
  std::optional<cdc::Position> start_position;
  // Stop once everything up to this source position is applied (DMS CdcStopPosition).
  std::optional<cdc::Position> stop_position;
  TaskSettings settings;
  FullLoadOptions full_load;
  // --slot-name / --publication: "" = Ferry creates its own for the task (CaptureObjectName).
  // A named slot that exists is the user's: used as it is (cdc only), never dropped.
  std::string slot, publication;
  std::chrono::seconds heartbeat{60};
  // Plans the tables again with the given source tables as they were (the first entry of each
  // live table's shape history, engine/table_shapes.h) instead of as the catalog has them now,
  // so a resumed task applies with the plans its checkpoint was made with. Null = the plans
  // given are used as they are.
  std::function<std::vector<TablePlan>(const std::vector<TableDef>& as_of)> replan;
  // ValidationSettings.ValidationOnly: the source's changes are read and the rows they touch
  // validated on the target (which something else keeps up to date); nothing is loaded or
  // applied, no target table is created or altered. Only the task's checkpoint and the
  // validation failures are written to the target's control tables.
  bool validation_only = false;
  // Kept in the task store for `ferry status` (passwords are removed there).
  std::string source_uri, target_uri, table_mappings_json, task_settings_json;
};

// Live figures of a running task.
struct CdcProgress {
  std::string phase;  // "FULL LOAD", "CHANGE PROCESSING", "STOPPED"
  cdc::Position received, applied, server;
  int64_t latency_source_s = 0, latency_target_s = 0;
  int64_t pending_transactions = 0;
  size_t live_tables = 0;  // tables whose changes are applied directly (loaded, caught up)
  // Recoverable errors retried (a lost connection, a server restart) since the task started.
  int64_t source_retries = 0, target_retries = 0;
  cdc::BufferStats buffer;
};

class CdcTask {
 public:
  // `source` and `target` must outlive the task. `plans` in plan order; a change's table id is
  // its plan's index.
  CdcTask(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
          CdcTaskOptions options);
  ~CdcTask();

  // Runs until stopped (Stop(), the stop position, StopTaskCachedChanges*, an error policy, or
  // a failure). Throws Error for what stops it before streaming starts (prerequisites, nothing
  // to resume); later failures end Run with failed() and stop_reason().
  void Run();
  // Stops soon and cleanly: what is applied stays committed with its checkpoint. Thread-safe.
  void Stop();

  bool failed() const { return stop_.failed(); }
  std::string stop_reason() const { return stop_.reason(); }
  // One per plan, in plan order; live while Run executes (after its setup).
  const std::vector<std::unique_ptr<TableStats>>& stats() const { return load_->stats(); }
  CdcProgress progress() const;
  // "Change processing: applied up to 0/16B3748 (read 0/16B3800), 3 transaction(s) pending,
  // latency source 0 s, target 1 s, buffer 12 MB, spilled 0 B" for displays.
  std::string StatusLine() const;

  // Called on the Run thread once the task is set up (stats() is valid), before any load.
  std::function<void()> on_running;

 private:
  class Sink;
  void Setup();
  void CaptureLoop(cdc::Position from);
  void RunFullLoad();
  void WaitForStop();
  void SaveProgress(bool final);
  TaskRecord TaskRecordNow() const;
  // Table i's record as its statistics and hand-over state say now.
  TableRecord TableRecordNow(size_t i) const;
  // `ferry reload-tables` while the task runs (after its initial full load): the requests in
  // the task store, acted on one batch at a time on reload_thread_ by ReloadTables: each
  // table's changes are cached from the moment its apply stops (ApplyStage::BeginReload), a
  // snapshot is exported, the tables are loaded in it, and their cached changes after it are
  // applied before they go live again, as in the initial load.
  void PollReloads();
  void ReloadTables(const std::vector<ReloadRequest>& requests);
  void JoinReloads();
  // The capture's options from record_ (names, ownership, identity). `record_waiting`: what
  // it waits for on the source goes into record_ (the Setup thread only).
  cdc::CaptureOptions CaptureOptionsFor(bool export_snapshot, bool new_slot,
                                        bool record_waiting = true);
  // A fresh task's first checkpoint: where its changes start. A resume needs one on the
  // target, so a target that never had the task is refused.
  void WriteInitialCheckpoint(cdc::ChangeApplier& applier, const cdc::Position& position);
  // Resume: the live tables' plans and captured shapes at the checkpoint, from their shape
  // histories (engine/table_shapes.h); fills captured_ for them.
  void RestoreShapes(const std::vector<TableRecord>& stored);

  SqlConnector& source_;
  Connector& target_;
  const cdc::PositionCodec* positions_;  // the source's (never null)
  std::vector<TablePlan> plans_;
  CdcTaskOptions options_;
  TaskPaths paths_;
  std::unique_ptr<TaskLock> lock_;  // one owner per task, for the life of the task
  std::unique_ptr<TaskStore> store_;
  TaskRecord record_;
  std::vector<TableDef> captured_;  // full source definitions, per table
  // Per table, when a resumed table cannot continue (its shape history says so): why.
  std::vector<std::string> suspend_at_start_;
  std::unique_ptr<cdc::ShapeJournal> shapes_;
  // Owns every table's statistics; loads the tables in to_load_ (all of them, or the ones a
  // resumed task reloads). Set once while the task sets up; Stop() may run meanwhile on another
  // thread, so the assignment and Stop's read are under load_mu_.
  std::unique_ptr<FullLoad> load_;
  std::mutex load_mu_;
  std::vector<cdc::ApplyTable> tables_;
  std::shared_ptr<ErrorPolicies> policies_;
  std::unique_ptr<ControlTables> control_;
  cdc::TaskStop stop_;

  std::unique_ptr<cdc::ChangeCapture> capture_;
  std::unique_ptr<cdc::TransactionBuffer> buffer_;
  // Committed transactions waiting for the apply thread. Deep, so that the source keeps
  // streaming while a group is applied; their memory counts against MemoryLimitTotal in the
  // transaction buffer, which spills open transactions to stay within it.
  BoundedQueue<cdc::CaptureItem> queue_{65536};
  std::unique_ptr<cdc::ApplyStage> apply_;
  // apply_.get() once Setup has made the stage, for progress() and StatusLine() on other
  // threads: they may run while Run is still setting up and assigning apply_ (a data race
  // on the unique_ptr, found by TSan). The stage lives as long as the task.
  std::atomic<const cdc::ApplyStage*> apply_published_{nullptr};
  // ValidationSettings.EnableValidation: the tables once whole, then the rows changes touch.
  std::unique_ptr<ChangeValidator> validator_;
  std::thread capture_thread_, apply_thread_;
  std::thread reload_thread_;
  std::atomic<bool> reloading_{false};
  // Resume: tables a reload request (data-reload) sends back to a full load; by plan index.
  std::vector<bool> reload_at_start_;
  std::vector<ReloadRequest> start_requests_;  // acted on by Setup, cleared once recorded
  cdc::Position stream_from_;
  std::vector<size_t> to_load_;     // tables the full load takes, in plan order
  // The snapshot the full load reads in (the slot's, or a resume's new one), until the load
  // takes it.
  std::shared_ptr<SourceSnapshot> snapshot_;
  TablePrepMode load_mode_ = TablePrepMode::kDoNothing;
  std::atomic<bool> loading_{false};

  // Capture-side figures (written by the capture thread).
  SharedValue<cdc::Position> received_;
  SharedValue<cdc::Position> server_position_;
  SharedValue<cdc::Position> idle_position_;
  std::atomic<int64_t> last_commit_time_us_{0};
  std::atomic<int64_t> pushed_{0};
  std::atomic<int64_t> source_retries_{0};
  std::atomic<bool> idle_{true};
  mutable Mutex buffer_mu_;
  cdc::BufferStats buffer_stats_ FERRY_GUARDED_BY(buffer_mu_);
};

}  // namespace ferry
