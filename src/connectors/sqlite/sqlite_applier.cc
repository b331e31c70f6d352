#include "connectors/sqlite/sqlite_applier.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "types/value_codec.h"

namespace ferry::sqlite {

using cdc::ChangeOp;
using cdc::ChangeView;
using cdc::OldImage;

struct SqliteChangeApplier::TableInfo {
  TableDef def;
  std::string sql_name;  // main."t"
  std::vector<ColumnPlan> plans;
  std::vector<int> key;  // primary key columns; every column when the table has none
  bool has_pk = false;
};

namespace {

constexpr size_t kStatementValueBytes = 200;

// Appends the parameter or literal of batch(row, col) to `out`.
using ValueFn = std::function<void(const Batch&, int, int, std::string*)>;

struct Shape {
  const TableDef* def;
  std::string sql_name;
  std::vector<int> key;
  bool has_pk;
};

std::vector<int> KeyOf(const TableDef& def) {
  std::vector<int> key;
  for (const std::string& k : def.primary_key) {
    const int i = def.ColumnIndex(k);
    if (i < 0) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("primary key column \"{}\" of SQLite table {} is not one of its "
                              "columns",
                              k, def.QualifiedName()));
    }
    key.push_back(i);
  }
  if (key.empty()) {
    for (size_t i = 0; i < def.columns.size(); ++i) key.push_back(static_cast<int>(i));
  }
  return key;
}

std::string InsertSql(const Shape& s, const Batch& b, int row, bool upsert, const ValueFn& val) {
  std::string cols, vals, set;
  for (size_t c = 0; c < s.def->columns.size(); ++c) {
    if (b.at(row, static_cast<int>(c)).unchanged) continue;
    const std::string name = QuoteIdent(s.def->columns[c].name);
    if (!cols.empty()) {
      cols += ", ";
      vals += ", ";
    }
    cols += name;
    val(b, row, static_cast<int>(c), &vals);
    if (std::find(s.key.begin(), s.key.end(), static_cast<int>(c)) == s.key.end()) {
      if (!set.empty()) set += ", ";
      set += name + " = excluded." + name;
    }
  }
  std::string sql = "INSERT INTO " + s.sql_name + " (" + cols + ") VALUES (" + vals + ")";
  if (upsert && s.has_pk) {
    std::string pk;
    for (int k : s.key) pk += (pk.empty() ? "" : ", ") + QuoteIdent(s.def->columns[k].name);
    sql += " ON CONFLICT (" + pk + ") DO " + (set.empty() ? "NOTHING" : "UPDATE SET " + set);
  }
  return sql;
}

std::string WhereSql(const Shape& s, const ChangeView& ch, bool strict, const ValueFn& val) {
  int row = ch.old_kind != OldImage::kNone ? ch.old_row : ch.new_row;
  if (!s.has_pk && ch.old_kind != OldImage::kFull) {
    if (strict) {
      throw Error(ErrorKind::kData,
                  fmt::format("{} of SQLite table {}: the table has no primary key and the "
                              "change carries no full old row to find it by; the source table "
                              "needs REPLICA IDENTITY FULL",
                              cdc::ChangeOpName(ch.op), s.def->QualifiedName()));
    }
    if (ch.old_kind == OldImage::kNone) row = ch.new_row;
  }
  std::string cond;
  for (int c : s.key) {
    if (ch.rows->at(row, c).unchanged) continue;
    if (!cond.empty()) cond += " AND ";
    cond += QuoteIdent(s.def->columns[c].name);
    cond += s.has_pk ? " = " : " IS ";
    val(*ch.rows, row, c, &cond);
  }
  if (cond.empty()) cond = "1";
  if (s.has_pk) return " WHERE " + cond;
  return " WHERE rowid = (SELECT rowid FROM " + s.sql_name + " WHERE " + cond + " LIMIT 1)";
}

std::string UpdateSql(const Shape& s, const ChangeView& ch, bool strict, const ValueFn& val) {
  std::string sql = "UPDATE " + s.sql_name + " SET ";
  bool first = true;
  for (size_t c = 0; c < s.def->columns.size(); ++c) {
    if (ch.rows->at(ch.new_row, static_cast<int>(c)).unchanged) continue;
    if (!first) sql += ", ";
    first = false;
    sql += QuoteIdent(s.def->columns[c].name) + " = ";
    val(*ch.rows, ch.new_row, static_cast<int>(c), &sql);
  }
  if (first) {
    const std::string k = QuoteIdent(s.def->columns[s.key[0]].name);
    sql += k + " = " + k;  // nothing to set: still count the row found
  }
  return sql + WhereSql(s, ch, strict, val);
}

std::string ChangeSql(const Shape& s, const ChangeView& ch, bool upsert, bool strict,
                      const ValueFn& val) {
  switch (ch.op) {
    case ChangeOp::kInsert:
      return InsertSql(s, *ch.rows, ch.new_row, upsert, val);
    case ChangeOp::kUpdate:
      return UpdateSql(s, ch, strict, val);
    case ChangeOp::kDelete:
      return "DELETE FROM " + s.sql_name + WhereSql(s, ch, strict, val);
    case ChangeOp::kTruncate:
      return "DELETE FROM " + s.sql_name;
  }
  return {};
}

// A literal for logs: the value's canonical text, unchecked, long values shortened.
void StatementLiteral(const DmsType& type, const Batch& b, size_t row, int col, std::string* out) {
  if (b.IsNull(row, col)) {
    out->append("NULL");
    return;
  }
  std::string v;
  AppendCanonical(b, row, col, type, &v);
  bool cut = false;
  if (v.size() > kStatementValueBytes) {
    size_t n = kStatementValueBytes;
    if (!IsBinary(type.kind)) {
      while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
    }
    v.resize(n);
    cut = true;
  }
  if (IsBinary(type.kind)) {
    static const char* kDigits = "0123456789ABCDEF";
    out->append("X'");
    for (unsigned char c : v) {
      out->push_back(kDigits[c >> 4]);
      out->push_back(kDigits[c & 15]);
    }
    out->append(cut ? "...'" : "'");
    return;
  }
  const Storage st = StorageOf(type.kind);
  const bool temporal =
      type.kind == DmsKind::kDate || type.kind == DmsKind::kTime || type.kind == DmsKind::kDatetime;
  const bool bare =
      !temporal && st != Storage::kBytes && v != "NaN" && v != "Infinity" && v != "-Infinity";
  if (bare) {
    out->append(v);
    return;
  }
  if (cut) v += "...";
  out->append(QuoteLiteral(v));
}

bool IsDuplicate(int extended) {
  return extended == SQLITE_CONSTRAINT_PRIMARYKEY || extended == SQLITE_CONSTRAINT_UNIQUE;
}

}  // namespace

SqliteChangeApplier::SqliteChangeApplier(const std::string& path)
    : conn_(path, Connection::Mode::kReadWrite), txn_state_(Engine::kSqlite, "") {
  const char* abs = sqlite3_db_filename(conn_.get(), "main");
  lock_ = FileWriteLock::For(abs && *abs ? abs : path);
  conn_.Exec("PRAGMA synchronous=NORMAL");
}

SqliteChangeApplier::~SqliteChangeApplier() {
  Rollback();
  statements_.clear();  // before the connection closes
}

SqliteChangeApplier::TableInfo& SqliteChangeApplier::Info(const TableDef& target) {
  auto it = tables_.find(target.name);
  if (it != tables_.end() && it->second->def.columns.size() == target.columns.size()) {
    return *it->second;
  }
  auto info = std::make_unique<TableInfo>();
  info->def = target;
  if (info->def.schema.empty()) info->def.schema = "main";
  info->sql_name = "main." + QuoteIdent(target.name);
  info->has_pk = !target.primary_key.empty();
  info->key = KeyOf(target);
  const int rowid_col = RowidAliasColumn(target);
  for (size_t c = 0; c < target.columns.size(); ++c) {
    info->plans.push_back(MakeColumnPlan(target, static_cast<int>(c), rowid_col));
  }
  TableInfo& ref = *info;
  tables_[target.name] = std::move(info);
  return ref;
}

void SqliteChangeApplier::ExecLocked(const std::string& sql) {
  lock_->Lock();
  try {
    conn_.Exec(sql);
  } catch (...) {
    lock_->Unlock();
    throw;
  }
  lock_->Unlock();
}

void SqliteChangeApplier::Prepare(const std::string& control_schema) {
  txn_state_ = cdc::TxnStateSql(Engine::kSqlite, control_schema);
  for (const std::string& sql : txn_state_.Create()) {
    try {
      ExecLocked(sql);
    } catch (const Error& e) {
      throw Error(e.kind(), fmt::format("creating SQLite table {} in '{}': {}", txn_state_.table(),
                                        conn_.path(), e.what()));
    }
  }
}

std::optional<cdc::Checkpoint> SqliteChangeApplier::ReadCheckpoint(const std::string& task) {
  // Not TxnStateSql::Select: its julianday() arithmetic keeps milliseconds only (SQLite's
  // date functions work in milliseconds). The DATETIME text holds the microseconds; parse it.
  sqlite::Statement st(conn_, "SELECT \"CHECKPOINT\", \"CHECKPOINT_TIME\" FROM " +
                                  txn_state_.table() + " WHERE \"TASK_NAME\" = ?");
  st.BindText(1, task);
  if (!st.Step()) return std::nullopt;
  cdc::Checkpoint cp;
  cp.position = std::string(st.ColumnText(0));
  if (!st.ColumnIsNull(1)) {
    const std::string text(st.ColumnText(1));
    const std::optional<int64_t> micros = ParseDatetime(text);
    if (!micros) {
      throw Error(ErrorKind::kData,
                  fmt::format("task '{}': CHECKPOINT_TIME '{}' in SQLite table {} is not a "
                              "date and time",
                              task, text, txn_state_.table()));
    }
    cp.commit_time_us = *micros;
  }
  return cp;
}

void SqliteChangeApplier::ClearCheckpoint(const std::string& task) {
  ExecLocked(txn_state_.Delete(task));
}

void SqliteChangeApplier::Begin() {
  if (in_txn_) throw Error(ErrorKind::kInternal, "Begin called inside an SQLite transaction");
  issues_.clear();
  lock_->Lock();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLockWaitSeconds);
  try {
    while (conn_.ExecBusyAware("BEGIN IMMEDIATE") != SQLITE_OK) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw Error(ErrorKind::kConnection,
                    fmt::format("SQLite database '{}' stayed locked by another writer for {} "
                                "seconds",
                                conn_.path(), kLockWaitSeconds));
      }
    }
  } catch (...) {
    lock_->Unlock();
    throw;
  }
  in_txn_ = true;
}

int SqliteChangeApplier::Run(const TableInfo& info, const std::string& key, const std::string& sql,
                             const Batch& batch, const std::vector<Binding>& binds) {
  auto& slot = statements_[key];
  if (!slot) slot = std::make_unique<sqlite::Statement>(conn_, sql);
  sqlite3_stmt* st = slot->get();
  if (scratch_.size() < binds.size()) scratch_.resize(binds.size());
  for (size_t i = 0; i < binds.size(); ++i) {
    const Binding& b = binds[i];
    BindCell(st, static_cast<int>(i) + 1, info.plans[b.col], batch, b.row, b.col, &scratch_[i]);
  }
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

void SqliteChangeApplier::Apply(const TableDef& target, const ChangeView& change, bool upsert,
                                uint64_t tag) {
  if (!in_txn_) throw Error(ErrorKind::kInternal, "Apply called outside an SQLite transaction");
  TableInfo& info = Info(target);
  const Shape shape{&info.def, info.sql_name, info.key, info.has_pk};
  std::vector<Binding> binds;
  // Only the values that are bound are checked: unchanged cells are left out, and the columns
  // of a 'K' old image outside the key are never compared.
  ValueFn param = [&](const Batch& b, int row, int col, std::string* out) {
    out->push_back('?');
    // A NULL compared in an old image is no value to store (NOT NULL does not apply).
    const bool old_image = change.old_row >= 0 && row == change.old_row;
    if (!(old_image && b.at(row, col).null)) CheckCell(info.plans[col], info.def, b, row, col);
    binds.push_back({row, col});
  };
  std::string sql;
  try {
    sql = ChangeSql(shape, change, upsert, true, param);
  } catch (const RowError& e) {
    throw RowError(e.column, e.batch_row,
                   fmt::format("{} of SQLite table {}{}{}: {}", cdc::ChangeOpName(change.op),
                               info.def.QualifiedName(), e.row_key.empty() ? "" : ", row ",
                               e.row_key, e.what()),
                   e.row_key);
  }
  const std::string what =
      fmt::format("{} of SQLite table {}", cdc::ChangeOpName(change.op), info.def.QualifiedName());
  int rc = Run(info, sql, sql, *change.rows, binds);
  if (rc != SQLITE_DONE) {
    const int extended = sqlite3_extended_errcode(conn_.get());
    if (change.op == ChangeOp::kInsert && IsDuplicate(extended)) {
      issues_.push_back({tag, cdc::ApplyOutcome::kDuplicate});
      return;
    }
    ThrowSqliteError(conn_.get(), rc, what);
  }
  if (change.op != ChangeOp::kUpdate && change.op != ChangeOp::kDelete) return;
  if (sqlite3_changes(conn_.get()) > 0) return;
  if (change.op == ChangeOp::kUpdate && upsert) {
    binds.clear();
    const std::string insert = InsertSql(shape, *change.rows, change.new_row, true, param);
    rc = Run(info, insert, insert, *change.rows, binds);
    if (rc != SQLITE_DONE) {
      ThrowSqliteError(conn_.get(), rc,
                       "INSERT (upsert of an UPDATE that matched no row) into SQLite table " +
                           info.def.QualifiedName());
    }
    return;
  }
  issues_.push_back({tag, cdc::ApplyOutcome::kNoRow});
}

std::vector<cdc::ApplyIssue> SqliteChangeApplier::Flush() {
  std::vector<cdc::ApplyIssue> out;
  out.swap(issues_);
  return out;
}

void SqliteChangeApplier::Commit(const std::string& task, const cdc::Checkpoint& checkpoint) {
  if (!in_txn_) throw Error(ErrorKind::kInternal, "Commit called outside an SQLite transaction");
  if (!issues_.empty()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("committing changes to SQLite: {} change(s) did not apply (first: "
                            "tag {}); call Flush before Commit",
                            issues_.size(), issues_[0].tag));
  }
  conn_.Exec(txn_state_.Upsert(task, checkpoint));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLockWaitSeconds);
  while (conn_.ExecBusyAware("COMMIT") != SQLITE_OK) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ErrorKind::kConnection,
                  fmt::format("could not commit to SQLite database '{}': still busy after {} "
                              "seconds",
                              conn_.path(), kLockWaitSeconds));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  in_txn_ = false;
  lock_->Unlock();
}

void SqliteChangeApplier::Rollback() noexcept {
  issues_.clear();
  if (!in_txn_) return;
  sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  in_txn_ = false;
  lock_->Unlock();
}

std::string SqliteChangeApplier::Statement(const TableDef& target, const ChangeView& change) {
  TableDef def = target;
  if (def.schema.empty()) def.schema = "main";
  const Shape shape{&def, "main." + QuoteIdent(def.name), KeyOf(def), !def.primary_key.empty()};
  ValueFn lit = [&](const Batch& b, int row, int col, std::string* out) {
    StatementLiteral(def.columns[col].type, b, row, col, out);
  };
  return ChangeSql(shape, change, false, false, lit);
}

}  // namespace ferry::sqlite
