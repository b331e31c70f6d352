#include "connectors/sqlite/sqlite_applier.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "change/change_sql.h"
#include "types/value_codec.h"

namespace ferry::sqlite {

using cdc::ChangeOp;
using cdc::ChangeView;
using cdc::OldImage;

struct SqliteChangeApplier::TableInfo {
  TableDef def;
  std::string sql_name;  // main."t"
  std::vector<ColumnPlan> plans;
  std::optional<cdc::ChangeSqlTable> shape;  // of `def`
};

namespace {

// A value in a logged statement (StatementLiteral): SQLite's literal, a NUL byte (which no
// literal can hold) shown as \x00 as the PostgreSQL applier does.
void AppendLiteral(std::string_view text, std::string* out) {
  if (text.find('\0') == std::string_view::npos) {
    out->append(QuoteLiteral(text));
    return;
  }
  std::string clean;
  for (char c : text) {
    if (c == '\0')
      clean += "\\x00";
    else
      clean.push_back(c);
  }
  out->append(QuoteLiteral(clean));
}

const cdc::SqlDialect kDialect{"SQLite",
                               DoubleQuoteIdent,
                               AppendLiteral,
                               /*numeric_literal_bare=*/false,
                               /*upsert_on_duplicate_key=*/false,
                               /*one_row_by_limit=*/false};

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
  info->sql_name = "main." + DoubleQuoteIdent(target.name);
  info->shape.emplace(info->def, info->sql_name, kDialect);
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
  try {
    conn_.BeginImmediate(kLockWaitSeconds);
  } catch (...) {
    lock_->Unlock();
    throw;
  }
  in_txn_ = true;
}

int SqliteChangeApplier::Run(const TableInfo& info, const std::string& key, const std::string& sql,
                             const Batch* batch, const std::vector<Binding>& binds) {
  auto& slot = statements_[key];
  if (!slot) slot = std::make_unique<sqlite::Statement>(conn_, sql);
  sqlite3_stmt* st = slot->get();
  if (scratch_.size() < binds.size()) scratch_.resize(binds.size());
  for (size_t i = 0; i < binds.size(); ++i) {
    const Binding& b = binds[i];
    BindCell(st, static_cast<int>(i) + 1, info.plans[b.col], *batch, b.row, b.col, &scratch_[i]);
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
  const cdc::ChangeSqlTable& shape = *info.shape;
  std::vector<Binding> binds;
  // Only the values that are bound are checked: unchanged cells are left out, and the columns
  // of a 'K' old image outside the key are never compared.
  cdc::SqlValueFn param = [&](const Batch& b, int row, int col, std::string* out) {
    out->push_back('?');
    // A NULL compared in an old image is no value to store (NOT NULL does not apply).
    const bool old_image = change.old_row >= 0 && row == change.old_row;
    if (!(old_image && b.at(row, col).null)) CheckCell(info.plans[col], info.def, b, row, col);
    binds.push_back({row, col});
  };
  std::string sql;
  try {
    sql = cdc::ChangeSql(shape, change, upsert, true, param);
  } catch (const RowError& e) {
    throw RowError(e.column, e.batch_row,
                   fmt::format("{} of SQLite table {}{}{}: {}", cdc::ChangeOpName(change.op),
                               info.def.QualifiedName(), e.row_key.empty() ? "" : ", row ",
                               e.row_key, e.what()),
                   e.row_key);
  }
  const std::string what =
      fmt::format("{} of SQLite table {}", cdc::ChangeOpName(change.op), info.def.QualifiedName());
  int rc = Run(info, sql, sql, change.rows, binds);
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
    const std::string insert = cdc::InsertSql(shape, *change.rows, change.new_row, true, param);
    rc = Run(info, insert, insert, change.rows, binds);
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

void SqliteChangeApplier::ExecuteInTransaction(const std::string& sql) {
  if (!in_txn_) {
    throw Error(ErrorKind::kInternal, "ExecuteInTransaction called outside an SQLite transaction");
  }
  // Prepared statements of the table's old columns go first (a rebuild drops the table).
  statements_.clear();
  tables_.clear();
  conn_.Exec(sql);
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
  const cdc::ChangeSqlTable shape(def, "main." + DoubleQuoteIdent(def.name), kDialect);
  cdc::SqlValueFn lit = [&](const Batch& b, int row, int col, std::string* out) {
    cdc::StatementLiteral(kDialect, def.columns[col].type, b, row, col, out);
  };
  return cdc::ChangeSql(shape, change, false, false, lit);
}

}  // namespace ferry::sqlite
