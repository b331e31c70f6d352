#include "cdc/apply_stage.h"

#include <fmt/format.h>

#include "cdc/apply_stage_internal.h"

namespace ferry::cdc {

namespace {

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
      ApplyLog().error("recording {} for {}.{}: {}",
                       r.suspended ? "a suspended table" : "an apply exception", r.schema, r.table,
                       e.what());
    }
  }
}

void ApplyStage::Suspend(ApplyTable& t, const std::string& reason) {
  if (t.mode == TableMode::kSuspended) return;
  if (t.mode == TableMode::kLive) --live_tables_;
  t.mode = TableMode::kSuspended;
  ApplyLog().error("table {} suspended: {}", t.plan.source.QualifiedName(), reason);
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

}  // namespace ferry::cdc
