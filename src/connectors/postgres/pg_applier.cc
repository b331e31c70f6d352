#include "connectors/postgres/pg_applier.h"

#include <fmt/format.h>

#include <cstring>

#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"
#include "types/value_codec.h"

namespace ferry::postgres {

namespace {

// Queued statements between two syncs: bounds what the server may have written that we have
// not read yet, so a large group cannot dead-lock the pipeline on full socket buffers.
constexpr size_t kSyncEvery = 512;
// Statement(): values longer than this many bytes are shortened with "...".
constexpr size_t kStatementValueMax = 200;
// PostgreSQL's limit on one value.
constexpr size_t kMaxValueBytes = 0x3FFFFFFF;

bool Contains(const std::vector<int>& v, int x) {
  for (int e : v) {
    if (e == x) return true;
  }
  return false;
}

// True when the cells of `col` in rows `a` and `b` hold the same value.
bool SameCell(const Batch& batch, int a, int b, int col, Storage storage) {
  const Cell& x = batch.at(a, col);
  const Cell& y = batch.at(b, col);
  if (x.null || y.null) return x.null == y.null && x.unchanged == y.unchanged;
  if (storage == Storage::kBytes) return batch.Bytes(a, col) == batch.Bytes(b, col);
  return x.u == y.u;
}

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

bool LooksNumeric(std::string_view s) {
  if (s.empty()) return false;
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E') {
      return false;
    }
  }
  return digit;
}

// One value of a change as an SQL literal, for Statement().
void AppendLiteral(const Batch& batch, size_t row, int col, const PgWriteColumn& column,
                   const TableDef& table, std::string* out) {
  if (batch.IsNull(row, col)) {
    out->append("NULL");
    return;
  }
  std::string text, scratch;
  try {
    EncodeTextValue(batch, row, col, column, table, &text, &scratch);
  } catch (const Error&) {
    // A value the column cannot hold still shows, as its canonical text.
    text.clear();
    if (IsBinary(column.source.kind)) {
      static constexpr char kHex[] = "0123456789abcdef";
      text = "\\x";
      for (unsigned char b : batch.Bytes(row, col)) {
        text.push_back(kHex[b >> 4]);
        text.push_back(kHex[b & 15]);
      }
    } else {
      AppendCanonical(batch, row, col, column.source, &text);
    }
  }
  const PgWire w = column.target.wire;
  const bool numeric_column = w == PgWire::kInt2 || w == PgWire::kInt4 || w == PgWire::kInt8 ||
                              w == PgWire::kFloat4 || w == PgWire::kFloat8 || w == PgWire::kNumeric;
  if (numeric_column && text.size() <= kStatementValueMax && LooksNumeric(text)) {
    out->append(text);
    return;
  }
  if (text.size() > kStatementValueMax) {
    size_t cut = kStatementValueMax;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\0') {
      clean += "\\x00";
    } else {
      clean.push_back(c);
    }
  }
  out->append(QuoteLiteral(clean));
}

std::vector<int> KeyIndexes(const TableDef& table) {
  std::vector<int> key;
  for (const std::string& name : table.primary_key) {
    const int i = table.ColumnIndex(name);
    if (i < 0) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("table {}: primary key column {} is not among its columns",
                              table.QualifiedName(), name));
    }
    key.push_back(i);
  }
  return key;
}

std::vector<PgWriteColumn> WriteColumns(const TableDef& table) {
  std::vector<PgWriteColumn> cols;
  cols.reserve(table.columns.size());
  for (const ColumnDef& c : table.columns) {
    cols.push_back(PgWriteColumn{c.name, c.type, ParsePgTargetType(c.native_type)});
  }
  return cols;
}

}  // namespace

bool PgApplyShapeOf(const TableDef& table, const std::vector<int>& key,
                    const cdc::ChangeView& change, bool upsert, PgApplyShape* shape) {
  shape->set_columns.clear();
  shape->where_columns.clear();
  const Batch& b = *change.rows;
  const int n = static_cast<int>(table.columns.size());
  if (b.columns() != n) {
    throw Error(ErrorKind::kInternal,
                fmt::format("{} on table {}: the change has {} columns, the table {}",
                            cdc::ChangeOpName(change.op), table.QualifiedName(), b.columns(), n));
  }
  switch (change.op) {
    case cdc::ChangeOp::kInsert:
      shape->kind = upsert && !key.empty() ? PgApplyKind::kUpsertInsert : PgApplyKind::kInsert;
      for (int c = 0; c < n; ++c) {
        if (!b.at(change.new_row, c).unchanged) shape->set_columns.push_back(c);
      }
      return true;
    case cdc::ChangeOp::kUpdate:
    case cdc::ChangeOp::kDelete: {
      const bool del = change.op == cdc::ChangeOp::kDelete;
      if (del && (change.old_kind == cdc::OldImage::kNone || change.old_row < 0)) {
        throw Error(ErrorKind::kData,
                    fmt::format("DELETE on table {} carries no old image", table.QualifiedName()));
      }
      if (key.empty()) {
        if (change.old_kind != cdc::OldImage::kFull) {
          throw Error(
              ErrorKind::kData,
              fmt::format(
                  "{} on table {}: the table has no primary key on the target, so the "
                  "row must be found by its whole old row, but the source sent {}; set "
                  "REPLICA IDENTITY FULL on the source table",
                  cdc::ChangeOpName(change.op), table.QualifiedName(),
                  change.old_kind == cdc::OldImage::kKey ? "only the old key" : "no old row"));
        }
        for (int c = 0; c < n; ++c) {
          if (!b.at(change.old_row, c).unchanged) shape->where_columns.push_back(c);
        }
        if (shape->where_columns.empty()) {
          throw Error(ErrorKind::kData,
                      fmt::format("{} on table {}: the old row has no value to match",
                                  cdc::ChangeOpName(change.op), table.QualifiedName()));
        }
      } else {
        shape->where_columns = key;
      }
      if (del) {
        shape->kind = PgApplyKind::kDelete;
        return true;
      }
      shape->kind = upsert ? PgApplyKind::kUpsertUpdate : PgApplyKind::kUpdate;
      bool key_changed = false;
      if (!key.empty() && change.old_kind != cdc::OldImage::kNone && change.old_row >= 0) {
        for (int k : key) {
          if (!SameCell(b, change.old_row, change.new_row, k,
                        StorageOf(table.columns[k].type.kind))) {
            key_changed = true;
          }
        }
      }
      for (int c = 0; c < n; ++c) {
        if (b.at(change.new_row, c).unchanged) continue;
        if (!key_changed && !key.empty() && Contains(key, c)) continue;
        shape->set_columns.push_back(c);
      }
      return !shape->set_columns.empty();
    }
    case cdc::ChangeOp::kTruncate:
    case cdc::ChangeOp::kShape:
      break;
  }
  throw Error(ErrorKind::kInternal,
              fmt::format("PgApplyShapeOf called for {} on table {}", cdc::ChangeOpName(change.op),
                          table.QualifiedName()));
}

std::string PgApplySql(const TableDef& table, const PgApplyShape& shape, bool for_display,
                       const PgApplyValueFn& value) {
  const std::string q = QuoteQualified(table.schema, table.name);
  const size_t nset = shape.set_columns.size();
  std::string out;
  auto col = [&](int c) { out += QuoteIdent(table.columns[c].name); };
  auto where = [&]() {
    if (!table.primary_key.empty()) {
      for (size_t j = 0; j < shape.where_columns.size(); ++j) {
        if (j) out += " AND ";
        col(shape.where_columns[j]);
        out += "=";
        value(nset + j, &out);
      }
      return;
    }
    out += "ctid = (SELECT ctid FROM " + q + " WHERE ";
    for (size_t j = 0; j < shape.where_columns.size(); ++j) {
      if (j) out += " AND ";
      const int c = shape.where_columns[j];
      // json has no equality operator: compare its text.
      const bool json = ParsePgTargetType(table.columns[c].native_type).wire == PgWire::kJson;
      col(c);
      out += json ? "::text IS NOT DISTINCT FROM " : " IS NOT DISTINCT FROM ";
      value(nset + j, &out);
      if (json) out += "::text";
    }
    out += " LIMIT 1)";
  };
  auto update = [&]() {
    out += "UPDATE " + q + " SET ";
    for (size_t i = 0; i < nset; ++i) {
      if (i) out += ", ";
      col(shape.set_columns[i]);
      out += "=";
      value(i, &out);
    }
    out += " WHERE ";
    where();
  };
  auto column_list = [&](const std::vector<int>& cols) {
    out += " (";
    for (size_t i = 0; i < cols.size(); ++i) {
      if (i) out += ", ";
      col(cols[i]);
    }
    out += ")";
  };
  switch (shape.kind) {
    case PgApplyKind::kInsert:
    case PgApplyKind::kUpsertInsert: {
      out += "INSERT INTO " + q;
      column_list(shape.set_columns);
      out += " VALUES (";
      for (size_t i = 0; i < nset; ++i) {
        if (i) out += ", ";
        value(i, &out);
      }
      out += ")";
      if (shape.kind == PgApplyKind::kInsert || table.primary_key.empty()) {
        if (!for_display) out += " ON CONFLICT DO NOTHING";
        break;
      }
      out += " ON CONFLICT (";
      for (size_t i = 0; i < table.primary_key.size(); ++i) {
        if (i) out += ", ";
        out += QuoteIdent(table.primary_key[i]);
      }
      out += ") DO ";
      bool any = false;
      for (int c : shape.set_columns) {
        if (Contains(shape.where_columns, c)) continue;  // where_columns is empty for INSERT
        bool is_key = false;
        for (const std::string& k : table.primary_key) is_key |= k == table.columns[c].name;
        if (is_key) continue;
        out += any ? ", " : "UPDATE SET ";
        any = true;
        col(c);
        out += " = EXCLUDED.";
        col(c);
      }
      if (!any) out += "NOTHING";
      break;
    }
    case PgApplyKind::kUpdate:
      update();
      break;
    case PgApplyKind::kDelete:
      out += "DELETE FROM " + q + " WHERE ";
      where();
      break;
    case PgApplyKind::kUpsertUpdate: {
      // The inserted row: the new image's columns, plus key columns the update does not set
      // (the key did not change, so the where values are the new key).
      std::vector<int> cols = shape.set_columns;
      std::vector<size_t> values;
      for (size_t i = 0; i < nset; ++i) values.push_back(i);
      if (!table.primary_key.empty()) {
        for (size_t j = 0; j < shape.where_columns.size(); ++j) {
          if (Contains(cols, shape.where_columns[j])) continue;
          cols.push_back(shape.where_columns[j]);
          values.push_back(nset + j);
        }
      }
      out += "WITH u AS (";
      update();
      out += " RETURNING 1), i AS (INSERT INTO " + q;
      column_list(cols);
      out += " SELECT ";
      for (size_t i = 0; i < values.size(); ++i) {
        if (i) out += ", ";
        value(values[i], &out);
      }
      out +=
          " WHERE NOT EXISTS (SELECT 1 FROM u) ON CONFLICT DO NOTHING RETURNING 1) "
          "SELECT 1 FROM u UNION ALL SELECT 1 FROM i";
      break;
    }
  }
  return out;
}

std::string PgApplyPreparedSql(const TableDef& table, const PgApplyShape& shape) {
  return PgApplySql(table, shape, false, [](size_t index, std::string* out) {
    fmt::format_to(std::back_inserter(*out), "${}", index + 1);
  });
}

// ---------------------------------------------------------------------------------------------

struct PgChangeApplier::Prepared {
  enum class State : uint8_t { kNone, kSent, kReady };
  std::string name;
  std::string sql;
  int params = 0;
  State state = State::kNone;
};

struct PgChangeApplier::TableState {
  TableDef def;  // as first seen; a change of columns or key builds a new state
  std::string quoted;
  std::vector<PgWriteColumn> cols;
  std::vector<int> key;
  std::unordered_map<std::string, std::unique_ptr<Prepared>> statements;

  bool Matches(const TableDef& t) const {
    if (t.schema != def.schema || t.name != def.name || t.columns.size() != def.columns.size() ||
        t.primary_key != def.primary_key) {
      return false;
    }
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const ColumnDef& a = t.columns[i];
      const ColumnDef& b = def.columns[i];
      if (a.name != b.name || a.native_type != b.native_type || !(a.type == b.type)) return false;
    }
    return true;
  }
};

struct PgChangeApplier::Pending {
  enum class What : uint8_t { kControl, kPrepare, kChange };
  What what = What::kControl;
  PgApplyKind kind = PgApplyKind::kInsert;
  cdc::ChangeOp op = cdc::ChangeOp::kInsert;
  uint64_t tag = 0;
  const char* control = nullptr;  // kControl: what it does, for messages
  Prepared* statement = nullptr;  // kPrepare, kChange (null for TRUNCATE)
  TableState* table = nullptr;    // kChange
};

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

std::string PgChangeApplier::Statement(const TableDef& target, const cdc::ChangeView& change) {
  const std::string quoted = QuoteQualified(target.schema, target.name);
  if (change.op == cdc::ChangeOp::kTruncate) return "TRUNCATE TABLE " + quoted;
  const std::vector<PgWriteColumn> cols = WriteColumns(target);
  std::vector<int> key;
  try {
    key = KeyIndexes(target);
  } catch (const Error&) {
    key.clear();
  }
  const Batch& b = *change.rows;
  const int n = static_cast<int>(target.columns.size());
  PgApplyShape shape;
  try {
    if (!PgApplyShapeOf(target, key, change, false, &shape)) {
      shape.set_columns = key;  // a no-op update: show it setting the key to itself
    }
  } catch (const Error&) {
    // No primary key and no whole old row: show the match on what the change carries.
    shape = PgApplyShape();
    const int row = change.old_row >= 0 ? change.old_row : change.new_row;
    shape.kind = change.op == cdc::ChangeOp::kDelete ? PgApplyKind::kDelete : PgApplyKind::kUpdate;
    for (int c = 0; c < n && row >= 0 && b.columns() == n; ++c) {
      if (!b.IsNull(row, c)) shape.where_columns.push_back(c);
      if (shape.kind == PgApplyKind::kUpdate && change.new_row >= 0 &&
          !b.at(change.new_row, c).unchanged) {
        shape.set_columns.push_back(c);
      }
    }
  }
  const size_t nset = shape.set_columns.size();
  const int where_row = change.old_kind != cdc::OldImage::kNone && change.old_row >= 0
                            ? change.old_row
                            : change.new_row;
  return PgApplySql(target, shape, true, [&](size_t i, std::string* out) {
    const int col = i < nset ? shape.set_columns[i] : shape.where_columns[i - nset];
    const int row = i < nset ? change.new_row : where_row;
    AppendLiteral(b, static_cast<size_t>(row), col, cols[col], target, out);
  });
}

void PgChangeApplier::CopyInto(const std::string& table, const std::string& columns, bool binary,
                               const std::string& data, const std::string& what) {
  PGconn* c = conn_->get();
  const std::string sql = "COPY " + table + " (" + columns + ") FROM STDIN" +
                          (binary ? " (FORMAT binary)" : "");
  PgResult r(PQexec(c, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) throw conn_->MakeError(what, r.get());
  constexpr size_t kChunk = 1u << 20;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    if (PQputCopyData(c, data.data() + off, static_cast<int>(n)) != 1) {
      throw conn_->MakeError(what, nullptr);
    }
  }
  if (PQputCopyEnd(c, nullptr) != 1) throw conn_->MakeError(what, nullptr);
  PgResult done(PQgetResult(c));
  if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) throw conn_->MakeError(what, done.get());
  while (PGresult* extra = PQgetResult(c)) PQclear(extra);
}

void PgChangeApplier::ApplyNet(const TableDef& target, const Batch& remove_keys,
                               const Batch& rows) {
  if (!in_txn_) {
    throw Error(ErrorKind::kInternal,
                "ApplyNet outside a transaction (call Begin) for table " + target.QualifiedName());
  }
  TableState& table = StateFor(target);
  const int n = static_cast<int>(table.cols.size());
  if ((table.key.empty() ? !remove_keys.empty()
                          : remove_keys.columns() != static_cast<int>(table.key.size())) ||
      (!rows.empty() && rows.columns() != n)) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch apply of table {}: key batch of {} columns, row batch of {} "
                            "columns, for a table of {} columns and a {}-column key",
                            target.QualifiedName(), remove_keys.columns(), rows.columns(), n,
                            table.key.size()));
  }
  if (remove_keys.empty() && rows.empty()) return;
  // Everything is encoded (and checked) before anything is sent.
  TableDef key_def = target;
  key_def.columns.clear();
  std::vector<PgWriteColumn> key_cols;
  std::string key_list, col_list, join;
  bool key_binary = true, rows_binary = true;
  for (size_t j = 0; j < table.key.size(); ++j) {
    const int k = table.key[j];
    key_def.columns.push_back(target.columns[k]);
    key_cols.push_back(table.cols[k]);
    key_binary &= table.cols[k].target.wire != PgWire::kOther;
    const std::string q = QuoteIdent(target.columns[k].name);
    if (j) {
      key_list += ", ";
      join += " AND ";
    }
    key_list += q;
    join += "t." + q + " = k." + q;
  }
  for (int c = 0; c < n; ++c) {
    if (c) col_list += ", ";
    col_list += QuoteIdent(target.columns[c].name);
    rows_binary &= table.cols[c].target.wire != PgWire::kOther;
  }
  std::string key_data, row_data;
  if (key_binary) AppendCopyHeader(&key_data);
  for (size_t r = 0; r < remove_keys.rows(); ++r) {
    if (key_binary) {
      EncodeBinaryRow(remove_keys, r, key_cols, key_def, &key_data, &scratch_);
    } else {
      EncodeTextRow(remove_keys, r, key_cols, key_def, &key_data, &scratch_);
    }
  }
  if (key_binary) AppendCopyTrailer(&key_data);
  if (rows_binary) AppendCopyHeader(&row_data);
  for (size_t r = 0; r < rows.rows(); ++r) {
    if (rows_binary) {
      EncodeBinaryRow(rows, r, table.cols, target, &row_data, &scratch_);
    } else {
      EncodeTextRow(rows, r, table.cols, target, &row_data, &scratch_);
    }
  }
  if (rows_binary) AppendCopyTrailer(&row_data);

  SyncAndRead();  // the changes queued before: their issues stay for Flush
  LeavePipeline();
  const uint64_t id = ++statement_counter_;
  const std::string keys_tmp = fmt::format("ferry_net_keys_{}", id);
  const std::string rows_tmp = fmt::format("ferry_net_rows_{}", id);
  const std::string what = "batch apply to table " + target.QualifiedName();
  try {
    if (!remove_keys.empty()) {
      conn_->Exec(fmt::format("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO "
                              "DATA",
                              keys_tmp, key_list, table.quoted),
                  what + " (creating a temporary table for the keys)");
      CopyInto(keys_tmp, key_list, key_binary, key_data, what + " (sending the keys)");
      conn_->Exec(fmt::format("ANALYZE {}", keys_tmp), what + " (analyzing the keys)");
      conn_->Exec(fmt::format("DELETE FROM {} AS t USING {} AS k WHERE {}", table.quoted,
                              keys_tmp, join),
                  what + " (deleting the changed rows)");
    }
    if (!rows.empty() && remove_keys.empty()) {
      // Nothing to replace: straight into the table.
      CopyInto(table.quoted, col_list, rows_binary, row_data, what + " (sending the rows)");
    } else if (!rows.empty()) {
      conn_->Exec(fmt::format("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO "
                              "DATA",
                              rows_tmp, col_list, table.quoted),
                  what + " (creating a temporary table for the rows)");
      CopyInto(rows_tmp, col_list, rows_binary, row_data, what + " (sending the rows)");
      conn_->Exec(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", table.quoted, col_list,
                              col_list, rows_tmp),
                  what + " (inserting the new rows)");
    }
  } catch (...) {
    // A COPY left open: end it so Rollback() finds the connection idle.
    PGconn* c = conn_->get();
    if (PQtransactionStatus(c) == PQTRANS_ACTIVE) {
      PQputCopyEnd(c, "aborted by ferry");
      for (int guard = 0; guard < 1000; ++guard) {
        PGresult* r = PQgetResult(c);
        if (r == nullptr) break;
        PQclear(r);
      }
    }
    throw;
  }
  if (PQenterPipelineMode(conn_->get()) != 1) {
    throw conn_->MakeError("entering pipeline mode", nullptr);
  }
}

}  // namespace ferry::postgres
