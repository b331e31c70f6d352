// ApplyStage, source table changes: columns changed on the source followed on the target per
// ChangeProcessingDdlHandlingPolicy (OnTableChanged, FollowTableChange), inside the target
// transaction where the target's DDL is transactional (RouteShape, AlterInTransaction).
#include <fmt/format.h>

#include "catalog/table_def_json.h"
#include "cdc/apply_stage.h"
#include "cdc/apply_stage_internal.h"
#include "cdc/ddl_sync.h"

namespace ferry::cdc {

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
    if (options_.validation_only ||
        DdlTarget("following a source table change").dialect().TransactionalDdl()) {
      return true;
    }
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
      PlanTableChange(t.plan, t.captured, after, DdlTarget("following a source table change"),
                      t.captured.engine, options_.handle_alter);
  for (const std::string& note : next.notes) ApplyLog().warn("{}", note);
  if (options_.shapes) {
    // Pending until the target commits the transaction (or discarded when it rolls back).
    altering_entries_.emplace_back(
        v.table, options_.shapes->Record(v.table, after, ShapeJournal::Kind::kInTransaction,
                                         info.end_position));
  }
  if (!options_.validation_only) {
    for (const std::string& sql : next.statements) {
      ApplyLog().info(
          "table {}: source table changed inside source transaction {}, running in the "
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
      PlanTableChange(t.plan, before, after, DdlTarget("following a source table change"),
                      before.engine, options_.handle_alter);
  for (const std::string& note : next.notes) ApplyLog().warn("{}", note);
  // The applier's statements describe the old columns: it reopens at the next commit.
  if (applier_) applier_->Rollback();
  applier_.reset();
  // Recorded before the target changes: a crash in between leaves the entry pending, and the
  // restarted task finds out from the target table whether the ALTER ran.
  const int64_t seq =
      options_.shapes ? options_.shapes->Record(table, after, ShapeJournal::Kind::kDdl) : -1;
  if (options_.validation_only) next.statements.clear();  // the target is not ours to alter
  for (bool done = next.statements.empty(); !done;) {
    try {
      SqlConnector& sql_target = DdlTarget("following a source table change");
      std::unique_ptr<SqlSession> session = sql_target.OpenSession();
      // One transaction where the target's DDL is transactional (PostgreSQL, SQLite): a kill
      // between the statements (a SQLite rebuild's DROP and RENAME) leaves the table whole.
      const bool atomic = sql_target.dialect().TransactionalDdl() && next.statements.size() > 1;
      if (atomic) session->Execute("BEGIN");
      for (const std::string& sql : next.statements) {
        ApplyLog().info("table {}: source table changed, running on the target: {}",
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

}  // namespace ferry::cdc
