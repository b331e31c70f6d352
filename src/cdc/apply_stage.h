// The apply side of a CDC task: takes committed source transactions in commit order (from the
// capture thread, through a bounded queue) and applies them to the target.
//
// Per table the stage knows a mode:
//   pending    the table is not loaded yet (or is loading): its changes are held in a spool
//              file ("cached changes"), except those already in the rows being loaded (their
//              transaction ended at or before the table's load position);
//   live       changes are applied as they come (those at or before `skip_through`, already
//              applied before a resume, are skipped);
//   suspended  an error policy suspended the table: its changes are dropped.
// When the full load reports a table done (TableLoaded), the stage finishes the target
// transaction in progress, applies the table's cached changes in order, and makes it live.
//
// Transactional apply: source transactions are grouped into one target transaction until
// MinTransactionSize changes, CommitTimeout, or the queue runs dry (so an idle stream is never
// held back). The checkpoint (the last transaction's end position) is committed with the data
// (awsdms_txn_state), then published through applied() for the capture to confirm.
//
// Threading: Run() on one thread; TableLoaded, applied() and the counters from any thread.
//
// The implementation is in four files along its seams: apply_stage.cc (routing transactions
// and changes to tables), apply_group.cc (committing groups with the checkpoint, apply issues,
// retries, batch apply), apply_tables.cc (loads, reloads, cached changes, dropped tables) and
// apply_ddl.cc (source table changes followed on the target).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "cdc/change_mapper.h"
#include "cdc/change_spool.h"
#include "cdc/row_filter.h"
#include "cdc/transaction_buffer.h"
#include "change/change.h"
#include "change/change_applier.h"
#include "common/bounded_queue.h"
#include "common/mutex.h"
#include "common/shared_value.h"
#include "connectors/connector.h"
#include "control/control_tables.h"
#include "task_model/error_policy.h"
#include "task_model/plan.h"
#include "task_model/table_stats.h"

namespace ferry::cdc {

enum class TableMode { kPending, kLive, kSuspended };

struct ApplyTable {
  TablePlan plan;
  TableDef captured;  // the source table as the capture encodes it now
  std::unique_ptr<ChangeMapper> mapper;
  // The table's source filters (plan.filters), when it has any: the target holds exactly the
  // source rows that satisfy them (see ApplyStage::Filter).
  std::unique_ptr<RowFilter> filter;
  // Written by the apply thread (and the task while it sets up), read by the task's progress
  // saving on its own thread.
  SharedValue<TableMode> mode = TableMode::kPending;
  // Pending: transactions ending at or before are in the loaded rows (shared as `mode`).
  SharedValue<Position> load_position;
  Position skip_through;  // live: transactions ending at or before were applied before
  // Pending: the held changes, in runs of one source shape each. A run after an ALTER that
  // came after the load's snapshot starts with that ALTER (`alter_before`): when the table goes
  // live, the target follows it between the runs, as it would have live.
  struct CachedRun {
    TableDef shape;  // the source columns its records are encoded with
    bool alter_before = false;
    Position alter_commit;  // alter_before: the ALTER's commit position (empty = not known)
    std::unique_ptr<ChangeSpool> spool;
  };
  std::vector<CachedRun> cache;
  int64_t CachedChanges() const {
    int64_t n = 0;
    for (const CachedRun& r : cache) n += r.spool ? r.spool->changes() : 0;
    return n;
  }
  void DropCache() {
    for (CachedRun& r : cache) {
      if (r.spool) r.spool->Remove();
    }
    cache.clear();
  }
  TableStats* stats = nullptr;
  // Changes applied in the open target transaction, added to stats at commit.
  int64_t pending_inserts = 0, pending_updates = 0, pending_deletes = 0, pending_ddls = 0;
};

// A source table's columns changed (the capture saw it before the changes that use them).
struct TableChanged {
  uint32_t table = 0;
  TableDef def;          // the table's columns now (unused when dropped)
  bool dropped = false;  // the source table is gone (CaptureSink::OnTableDropped)
  // The columns changed between changes of one transaction (OnTableChangedInTransaction, of
  // source transaction `xid`): the table is suspended rather than applied with changes of the
  // wrong shape.
  bool in_transaction = false;
  uint32_t xid = 0;
  // The commit position of the transaction whose changes use `def` (empty = not known): a
  // table still loading replays the change after its load only when it is past the load's
  // snapshot.
  Position commit{};
};

// The source is at `position` and every transaction ending at or before it has been queued
// (CaptureSink::OnIdle): the checkpoint may move there, so the source can be told to release
// WAL the task's tables never used, while its confirmed position never passes the target's
// checkpoint.
struct IdlePosition {
  Position position{};
};

using CaptureItem =
    std::variant<std::unique_ptr<CommittedTransaction>, TableChanged, IdlePosition>;

// Shared stop switch of a task: the first reason wins.
class TaskStop {
 public:
  void Request(const std::string& reason, bool failed);
  bool requested() const { return requested_.load(); }
  bool failed() const { return failed_.load(); }
  std::string reason() const;

 private:
  std::atomic<bool> requested_{false};
  std::atomic<bool> failed_{false};
  mutable Mutex mu_;
  std::string reason_ FERRY_GUARDED_BY(mu_);
};

// Where the apply keeps each table's shape history (task_store.h TableShapeRecord), so that a
// restarted task decodes and applies with the shapes and plans in force at its checkpoint.
// Called from the apply thread; a failure to record throws (the task stops: a history that
// misses a change would replay wrongly).
class ShapeJournal {
 public:
  enum class Kind {
    kRebind,         // only the decoding changed (the target keeps its columns)
    kDdl,            // the target is about to be altered to follow (cdc::PlanTableChange)
    kInTransaction,  // the same, inside the target transaction of source transaction `txn_end`
  };
  virtual ~ShapeJournal() = default;
  // Table `table` reads as `def` from now on. kDdl and kInTransaction entries stay pending
  // until Confirm (kInTransaction: once the transaction ending at `txn_end` is committed).
  // Returns the entry's sequence number.
  virtual int64_t Record(size_t table, const TableDef& def, Kind kind,
                         const Position& txn_end = Position()) = 0;
  // The target's ALTER for entry `seq` of `table` ran (and committed).
  virtual void Confirm(size_t table, int64_t seq) = 0;
  // Entry `seq` of `table` is void: its target transaction rolled back.
  virtual void Discard(size_t table, int64_t seq) = 0;
};

// Told what the target committed, after each commit (data validation of changes,
// validation/change_validator.h). Called from the apply thread.
class AppliedObserver {
 public:
  virtual ~AppliedObserver() = default;
  // One change of table `table` the target committed (or skipped by an error policy), in the
  // plan's target columns.
  virtual void OnApplied(size_t table, const ChangeView& mapped) = 0;
  // The table's plan changed (an ALTER carried to the target).
  virtual void PlanChanged(size_t table, const TablePlan& plan) = 0;
  // The table's rows changed in a way its changes do not tell one by one (a transaction that
  // altered it between its own changes of it): the whole table is compared again.
  virtual void TableRewritten(size_t table, const TablePlan& plan) = 0;
};

struct ApplyOptions {
  std::string task;  // the checkpoint's key in awsdms_txn_state (cdc::CheckpointKey)
  std::string control_schema;
  int64_t min_transaction_size = 1000;                // MinTransactionSize
  std::chrono::milliseconds commit_timeout{1000};     // CommitTimeout
  bool upsert_inserts = false;  // ApplyErrorInsertPolicy INSERT_RECORD
  bool upsert_updates = false;  // ApplyErrorUpdatePolicy UPDATE_RECORD
  std::filesystem::path cache_dir;  // spool files of pending tables
  // The source's position codec (Connector::positions()): checkpoints and messages spell
  // positions with it. Required.
  const PositionCodec* positions = nullptr;
  Position resume_after;  // transactions ending at or before were applied: dropped on arrival
  // ChangeProcessingDdlHandlingPolicy: HandleSourceTableAltered (ALTER TABLE replicated to the
  // target, cdc/ddl_sync.h), HandleSourceTableTruncated (TRUNCATE applied) and
  // HandleSourceTableDropped (DROP TABLE on the source drops the target table).
  bool handle_alter = true;
  bool handle_truncate = true;
  bool handle_drop = true;
  // Batch apply (TargetMetadata.BatchApplyEnabled): a group's changes are netted per row per
  // table (net_changes.h) and applied set-based (ChangeApplier::ApplyNet), tables without a
  // primary key transactionally. A group is applied once it is batch_timeout_min old (the
  // stream keeps arriving meanwhile, so a slow target gets bigger batches), or at
  // batch_split_size changes (0 = no limit), and never later than batch_timeout_max; a table's
  // net changes are applied early past batch_memory_limit bytes. Apply conflicts are not detected.
  // A failed batch is applied again transactionally (so the error policies apply).
  bool batch_apply = false;
  std::chrono::milliseconds batch_timeout_min{1000};   // BatchApplyTimeoutMin
  std::chrono::milliseconds batch_timeout_max{30000};  // BatchApplyTimeoutMax
  size_t batch_memory_limit = size_t{500} << 20;      // BatchApplyMemoryLimit
  int64_t batch_split_size = 0;                        // BatchSplitSize
  ShapeJournal* shapes = nullptr;  // null: shape changes are not recorded
  AppliedObserver* observer = nullptr;  // null: nobody is told
  // ValidationOnly: nothing is applied and no target table is altered, truncated or dropped;
  // each group commits only the checkpoint, and the observer is told its changes as if applied
  // (the target is kept up to date by something else).
  bool validation_only = false;
};

class ApplyStage {
 public:
  // `tables` (index = the capture's table id) must outlive the stage; `control` may be null.
  ApplyStage(Connector& target, std::vector<ApplyTable>& tables, ApplyOptions options,
             ErrorPolicies& policies, ControlTables* control, TaskStop& stop);
  ~ApplyStage();

  // The apply thread: pops until the queue is closed and drained, or the task stops. Commits
  // what it applied before returning. Never throws: failures stop the task (TaskStop).
  void Run(BoundedQueue<CaptureItem>& queue);

  // The full load is over for `table` (completed, or in error: then the table is suspended).
  // Thread-safe; acted on by the apply thread at the next transaction boundary.
  void TableLoaded(size_t table, bool completed);
  // Tables made live so far (their cached changes applied).
  size_t live_tables() const { return live_tables_.load(); }

  // Table `table` is to be loaded again while the task runs (`ferry reload-tables`). At the
  // next transaction boundary the apply thread commits what it holds, stops applying the
  // table's changes and caches every later one (mode pending with an empty load position: the
  // reload's snapshot is taken after the switch, so every transaction not in it is cached).
  // Blocks until the switch is made; false when the task stops first. The caller then sets
  // the table's load_position to the snapshot's position (cached changes at or before it are
  // in the reloaded rows and dropped when the table goes live) and reports the load's end
  // with TableLoaded. Thread-safe.
  bool BeginReload(size_t table);
  // ReloadOption validate-only: the table (live) is compared whole again by the observer
  // (AppliedObserver::TableRewritten), on the apply thread. Thread-safe.
  void Revalidate(size_t table);

  // The end position of the last transaction committed on the target (empty = none yet).
  Position applied() const { return applied_.load(); }
  int64_t applied_commit_time_us() const { return applied_time_us_.load(); }
  // Recoverable target errors retried so far.
  int64_t retries() const { return retries_.load(); }
  // Transactions handed to Run so far / finished (applied, cached or skipped).
  int64_t transactions_done() const { return done_txns_.load(); }
  int64_t changes_applied() const { return changes_applied_.load(); }

  // Called after a table becomes live, with its index (the task store records it).
  std::function<void(size_t)> on_table_live;

 private:
  // The changes of one source transaction (or of a run of cached changes) in a group.
  class TxnSource {
   public:
    virtual ~TxnSource() = default;
    virtual const TransactionInfo& info() const = 0;
    virtual bool Next(ChangeView* out) = 0;
    virtual void Rewind() = 0;
  };
  class CommittedSource;
  class CachedSource;
  using ChangeAt = std::pair<size_t, int64_t>;  // (group entry, change index)

  void RunLoop(BoundedQueue<CaptureItem>& queue);
  void Handle(CaptureItem item);
  void Route(std::unique_ptr<CommittedTransaction> txn);
  // Applies and commits the group, retrying after recoverable errors and skipping changes the
  // error policies drop. Returns with the group committed, or with the task stopping.
  void CommitGroup();
  void ApplyGroupOnce(const std::set<ChangeAt>& skip, bool one_by_one, ChangeAt* current);
  void HandleIssues(const std::vector<ApplyIssue>& issues);
  // Applies DataErrorPolicy to the change at `culprit` that failed with `error`; false when the
  // task stops.
  bool SkipFailed(ChangeAt culprit, const std::string& error, DataErrorKind kind,
                  std::set<ChangeAt>* skip);
  // Reads the change at `pos` of the group into `out` (rewinds the entry).
  void Locate(ChangeAt pos, ChangeView* out);
  void OpenApplier();
  void HandleLoadedTables();
  // Acts on BeginReload and Revalidate requests (the apply thread).
  void HandleReloads();
  void MakeLive(size_t table);
  void OnTableChanged(const TableChanged& change);
  // The target follows the source table `table` from `before` to `after` (cdc/ddl_sync.h):
  // journaled, run, and the table's plan, shape and mapper moved on. False when the table was
  // suspended instead (or the task is stopping).
  bool FollowTableChange(size_t table, const TableDef& before, const TableDef& after);
  // A shape record of `v.table` in the transaction being routed: its columns change between
  // the transaction's own changes of it. True when that ALTER is applied with the transaction
  // (a live table, on a target whose DDL is transactional); otherwise handled here (pending:
  // a new run of cached changes; the target already has the transaction: decoding only;
  // a live table on a MySQL target: suspended).
  bool RouteShape(const ChangeView& v, const TransactionInfo& info);
  // Decoding (and filter) only: the target already has the transactions the new columns
  // belong to. Journaled as a rebind.
  void RebindOnly(size_t table, const TableDef& def);
  // Applies the group (one source transaction with shape records of live tables) alone,
  // change by change, each ALTER run inside the target transaction where the source ran it.
  void CommitAlteringGroup();
  // Puts the tables the group alters back as they were before it (a new attempt, or none).
  void RestoreAltering();
  bool Altering(size_t table) const;
  // The shape record `v` of the altering group: the target follows it inside the open target
  // transaction. Throws Error when the target cannot.
  void AlterInTransaction(const ChangeView& v, const TransactionInfo& info);
  void OnTableDropped(size_t table);
  void OnIdle(const Position& position);
  // `position` in the source engine's spelling (options_.positions).
  std::string PositionText(const Position& position) const {
    return options_.positions->Format(position);
  }
  void RecordIssue(const ApplyTable& t, const ChangeView& mapped, const std::string& error);
  // Writes the control-table rows (apply exceptions, suspended tables) gathered meanwhile.
  void WriteControlRows();
  void CommitGroupOnce();
  // Calls visit(entry, index, source, change) for every change of the group, in order (each
  // entry rewound first). The one walk the apply paths share.
  template <typename Visit>
  void WalkGroup(Visit&& visit) {
    ChangeView v;
    for (size_t g = 0; g < group_.size(); ++g) {
      TxnSource& txn = *group_[g];
      txn.Rewind();
      for (int64_t idx = 0; txn.Next(&v); ++idx) visit(g, idx, txn, v);
    }
  }
  // A change's tag for the applier (ApplyIssue::tag): its group entry and index.
  static uint64_t ChangeTag(size_t entry, int64_t index) {
    return (static_cast<uint64_t>(entry) << 40) | static_cast<uint64_t>(index);
  }
  // Flushes the applier, then commits the group with its checkpoint (or rolls it back when
  // the task is failing).
  void FinishGroup();
  // Commits the target transaction with the group's checkpoint (its last transaction's end).
  void CommitWithCheckpoint();
  void Suspend(ApplyTable& t, const std::string& reason);
  // Tells options_.observer about every change of the group just committed.
  void ReportApplied();
  void Apply(ApplyTable& t, const ChangeView& raw, const TransactionInfo& info, uint64_t tag);
  // A filtered table's change as its target needs it: an insert outside the filter is nothing
  // (nullopt); an update that leaves it becomes a delete of the row; an update that enters it
  // (or whose old image is unknown) an update that inserts when no row matches (*upsert).
  // Unfiltered tables' changes pass as they are.
  std::optional<ChangeView> Filter(const ApplyTable& t, const ChangeView& raw, bool* upsert);
  ChangeView MapChange(ApplyTable& t, const ChangeView& raw, const TransactionInfo& info);
  // Whether a change of a group goes to the target: its table is live, the transaction is
  // past what the table's snapshot holds, and it is not a TRUNCATE the settings ignore.
  bool Applies(const ApplyTable& t, const TransactionInfo& info, const ChangeView& v) const;
  // Batch apply of the whole group in one target transaction (see ApplyOptions::batch_apply).
  // Throws on failure, after which the caller rolls back.
  void ApplyGroupNet();
  // Waits per RecoverableError settings; false when no retry is left or the task stops.
  bool WaitToRetry(const Error& e);
  // After a lost connection: true when the target's checkpoint shows the group committed
  // anyway (the connection went during COMMIT). Reconnects to look.
  bool CommittedBeforeTheError();
  // The target as a database, to follow the source's DDL (`what` it is for); throws
  // Error(kUnsupported) naming `what` for a target that is not one.
  SqlConnector& DdlTarget(std::string_view what) { return RequireSql(target_, what); }

  Connector& target_;
  std::vector<ApplyTable>& tables_;
  ApplyOptions options_;
  ErrorPolicies& policies_;
  ControlTables* control_;
  TaskStop& stop_;
  std::unique_ptr<ChangeApplier> applier_;

  std::vector<std::unique_ptr<TxnSource>> group_;
  int64_t group_changes_ = 0;
  // The last transaction routed: the checkpoint the group commits (set = something to commit).
  std::optional<TransactionInfo> group_last_;
  std::chrono::steady_clock::time_point group_started_{};
  Position last_seen_;  // end position of the last transaction received (duplicates dropped)

  Mutex loaded_mu_;
  std::vector<std::pair<size_t, bool>> loaded_ FERRY_GUARDED_BY(loaded_mu_);
  std::atomic<bool> loaded_pending_{false};
  // BeginReload / Revalidate requests, and the reloads switched.
  std::vector<size_t> reload_asked_ FERRY_GUARDED_BY(loaded_mu_);
  std::vector<size_t> revalidate_asked_ FERRY_GUARDED_BY(loaded_mu_);
  std::vector<size_t> reload_switched_ FERRY_GUARDED_BY(loaded_mu_);
  std::condition_variable reload_cv_;
  std::atomic<bool> reload_pending_{false};
  bool finished_ FERRY_GUARDED_BY(loaded_mu_) = false;  // Run returned

  SharedValue<Position> applied_;
  std::atomic<int64_t> applied_time_us_{0};
  std::atomic<int64_t> done_txns_{0};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> changes_applied_{0};
  std::atomic<size_t> live_tables_{0};

  // While an altering group is applied (CommitAlteringGroup): its tables as they were before
  // it, and the journal entries of the attempt in progress.
  struct AlteredTable {
    size_t table = 0;
    TablePlan plan;
    TableDef captured;
  };
  std::vector<AlteredTable> altering_;
  std::vector<std::pair<size_t, int64_t>> altering_entries_;

  struct ControlRow {
    bool suspended = false;  // awsdms_suspended_tables, else awsdms_apply_exceptions
    std::string schema, table, statement, error;
  };
  std::vector<ControlRow> control_rows_;
};

}  // namespace ferry::cdc
