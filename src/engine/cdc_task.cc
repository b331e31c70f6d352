#include "engine/cdc_task.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "catalog/table_def_json.h"
#include "common/host.h"
#include "engine/table_shapes.h"
#include "engine/task_records.h"
#include "logging/log.h"

namespace ferry {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kTaskManager); }
spdlog::logger& CaptureLog() { return logging::For(LogComponentId::kSourceCapture); }

}  // namespace

std::optional<MigrationType> ParseMigrationType(std::string_view text) {
  if (text == "full-load") return MigrationType::kFullLoad;
  if (text == "cdc") return MigrationType::kCdc;
  if (text == "full-load-and-cdc") return MigrationType::kFullLoadAndCdc;
  return std::nullopt;
}

const char* MigrationTypeName(MigrationType type) {
  switch (type) {
    case MigrationType::kFullLoad: return "full-load";
    case MigrationType::kCdc: return "cdc";
    case MigrationType::kFullLoadAndCdc: return "full-load-and-cdc";
  }
  return "?";
}

// Feeds what the capture delivers into the transaction buffer and the queue.
class CdcTask::Sink : public cdc::CaptureSink {
 public:
  explicit Sink(CdcTask& task) : task_(task) {}
  void OnBegin(uint32_t xid) override {
    task_.buffer_->Begin(xid);
    task_.idle_ = false;
  }
  void OnChange(uint32_t xid, std::string_view record) override {
    task_.buffer_->Add(xid, record);
  }
  void OnStreamedChange(uint32_t xid, uint32_t subxid, std::string_view record) override {
    task_.buffer_->Add(xid, record, subxid);
  }
  void OnCommit(const cdc::TransactionInfo& info) override {
    std::unique_ptr<cdc::CommittedTransaction> txn = task_.buffer_->Commit(info);
    task_.received_ = info.end_position;
    task_.last_commit_time_us_ = info.commit_time_us;
    ++task_.pushed_;
    task_.queue_.Push(std::move(txn));
  }
  void OnAbort(uint32_t xid, uint32_t subxid) override { task_.buffer_->Abort(xid, subxid); }
  void OnTableChanged(uint32_t table, const TableDef& def, const cdc::Position& commit) override {
    ++task_.pushed_;  // counted as a transaction so "everything applied" waits for it
    cdc::TableChanged changed{table, def};
    changed.commit = commit;
    task_.queue_.Push(std::move(changed));
  }
  void OnTableChangedInTransaction(uint32_t table, const TableDef& def,
                                   uint32_t xid) override {
    ++task_.pushed_;
    cdc::TableChanged changed{table, def};
    changed.in_transaction = true;
    changed.xid = xid;
    task_.queue_.Push(std::move(changed));
  }
  void OnTableDropped(uint32_t table) override {
    ++task_.pushed_;
    task_.queue_.Push(cdc::TableChanged{table, {}, true});
  }
  void OnIdle(const cdc::Position& position) override {
    task_.idle_ = true;
    task_.server_position_ = position;
    task_.idle_position_ = position;
    // The checkpoint follows an idle source (a few times a minute at most: each is a target
    // commit), and the slot is confirmed only up to the checkpoint.
    const auto now = std::chrono::steady_clock::now();
    if (position > last_idle_pushed_ && now - last_idle_push_ >= kIdleCheckpointInterval) {
      last_idle_pushed_ = position;
      last_idle_push_ = now;
      ++task_.pushed_;
      task_.queue_.Push(cdc::IdlePosition{position});
    }
  }

 private:
  static constexpr auto kIdleCheckpointInterval = std::chrono::seconds(2);
  CdcTask& task_;
  cdc::Position last_idle_pushed_;
  std::chrono::steady_clock::time_point last_idle_push_{};
};

CdcTask::CdcTask(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
                 CdcTaskOptions options)
    : source_(source),
      target_(target),
      positions_(source.positions()),
      plans_(std::move(plans)),
      options_(std::move(options)) {
  if (!positions_) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("change data capture from {} is not supported yet",
                            EngineName(source.engine())));
  }
}

CdcTask::~CdcTask() {
  stop_.Request("task destroyed", false);
  {
    std::lock_guard lock(load_mu_);
    if (load_) load_->Cancel();
  }
  JoinReloads();
  queue_.Close();
  if (capture_thread_.joinable()) capture_thread_.join();
  if (apply_thread_.joinable()) apply_thread_.join();
}

void CdcTask::Stop() {
  stop_.Request("Stop Reason NORMAL", false);
  // Setup may be creating the load now: either it is there to cancel, or Setup sees the stop
  // request once it has made it (see where load_ is set).
  std::lock_guard lock(load_mu_);
  if (load_) load_->Cancel();
}

cdc::CaptureOptions CdcTask::CaptureOptionsFor(bool export_snapshot, bool new_slot,
                                               bool record_waiting) {
  cdc::CaptureOptions o;
  o.task = options_.task;
  o.task_id = record_.task_id;
  o.slot = record_.slot;
  o.publication = record_.publication;
  o.owns_slot = record_.slot_owned;
  o.owns_publication = record_.publication_owned;
  o.new_slot = new_slot;
  o.tables = captured_;
  o.export_snapshot = export_snapshot;
  o.heartbeat = options_.heartbeat;
  o.should_stop = [this] { return stop_.requested(); };
  o.consistency_timeout =
      std::chrono::seconds(options_.settings.full_load_settings.transaction_consistency_timeout);
  if (record_waiting) {
    o.on_waiting = [this](const std::string& waiting_for) {
      record_.waiting_for = waiting_for;
      try {
        store_->PutTask(record_);
      } catch (const Error& e) {
        Log().error("task store {}: {}", store_->path().string(), e.what());
      }
    };
  }
  cdc::CaptureOwner owner;
  owner.task = options_.task;
  owner.task_id = record_.task_id;
  owner.slot = record_.slot;
  owner.publication = record_.publication;
  owner.host = HostName("");
  std::error_code ec;
  owner.data_dir = std::filesystem::absolute(options_.data_dir, ec).string();
  o.owner = owner.ToText();
  return o;
}

TaskRecord CdcTask::TaskRecordNow() const {
  TaskRecord r = record_;
  const CdcProgress p = progress();
  r.cdc_latency_source_s = p.latency_source_s;
  r.cdc_latency_target_s = p.latency_target_s;
  r.source_position = p.received.empty() ? "" : positions_->Format(p.received);
  r.applied_position = p.applied.empty() ? "" : positions_->Format(p.applied);
  r.recovery_checkpoint = r.applied_position.empty() ? record_.recovery_checkpoint
                                                      : r.applied_position;
  r.memory_bytes = static_cast<int64_t>(p.buffer.memory_bytes);
  r.spilled_bytes = p.buffer.spilled_bytes_now;
  r.pending_changes = p.pending_transactions;
  r.updated_at_us = 0;
  return r;
}

CdcProgress CdcTask::progress() const {
  CdcProgress p;
  // Any thread, also during Setup: the stage only through its published pointer.
  const cdc::ApplyStage* apply = apply_published_.load();
  p.phase = stop_.requested() ? "STOPPED" : loading_ ? "FULL LOAD" : "CHANGE PROCESSING";
  p.live_tables = apply ? apply->live_tables() : 0;
  p.received = received_.load();
  p.applied = apply ? apply->applied() : cdc::Position();
  p.server = server_position_.load();
  const int64_t done = apply ? apply->transactions_done() : 0;
  p.pending_transactions = std::max<int64_t>(0, pushed_.load() - done);
  const int64_t now = NowMicros();
  if (!idle_.load() && last_commit_time_us_.load() > 0) {
    p.latency_source_s = std::max<int64_t>(0, (now - last_commit_time_us_.load()) / 1000000);
  }
  if (p.pending_transactions > 0 && apply) {
    int64_t oldest = apply->applied_commit_time_us();
    if (oldest == 0) oldest = last_commit_time_us_.load();
    if (oldest > 0) p.latency_target_s = std::max<int64_t>(0, (now - oldest) / 1000000);
  }
  p.source_retries = source_retries_.load();
  p.target_retries = apply ? apply->retries() : 0;
  {
    MutexLock lock(buffer_mu_);
    p.buffer = buffer_stats_;
  }
  return p;
}

std::string CdcTask::StatusLine() const {
  const CdcProgress p = progress();
  std::string line = fmt::format(
      "Change processing: applied up to {} (read {}), {} transaction(s) pending, latency "
      "source {} s, target {} s, buffer {:.1f} MB, spilled {:.1f} MB",
      positions_->Format(p.applied), positions_->Format(p.received), p.pending_transactions,
      p.latency_source_s, p.latency_target_s,
      static_cast<double>(p.buffer.memory_bytes) / (1 << 20),
      static_cast<double>(p.buffer.spilled_bytes_now) / (1 << 20));
  if (p.source_retries + p.target_retries > 0) {
    line += fmt::format(", reconnected {} time(s) to the source, {} to the target",
                        p.source_retries, p.target_retries);
  }
  return line;
}


void CdcTask::WriteInitialCheckpoint(cdc::ChangeApplier& applier, const cdc::Position& position) {
  const std::string key = cdc::CheckpointKey(options_.task, record_.task_id);
  applier.ClearCheckpoint(key);
  applier.Begin();
  applier.Commit(key, cdc::Checkpoint{positions_->Format(position), NowMicros()});
}

void CdcTask::RestoreShapes(const std::vector<TableRecord>& stored) {
  const std::vector<ShapeHistory> histories =
      ReadShapeHistories(*store_, options_.task, plans_.size());
  // The live tables with a history (a task from an older Ferry has none: its tables are
  // planned from the catalog, as that Ferry did).
  std::vector<size_t> live;
  std::vector<TableDef> initial;
  for (size_t i = 0; i < plans_.size(); ++i) {
    const bool is_live =
        (stored[i].cdc_live || options_.type == MigrationType::kCdc || options_.validation_only) &&
        !reload_at_start_[i];
    if (!is_live || stored[i].state == "Suspended" || histories[i].defs.empty()) continue;
    live.push_back(i);
    initial.push_back(histories[i].defs.front());
  }
  if (live.empty()) return;
  const std::vector<TablePlan> replanned = options_.replan ? options_.replan(initial) : plans_;
  const bool handle_altered =
      options_.settings.change_processing_ddl_handling_policy.handle_source_table_altered;
  // The target's checkpoint, read when a pending in-transaction ALTER needs it (empty: none).
  std::optional<cdc::Position> checkpoint;
  const std::function<cdc::Position()> checkpoint_at = [&]() -> cdc::Position {
    if (!checkpoint) {
      std::unique_ptr<cdc::ChangeApplier> applier = target_.OpenChangeApplier();
      applier->Prepare(options_.settings.control_tables_settings.control_schema);
      const std::optional<TaskRecord> task = store_->GetTask(options_.task);
      std::optional<cdc::Checkpoint> cp =
          applier->ReadCheckpoint(cdc::CheckpointKey(options_.task, task ? task->task_id : ""));
      if (!cp) cp = applier->ReadCheckpoint(options_.task);  // keyed by name (older Ferry)
      const std::optional<cdc::Position> at = cp ? positions_->Parse(cp->position) : std::nullopt;
      checkpoint = at.value_or(cdc::Position());
    }
    return *checkpoint;
  };
  for (size_t i : live) {
    const TableDef& first = histories[i].defs.front();
    const TablePlan* initial_plan = nullptr;
    for (const TablePlan& p : replanned) {
      const TableDef& s = p.transform ? p.transform->source : p.source;
      if (s.schema == first.schema && s.name == first.name) initial_plan = &p;
    }
    if (!initial_plan) {
      throw Error(ErrorKind::kInternal,
                  fmt::format("--resume: table {} is not among the tables planned from its "
                              "recorded shape",
                              first.QualifiedName()));
    }
    ShapeSettlement settle;
    settle.checkpoint = checkpoint_at;
    settle.positions = positions_;
    settle.confirm = [&](int64_t seq) {
      store_->ConfirmShape(options_.task, static_cast<int>(i), seq);
    };
    settle.discard = [&](int64_t seq) {
      store_->DeleteShape(options_.task, static_cast<int>(i), seq);
    };
    RestoredTable r = ReplayShapeHistory(
        *initial_plan, histories[i],
        RequireSql(target_, "restoring a table the source's DDL changed"), handle_altered, settle);
    if (r.plan.target.schema != plans_[i].target.schema ||
        r.plan.target.name != plans_[i].target.name) {
      throw Error(ErrorKind::kInternal,
                  fmt::format("--resume: table {} replays to target {}, not {}",
                              first.QualifiedName(), r.plan.target.QualifiedName(),
                              plans_[i].target.QualifiedName()));
    }
    if (histories[i].defs.size() > 1) {
      Log().info("resuming task '{}': table {} continues with the columns it had at the "
                 "checkpoint ({} change(s) of its columns replayed)",
                 options_.task, first.QualifiedName(), histories[i].defs.size() - 1);
    }
    plans_[i] = std::move(r.plan);
    captured_[i] = std::move(r.captured);
    suspend_at_start_[i] = std::move(r.suspend_reason);
  }
}

void CdcTask::Setup() {
  paths_ = PathsFor(options_.data_dir, options_.task);
  // One owner per task: a second process is refused here, before it touches anything.
  lock_ = TaskLock::Acquire(paths_.task_dir, options_.task);
  store_ = TaskStore::Open(options_.data_dir);
  lock_->WatchStore(paths_.store);
  std::optional<TaskRecord> existing = store_->GetTask(options_.task);
  if (options_.resume) {
    // A task that never ran starts over (which drops a slot it may have created).
    if (std::optional<TaskRecord> resumed =
            TaskToContinue(*store_, options_.task, MigrationTypeName(options_.type))) {
      existing = std::move(resumed);
    } else {
      options_.resume = false;
    }
  }
  // The task's identity: which databases it moves between.
  const std::string source_identity = source_.Identity();
  const std::string target_identity = target_.Identity();
  if (options_.resume) {
    CheckIdentity(*existing, "source", existing->source_identity, existing->source_endpoint,
                  source_identity, options_.source_uri);
    CheckIdentity(*existing, "target", existing->target_identity, existing->target_endpoint,
                  target_identity, options_.target_uri);
  }

  std::vector<TableRecord> stored;
  captured_.assign(plans_.size(), TableDef{});
  suspend_at_start_.assign(plans_.size(), std::string());
  std::vector<bool> restored(plans_.size(), false);
  reload_at_start_.assign(plans_.size(), false);
  if (options_.resume) {
    stored = store_->GetTables(options_.task);
    CheckResumedTables(options_.task, stored, plans_);
    // `ferry reload-tables` while the task was stopped: those tables load again now.
    start_requests_ = store_->GetReloadRequests(options_.task);
    for (const ReloadRequest& r : start_requests_) {
      const auto i = static_cast<size_t>(r.table_index);
      if (i >= plans_.size() || r.validate_only || options_.validation_only) continue;
      reload_at_start_[i] = true;
      Log().info("resuming task '{}': table {} is reloaded (ferry reload-tables)", options_.task,
                 plans_[i].source.QualifiedName());
    }
    RestoreShapes(stored);
    for (size_t i = 0; i < plans_.size(); ++i) restored[i] = !captured_[i].name.empty();
  }
  // The capture encodes every change with the source table's complete column list: as the
  // shape history has it for a resumed live table, else as the catalog has it now.
  {
    auto catalog = source_.OpenCatalog();
    for (size_t i = 0; i < plans_.size(); ++i) {
      if (restored[i]) continue;
      const TableDef& s = plans_[i].transform ? plans_[i].transform->source : plans_[i].source;
      captured_[i] = catalog->GetTable(s.schema, s.name);
    }
  }
  // The plans were made from the catalog a moment earlier, and an ALTER may have come in
  // between: plan those tables again from the definitions just read, so that what the load
  // reads and what the stream decodes start from the same columns.
  if (options_.replan) {
    std::vector<TableDef> as_of;
    for (size_t i = 0; i < plans_.size(); ++i) {
      if (!restored[i]) as_of.push_back(captured_[i]);
    }
    if (!as_of.empty()) {
      const std::vector<TablePlan> replanned = options_.replan(as_of);
      for (size_t i = 0; i < plans_.size(); ++i) {
        if (restored[i]) continue;
        for (const TablePlan& p : replanned) {
          const TableDef& s = p.transform ? p.transform->source : p.source;
          if (s.schema == captured_[i].schema && s.name == captured_[i].name &&
              p.target.schema == plans_[i].target.schema &&
              p.target.name == plans_[i].target.name) {
            plans_[i] = p;
          }
        }
      }
    }
  }
  // Columns the plan reads as the engine's own values (Dialect::KeepsSourceValue: MySQL ->
  // MySQL dates, SQLite -> SQLite values as stored) are captured that way too, so that a
  // change carries what the load read.
  for (size_t i = 0; i < plans_.size(); ++i) {
    if (restored[i] || plans_[i].transform) continue;
    for (ColumnDef& c : captured_[i].columns) {
      const int p = plans_[i].source.ColumnIndex(c.name);
      if (p >= 0 && plans_[i].source.columns[p].type.kind == DmsKind::kEngineValue) {
        c.type = plans_[i].source.columns[p].type;
      }
    }
  }
  policies_ = options_.full_load.error_policies
                  ? options_.full_load.error_policies
                  : std::make_shared<ErrorPolicies>(options_.settings.error_behavior);

  // A validation-only task loads nothing: its tables are compared whole at the start instead.
  const bool full_load =
      options_.type == MigrationType::kFullLoadAndCdc && !options_.validation_only;
  const bool tables_live_from_start = !full_load;
  if (options_.resume) {
    record_ = *existing;
    if (record_.task_id.empty()) {
      // A task from a version-1 store: Ferry's names had no id, and a publication Ferry
      // made was the one of that name.
      record_.publication_owned =
          record_.publication == cdc::CaptureObjectName(options_.task, "");
    }
  } else {
    record_ = TaskRecord{};
    record_.name = options_.task;
    // Starting a task again keeps its identity; a new task gets a new one.
    record_.task_id = existing && !existing->task_id.empty() ? existing->task_id : cdc::NewTaskId();
    const std::string own = cdc::CaptureObjectName(options_.task, record_.task_id);
    record_.slot = options_.slot.empty() ? own : options_.slot;
    record_.publication = options_.publication.empty() ? own : options_.publication;
    record_.publication_owned = options_.publication.empty();
    record_.slot_owned = true;
  }
  record_.source_identity = source_identity;
  record_.target_identity = target_identity;
  // Recorded at once, so `ferry status` shows the task while the source makes it wait (a new
  // slot waits for the transactions open on the cluster), and a kill leaves a task to resume.
  record_.migration_type = MigrationTypeName(options_.type);
  record_.source_endpoint = options_.source_uri;
  record_.target_endpoint = options_.target_uri;
  RecordStarting(*store_, record_);

  bool user_slot_exists = false;
  if (!options_.resume && !options_.slot.empty()) {
    // --slot-name: the user's existing slot is used as it is (DMS native start point) and
    // never dropped; a name that does not exist yet is created for the task.
    user_slot_exists = source_.OpenChangeCapture(CaptureOptionsFor(false, false))->SlotExists();
    record_.slot_owned = !user_slot_exists;
    if (user_slot_exists && full_load) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--slot-name {}: the slot exists, and a full load needs a snapshot "
                              "taken when its slot is created; use an existing slot with "
                              "--migration-type cdc, or give a new slot name",
                              options_.slot));
    }
  }
  const bool new_slot = !options_.resume && record_.slot_owned;
  capture_ = source_.OpenChangeCapture(CaptureOptionsFor(full_load && new_slot, new_slot));
  if (!capture_->KeepsSourceObjects()) {  // no slot or publication to show or drop
    record_.slot.clear();
    record_.publication.clear();
  }
  capture_->CheckPrerequisites();

  // The target: its schemas (a MySQL target database may not exist yet), the checkpoint
  // table and the control tables.
  if (!options_.validation_only) {
    std::unique_ptr<TableWriter> writer = target_.OpenWriter();
    std::set<std::string> schemas;
    for (const TablePlan& plan : plans_) {
      if (schemas.insert(plan.target.schema).second) writer->EnsureSchema(plan.target.schema);
    }
  }
  std::unique_ptr<cdc::ChangeApplier> probe = target_.OpenChangeApplier();
  const std::string control_schema = options_.settings.control_tables_settings.control_schema;
  probe->Prepare(control_schema);
  control_ = OpenControlTables(target_, options_.settings.control_tables_settings, options_.task);
  if (control_) control_->EnsureEnabled();

  // Per table: how it starts.
  tables_.resize(plans_.size());
  cdc::Position resume_after;
  load_mode_ = options_.full_load.prep_mode;
  if (!options_.resume) {
    // A fresh start: a new slot (its snapshot is the full load's) unless the user named an
    // existing one. Starting a task again first drops what this task created before, and
    // nothing else.
    if (existing && existing->slot_owned) {
      TaskRecord saved = record_;
      record_.slot = existing->slot;
      record_.publication = existing->publication;
      record_.publication_owned = existing->publication_owned ||
                                  (existing->task_id.empty() &&
                                   existing->publication ==
                                       cdc::CaptureObjectName(options_.task, ""));
      record_.task_id = existing->task_id;
      const cdc::DropResult dropped =
          source_.OpenChangeCapture(CaptureOptionsFor(false, false))->DropObjects();
      if (dropped.slot_dropped) {
        Log().info("task '{}' starts again: its replication slot {} from the last run was "
                   "dropped", options_.task, existing->slot);
      }
      record_ = saved;
    }
    // --cdc-start-position (cdc tasks): empty = from the slot's position.
    const cdc::Position asked =
        !full_load && options_.start_position ? *options_.start_position : cdc::Position();
    const cdc::PrepareResult pr = capture_->Prepare();
    snapshot_ = pr.snapshot;
    stream_from_ = pr.start;
    if (!asked.empty() && asked < pr.start && !pr.any_retained_start) {
      // The server would silently start at the slot's position: refuse instead.
      if (pr.slot_created) capture_->DropObjects();
      throw Error(
          ErrorKind::kInvalidArgument,
          pr.slot_created
              ? fmt::format("--cdc-start-position {} is before {}, where the new replication "
                            "slot {} starts: a new slot cannot return older changes. To start "
                            "at {}, create a logical slot (pgoutput) before that position and "
                            "name it with --slot-name",
                            positions_->Format(asked), positions_->Format(pr.start), record_.slot,
                            positions_->Format(asked))
              : fmt::format("--cdc-start-position {} is before {}, the confirmed position of "
                            "replication slot {}: the slot no longer has the changes in between. "
                            "Give a position at or after {}",
                            positions_->Format(asked), positions_->Format(pr.start), record_.slot,
                            positions_->Format(pr.start)));
    }
    if (!asked.empty()) stream_from_ = asked;
    WriteInitialCheckpoint(*probe, stream_from_);
    resume_after = full_load ? cdc::Position() : stream_from_;
    for (size_t i = 0; i < plans_.size(); ++i) {
      cdc::ApplyTable& t = tables_[i];
      t.mode = full_load ? cdc::TableMode::kPending : cdc::TableMode::kLive;
      t.load_position = pr.start;
      t.skip_through = full_load ? cdc::Position() : stream_from_;
      if (full_load) to_load_.push_back(i);
    }
    record_.migration_type = MigrationTypeName(options_.type);
    record_.created_at_us = NowMicros();
    record_.cdc_start_position = positions_->Format(stream_from_);
  } else {
    std::optional<cdc::Checkpoint> cp =
        probe->ReadCheckpoint(cdc::CheckpointKey(options_.task, record_.task_id));
    if (!cp && !record_.task_id.empty()) {
      // Written by a Ferry from before checkpoint keys held the task id: keyed by name alone.
      cp = probe->ReadCheckpoint(options_.task);
      if (cp) {
        Log().info("resuming task '{}': its checkpoint row is keyed by its name alone (an "
                   "older Ferry); it moves to '{}'",
                   options_.task, cdc::CheckpointKey(options_.task, record_.task_id));
      }
    }
    if (!cp) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--resume: target {} holds no checkpoint of task '{}' (no row in "
                              "{}.{}): it is not the target this task applied to, or its "
                              "checkpoint was deleted, and resuming would lose changes; run the "
                              "task again without --resume to reload the tables",
                              target_.uri().Describe(), options_.task,
                              control_schema.empty() ? "the control schema" : control_schema,
                              cdc::kTxnStateTable));
    }
    std::optional<cdc::Position> from = positions_->Parse(cp->position);
    if (!from) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--resume: task '{}' has no usable checkpoint ('{}')",
                              options_.task, cp->position));
    }
    cdc::PrepareResult pr;
    try {
      pr = capture_->Prepare();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
      throw Error(ErrorKind::kNotFound,
                  fmt::format("--resume: the replication slot {} of task '{}' is gone, so the "
                              "changes since its checkpoint {} are lost; run the task again "
                              "without --resume to reload the tables",
                              record_.slot, options_.task, positions_->Format(*from)));
    }
    if (pr.start > *from) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--resume: replication slot {} has confirmed position {}, past "
                              "{}, the checkpoint of task '{}' on target {}: the source released "
                              "changes this target never received (was the task run against "
                              "another target?). This is a gap: run the task again without "
                              "--resume to reload the tables",
                              record_.slot, positions_->Format(pr.start), positions_->Format(*from),
                              options_.task, target_.uri().Describe()));
    }
    stream_from_ = *from;
    resume_after = *from;
    for (size_t i = 0; i < plans_.size(); ++i) {
      const TableRecord& r = stored[i];
      cdc::ApplyTable& t = tables_[i];
      if (reload_at_start_[i]) {
        t.mode = cdc::TableMode::kPending;
        to_load_.push_back(i);
      } else if (!suspend_at_start_[i].empty()) {
        t.mode = cdc::TableMode::kSuspended;
      } else if (r.cdc_live || tables_live_from_start) {
        t.mode = cdc::TableMode::kLive;
        t.skip_through = *from;
      } else if (r.state == "Suspended") {
        t.mode = cdc::TableMode::kSuspended;
      } else {
        t.mode = cdc::TableMode::kPending;
        to_load_.push_back(i);
      }
    }
    if (!to_load_.empty()) {
      // Reload what was not live, in a new snapshot; its changes up to the snapshot are in it.
      const cdc::PrepareResult snap = capture_->ExportSnapshot();
      snapshot_ = snap.snapshot;
      for (size_t i : to_load_) tables_[i].load_position = snap.start;
      if (load_mode_ == TablePrepMode::kDoNothing) load_mode_ = TablePrepMode::kTruncateBeforeLoad;
      Log().info(
          "resuming task '{}': reloading {} table(s) that were not in change processing "
          "yet or were asked to reload",
          options_.task, to_load_.size());
    }
    Log().info("resuming task '{}' after {}", options_.task, positions_->Format(*from));
  }

  // The full load owns every table's statistics; it loads only to_load_.
  FullLoadOptions fo = options_.full_load;
  fo.prep_mode = load_mode_;
  fo.error_policies = policies_;
  // The load holds the snapshot from here on (and lets it go when it ends).
  fo.snapshot = std::move(snapshot_);
  fo.tables_to_load = to_load_;
  fo.on_table_snapshot = [this](size_t i, const cdc::Position& position) {
    // The table was read in a snapshot of its own (MySQL, SQLite): its cached changes count
    // from there. Those cached before this is known are sorted out when it goes live.
    if (!position.empty()) tables_[i].load_position = position;
  };
  fo.on_table_done = [this](size_t i) {
    bool completed;
    {
      MutexLock lock(load_->stats()[i]->mu);
      completed = load_->stats()[i]->state == kStateCompleted;
    }
    if (apply_) apply_->TableLoaded(i, completed);
  };
  {
    auto load = std::make_unique<FullLoad>(source_, target_, plans_, fo);
    std::lock_guard lock(load_mu_);
    load_ = std::move(load);
    if (stop_.requested()) load_->Cancel();  // a Stop() that came before the load existed
  }
  for (size_t i = 0; i < plans_.size(); ++i) {
    cdc::ApplyTable& t = tables_[i];
    t.plan = plans_[i];
    t.captured = captured_[i];
    // A table restored from its shape history may have a plan that reads a column gone since.
    t.mapper = restored[i] ? cdc::ChangeMapper::AfterTableChange(captured_[i], plans_[i])
                           : std::make_unique<cdc::ChangeMapper>(captured_[i], plans_[i]);
    if (!plans_[i].filters.empty()) {
      t.filter = std::make_unique<cdc::RowFilter>(plans_[i].filters, captured_[i]);
      for (const std::string& o : t.filter->text_orderings()) {
        Log().warn("table {}: filter {} compares text byte by byte in change processing; a "
                   "source collation that orders text otherwise can disagree with the full "
                   "load's WHERE clause near the bounds",
                   plans_[i].source.QualifiedName(), o);
      }
    }
    t.stats = load_->stats()[i].get();
    if (options_.resume && i < stored.size()) {
      TableStats& st = *t.stats;
      const TableRecord& r = stored[i];
      st.cdc_inserts = r.inserts;
      st.cdc_updates = r.updates;
      st.cdc_deletes = r.deletes;
      st.cdc_ddls = r.ddls;
      st.applied_inserts = r.applied_inserts;
      st.applied_updates = r.applied_updates;
      st.applied_deletes = r.applied_deletes;
      st.applied_ddls = r.applied_ddls;
      st.cdc_apply_errors = r.apply_errors;
      if (t.mode != cdc::TableMode::kPending) {
        st.full_load_rows = r.full_load_rows;
        MutexLock lock(st.mu);
        st.state = r.state;
        st.error = r.last_error;  // a suspended table keeps saying why
      }
      if (!suspend_at_start_[i].empty()) {
        Log().error("table {} suspended: {}", plans_[i].source.QualifiedName(),
                    suspend_at_start_[i]);
        MutexLock lock(st.mu);
        st.state = "Suspended";
        st.error = suspend_at_start_[i];
      }
    }
  }
  if (options_.type == MigrationType::kCdc && !options_.resume && !options_.validation_only) {
    // CDC only: the target tables must exist; create the missing ones (DO_NOTHING).
    std::unique_ptr<TableWriter> writer = target_.OpenWriter();
    std::set<std::string> schemas;
    for (const TablePlan& plan : plans_) {
      if (schemas.insert(plan.target.schema).second) writer->EnsureSchema(plan.target.schema);
      writer->PrepareTable(plan.target, TablePrepMode::kDoNothing);
    }
  }

  record_.source_endpoint = options_.source_uri;
  record_.target_endpoint = options_.target_uri;
  record_.table_mappings_json = options_.table_mappings_json;
  record_.task_settings_json = options_.task_settings_json;
  record_.status = "running";
  record_.waiting_for.clear();
  record_.stop_reason.clear();
  record_.last_failure_message.clear();
  record_.started_at_us = NowMicros();
  record_.stopped_at_us = 0;
  store_->PutTask(record_);
  std::vector<TableRecord> records;
  for (size_t i = 0; i < plans_.size(); ++i) {
    TableRecord r = TableRecordNow(i);
    if (r.cdc_live && (options_.type == MigrationType::kCdc || options_.validation_only)) {
      r.state = "Table completed";
    }
    records.push_back(r);
  }
  store_->PutTables(options_.task, records);
  for (const ReloadRequest& r : start_requests_) store_->ClearReloadRequest(options_.task, r);
  // Shape histories: every table a fresh task starts, and every table a resumed one reloads,
  // starts from its shape now; a resumed live table keeps its history.
  for (size_t i = 0; i < plans_.size(); ++i) {
    if (options_.resume && restored[i]) continue;
    store_->ResetShape(options_.task, static_cast<int>(i), positions_->Format(stream_from_),
                       TableDefToJson(captured_[i]));
  }
  shapes_ = std::make_unique<StoreShapeJournal>(*store_, options_.task, *positions_, [this] {
    return apply_ ? apply_->applied() : cdc::Position();
  });

  cdc::BufferLimits limits;
  limits.memory_limit_bytes =
      static_cast<size_t>(options_.settings.change_processing_tuning.memory_limit_total) << 20;
  limits.keep_time =
      std::chrono::seconds(options_.settings.change_processing_tuning.memory_keep_time);
  limits.spill_dir = paths_.spill_dir;
  buffer_ = std::make_unique<cdc::TransactionBuffer>(limits);

  cdc::ApplyOptions ao;
  ao.task = cdc::CheckpointKey(options_.task, record_.task_id);
  ao.control_schema = control_schema;
  ao.positions = positions_;
  ao.min_transaction_size = options_.settings.change_processing_tuning.min_transaction_size;
  ao.commit_timeout =
      std::chrono::seconds(options_.settings.change_processing_tuning.commit_timeout);
  ao.upsert_inserts =
      options_.settings.error_behavior.apply_error_insert_policy == ErrorPolicy::kInsertRecord;
  ao.upsert_updates =
      options_.settings.error_behavior.apply_error_update_policy == ErrorPolicy::kUpdateRecord;
  ao.cache_dir = paths_.cache_dir;
  ao.resume_after = resume_after;
  ao.handle_alter =
      options_.settings.change_processing_ddl_handling_policy.handle_source_table_altered;
  ao.handle_truncate =
      options_.settings.change_processing_ddl_handling_policy.handle_source_table_truncated;
  ao.handle_drop =
      options_.settings.change_processing_ddl_handling_policy.handle_source_table_dropped;
  ao.shapes = shapes_.get();
  ao.validation_only = options_.validation_only;
  if (options_.settings.validation_settings.enable_validation) {
    std::vector<TableStats*> stats;
    for (size_t i = 0; i < plans_.size(); ++i) stats.push_back(tables_[i].stats);
    validator_ = std::make_unique<ChangeValidator>(
        source_, RequireSql(target_, "validation (ValidationSettings.EnableValidation)"),
        options_.settings.validation_settings,
        OpenControlTables(target_, options_.settings.control_tables_settings, options_.task),
        std::move(stats), [this] { return progress().latency_target_s; });
    ao.observer = validator_.get();
  }
  {
    const auto& tuning = options_.settings.change_processing_tuning;
    ao.batch_apply = options_.settings.target_metadata.batch_apply_enabled;
    ao.batch_timeout_min = std::chrono::seconds(tuning.batch_apply_timeout_min);
    ao.batch_timeout_max = std::chrono::seconds(tuning.batch_apply_timeout_max);
    ao.batch_memory_limit = static_cast<size_t>(tuning.batch_apply_memory_limit) << 20;
    ao.batch_split_size = tuning.batch_split_size;
  }
  apply_ = std::make_unique<cdc::ApplyStage>(target_, tables_, ao, *policies_, control_.get(),
                                             stop_);
  apply_->on_table_live = [this](size_t i) {
    TableRecord r = TableRecordNow(i);
    r.cdc_live = true;
    if (validator_) validator_->TableLive(i, tables_[i].plan);
    try {
      store_->PutTable(options_.task, r);
    } catch (const Error& e) {
      Log().error("task store: {}", e.what());
    }
  };
  apply_published_.store(apply_.get());
}

void CdcTask::CaptureLoop(cdc::Position from) {
  Sink sink(*this);
  cdc::Position confirmed;
  auto last_save = std::chrono::steady_clock::now();
  bool reconnecting = false;
  while (!stop_.requested()) {
    try {
      if (!capture_) {
        capture_ = source_.OpenChangeCapture(CaptureOptionsFor(false, false));
        capture_->Prepare();
      }
      buffer_->Clear();
      capture_->Start(from);
      while (!stop_.requested()) {
        capture_->Poll(sink, std::chrono::milliseconds(200));
        if (reconnecting) {  // streaming again
          reconnecting = false;
          policies_->Recovered(ErrorPolicies::Channel::kSource);
          CaptureLog().info("source: reconnected; streaming from {}", positions_->Format(from));
        }
        server_position_ = std::max(server_position_.load(), capture_->ServerPosition());
        // Never past the target's checkpoint: a resume starts there, and what the source has
        // released before it would be a gap.
        const cdc::Position applied = apply_->applied();
        if (applied > confirmed) {
          capture_->Confirm(applied);
          confirmed = applied;
        }
        if (std::chrono::steady_clock::now() - last_save > std::chrono::milliseconds(500)) {
          MutexLock lock(buffer_mu_);
          buffer_stats_ = buffer_->stats();
          last_save = std::chrono::steady_clock::now();
        }
      }
    } catch (const Error& e) {
      if (stop_.requested()) break;
      if (!IsTransient(e.kind())) {
        stop_.Request(fmt::format("source capture: {}", e.what()), true);
        break;
      }
      const RetryDecision d = policies_->OnRecoverableError(ErrorPolicies::Channel::kSource);
      reconnecting = true;
      if (!d.retry) {
        stop_.Request(fmt::format("source connection lost and not retried ({}): {}", d.reason,
                                  e.what()),
                      true);
        break;
      }
      ++source_retries_;
      CaptureLog().warn("source: recoverable error, retry {} in {} s: {}", d.attempt,
                        d.wait_seconds, e.what());
      capture_.reset();
      policies_->WaitBeforeRetry(d, [this] { return stop_.requested(); });
      // Start again after what the target has; transactions already queued come again and are
      // dropped by the apply stage.
      from = std::max(from, apply_->applied());
    } catch (const std::exception& e) {
      stop_.Request(fmt::format("source capture: internal error: {}", e.what()), true);
      break;
    }
  }
  queue_.Close();
}

void CdcTask::RunFullLoad() {
  if (to_load_.empty()) return;
  loading_ = true;
  load_->Run();
  loading_ = false;
  if (load_->cancelled() && !load_->stop_reason().empty()) {
    stop_.Request(load_->stop_reason(), true);
  }
}

TableRecord CdcTask::TableRecordNow(size_t i) const {
  TableRecord r = TableRecordOf(i, plans_[i], *tables_[i].stats);
  r.cdc_live = tables_[i].mode == cdc::TableMode::kLive;
  r.load_position = positions_->Format(tables_[i].load_position);
  return r;
}

void CdcTask::SaveProgress(bool final) {
  std::vector<TableRecord> records;
  for (size_t i = 0; i < plans_.size(); ++i) {
    TableRecord r = TableRecordNow(i);
    if (r.cdc_live && r.state == kStateBeforeLoad) r.state = kStateCompleted;
    records.push_back(r);
  }
  TaskRecord task = TaskRecordNow();
  if (final) {
    task.status = stop_.failed() ? "failed" : "stopped";
    task.stop_reason = stop_.reason();
    if (stop_.failed()) task.last_failure_message = stop_.reason();
    task.stopped_at_us = NowMicros();
  }
  try {
    store_->SaveProgress(task, records);
    if (final) store_->PutTask(task);
  } catch (const Error& e) {
    Log().error("task store {}: {}", store_->path().string(), e.what());
  }
}

void CdcTask::JoinReloads() {
  if (reload_thread_.joinable()) reload_thread_.join();
}

void CdcTask::PollReloads() {
  if (reloading_.load()) return;
  JoinReloads();
  std::vector<ReloadRequest> requests;
  try {
    requests = store_->GetReloadRequests(options_.task);
  } catch (const Error& e) {
    Log().error("task store {}: {}", store_->path().string(), e.what());
    return;
  }
  if (requests.empty()) return;
  reloading_ = true;
  reload_thread_ = std::thread([this, requests] {
    ReloadTables(requests);
    reloading_ = false;
  });
}

void CdcTask::ReloadTables(const std::vector<ReloadRequest>& requests) {
  std::vector<std::pair<size_t, TablePlan>> reload;
  auto fail = [&](const std::string& why) {
    // The tables switched to caching end in error: suspended, with why (a new request
    // reloads them).
    for (const auto& [i, plan] : reload) {
      {
        MutexLock lock(tables_[i].stats->mu);
        tables_[i].stats->state = kStateError;
        tables_[i].stats->error = why;
      }
      apply_->TableLoaded(i, false);
    }
  };
  try {
    for (const ReloadRequest& r : requests) {
      const auto i = static_cast<size_t>(r.table_index);
      if (stop_.requested()) return;
      if (i >= tables_.size()) {
        store_->ClearReloadRequest(options_.task, r);
        continue;
      }
      const std::string name = plans_[i].source.QualifiedName();
      if (r.validate_only || options_.validation_only) {
        if (validator_) {
          Log().info("table {}: validating it again (ferry reload-tables)", name);
          apply_->Revalidate(i);
        } else {
          Log().warn(
              "table {}: reload-tables validate-only, but validation is not enabled for "
              "task '{}': nothing to do",
              name, options_.task);
        }
        store_->ClearReloadRequest(options_.task, r);
        continue;
      }
      if (tables_[i].mode == cdc::TableMode::kPending) continue;  // still loading: next time
      if (!apply_->BeginReload(i)) return;
      reload.emplace_back(i, tables_[i].plan);
      // Recorded as not live before the request goes: a crash from here reloads it on resume.
      store_->PutTable(options_.task, TableRecordNow(i));
      store_->ClearReloadRequest(options_.task, r);
    }
    if (reload.empty()) return;
    std::unique_ptr<cdc::ChangeCapture> exporter =
        source_.OpenChangeCapture(CaptureOptionsFor(false, false, /*record_waiting=*/false));
    const cdc::PrepareResult snap = exporter->ExportSnapshot();
    std::vector<std::string> names;
    for (const auto& [i, plan] : reload) {
      tables_[i].load_position = snap.start;
      names.push_back(plan.source.QualifiedName());
    }
    Log().info("task '{}': reloading {} in a snapshot at {}", options_.task, fmt::join(names, ", "),
               positions_->Format(snap.start));
    const TablePrepMode mode =
        load_mode_ == TablePrepMode::kDoNothing ? TablePrepMode::kTruncateBeforeLoad : load_mode_;
    load_->LoadAgain(reload, snap.snapshot, mode);
    if (load_->cancelled() && !load_->stop_reason().empty()) {
      stop_.Request(load_->stop_reason(), true);
    }
  } catch (const std::exception& e) {
    if (stop_.requested()) return;
    Log().error("task '{}': reloading tables failed: {}", options_.task, e.what());
    fail(fmt::format("reload failed: {}", e.what()));
  }
}

void CdcTask::WaitForStop() {
  const FullLoadSettings& fls = options_.settings.full_load_settings;
  auto last_save = std::chrono::steady_clock::now();
  size_t completed_loads = 0;
  for (size_t i : to_load_) {
    MutexLock lock(tables_[i].stats->mu);
    if (tables_[i].stats->state == kStateCompleted) ++completed_loads;
  }
  // Tables live from the start (not loaded by this run) plus the loads that completed. The
  // apply thread shares tables_ and may already have made loaded tables live: counting those
  // too would set a goal that is never reached (the stop position never stops the task).
  std::vector<bool> loading(tables_.size(), false);
  for (size_t i : to_load_) loading[i] = true;
  size_t live_goal = completed_loads;
  for (size_t i = 0; i < tables_.size(); ++i) {
    if (!loading[i] && tables_[i].mode == cdc::TableMode::kLive) ++live_goal;
  }
  bool announced = false;
  auto last_poll = std::chrono::steady_clock::now();
  while (!stop_.requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() - last_poll >= std::chrono::seconds(1)) {
      PollReloads();
      last_poll = std::chrono::steady_clock::now();
    }
    if (!to_load_.empty() && fls.stop_task_cached_changes_applied &&
        apply_->live_tables() >= live_goal) {
      stop_.Request("Stop Reason STOPPED_AFTER_CACHED_EVENTS", false);
      break;
    }
    if (!announced && apply_->live_tables() >= live_goal) {
      announced = true;
      Log().info("task '{}': every table is in change processing", options_.task);
    }
    if (options_.stop_position) {
      const cdc::Position applied = apply_->applied();
      const bool drained = pushed_.load() == apply_->transactions_done();
      const cdc::Position idle = idle_.load() && drained ? idle_position_.load() : cdc::Position();
      if ((applied >= *options_.stop_position || idle >= *options_.stop_position) && drained &&
          apply_->live_tables() >= live_goal) {
        stop_.Request(fmt::format("Stop Reason NORMAL: reached the CDC stop position {}",
                                  positions_->Format(*options_.stop_position)),
                      false);
        break;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_save >= std::chrono::seconds(2)) {
      if (!lock_->Intact(paths_.store)) {
        // Its state is gone: stop at a consistent point (what is applied is committed with
        // its checkpoint on the target) and say what is left on the source.
        stop_.Request(
            fmt::format("the data directory {} of task '{}' was deleted or replaced while it "
                        "ran (its task store or lock file is gone): stopped. The source still "
                        "has replication slot {}{}; remove them with ferry delete-task "
                        "--source URI --task-name {} (or ferry cleanup --source URI --drop)",
                        options_.data_dir.string(), options_.task, record_.slot,
                        record_.publication_owned
                            ? fmt::format(" and publication {}", record_.publication)
                            : "",
                        options_.task),
            true);
        break;
      }
      SaveProgress(false);
      last_save = now;
    }
  }
}

void CdcTask::Run() {
  try {
    Setup();
  } catch (const std::exception& e) {
    RecordStartFailure(store_.get(), record_, e.what());
    throw;
  }
  if (validator_) {
    // Tables live from the start (a cdc task, a resumed one): their rows as they are now first.
    for (size_t i = 0; i < tables_.size(); ++i) {
      if (tables_[i].mode == cdc::TableMode::kLive) validator_->TableLive(i, tables_[i].plan);
    }
    validator_->Start();
  }
  if (on_running) on_running();
  capture_thread_ = std::thread([this] { CaptureLoop(stream_from_); });
  apply_thread_ = std::thread([this] { apply_->Run(queue_); });
  try {
    RunFullLoad();
    const FullLoadSettings& fls = options_.settings.full_load_settings;
    if (!to_load_.empty() && fls.stop_task_cached_changes_not_applied && !stop_.requested()) {
      stop_.Request("Stop Reason STOPPED_AFTER_FULL_LOAD", false);
    }
    WaitForStop();
  } catch (...) {
    stop_.Request("task failed", true);
    if (load_) load_->Cancel();
    JoinReloads();
    queue_.Close();
    capture_thread_.join();
    apply_thread_.join();
    if (validator_) validator_->Stop();
    SaveProgress(true);
    throw;
  }
  if (load_) load_->Cancel();
  JoinReloads();
  // The capture may be blocked on a full queue: closing it frees it. What is still queued
  // comes again from the source on resume (the checkpoint says where).
  queue_.Close();
  capture_thread_.join();
  apply_thread_.join();
  if (validator_) validator_->Stop();
  SaveProgress(true);
  Log().info("task '{}' {}: {}", options_.task, stop_.failed() ? "failed" : "stopped",
              stop_.reason());
}

}  // namespace ferry
