#include "cdc/apply_stage.h"

#include <fmt/format.h>

#include <thread>

#include "catalog/table_def_json.h"
#include "cdc/ddl_sync.h"
#include "cdc/net_changes.h"
#include "logging/log.h"

namespace ferry::cdc {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kTargetApply); }

// AR_H_* header values of a change (transformation expressions may read them).
HeaderValues ChangeHeader(const ChangeView& change, const TransactionInfo& info,
                          const PositionCodec& positions) {
  HeaderValues h;
  h.operation = change.op == ChangeOp::kInsert   ? "INSERT"
                : change.op == ChangeOp::kUpdate ? "UPDATE"
                                                 : "DELETE";
  const int64_t us = info.commit_time_us;
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const std::string ts =
      fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
  h.timestamp = ts;
  h.commit_timestamp = ts;
  h.db_commit_timestamp = ts;
  h.stream_position = positions.Format(info.end_position);
  h.transaction_id = std::to_string(info.xid);
  return h;
}

}  // namespace

class ApplyStage::CommittedSource : public ApplyStage::TxnSource {
 public:
  explicit CommittedSource(std::unique_ptr<CommittedTransaction> txn) : txn_(std::move(txn)) {}
  const TransactionInfo& info() const override { return txn_->info(); }
  bool Next(ChangeView* out) override { return txn_->Next(out); }
  void Rewind() override { txn_->Rewind(); }

 private:
  std::unique_ptr<CommittedTransaction> txn_;
};

// A run of cached changes of one table, re-encoded in memory, replayed as one group entry.
class ApplyStage::CachedSource : public ApplyStage::TxnSource {
 public:
  explicit CachedSource(TransactionInfo info) : info_(std::move(info)), reader_(bytes_) {}
  const TransactionInfo& info() const override { return info_; }
  bool Next(ChangeView* out) override { return reader_.Next(out); }
  void Rewind() override { reader_ = ChangeReader(bytes_); }
  std::string& bytes() { return bytes_; }
  void set_info(const TransactionInfo& info) { info_ = info; }

 private:
  TransactionInfo info_;
  std::string bytes_;
  ChangeReader reader_;
};

void TaskStop::Request(const std::string& reason, bool failed) {
  MutexLock lock(mu_);
  if (!requested_.load()) {
    reason_ = reason;
    failed_ = failed;
  }
  requested_ = true;
}

std::string TaskStop::reason() const {
  MutexLock lock(mu_);
  return reason_;
}

ApplyStage::ApplyStage(Connector& target, std::vector<ApplyTable>& tables, ApplyOptions options,
                       ErrorPolicies& policies, ControlTables* control, TaskStop& stop)
    : target_(target),
      tables_(tables),
      options_(std::move(options)),
      policies_(policies),
      control_(control),
      stop_(stop) {
  last_seen_ = options_.resume_after;
  for (const ApplyTable& t : tables_) {
    if (t.mode == TableMode::kLive) ++live_tables_;
  }
}

ApplyStage::~ApplyStage() = default;

void ApplyStage::OpenApplier() {
  applier_ = target_.OpenChangeApplier();
  applier_->Prepare(options_.control_schema);
}

void ApplyStage::TableLoaded(size_t table, bool completed) {
  MutexLock lock(loaded_mu_);
  loaded_.emplace_back(table, completed);
  loaded_pending_ = true;
}

bool ApplyStage::BeginReload(size_t table) {
  MutexLock lock(loaded_mu_);
  reload_asked_.push_back(table);
  reload_pending_ = true;
  for (;;) {
    auto switched = std::find(reload_switched_.begin(), reload_switched_.end(), table);
    if (switched != reload_switched_.end()) {
      reload_switched_.erase(switched);
      return true;
    }
    if (stop_.requested() || finished_) return false;
    lock.WaitUntil(reload_cv_, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
  }
}

void ApplyStage::Revalidate(size_t table) {
  MutexLock lock(loaded_mu_);
  revalidate_asked_.push_back(table);
  reload_pending_ = true;
}

void ApplyStage::HandleReloads() {
  std::vector<size_t> reload, revalidate;
  {
    MutexLock lock(loaded_mu_);
    reload.swap(reload_asked_);
    revalidate.swap(revalidate_asked_);
    reload_pending_ = false;
  }
  if (!reload.empty() && (!group_.empty() || group_last_)) CommitGroup();
  if (stop_.requested()) return;
  for (size_t table : reload) {
    ApplyTable& t = tables_[table];
    if (t.mode == TableMode::kLive) --live_tables_;
    t.DropCache();
    t.load_position = Position();
    t.mode = TableMode::kPending;
    {
      MutexLock lock(t.stats->mu);
      t.stats->state = kStateBeforeLoad;
      t.stats->error.clear();
    }
    Log().info("table {}: reloading; its changes are cached until its load is over",
               t.plan.source.QualifiedName());
  }
  for (size_t table : revalidate) {
    ApplyTable& t = tables_[table];
    if (t.mode == TableMode::kLive && options_.observer) {
      options_.observer->TableRewritten(table, t.plan);
    }
  }
  MutexLock lock(loaded_mu_);
  reload_switched_.insert(reload_switched_.end(), reload.begin(), reload.end());
  reload_cv_.notify_all();
}

void ApplyStage::Run(BoundedQueue<CaptureItem>& queue) {
  RunLoop(queue);
  MutexLock lock(loaded_mu_);
  finished_ = true;
  reload_cv_.notify_all();
}

void ApplyStage::RunLoop(BoundedQueue<CaptureItem>& queue) {
  try {
    OpenApplier();
    while (!stop_.requested()) {
      if (loaded_pending_.load()) HandleLoadedTables();
      if (reload_pending_.load()) HandleReloads();
      std::optional<CaptureItem> item = queue.PopFor(std::chrono::milliseconds(100));
      if (item) {
        Handle(std::move(*item));
      } else if (queue.closed()) {
        break;
      }
      const bool dry = queue.size() == 0;
      const bool has_work = !group_.empty() || group_changes_ > 0;
      const auto age = std::chrono::steady_clock::now() - group_started_;
      const bool group_full =
          options_.batch_apply
              ? (options_.batch_split_size > 0 && group_changes_ >= options_.batch_split_size) ||
                    age >= options_.batch_timeout_min || age >= options_.batch_timeout_max
              : group_changes_ >= options_.min_transaction_size || dry ||
                    age >= options_.commit_timeout;
      if (has_work && group_full) {
        CommitGroup();
      } else if (!has_work && group_last_ && age >= options_.commit_timeout) {
        CommitGroup();  // only the position moved (changes of pending tables): record it
      }
    }
    if (!stop_.failed() && (!group_.empty() || group_last_)) CommitGroup();
  } catch (const Error& e) {
    stop_.Request(fmt::format("change apply: {}", e.what()), true);
  } catch (const std::exception& e) {
    stop_.Request(fmt::format("change apply: internal error: {}", e.what()), true);
  }
  if (applier_) applier_->Rollback();
}

void ApplyStage::Handle(CaptureItem item) {
  if (auto* changed = std::get_if<TableChanged>(&item)) {
    if (!group_.empty() || group_last_) CommitGroup();
    OnTableChanged(*changed);
    ++done_txns_;
    return;
  }
  if (auto* idle = std::get_if<IdlePosition>(&item)) {
    OnIdle(idle->position);
    ++done_txns_;
    return;
  }
  Route(std::move(std::get<std::unique_ptr<CommittedTransaction>>(item)));
}

void ApplyStage::Route(std::unique_ptr<CommittedTransaction> txn) {
  const TransactionInfo info = txn->info();
  if (info.end_position <= last_seen_) {  // already applied (resume) or seen (capture reconnect)
    ++done_txns_;
    return;
  }
  last_seen_ = info.end_position;
  int64_t live = 0;
  bool alters_live = false;
  ChangeView v;
  std::string record;
  while (txn->Next(&v)) {
    if (v.table >= tables_.size()) {
      throw Error(ErrorKind::kInternal, fmt::format("change for unknown table id {} at {}", v.table,
                                                    PositionText(info.end_position)));
    }
    ApplyTable& t = tables_[v.table];
    if (v.op == ChangeOp::kShape) {
      if (RouteShape(v, info) && !alters_live) {
        // Applied alone: what came before is committed first.
        alters_live = true;
        if (!group_.empty() || group_last_) CommitGroup();
        if (stop_.requested()) return;
      }
      continue;
    }
    switch (v.op) {
      case ChangeOp::kInsert: ++t.stats->cdc_inserts; break;
      case ChangeOp::kUpdate: ++t.stats->cdc_updates; break;
      case ChangeOp::kDelete: ++t.stats->cdc_deletes; break;
      case ChangeOp::kTruncate: ++t.stats->cdc_ddls; break;
      case ChangeOp::kShape: break;
    }
    if (t.mode == TableMode::kLive) {
      if (info.end_position > t.skip_through) ++live;
    } else if (t.mode == TableMode::kPending && info.end_position > t.load_position) {
      if (t.cache.empty()) t.cache.push_back({t.captured, false, {}, nullptr});
      ApplyTable::CachedRun& run = t.cache.back();
      if (!run.spool) {
        run.spool = std::make_unique<ChangeSpool>(
            options_.cache_dir / fmt::format("table-{}-{}.cache", v.table, t.cache.size() - 1));
      }
      std::vector<DmsType> types;
      for (const ColumnDef& c : run.shape.columns) types.push_back(c.type);
      record.clear();
      EncodeChange(v, StorageOfColumns(types), &record);
      run.spool->Append(info, record);
    }
  }
  group_last_ = info;
  if (group_.empty() && group_changes_ == 0) group_started_ = std::chrono::steady_clock::now();
  if (alters_live) {
    group_changes_ = live;
    txn->Rewind();
    group_.push_back(std::make_unique<CommittedSource>(std::move(txn)));
    CommitAlteringGroup();
    return;
  }
  if (live > 0) {
    group_changes_ += live;
    txn->Rewind();
    group_.push_back(std::make_unique<CommittedSource>(std::move(txn)));
  } else {
    ++done_txns_;
  }
}

void ApplyStage::OnIdle(const Position& position) {
  // Every transaction ending at or before `position` was routed already, so a later one (or
  // one sent again after a capture reconnect) is new only past it.
  if (position <= last_seen_) return;
  last_seen_ = position;
  if (group_.empty() && group_changes_ == 0 && !group_last_) {
    group_started_ = std::chrono::steady_clock::now();
  }
  TransactionInfo at = group_last_ ? *group_last_ : TransactionInfo{};
  if (!group_last_) at.commit_time_us = applied_time_us_.load();
  at.commit_position = position;
  at.end_position = position;
  group_last_ = at;
}

ChangeView ApplyStage::MapChange(ApplyTable& t, const ChangeView& raw,
                                 const TransactionInfo& info) {
  if (raw.op == ChangeOp::kTruncate || !t.mapper->needs_header()) {
    return t.mapper->Map(raw, HeaderValues{});
  }
  return t.mapper->Map(raw, ChangeHeader(raw, info, *options_.positions));
}

std::optional<ChangeView> ApplyStage::Filter(const ApplyTable& t, const ChangeView& raw,
                                             bool* upsert) {
  *upsert = false;
  if (!t.filter || raw.op == ChangeOp::kTruncate || raw.op == ChangeOp::kDelete) return raw;
  const std::optional<bool> now = t.filter->Matches(*raw.rows, raw.new_row);
  if (raw.op == ChangeOp::kInsert) {
    if (now.value_or(true)) return raw;
    return std::nullopt;
  }
  // An update. Its old image tells whether the row was in the target (REPLICA IDENTITY FULL
  // sends it whole); without it, the target decides: an update that matches no row inserts.
  std::optional<bool> before;
  if (raw.old_row >= 0 && raw.old_kind == OldImage::kFull) {
    before = t.filter->Matches(*raw.rows, raw.old_row);
  }
  if (!now) {
    // A filtered column the update did not send (unchanged TOAST): unchanged, so the row is
    // where it was; a plain update (matching no row is fine here).
    return raw;
  }
  if (*now) {
    *upsert = !before || !*before;
    return raw;
  }
  if (before && !*before) return std::nullopt;  // outside before and after
  // It leaves the filter: delete it, found by its old key (or the new image's key columns).
  ChangeView del = raw;
  del.op = ChangeOp::kDelete;
  if (raw.old_row < 0) {
    del.old_row = raw.new_row;
    del.old_kind = OldImage::kKey;
  }
  del.new_row = -1;
  return del;
}

void ApplyStage::Apply(ApplyTable& t, const ChangeView& in, const TransactionInfo& info,
                       uint64_t tag) {
  bool filter_upsert = false;
  const std::optional<ChangeView> raw_change = Filter(t, in, &filter_upsert);
  if (!raw_change) return;
  const ChangeView& raw = *raw_change;
  const ChangeView mapped = MapChange(t, raw, info);
  const bool upsert = filter_upsert ||
                      (raw.op == ChangeOp::kInsert && options_.upsert_inserts) ||
                      (raw.op == ChangeOp::kUpdate && options_.upsert_updates);
  applier_->Apply(t.plan.target, mapped, upsert, tag);
  switch (raw.op) {
    case ChangeOp::kInsert: ++t.pending_inserts; break;
    case ChangeOp::kUpdate: ++t.pending_updates; break;
    case ChangeOp::kDelete: ++t.pending_deletes; break;
    case ChangeOp::kTruncate: ++t.pending_ddls; break;
    case ChangeOp::kShape: break;
  }
}

void ApplyStage::RecordIssue(const ApplyTable& t, const ChangeView& mapped,
                             const std::string& error) {
  if (!control_) return;
  std::string statement;
  try {
    statement = applier_ ? applier_->Statement(t.plan.target, mapped) : std::string();
  } catch (const std::exception& e) {
    statement = fmt::format("(statement not available: {})", e.what());
  }
  // Written once the target transaction is over: a SQLite target has one writer at a time,
  // and the control session must not wait for the applier's own transaction.
  control_rows_.push_back({false, t.plan.target.schema, t.plan.target.name, statement, error});
}

void ApplyStage::WriteControlRows() {
  std::vector<ControlRow> rows;
  rows.swap(control_rows_);
  if (!control_) return;
  for (const ControlRow& r : rows) {
    try {
      if (r.suspended) {
        control_->RecordSuspendedTable(r.schema, r.table, r.error);
      } else {
        control_->RecordApplyException(r.schema, r.table, r.statement, r.error);
      }
    } catch (const Error& e) {
      Log().error("recording {} for {}.{}: {}",
                  r.suspended ? "a suspended table" : "an apply exception", r.schema, r.table,
                  e.what());
    }
  }
}

void ApplyStage::Suspend(ApplyTable& t, const std::string& reason) {
  if (t.mode == TableMode::kSuspended) return;
  if (t.mode == TableMode::kLive) --live_tables_;
  t.mode = TableMode::kSuspended;
  Log().error("table {} suspended: {}", t.plan.source.QualifiedName(), reason);
  {
    MutexLock lock(t.stats->mu);
    t.stats->state = "Suspended";
    t.stats->error = reason;
  }
  t.DropCache();
  control_rows_.push_back({true, t.plan.target.schema, t.plan.target.name, "", reason});
}

bool ApplyStage::Applies(const ApplyTable& t, const TransactionInfo& info,
                         const ChangeView& v) const {
  if (v.op == ChangeOp::kShape) return false;  // AlterInTransaction, RouteShape
  if (t.mode != TableMode::kLive || info.end_position <= t.skip_through) return false;
  // HandleSourceTableTruncated false: a source TRUNCATE leaves the target as it is.
  return v.op != ChangeOp::kTruncate || options_.handle_truncate;
}

void ApplyStage::ApplyGroupOnce(const std::set<ChangeAt>& skip, bool one_by_one,
                                ChangeAt* current) {
  if (!altering_.empty()) RestoreAltering();
  if (options_.validation_only) {
    applier_->Begin();
    if (!altering_.empty()) {
      // Nothing reaches the target, but plans and shapes follow the source.
      ChangeView v;
      TxnSource& txn = *group_.front();
      txn.Rewind();
      while (txn.Next(&v)) {
        if (v.op == ChangeOp::kShape && Altering(v.table)) AlterInTransaction(v, txn.info());
      }
    }
    CommitWithCheckpoint();
    return;
  }
  if (options_.batch_apply && !one_by_one && skip.empty()) {
    try {
      ApplyGroupNet();
      return;
    } catch (const Error& e) {
      applier_->Rollback();
      if (IsTransient(e.kind())) throw;  // CommitGroup reconnects and tries the batch again
      Log().warn("batch apply failed, applying the same changes transactionally: {}",
                 e.what());
    }
  }
  for (ApplyTable& t : tables_) {
    t.pending_inserts = t.pending_updates = t.pending_deletes = t.pending_ddls = 0;
  }
  applier_->Begin();
  WalkGroup([&](size_t g, int64_t idx, TxnSource& txn, const ChangeView& v) {
    ApplyTable& t = tables_[v.table];
    if (v.op == ChangeOp::kShape && Altering(v.table)) {
      HandleIssues(applier_->Flush());  // the changes before it stand as they are
      *current = {g, idx};
      AlterInTransaction(v, txn.info());
      return;
    }
    if (!Applies(t, txn.info(), v) || skip.count({g, idx})) return;
    *current = {g, idx};
    Apply(t, v, txn.info(), ChangeTag(g, idx));
    if (one_by_one) HandleIssues(applier_->Flush());
  });
  FinishGroup();
}

void ApplyStage::FinishGroup() {
  HandleIssues(applier_->Flush());
  if (stop_.requested() && stop_.failed()) {
    applier_->Rollback();
    return;
  }
  CommitWithCheckpoint();
}

void ApplyStage::CommitWithCheckpoint() {
  const TransactionInfo& last = *group_last_;
  applier_->Commit(options_.task, Checkpoint{PositionText(last.end_position), last.commit_time_us});
}

void ApplyStage::HandleIssues(const std::vector<ApplyIssue>& issues) {
  for (const ApplyIssue& issue : issues) {
    const size_t g = static_cast<size_t>(issue.tag >> 40);
    const int64_t idx = static_cast<int64_t>(issue.tag & ((uint64_t{1} << 40) - 1));
    if (g >= group_.size()) continue;
    TxnSource& txn = *group_[g];
    ChangeView v;
    Locate({g, idx}, &v);
    ApplyTable& t = tables_[v.table];
    if (t.filter && issue.outcome == ApplyOutcome::kNoRow) {
      // The row was outside the filter, so not on the target: nothing to do, nothing applied.
      bool upsert = false;
      const std::optional<ChangeView> f = Filter(t, v, &upsert);
      const ChangeOp op = f ? f->op : v.op;
      if (op == ChangeOp::kUpdate) --t.pending_updates;
      if (op == ChangeOp::kDelete) --t.pending_deletes;
      continue;
    }
    const char op = static_cast<char>(v.op);
    const ErrorDecision d = policies_.OnApplyConflict(t.plan.target.QualifiedName(), op);
    const ChangeView mapped = MapChange(t, v, txn.info());
    const std::string what =
        issue.outcome == ApplyOutcome::kDuplicate
            ? "the row already exists on the target (duplicate key)"
            : "no row matched on the target";
    const std::string message = fmt::format(
        "{} of {} at source position {} was not applied: {} ({})", ChangeOpName(v.op),
        t.plan.target.QualifiedName(), PositionText(txn.info().end_position), what, d.reason);
    switch (v.op) {
      case ChangeOp::kInsert: --t.pending_inserts; break;
      case ChangeOp::kUpdate: --t.pending_updates; break;
      case ChangeOp::kDelete: --t.pending_deletes; break;
      case ChangeOp::kTruncate: --t.pending_ddls; break;
      case ChangeOp::kShape: break;
    }
    ++t.stats->cdc_apply_errors;
    switch (d.action) {
      case ErrorAction::kSkipRow:
        if (d.log) {
          std::string statement;
          try {
            statement = applier_->Statement(t.plan.target, mapped);
          } catch (const std::exception&) {
          }
          Log().warn("{}: {}", message, statement);
          RecordIssue(t, mapped, message);
        }
        break;
      case ErrorAction::kSuspendTable:
        RecordIssue(t, mapped, message);
        Suspend(t, message);
        break;
      case ErrorAction::kStopTask:
        RecordIssue(t, mapped, message);
        stop_.Request(message, true);
        break;
    }
  }
}

void ApplyStage::Locate(ChangeAt pos, ChangeView* out) {
  TxnSource& txn = *group_[pos.first];
  txn.Rewind();
  for (int64_t i = 0; i <= pos.second; ++i) {
    if (!txn.Next(out)) {
      throw Error(ErrorKind::kInternal,
                  fmt::format("change {} of a transaction at {} is gone", pos.second,
                              PositionText(txn.info().end_position)));
    }
  }
}

void ApplyStage::CommitGroup() {
  if (!group_last_) return;
  CommitGroupOnce();
  WriteControlRows();
}

void ApplyStage::CommitGroupOnce() {
  std::set<ChangeAt> skip;
  // An altering group goes change by change: the ALTERs between them need the changes before
  // sent first, and a failure is then always the change at `current`.
  bool one_by_one = !altering_.empty();
  bool retried = false;
  while (true) {
    ChangeAt current{SIZE_MAX, -1};
    try {
      if (!applier_) OpenApplier();
      ApplyGroupOnce(skip, one_by_one, &current);
      break;
    } catch (const RowError& e) {
      if (applier_) applier_->Rollback();
      if (current.first == SIZE_MAX) throw;
      // The value was refused before anything was sent: `current` is the culprit.
      if (!SkipFailed(current, e.what(), ClassifyDataError(e.what()), &skip)) return;
    } catch (const Error& e) {
      if (applier_) applier_->Rollback();
      if (IsTransient(e.kind())) {
        applier_.reset();
        if (!WaitToRetry(e)) return;
        retried = true;
        // The connection may have gone during COMMIT, after the server committed.
        if (CommittedBeforeTheError()) break;
        continue;
      }
      if (!one_by_one) {
        // A statement failed somewhere in the pipeline: find which, one change at a time.
        one_by_one = true;
        continue;
      }
      if (current.first == SIZE_MAX) throw;
      ChangeView v;
      Locate(current, &v);
      if (v.op == ChangeOp::kShape) {
        // The target could not follow an ALTER of the transaction: that table stops, the
        // transaction is applied again without it.
        const TransactionInfo& info = group_[current.first]->info();
        Suspend(tables_[v.table],
                fmt::format("the source table changed inside source transaction {} (ending at "
                            "{}) and the target table could not follow: {}",
                            info.xid, PositionText(info.end_position), e.what()));
        continue;
      }
      if (!SkipFailed(current, e.what(), DataErrorKind::kData, &skip)) return;
    }
    if (stop_.requested() && stop_.failed()) return;
  }
  // The target committed the ALTERs of an altering group: their entries are settled.
  for (const auto& [table, seq] : altering_entries_) options_.shapes->Confirm(table, seq);
  altering_entries_.clear();
  if (stop_.requested() && stop_.failed()) return;
  if (retried) {
    policies_.Recovered(ErrorPolicies::Channel::kTarget);
    Log().info("target: reconnected; applied up to {}", PositionText(group_last_->end_position));
  }
  for (ApplyTable& t : tables_) {
    t.stats->applied_inserts += t.pending_inserts;
    t.stats->applied_updates += t.pending_updates;
    t.stats->applied_deletes += t.pending_deletes;
    t.stats->applied_ddls += t.pending_ddls;
    changes_applied_ += t.pending_inserts + t.pending_updates + t.pending_deletes + t.pending_ddls;
    t.pending_inserts = t.pending_updates = t.pending_deletes = t.pending_ddls = 0;
  }
  if (options_.observer) ReportApplied();
  applied_time_us_ = group_last_->commit_time_us;
  applied_ = group_last_->end_position;
  for (const auto& entry : group_) {
    if (dynamic_cast<CommittedSource*>(entry.get())) ++done_txns_;
  }
  group_.clear();
  group_changes_ = 0;
  group_last_.reset();
  group_started_ = std::chrono::steady_clock::now();
}

void ApplyStage::ReportApplied() {
  ChangeView v;
  for (const auto& entry : group_) {
    TxnSource& txn = *entry;
    txn.Rewind();
    while (txn.Next(&v)) {
      ApplyTable& t = tables_[v.table];
      // An altered table's changes before its ALTER read with other columns: it is compared
      // whole instead (below).
      if (!Applies(t, txn.info(), v) || Altering(v.table)) continue;
      bool upsert = false;
      const std::optional<ChangeView> filtered = Filter(t, v, &upsert);
      if (!filtered) continue;
      try {
        options_.observer->OnApplied(v.table, MapChange(t, *filtered, txn.info()));
      } catch (const std::exception&) {
        // A change the mapper refuses was skipped by an error policy: its row is compared by
        // the next change of it, or not at all.
      }
    }
  }
  for (const AlteredTable& a : altering_) {
    const ApplyTable& t = tables_[a.table];
    if (t.mode != TableMode::kLive) continue;
    options_.observer->PlanChanged(a.table, t.plan);
    options_.observer->TableRewritten(a.table, t.plan);
  }
}

bool ApplyStage::SkipFailed(ChangeAt culprit, const std::string& error, DataErrorKind kind,
                            std::set<ChangeAt>* skip) {
  TxnSource& txn = *group_[culprit.first];
  ChangeView v;
  Locate(culprit, &v);
  ApplyTable& t = tables_[v.table];
  const ErrorDecision d = policies_.OnDataError(t.plan.target.QualifiedName(), kind);
  const std::string message = fmt::format("{} of {} at source position {} failed: {} ({})",
                                          ChangeOpName(v.op), t.plan.target.QualifiedName(),
                                          PositionText(txn.info().end_position), error, d.reason);
  ++t.stats->cdc_apply_errors;
  ChangeView mapped;
  bool mapped_ok = true;
  try {
    mapped = MapChange(t, v, txn.info());
  } catch (const Error&) {
    mapped_ok = false;
  }
  if (d.log || d.action != ErrorAction::kSkipRow) {
    Log().error("{}", message);
    if (mapped_ok) RecordIssue(t, mapped, message);
  }
  switch (d.action) {
    case ErrorAction::kSkipRow:
      skip->insert(culprit);
      return true;
    case ErrorAction::kSuspendTable:
      Suspend(t, message);
      return true;
    case ErrorAction::kStopTask:
      stop_.Request(message, true);
      return false;
  }
  return false;
}

bool ApplyStage::CommittedBeforeTheError() {
  // Only a group that moves the checkpoint tells by it (runs of cached changes keep it).
  if (group_last_->end_position <= applied_.load()) return false;
  try {
    OpenApplier();
    const std::optional<Checkpoint> cp = applier_->ReadCheckpoint(options_.task);
    const std::optional<Position> at = cp ? options_.positions->Parse(cp->position) : std::nullopt;
    if (!at || *at < group_last_->end_position) return false;
    Log().warn(
        "target: the connection was lost while committing up to {}, and the target "
        "has that commit: not applied again",
        PositionText(group_last_->end_position));
    return true;
  } catch (const Error& e) {
    if (!IsTransient(e.kind())) throw;
    applier_.reset();  // the next attempt reconnects (and waits again if it must)
    return false;
  }
}

bool ApplyStage::WaitToRetry(const Error& e) {
  RetryDecision d = policies_.OnRecoverableError(ErrorPolicies::Channel::kTarget);
  if (!d.retry) {
    stop_.Request(fmt::format("target connection lost and not retried ({}): {}", d.reason,
                              e.what()),
                  true);
    return false;
  }
  ++retries_;
  Log().warn("target: recoverable error, retry {} in {} s: {}", d.attempt, d.wait_seconds,
              e.what());
  return policies_.WaitBeforeRetry(d, [this] { return stop_.requested(); });
}

void ApplyStage::HandleLoadedTables() {
  std::vector<std::pair<size_t, bool>> loaded;
  {
    MutexLock lock(loaded_mu_);
    loaded.swap(loaded_);
    loaded_pending_ = false;
  }
  if (loaded.empty()) return;
  if (!group_.empty() || group_last_) CommitGroup();
  for (const auto& [table, completed] : loaded) {
    if (stop_.requested()) return;
    ApplyTable& t = tables_[table];
    if (t.mode != TableMode::kPending) continue;
    if (!completed) {
      std::string error;
      {
        MutexLock lock(t.stats->mu);
        error = t.stats->error;
      }
      t.DropCache();
      t.mode = TableMode::kSuspended;
      Log().error("table {}: its full load did not complete; its changes are not applied: {}",
                   t.plan.source.QualifiedName(), error);
      continue;
    }
    MakeLive(table);
  }
}

void ApplyStage::MakeLive(size_t table) {
  ApplyTable& t = tables_[table];
  t.mode = TableMode::kLive;
  ++live_tables_;
  // Its loaded rows hold every transaction ending at or before the load's snapshot: a stream
  // still behind it (a resumed task reloading the table) must not apply those again.
  t.skip_through = std::max(t.skip_through, t.load_position.load());
  const int64_t cached = t.CachedChanges();
  if (!t.cache.empty()) {
    if (cached > 0) {
      Log().info("table {}: applying {} cached change(s)", t.plan.source.QualifiedName(),
                 cached);
    }
    // Every transaction routed so far is handled once these are in: the checkpoint stays at
    // the last one seen. Replayed run by run (one source shape each, the target following
    // the source's ALTERs between them), in pieces of MinTransactionSize changes (or 16 MB),
    // each one target transaction, through the same error handling as live changes.
    const TransactionInfo at{0, last_seen_, last_seen_, applied_time_us_.load()};
    TableDef previous = t.cache.front().shape;
    for (ApplyTable::CachedRun& cached_run : t.cache) {
      if (stop_.requested()) return;
      if (cached_run.alter_before && !cached_run.alter_commit.empty() &&
          cached_run.alter_commit < t.load_position.load()) {
        // Only a reload caches before its snapshot's position is known: the source table
        // changed between the reload's start and its snapshot, so its rows were read with
        // columns its plan does not have. Never applied half right: it is loaded again.
        Suspend(t, fmt::format("the source table's columns changed while it was being "
                               "reloaded (at {}); reload it again (ferry reload-tables)",
                               PositionText(cached_run.alter_commit)));
        t.DropCache();
        return;
      }
      if (cached_run.alter_before) {
        if (!FollowTableChange(table, previous, cached_run.shape)) return;
      } else {
        t.captured = cached_run.shape;
        t.mapper->Rebind(cached_run.shape);
      }
      if (t.filter) {
        try {
          t.filter->Rebind(cached_run.shape);
        } catch (const Error& e) {
          Suspend(t, fmt::format("the source table changed and its filter cannot be "
                                 "evaluated: {}",
                                 e.what()));
          return;
        }
      }
      previous = cached_run.shape;
      if (!cached_run.spool) continue;
      std::vector<DmsType> types;
      for (const ColumnDef& c : cached_run.shape.columns) types.push_back(c.type);
      const std::vector<Storage> storage = StorageOfColumns(types);
      ChangeSpool::Reader reader = cached_run.spool->Read();
      TransactionInfo info;
      ChangeView v;
      auto run = std::make_unique<CachedSource>(at);
      int64_t in_run = 0;
      auto flush = [&] {
        if (in_run == 0) return;
        group_.push_back(std::move(run));
        group_changes_ = in_run;
        group_last_ = at;
        CommitGroup();
        run = std::make_unique<CachedSource>(at);
        in_run = 0;
      };
      const Position loaded_through = t.load_position.load();
      while (reader.Next(&info, &v)) {
        if (stop_.requested()) return;
        // A reload caches from before its snapshot: what the snapshot holds is not replayed.
        if (info.end_position <= loaded_through) continue;
        EncodeChange(v, storage, &run->bytes());
        ++in_run;
        if (in_run >= options_.min_transaction_size || run->bytes().size() >= (16u << 20)) {
          flush();
        }
      }
      flush();
      if (stop_.requested() || t.mode != TableMode::kLive) return;
    }
    t.DropCache();
  }
  if (on_table_live) on_table_live(table);
}

void ApplyStage::OnTableDropped(size_t table) {
  ApplyTable& t = tables_[table];
  ++t.stats->cdc_ddls;
  const std::string source = t.plan.source.QualifiedName();
  if (t.mode != TableMode::kLive) {
    // Its load reads a table that is gone and fails (or has failed): nothing to drop.
    Log().warn("table {}: the source table was dropped before its changes went live", source);
    return;
  }
  if (options_.handle_drop && !options_.validation_only) {
    const Dialect& d = target_.dialect();
    const std::string sql = "DROP TABLE IF EXISTS " + d.QuoteIdentifier(t.plan.target.schema) +
                            "." + d.QuoteIdentifier(t.plan.target.name);
    for (bool done = false; !done;) {
      try {
        Log().info("table {}: dropped on the source, running on the target: {}", source, sql);
        target_.OpenSession()->Execute(sql);
        done = true;
      } catch (const Error& e) {
        if (IsTransient(e.kind()) && WaitToRetry(e)) continue;
        if (stop_.requested()) return;
        Suspend(t, fmt::format("the source table was dropped and the target table could not "
                               "be dropped: {}",
                               e.what()));
        return;
      }
    }
    ++t.stats->applied_ddls;
  } else {
    Log().warn("table {}: dropped on the source; the target table {} stays ({})", source,
               t.plan.target.QualifiedName(),
               options_.validation_only ? "ValidationOnly" : "HandleSourceTableDropped is false");
  }
  MutexLock lock(t.stats->mu);
  t.stats->state = kStateTableDropped;
}

void ApplyStage::OnTableChanged(const TableChanged& change) {
  if (change.table >= tables_.size()) return;
  if (change.dropped) {
    OnTableDropped(change.table);
    return;
  }
  ApplyTable& t = tables_[change.table];
  const TableDef before = t.captured;
  t.captured = change.def;
  ++t.stats->cdc_ddls;
  if (change.in_transaction && t.mode != TableMode::kSuspended) {
    // A transaction streamed before its commit (or one committed while such a one was open
    // with changes of the table): changes of both shapes are already on their way, with no
    // place between them to alter the target. Stop applying the table instead of writing
    // values into the wrong columns. (A whole committed transaction carries a shape record
    // instead: RouteShape.)
    t.mapper->Rebind(change.def);
    Suspend(t, fmt::format("the source table's columns changed inside a transaction, between "
                           "its own changes of the table (source transaction {}), while a "
                           "transaction streamed before its commit held changes of it; Ferry "
                           "cannot replay that exactly, so the table is no longer applied: "
                           "reload it (run the task again without --resume)",
                           change.xid));
    return;
  }
  if (t.mode == TableMode::kSuspended) {
    t.mapper->Rebind(change.def);  // nothing reaches the target
    return;
  }
  // A change the target already has: a live table's transactions up to skip_through were
  // applied, a loading table's snapshot holds the ones before its load position.
  const Position has_through = t.mode == TableMode::kLive ? t.skip_through : t.load_position.load();
  if (!change.commit.empty() && change.commit < has_through) {
    RebindOnly(change.table, change.def);
    return;
  }
  if (t.mode == TableMode::kPending) {
    // After the load's snapshot: held in order with the cached changes, and carried to the
    // target between them when the table goes live (MakeLive).
    if (t.cache.empty()) t.cache.push_back({before, false, {}, nullptr});
    t.cache.push_back({change.def, true, change.commit, nullptr});
    t.mapper->Rebind(change.def);
    return;
  }
  if (t.filter) {
    try {
      t.filter->Rebind(change.def);
    } catch (const Error& e) {
      t.mapper->Rebind(change.def);
      Suspend(t, fmt::format("the source table changed and its filter cannot be evaluated: {}",
                             e.what()));
      return;
    }
  }
  FollowTableChange(change.table, before, change.def);
}

void ApplyStage::RebindOnly(size_t table, const TableDef& def) {
  ApplyTable& t = tables_[table];
  t.captured = def;
  if (options_.shapes) options_.shapes->Record(table, def, ShapeJournal::Kind::kRebind);
  t.mapper->Rebind(def);
  if (t.filter) {
    try {
      t.filter->Rebind(def);
    } catch (const Error& e) {
      Suspend(t, fmt::format("the source table changed and its filter cannot be evaluated: {}",
                             e.what()));
    }
  }
}

bool ApplyStage::RouteShape(const ChangeView& v, const TransactionInfo& info) {
  ApplyTable& t = tables_[v.table];
  ++t.stats->cdc_ddls;
  const TableDef def = TableDefFromJson(
      v.shape,
      fmt::format("the shape record of table {} in source transaction {} (ending at {})",
                  t.plan.source.QualifiedName(), info.xid, PositionText(info.end_position)));
  if (t.mode == TableMode::kLive && info.end_position > t.skip_through) {
    if (options_.validation_only || target_.dialect().TransactionalDdl()) return true;
    // Its changes before the ALTER were encoded with the old columns, the ones after with the
    // new; applying them in order needs the target's ALTER between them, inside one target
    // transaction, which a target without transactional DDL (MySQL: it commits each ALTER at
    // once) cannot hold. Stop
    // applying the table instead of writing values into the wrong columns.
    t.captured = def;
    t.mapper->Rebind(def);
    Suspend(t,
            fmt::format("the source table's columns changed inside source transaction {} "
                        "(ending at {}), between its own changes of the table; a {} target "
                        "commits each ALTER TABLE at once, so that transaction cannot be "
                        "applied with the ALTER between its changes and the table is no "
                        "longer applied: reload it (run the task again without --resume)",
                        info.xid, PositionText(info.end_position), EngineName(target_.engine())));
    return false;
  }
  if (t.mode == TableMode::kSuspended) {
    t.captured = def;
    t.mapper->Rebind(def);  // nothing reaches the target
    return false;
  }
  if (t.mode == TableMode::kPending && info.end_position > t.load_position) {
    // The records after it form a new run of cached changes, the target following between.
    if (t.cache.empty()) t.cache.push_back({t.captured, false, {}, nullptr});
    t.cache.push_back({def, true, info.commit_position, nullptr});
    t.captured = def;
    t.mapper->Rebind(def);
    return false;
  }
  RebindOnly(v.table, def);  // the target has the transaction: its loaded rows, or applied
  return false;
}

bool ApplyStage::Altering(size_t table) const {
  for (const AlteredTable& a : altering_) {
    if (a.table == table) return true;
  }
  return false;
}

void ApplyStage::CommitAlteringGroup() {
  // The live tables the transaction alters, as they are before it: each attempt starts there.
  altering_.clear();
  altering_entries_.clear();
  TxnSource& txn = *group_.front();
  ChangeView v;
  txn.Rewind();
  while (txn.Next(&v)) {
    if (v.op != ChangeOp::kShape || Altering(v.table)) continue;
    const ApplyTable& t = tables_[v.table];
    if (t.mode == TableMode::kLive && txn.info().end_position > t.skip_through) {
      altering_.push_back({v.table, t.plan, t.captured});
    }
  }
  CommitGroup();
  if (!group_.empty()) RestoreAltering();  // not committed: the task is stopping
  altering_.clear();
  altering_entries_.clear();
}

void ApplyStage::RestoreAltering() {
  for (const auto& [table, seq] : altering_entries_) options_.shapes->Discard(table, seq);
  altering_entries_.clear();
  for (const AlteredTable& a : altering_) {
    ApplyTable& t = tables_[a.table];
    t.plan = a.plan;
    t.captured = a.captured;
    t.mapper = ChangeMapper::AfterTableChange(a.captured, a.plan);
    if (t.filter) {
      try {
        t.filter->Rebind(a.captured);
      } catch (const Error&) {
        // It was evaluable with these columns before the transaction.
      }
    }
    if (options_.observer) options_.observer->PlanChanged(a.table, t.plan);
  }
}

void ApplyStage::AlterInTransaction(const ChangeView& v, const TransactionInfo& info) {
  ApplyTable& t = tables_[v.table];
  const TableDef after = TableDefFromJson(
      v.shape,
      fmt::format("the shape record of table {} in source transaction {} (ending at {})",
                  t.plan.source.QualifiedName(), info.xid, PositionText(info.end_position)));
  if (t.mode != TableMode::kLive) {  // suspended by an earlier attempt
    t.captured = after;
    t.mapper->Rebind(after);
    return;
  }
  TableChangePlan next =
      PlanTableChange(t.plan, t.captured, after, target_, t.captured.engine, options_.handle_alter);
  for (const std::string& note : next.notes) Log().warn("{}", note);
  if (options_.shapes) {
    // Pending until the target commits the transaction (or discarded when it rolls back).
    altering_entries_.emplace_back(
        v.table, options_.shapes->Record(v.table, after, ShapeJournal::Kind::kInTransaction,
                                         info.end_position));
  }
  if (!options_.validation_only) {
    for (const std::string& sql : next.statements) {
      Log().info("table {}: source table changed inside source transaction {}, running in the "
                 "same target transaction: {}",
                 t.plan.target.QualifiedName(), info.xid, sql);
      applier_->ExecuteInTransaction(sql);
    }
  }
  if (t.filter) {
    try {
      t.filter->Rebind(after);
    } catch (const Error& e) {
      throw Error(ErrorKind::kSchema, fmt::format("its filter cannot be evaluated: {}", e.what()));
    }
  }
  t.plan = std::move(next.new_plan);
  t.captured = after;
  t.mapper = ChangeMapper::AfterTableChange(after, t.plan);
  if (!options_.validation_only) ++t.pending_ddls;
}

bool ApplyStage::FollowTableChange(size_t table, const TableDef& before, const TableDef& after) {
  ApplyTable& t = tables_[table];
  // ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered (ddl_sync.h).
  TableChangePlan next =
      PlanTableChange(t.plan, before, after, target_, before.engine, options_.handle_alter);
  for (const std::string& note : next.notes) Log().warn("{}", note);
  // The applier's statements describe the old columns: it reopens at the next commit.
  if (applier_) applier_->Rollback();
  applier_.reset();
  // Recorded before the target changes: a crash in between leaves the entry pending, and the
  // restarted task finds out from the target table whether the ALTER ran.
  const int64_t seq = options_.shapes ? options_.shapes->Record(table, after, ShapeJournal::Kind::kDdl) : -1;
  if (options_.validation_only) next.statements.clear();  // the target is not ours to alter
  for (bool done = next.statements.empty(); !done;) {
    try {
      std::unique_ptr<SqlSession> session = target_.OpenSession();
      // One transaction where the target's DDL is transactional (PostgreSQL, SQLite): a kill
      // between the statements (a SQLite rebuild's DROP and RENAME) leaves the table whole.
      const bool atomic = target_.dialect().TransactionalDdl() && next.statements.size() > 1;
      if (atomic) session->Execute("BEGIN");
      for (const std::string& sql : next.statements) {
        Log().info("table {}: source table changed, running on the target: {}",
                   t.plan.target.QualifiedName(), sql);
        session->Execute(sql);
      }
      if (atomic) session->Execute("COMMIT");
      done = true;
    } catch (const Error& e) {
      if (IsTransient(e.kind()) && WaitToRetry(e)) continue;
      t.captured = after;
      t.mapper->Rebind(after);
      if (stop_.requested()) return false;
      Suspend(t, fmt::format("the source table changed and the target table could not follow: "
                             "{}",
                             e.what()));
      return false;
    }
  }
  if (options_.shapes) options_.shapes->Confirm(table, seq);
  t.plan = std::move(next.new_plan);
  if (options_.observer) options_.observer->PlanChanged(table, t.plan);
  t.captured = after;
  // The plan may keep reading a column that is gone (read as NULL).
  t.mapper = ChangeMapper::AfterTableChange(after, t.plan);
  if (!options_.validation_only) ++t.stats->applied_ddls;
  return true;
}

void ApplyStage::ApplyGroupNet() {
  for (ApplyTable& t : tables_) {
    t.pending_inserts = t.pending_updates = t.pending_deletes = t.pending_ddls = 0;
  }
  applier_->Begin();
  std::vector<std::unique_ptr<NetChanges>> nets(tables_.size());
  // Tables without a primary key: runs of inserts, appended set-based; other changes one by one.
  std::vector<std::unique_ptr<Batch>> appends(tables_.size());
  std::vector<size_t> used;  // tables with a net or appends, in first-use order
  const Batch no_keys;
  auto apply_net = [&](ApplyTable& t, NetChanges& net) {
    if (net.empty()) return;
    HandleIssues(applier_->Flush());  // outcomes of the changes applied one by one so far
    applier_->ApplyNet(t.plan.target, net.RemoveKeys(), net.Rows());
    net.Clear();
  };
  auto apply_appends = [&](ApplyTable& t, Batch& rows) {
    if (rows.empty()) return;
    HandleIssues(applier_->Flush());
    applier_->ApplyNet(t.plan.target, no_keys, rows);
    rows.Clear();
  };
  WalkGroup([&](size_t g, int64_t idx, TxnSource& txn, const ChangeView& v) {
    ApplyTable& t = tables_[v.table];
    if (!Applies(t, txn.info(), v)) return;
    const uint64_t tag = ChangeTag(g, idx);
    bool filter_upsert = false;  // implied: a net change replaces the whole row
    const std::optional<ChangeView> filtered = Filter(t, v, &filter_upsert);
    if (!filtered) return;
    if (t.plan.target.primary_key.empty()) {
      std::unique_ptr<Batch>& rows = appends[v.table];
      if (!rows) {
        rows = std::make_unique<Batch>(static_cast<int>(t.plan.target.columns.size()));
        used.push_back(v.table);
      }
      bool appended = false;
      if (v.op == ChangeOp::kInsert) {
        const ChangeView mapped = MapChange(t, v, txn.info());
        const Batch& b = *mapped.rows;
        bool whole = mapped.new_row >= 0 && b.columns() == rows->columns();
        for (int c = 0; whole && c < b.columns(); ++c) {
          whole = !b.at(mapped.new_row, c).unchanged;
        }
        if (whole) {
          for (int c = 0; c < b.columns(); ++c) {
            rows->AppendCellFrom(
                b, static_cast<size_t>(mapped.new_row), c,
                StorageOf(t.plan.target.columns[c].type.kind) == Storage::kBytes);
          }
          ++t.pending_inserts;
          appended = true;
        }
      }
      if (!appended) {
        apply_appends(t, *rows);
        Apply(t, v, txn.info(), tag);
      } else if (rows->ByteSize() >= options_.batch_memory_limit) {
        apply_appends(t, *rows);
      }
      return;
    }
    std::unique_ptr<NetChanges>& net = nets[v.table];
    if (!net) {
      net = std::make_unique<NetChanges>(t.plan.target);
      used.push_back(v.table);
    }
    if (!net->Add(MapChange(t, *filtered, txn.info()))) {
      apply_net(t, *net);
      Apply(t, v, txn.info(), tag);
      return;
    }
    switch (filtered->op) {
      case ChangeOp::kInsert: ++t.pending_inserts; break;
      case ChangeOp::kUpdate: ++t.pending_updates; break;
      case ChangeOp::kDelete: ++t.pending_deletes; break;
      case ChangeOp::kTruncate: ++t.pending_ddls; break;
      case ChangeOp::kShape: break;
    }
    if (net->ByteSize() >= options_.batch_memory_limit) apply_net(t, *net);
  });
  for (size_t table : used) {
    if (nets[table]) apply_net(tables_[table], *nets[table]);
    if (appends[table]) apply_appends(tables_[table], *appends[table]);
  }
  FinishGroup();
}

}  // namespace ferry::cdc
