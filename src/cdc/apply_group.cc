// ApplyStage, committing: a group of source transactions applied in one target transaction
// with the task's checkpoint (CommitGroup), the apply issues and data errors found on the way
// (HandleIssues, SkipFailed), retries after transient errors (WaitToRetry), and batch apply
// (ApplyGroupNet).
#include <fmt/format.h>

#include "cdc/apply_stage.h"
#include "cdc/apply_stage_internal.h"
#include "cdc/net_changes.h"

namespace ferry::cdc {

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
      ApplyLog().warn("batch apply failed, applying the same changes transactionally: {}",
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
    const std::string what = issue.outcome == ApplyOutcome::kDuplicate
                                 ? "the row already exists on the target (duplicate key)"
                                 : "no row matched on the target";
    const std::string message = fmt::format(
        "{} of {} at source position {} was not applied: {} ({})", ChangeOpName(v.op),
        t.plan.target.QualifiedName(), PositionText(txn.info().end_position), what, d.reason);
    switch (v.op) {
      case ChangeOp::kInsert:
        --t.pending_inserts;
        break;
      case ChangeOp::kUpdate:
        --t.pending_updates;
        break;
      case ChangeOp::kDelete:
        --t.pending_deletes;
        break;
      case ChangeOp::kTruncate:
        --t.pending_ddls;
        break;
      case ChangeOp::kShape:
        break;
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
          ApplyLog().warn("{}: {}", message, statement);
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
    ApplyLog().info("target: reconnected; applied up to {}",
                    PositionText(group_last_->end_position));
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
    ApplyLog().error("{}", message);
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
    ApplyLog().warn(
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
    stop_.Request(
        fmt::format("target connection lost and not retried ({}): {}", d.reason, e.what()), true);
    return false;
  }
  ++retries_;
  ApplyLog().warn("target: recoverable error, retry {} in {} s: {}", d.attempt, d.wait_seconds,
                  e.what());
  return policies_.WaitBeforeRetry(d, [this] { return stop_.requested(); });
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
            rows->AppendCellFrom(b, static_cast<size_t>(mapped.new_row), c,
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
      case ChangeOp::kInsert:
        ++t.pending_inserts;
        break;
      case ChangeOp::kUpdate:
        ++t.pending_updates;
        break;
      case ChangeOp::kDelete:
        ++t.pending_deletes;
        break;
      case ChangeOp::kTruncate:
        ++t.pending_ddls;
        break;
      case ChangeOp::kShape:
        break;
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
