#include "connectors/postgres/pg_applier.h"

#include <fmt/format.h>

#include <cstring>

#include "connectors/postgres/pg_applier_internal.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

namespace {

// Queued statements between two syncs: bounds what the server may have written that we have
// not read yet, so a large group cannot dead-lock the pipeline on full socket buffers.
constexpr size_t kSyncEvery = 512;
// PostgreSQL's limit on one value.
constexpr size_t kMaxValueBytes = 0x3FFFFFFF;

const char* KindName(PgApplyKind kind) {
  switch (kind) {
    case PgApplyKind::kInsert:
      return "INSERT";
    case PgApplyKind::kUpsertInsert:
      return "INSERT (upsert)";
    case PgApplyKind::kUpdate:
      return "UPDATE";
    case PgApplyKind::kUpsertUpdate:
      return "UPDATE (upsert)";
    case PgApplyKind::kDelete:
      return "DELETE";
  }
  return "?";
}

std::string Shorten(std::string_view sql, size_t max) {
  if (sql.size() <= max) return std::string(sql);
  return std::string(sql.substr(0, max)) + "...";
}

}  // namespace

using apply_internal::KeyIndexes;
using apply_internal::WriteColumns;

PgChangeApplier::PgChangeApplier(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

PgChangeApplier::~PgChangeApplier() {
  if (conn_ && (in_txn_ || PQpipelineStatus(conn_->get()) != PQ_PIPELINE_OFF)) Rollback();
}

const cdc::TxnStateSql& PgChangeApplier::txn_state() {
  if (!txn_state_) txn_state_.emplace(Engine::kPostgres, "");
  return *txn_state_;
}

void PgChangeApplier::LeavePipeline() {
  if (PQpipelineStatus(conn_->get()) == PQ_PIPELINE_OFF) return;
  if (PQexitPipelineMode(conn_->get()) != 1) {
    throw conn_->MakeError("leaving pipeline mode", nullptr);
  }
}

void PgChangeApplier::Prepare(const std::string& control_schema) {
  txn_state_.emplace(Engine::kPostgres, control_schema);
  LeavePipeline();
  for (const std::string& sql : txn_state_->Create()) {
    conn_->Exec(sql, "creating the CDC checkpoint table " + txn_state_->table());
  }
}

std::optional<cdc::Checkpoint> PgChangeApplier::ReadCheckpoint(const std::string& task) {
  LeavePipeline();
  PgResult r =
      conn_->Exec(txn_state().Select(task),
                  fmt::format("reading task '{}''s checkpoint from {}", task, txn_state().table()));
  if (PQntuples(r.get()) == 0) return std::nullopt;
  cdc::Checkpoint cp;
  cp.position = GetText(r.get(), 0, 0).value_or("");
  const std::optional<std::string> micros = GetText(r.get(), 0, 1);
  if (micros) cp.commit_time_us = std::stoll(*micros);
  return cp;
}

void PgChangeApplier::ClearCheckpoint(const std::string& task) {
  LeavePipeline();
  conn_->Exec(txn_state().Delete(task),
              fmt::format("deleting task '{}''s checkpoint from {}", task, txn_state().table()));
}

void PgChangeApplier::SendControl(const std::string& sql, const char* what) {
  if (PQsendQueryParams(conn_->get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
    throw conn_->MakeError(what, nullptr);
  }
  Pending p;
  p.what = Pending::What::kControl;
  p.control = what;
  pending_.push_back(p);
}

void PgChangeApplier::Begin() {
  if (in_txn_) throw Error(ErrorKind::kInternal, "Begin inside a transaction on " + conn_->where());
  if (PQpipelineStatus(conn_->get()) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_->get()) != 1) {
    throw conn_->MakeError("entering pipeline mode", nullptr);
  }
  issues_.clear();
  SendControl("BEGIN", "starting a transaction");
  in_txn_ = true;
}

PgChangeApplier::TableState& PgChangeApplier::StateFor(const TableDef& target) {
  if (last_ != nullptr && last_->Matches(target)) return *last_;
  std::string key = target.schema;
  key.push_back('\0');
  key += target.name;
  auto it = tables_.find(key);
  if (it != tables_.end() && it->second->Matches(target)) {
    last_ = it->second.get();
    return *last_;
  }
  auto state = std::make_unique<TableState>();
  state->def = target;
  state->quoted = QuoteQualified(target.schema, target.name);
  state->cols = WriteColumns(target);
  state->key = KeyIndexes(target);
  if (it != tables_.end()) {
    retired_.push_back(std::move(it->second));  // pending entries may still point at it
    it->second = std::move(state);
    last_ = it->second.get();
  } else {
    last_ = state.get();
    tables_.emplace(std::move(key), std::move(state));
  }
  return *last_;
}

void PgChangeApplier::EncodeParams(const TableDef& target, const TableState& table,
                                   const cdc::ChangeView& change) {
  const Batch& b = *change.rows;
  const size_t nset = shape_.set_columns.size();
  const size_t n = nset + shape_.where_columns.size();
  const int where_row = change.old_kind != cdc::OldImage::kNone && change.old_row >= 0
                            ? change.old_row
                            : change.new_row;
  params_.clear();
  param_offset_.resize(n);
  param_lengths_.resize(n);
  param_formats_.resize(n);
  param_values_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int col = i < nset ? shape_.set_columns[i] : shape_.where_columns[i - nset];
    const int row = i < nset ? change.new_row : where_row;
    const PgWriteColumn& wc = table.cols[col];
    if (b.IsNull(row, col)) {
      param_offset_[i] = -1;
      param_lengths_[i] = 0;
      param_formats_[i] = 1;
      continue;
    }
    const size_t start = params_.size();
    size_t len;
    if (wc.target.wire == PgWire::kOther) {
      EncodeTextValue(b, row, col, wc, target, &params_, &scratch_);
      len = params_.size() - start;
      params_.push_back('\0');  // text parameters are read up to the NUL
      param_formats_[i] = 0;
    } else {
      EncodeBinaryValue(b, row, col, wc, target, &params_, &scratch_);
      len = params_.size() - start;
      param_formats_[i] = 1;
    }
    if (len > kMaxValueBytes) {
      throw RowError(col, row,
                     fmt::format("column {} of {}: a value of {} bytes is larger than "
                                 "PostgreSQL's 1 GB limit",
                                 wc.name, target.QualifiedName(), len),
                     DescribeRowKey(b, row, target));
    }
    param_offset_[i] = static_cast<int64_t>(start);
    param_lengths_[i] = static_cast<int>(len);
  }
  for (size_t i = 0; i < n; ++i) {
    param_values_[i] = param_offset_[i] < 0 ? nullptr : params_.data() + param_offset_[i];
  }
}

void PgChangeApplier::Apply(const TableDef& target, const cdc::ChangeView& change, bool upsert,
                            uint64_t tag) {
  if (!in_txn_) {
    throw Error(ErrorKind::kInternal,
                "Apply outside a transaction (call Begin) for table " + target.QualifiedName());
  }
  TableState& table = StateFor(target);
  Pending p;
  p.what = Pending::What::kChange;
  p.op = change.op;
  p.tag = tag;
  p.table = &table;
  if (change.op == cdc::ChangeOp::kTruncate) {
    const std::string sql = "TRUNCATE TABLE " + table.quoted;
    if (PQsendQueryParams(conn_->get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) !=
        1) {
      throw conn_->MakeError("truncating table " + target.QualifiedName(), nullptr);
    }
    pending_.push_back(p);
  } else {
    if (!PgApplyShapeOf(target, table.key, change, upsert, &shape_)) return;  // no-op update
    EncodeParams(target, table, change);  // throws RowError before anything is sent

    key_buf_.clear();
    key_buf_.push_back(static_cast<char>(shape_.kind));
    for (int c : shape_.set_columns) key_buf_.append(reinterpret_cast<const char*>(&c), 4);
    key_buf_.push_back('|');
    for (int c : shape_.where_columns) key_buf_.append(reinterpret_cast<const char*>(&c), 4);
    auto it = table.statements.find(key_buf_);
    if (it == table.statements.end()) {
      auto st = std::make_unique<Prepared>();
      st->name = fmt::format("ferry_apply_{}", ++statement_counter_);
      st->sql = PgApplyPreparedSql(target, shape_);
      st->params = static_cast<int>(param_values_.size());
      it = table.statements.emplace(key_buf_, std::move(st)).first;
    }
    Prepared& st = *it->second;
    p.kind = shape_.kind;
    p.statement = &st;
    if (st.state == Prepared::State::kNone) {
      if (PQsendPrepare(conn_->get(), st.name.c_str(), st.sql.c_str(), st.params, nullptr) != 1) {
        throw conn_->MakeError(
            fmt::format("preparing {} for table {}", KindName(shape_.kind), target.QualifiedName()),
            nullptr);
      }
      st.state = Prepared::State::kSent;
      Pending prep;
      prep.what = Pending::What::kPrepare;
      prep.kind = shape_.kind;
      prep.statement = &st;
      prep.table = &table;
      pending_.push_back(prep);
    }
    if (PQsendQueryPrepared(conn_->get(), st.name.c_str(), st.params, param_values_.data(),
                            param_lengths_.data(), param_formats_.data(), 0) != 1) {
      throw conn_->MakeError(
          fmt::format("applying {} to table {}", KindName(shape_.kind), target.QualifiedName()),
          nullptr);
    }
    pending_.push_back(p);
  }
  if (++since_sync_ >= kSyncEvery) SyncAndRead();
}

void PgChangeApplier::SyncAndRead() {
  since_sync_ = 0;
  if (pending_.empty()) return;
  PGconn* c = conn_->get();
  if (PQpipelineSync(c) != 1) throw conn_->MakeError("sending changes", nullptr);
  std::optional<Error> error;
  bool lost = false;
  for (Pending& p : pending_) {
    if (lost) {
      if (p.what == Pending::What::kPrepare) p.statement->state = Prepared::State::kNone;
      continue;
    }
    PGresult* r = PQgetResult(c);
    if (r == nullptr) r = PQgetResult(c);  // tolerate one stray end-of-query marker
    if (r == nullptr) {
      lost = true;
      if (!error) error = conn_->MakeError("reading the results of applied changes", nullptr);
      if (p.what == Pending::What::kPrepare) p.statement->state = Prepared::State::kNone;
      continue;
    }
    const ExecStatusType st = PQresultStatus(r);
    const bool failed = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
                        st == PGRES_NONFATAL_ERROR || st == PGRES_PIPELINE_ABORTED;
    if (failed && st != PGRES_PIPELINE_ABORTED && !error) {
      std::string what;
      switch (p.what) {
        case Pending::What::kControl:
          what = p.control;
          break;
        case Pending::What::kPrepare:
          what = fmt::format("preparing {} for table {} ({})", KindName(p.kind),
                             p.table->def.QualifiedName(), Shorten(p.statement->sql, 500));
          break;
        case Pending::What::kChange:
          what = p.statement == nullptr
                     ? "truncating table " + p.table->def.QualifiedName()
                     : fmt::format("applying {} to table {} ({})", KindName(p.kind),
                                   p.table->def.QualifiedName(), Shorten(p.statement->sql, 500));
          break;
      }
      error = conn_->MakeError(what, r);
    }
    if (p.what == Pending::What::kPrepare) {
      p.statement->state = failed ? Prepared::State::kNone : Prepared::State::kReady;
    } else if (p.what == Pending::What::kChange && !failed && p.statement != nullptr) {
      cdc::ApplyOutcome outcome = cdc::ApplyOutcome::kApplied;
      switch (p.kind) {
        case PgApplyKind::kInsert:
          if (std::strcmp(PQcmdTuples(r), "0") == 0) outcome = cdc::ApplyOutcome::kDuplicate;
          break;
        case PgApplyKind::kUpsertInsert:
          break;
        case PgApplyKind::kUpdate:
        case PgApplyKind::kDelete:
          if (std::strcmp(PQcmdTuples(r), "0") == 0) outcome = cdc::ApplyOutcome::kNoRow;
          break;
        case PgApplyKind::kUpsertUpdate:
          if (PQntuples(r) == 0) outcome = cdc::ApplyOutcome::kDuplicate;
          break;
      }
      if (outcome != cdc::ApplyOutcome::kApplied) issues_.push_back({p.tag, outcome});
    }
    PQclear(r);
    // The end of this query's results.
    for (int guard = 0; guard < 16; ++guard) {
      PGresult* extra = PQgetResult(c);
      if (extra == nullptr) break;
      PQclear(extra);
    }
    if (PQstatus(c) != CONNECTION_OK) {
      lost = true;
      if (!error) error = conn_->MakeError("reading the results of applied changes", nullptr);
    }
  }
  if (!lost) {
    PGresult* r = PQgetResult(c);
    if (r == nullptr || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
      if (!error) {
        error = Error(PQstatus(c) == CONNECTION_OK ? ErrorKind::kInternal : ErrorKind::kConnection,
                      "unexpected result at the end of a pipeline on " + conn_->where());
      }
    }
    PQclear(r);
  }
  pending_.clear();
  retired_.clear();
  if (error) throw *error;
}

std::vector<cdc::ApplyIssue> PgChangeApplier::Flush() {
  if (!in_txn_) throw Error(ErrorKind::kInternal, "Flush outside a transaction");
  SyncAndRead();
  std::vector<cdc::ApplyIssue> out;
  out.swap(issues_);
  return out;
}

void PgChangeApplier::Commit(const std::string& task, const cdc::Checkpoint& checkpoint) {
  if (!in_txn_) throw Error(ErrorKind::kInternal, "Commit outside a transaction");
  SyncAndRead();
  if (!issues_.empty()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("{} change(s) did not apply (first tag {}) and were not collected "
                            "with Flush before Commit; nothing is committed",
                            issues_.size(), issues_.front().tag));
  }
  SendControl(txn_state().Upsert(task, checkpoint), "writing the CDC checkpoint");
  SendControl("COMMIT", "committing applied changes");
  SyncAndRead();
  in_txn_ = false;
  LeavePipeline();
}

void PgChangeApplier::ExecuteInTransaction(const std::string& sql) {
  if (!in_txn_) throw Error(ErrorKind::kInternal, "ExecuteInTransaction outside a transaction");
  SyncAndRead();  // what was queued before stands before the ALTER
  SendControl(sql, "altering a target table inside the applied transaction");
  SyncAndRead();
  // Statements prepared for the table's old columns are not used again.
  tables_.clear();
  last_ = nullptr;
}

void PgChangeApplier::Reconnect() noexcept {
  PGconn* c = conn_->get();
  PQreset(c);
  for (auto& [name, table] : tables_) {
    for (auto& [key, st] : table->statements) st->state = Prepared::State::kNone;
  }
  if (PQstatus(c) == CONNECTION_OK) {
    PQclear(PQexec(c,
                   "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; "
                   "SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; "
                   "SET TimeZone = 'UTC'"));
  }
}

void PgChangeApplier::Rollback() noexcept {
  in_txn_ = false;
  since_sync_ = 0;
  issues_.clear();
  PGconn* c = conn_->get();
  for (Pending& p : pending_) {
    if (p.what == Pending::What::kPrepare) p.statement->state = Prepared::State::kNone;
  }
  const bool had_pending = !pending_.empty();
  pending_.clear();
  retired_.clear();
  if (PQstatus(c) != CONNECTION_OK) {
    Reconnect();
    return;
  }
  if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
    if (had_pending && PQpipelineSync(c) == 1) {
      // Read everything up to our sync; results of statements sent are dropped.
      int nulls = 0;
      for (int guard = 0; guard < 10000000 && PQstatus(c) == CONNECTION_OK; ++guard) {
        PGresult* r = PQgetResult(c);
        if (r == nullptr) {
          if (++nulls > 1000000) break;
          continue;
        }
        const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync) break;
      }
    }
    if (PQexitPipelineMode(c) != 1) {
      Reconnect();
      return;
    }
  }
  // Only inside a transaction: ROLLBACK outside one is a WARNING in the server's log.
  if (PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
  if (PQstatus(c) != CONNECTION_OK) Reconnect();
}

}  // namespace ferry::postgres
