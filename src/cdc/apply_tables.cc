// ApplyStage, tables loading and going live: a table's load done (TableLoaded,
// HandleLoadedTables), its cached changes applied after the load's position (MakeLive), reload
// requests (BeginReload, HandleReloads), a source table dropped (OnTableDropped).
#include <fmt/format.h>

#include "cdc/apply_stage.h"
#include "cdc/apply_stage_internal.h"

namespace ferry::cdc {

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
    ApplyLog().info("table {}: reloading; its changes are cached until its load is over",
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
      ApplyLog().error("table {}: its full load did not complete; its changes are not applied: {}",
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
      ApplyLog().info("table {}: applying {} cached change(s)", t.plan.source.QualifiedName(),
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
    ApplyLog().warn("table {}: the source table was dropped before its changes went live", source);
    return;
  }
  if (options_.handle_drop && !options_.validation_only) {
    SqlConnector& sql_target = DdlTarget("dropping a target table (HandleSourceTableDropped)");
    const Dialect& d = sql_target.dialect();
    const std::string sql = "DROP TABLE IF EXISTS " + d.QuoteIdentifier(t.plan.target.schema) +
                            "." + d.QuoteIdentifier(t.plan.target.name);
    for (bool done = false; !done;) {
      try {
        ApplyLog().info("table {}: dropped on the source, running on the target: {}", source, sql);
        sql_target.OpenSession()->Execute(sql);
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
    ApplyLog().warn(
        "table {}: dropped on the source; the target table {} stays ({})", source,
        t.plan.target.QualifiedName(),
        options_.validation_only ? "ValidationOnly" : "HandleSourceTableDropped is false");
  }
  MutexLock lock(t.stats->mu);
  t.stats->state = kStateTableDropped;
}

}  // namespace ferry::cdc
