#include "connectors/mysql/my_applier.h"

#include <fmt/format.h>
#include <mysqld_error.h>

#include <atomic>
#include <cstring>
#include <functional>

#include "change/change_sql.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_writer.h"
#include "types/value_codec.h"

namespace ferry::mysql {

using cdc::ChangeOp;
using cdc::ChangeView;
using cdc::OldImage;

struct MyChangeApplier::TableInfo {
  TableDef def;                      // schema resolved
  std::string sql_name;              // `db`.`t`
  std::vector<WriteColumn> columns;  // actual target types
  std::string load_sql;              // LOAD DATA of one row; built on first use
};

namespace {

const std::string kNoDatabase;

// max_allowed_packet less this is the longest statement sent (packet header, command byte).
constexpr size_t kPacketMargin = 4096;

std::atomic<size_t> g_statement_limit_for_testing{0};

// Appends `v` as a MySQL string literal (the dialect's one escaper, my_types.h).
void AppendQuoted(std::string_view v, std::string* out) { out->append(QuoteLiteral(v)); }

void AppendHex(std::string_view v, std::string* out) {
  static const char* kDigits = "0123456789ABCDEF";
  out->append("X'");
  for (unsigned char c : v) {
    out->push_back(kDigits[c >> 4]);
    out->push_back(kDigits[c & 15]);
  }
  out->push_back('\'');
}

const cdc::SqlDialect kDialect{"MySQL", QuoteIdent, AppendQuoted,
                              /*numeric_literal_bare=*/true, /*upsert_on_duplicate_key=*/true,
                              /*one_row_by_limit=*/true};

}  // namespace

MyChangeApplier::MyChangeApplier(const EndpointUri& uri)
    : uri_(uri), txn_state_(Engine::kMysql, "") {}

MyChangeApplier::~MyChangeApplier() { Rollback(); }

MyConnection& MyChangeApplier::Conn() {
  // No default database: every statement names its database (the control schema may not
  // exist yet).
  if (!conn_) {
    conn_ = std::make_unique<MyConnection>(uri_, &kNoDatabase, CLIENT_FOUND_ROWS);
    packet_limit_ = 0;
  }
  return *conn_;
}

void MyChangeApplier::SetStatementLimitForTesting(size_t bytes) {
  g_statement_limit_for_testing = bytes;
}

size_t MyChangeApplier::StatementLimit() {
  MyConnection& conn = Conn();
  if (packet_limit_ == 0) {
    auto rows = conn.Query("SELECT @@max_allowed_packet",
                           "reading max_allowed_packet of the MySQL target to apply changes");
    packet_limit_ = 16u << 20;  // the server default, should the variable be unreadable
    if (!rows.empty() && rows[0][0]) {
      try {
        packet_limit_ = std::stoull(*rows[0][0]);
      } catch (const std::exception&) {
      }
    }
  }
  const size_t forced = g_statement_limit_for_testing;
  if (forced != 0) return forced;
  return packet_limit_ > 2 * kPacketMargin ? packet_limit_ - kPacketMargin : packet_limit_ / 2;
}

MyChangeApplier::TableInfo& MyChangeApplier::Info(const TableDef& target) {
  const std::string schema = target.schema.empty() ? uri_.database : target.schema;
  const std::string key = schema + "\x1f" + target.name;
  auto it = tables_.find(key);
  if (it != tables_.end() && it->second->def.columns.size() == target.columns.size()) {
    return *it->second;
  }
  auto info = std::make_unique<TableInfo>();
  info->def = target;
  info->def.schema = schema;
  info->sql_name = QuoteIdent(schema) + "." + QuoteIdent(target.name);
  info->columns =
      ActualWriteColumns(Conn(), info->def,
                         fmt::format("reading the columns of MySQL table {} to apply changes",
                                     info->def.QualifiedName()));
  TableInfo& ref = *info;
  tables_[key] = std::move(info);
  return ref;
}

void MyChangeApplier::Prepare(const std::string& control_schema) {
  txn_state_ = cdc::TxnStateSql(Engine::kMysql, control_schema);
  for (const std::string& sql : txn_state_.Create()) {
    Conn().Execute(sql, fmt::format("creating MySQL table {}", txn_state_.table()));
  }
}

std::optional<cdc::Checkpoint> MyChangeApplier::ReadCheckpoint(const std::string& task) {
  auto rows = Conn().Query(txn_state_.Select(task),
                           fmt::format("reading the checkpoint of task '{}' from MySQL table {}",
                                       task, txn_state_.table()));
  if (rows.empty()) return std::nullopt;
  cdc::Checkpoint cp;
  cp.position = rows[0][0].value_or("");
  cp.commit_time_us = rows[0][1] ? std::stoll(*rows[0][1]) : 0;
  return cp;
}

void MyChangeApplier::ClearCheckpoint(const std::string& task) {
  Conn().Execute(txn_state_.Delete(task),
                 fmt::format("deleting the checkpoint of task '{}' from MySQL table {}", task,
                             txn_state_.table()));
}

void MyChangeApplier::Begin() {
  queued_.clear();
  queued_bytes_ = 0;
  issues_.clear();
  Conn().Execute("START TRANSACTION", "starting a MySQL transaction to apply changes");
}

void MyChangeApplier::Apply(const TableDef& target, const ChangeView& change, bool upsert,
                            uint64_t tag) {
  TableInfo& info = Info(target);
  const cdc::ChangeSqlTable shape(info.def, info.sql_name, kDialect);
  int current_row = -1;
  cdc::SqlValueFn lit = [&](const Batch& b, int row, int col, std::string* out) {
    current_row = row;
    if (b.IsNull(row, col)) {
      out->append("NULL");
      return;
    }
    const WriteColumn& w = info.columns[col];
    value_.clear();
    AppendCheckedValue(w, b, row, col, &scratch_, &value_);
    switch (ClassOf(w)) {
      case ValueClass::kNumber:
        out->append(value_);
        break;
      case ValueClass::kString:
        AppendQuoted(value_, out);
        break;
      case ValueClass::kBinary:
        AppendHex(value_, out);
        break;
    }
  };
  Queued q;
  q.tag = tag;
  q.op = change.op;
  q.table = &info;
  try {
    q.sql = cdc::ChangeSql(shape, change, upsert, true, lit);
    if (upsert && change.op == ChangeOp::kUpdate) {
      q.fallback = cdc::InsertSql(shape, *change.rows, change.new_row, true, lit);
    }
    const size_t limit = StatementLimit();
    if (q.sql.size() > limit || q.fallback.size() > limit) {
      std::string where;
      if (change.op == ChangeOp::kUpdate ||
          (change.op == ChangeOp::kInsert && upsert && shape.has_pk)) {
        where = cdc::WhereSql(shape, change, true, lit);
      }
      std::string().swap(q.sql);
      std::string().swap(q.fallback);
      ApplyLarge(info, change, upsert, tag, where);
      return;
    }
    // The batch is sent as one statement text: keep it within the limit too.
    const size_t bytes = q.sql.size() + q.fallback.size() + 2;
    if (!queued_.empty() && queued_bytes_ + 2 * queued_.size() + bytes > limit) Send();
  } catch (const RowError& e) {
    const std::string key =
        current_row >= 0 ? DescribeRowKey(*change.rows, current_row, info.def) : std::string();
    throw RowError(
        e.column, current_row,
        fmt::format("{} of MySQL table {}{}{}: {}", cdc::ChangeOpName(change.op),
                    info.def.QualifiedName(), key.empty() ? "" : ", row ", key, e.what()),
        key);
  }
  queued_bytes_ += q.sql.size() + q.fallback.size();
  const bool now = !q.fallback.empty();
  queued_.push_back(std::move(q));
  // An upsert UPDATE goes out at once: its fallback INSERT must run before any later change.
  if (now || queued_.size() >= kMaxQueued || queued_bytes_ >= kMaxQueuedBytes) Send();
}

void MyChangeApplier::ApplyLarge(TableInfo& info, const ChangeView& change, bool upsert,
                                 uint64_t tag, const std::string& where_sql) {
  const size_t limit = StatementLimit();
  const auto too_large = [&](std::string_view why) {
    return Error(ErrorKind::kData,
                 fmt::format("{} of MySQL table {}: the statement is longer than the {} bytes "
                             "the server takes (max_allowed_packet) and {}",
                             cdc::ChangeOpName(change.op), info.def.QualifiedName(), limit, why));
  };
  if (change.op == ChangeOp::kDelete || change.op == ChangeOp::kTruncate) {
    throw too_large("the old row that finds the row to delete is too large to send");
  }
  for (size_t c = 0; c < info.def.columns.size(); ++c) {
    if (change.rows->at(change.new_row, static_cast<int>(c)).unchanged) {
      throw too_large(fmt::format("the new row leaves column `{}` unchanged, so it cannot be "
                                  "loaded whole",
                                  info.def.columns[c].name));
    }
  }
  Send();
  MyConnection& conn = Conn();
  MYSQL* my = conn.get();
  if (!where_sql.empty()) {
    const std::string sql = "DELETE FROM " + info.sql_name + where_sql;
    if (sql.size() > limit) throw too_large("the old row that finds the row is too large");
    if (mysql_real_query(my, sql.data(), sql.size()) != 0) {
      conn.ThrowLastError(fmt::format("{} of MySQL table {} (DELETE before loading the new row)",
                                      cdc::ChangeOpName(change.op), info.def.QualifiedName()));
    }
    MyResult res(mysql_store_result(my));
    const my_ulonglong deleted = mysql_affected_rows(my);
    if (deleted == 0 && change.op == ChangeOp::kUpdate && !upsert) {
      issues_.push_back({tag, cdc::ApplyOutcome::kNoRow});
      return;
    }
  }
  if (LoadRow(info, *change.rows, change.new_row) == 0) {
    if (change.op != ChangeOp::kInsert) {
      throw Error(ErrorKind::kData,
                  fmt::format("{} of MySQL table {}: the new row duplicates the key of another "
                              "row",
                              cdc::ChangeOpName(change.op), info.def.QualifiedName()));
    }
    issues_.push_back({tag, cdc::ApplyOutcome::kDuplicate});
  }
}

uint64_t MyChangeApplier::LoadRow(TableInfo& info, const Batch& rows, size_t row) {
  if (info.load_sql.empty()) {
    std::string cols, sets;
    for (size_t i = 0; i < info.def.columns.size(); ++i) {
      const std::string name = QuoteIdent(info.def.columns[i].name);
      if (i) cols += ", ";
      if (info.columns[i].via_variable) {
        // bit(n): LOAD DATA would store the field's text bytes; go through a number instead.
        const std::string var = fmt::format("@ferry_v{}", i);
        cols += var;
        sets += sets.empty() ? " SET " : ", ";
        sets += fmt::format("{} = CAST({} AS UNSIGNED)", name, var);
      } else {
        cols += name;
      }
    }
    info.load_sql = "LOAD DATA LOCAL INFILE 'ferry-change' INTO TABLE " + info.sql_name +
                    " CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                    "LINES TERMINATED BY '\\n' (" +
                    cols + ")" + sets;
  }
  load_buffer_.clear();
  size_t largest = 0, largest_column = 0;
  for (size_t c = 0; c < info.columns.size(); ++c) {
    if (c) load_buffer_.push_back('\t');
    const size_t start = load_buffer_.size();
    AppendLoadField(info.columns[c], rows, row, static_cast<int>(c), &scratch_, &load_buffer_);
    if (load_buffer_.size() - start > largest) {
      largest = load_buffer_.size() - start;
      largest_column = c;
    }
  }
  load_buffer_.push_back('\n');
  MyConnection& conn = Conn();
  MYSQL* my = conn.get();
  const std::string what = fmt::format(
      "loading one changed row into MySQL table {} (its statement would be too long)",
      info.def.QualifiedName());
  // The full load's guard against a row MariaDB's redo log cannot hold (my_writer.h).
  if (row_limit_ == 0) row_limit_ = MaxLoadRowBytes(conn, what, &redo_log_bytes_);
  if (load_buffer_.size() > row_limit_) {
    const size_t row_bytes = load_buffer_.size();
    load_buffer_.clear();
    throw Error(ErrorKind::kData,
                fmt::format("{}, row {}: {}", what, DescribeRowKey(rows, row, info.def),
                            RowTooLargeForRedoLog(row_bytes, info.def.columns[largest_column].name,
                                                  largest, redo_log_bytes_)));
  }
  const uint64_t loaded = conn.LoadDataFromMemory(info.load_sql, load_buffer_, what);
  if (load_buffer_.capacity() > (64u << 20)) std::string().swap(load_buffer_);
  if (mysql_warning_count(my) != 0 || loaded > 1) {
    // LOAD DATA LOCAL turns errors into warnings (IGNORE): a duplicate key is the only one
    // expected; anything else means a value changed on the way, so stop.
    bool only_duplicates = loaded == 0;
    std::string text = fmt::format("{}: the server loaded {} of 1 rows", what, loaded);
    for (auto& w : conn.Query("SHOW WARNINGS LIMIT 5", what)) {
      if (w[1].value_or("") != std::to_string(ER_DUP_ENTRY)) only_duplicates = false;
      text += fmt::format("; {} {}: {}", w[0].value_or(""), w[1].value_or(""), w[2].value_or(""));
    }
    if (only_duplicates) return 0;
    throw Error(ErrorKind::kData, text);
  }
  if (loaded == 0) {
    throw Error(ErrorKind::kInternal, fmt::format("{}: no row loaded and no warning", what));
  }
  return loaded;
}

void MyChangeApplier::Send() {
  MyConnection& conn = Conn();
  MYSQL* my = conn.get();
  size_t start = 0;
  std::string text;
  while (start < queued_.size()) {
    text.clear();
    for (size_t i = start; i < queued_.size(); ++i) {
      if (i > start) text += ";\n";
      text += queued_[i].sql;
    }
    size_t j = start;
    int status = mysql_real_query(my, text.data(), text.size());
    size_t resend = queued_.size();
    for (;;) {
      const Queued& q = queued_[j];
      if (status != 0) {
        const unsigned code = mysql_errno(my);
        if (code == ER_DUP_ENTRY && q.op == ChangeOp::kInsert) {
          issues_.push_back({q.tag, cdc::ApplyOutcome::kDuplicate});
          resend = j + 1;
          break;
        }
        conn.ThrowLastError(fmt::format("{} of MySQL table {}", cdc::ChangeOpName(q.op),
                                        q.table->def.QualifiedName()));
      }
      MyResult res(mysql_store_result(my));  // none expected; freed
      const my_ulonglong affected = mysql_affected_rows(my);
      if (affected == 0 && (q.op == ChangeOp::kUpdate || q.op == ChangeOp::kDelete)) {
        if (!q.fallback.empty()) {
          // Only ever the last statement of a batch (see Apply); drain first.
          if (mysql_next_result(my) > 0) {
            conn.ThrowLastError("reading MySQL results after an UPDATE");
          }
          conn.Execute(q.fallback, fmt::format("INSERT (upsert of an UPDATE that matched no "
                                               "row) into MySQL table {}",
                                               q.table->def.QualifiedName()));
          resend = queued_.size();
          break;
        }
        issues_.push_back({q.tag, cdc::ApplyOutcome::kNoRow});
      }
      ++j;
      status = mysql_next_result(my);
      if (status == -1) break;
      if (j >= queued_.size()) {
        throw Error(ErrorKind::kInternal, "MySQL returned more results than statements sent");
      }
    }
    start = resend;
  }
  queued_.clear();
  queued_bytes_ = 0;
}

std::vector<cdc::ApplyIssue> MyChangeApplier::Flush() {
  Send();
  std::vector<cdc::ApplyIssue> out;
  out.swap(issues_);
  return out;
}

void MyChangeApplier::Commit(const std::string& task, const cdc::Checkpoint& checkpoint) {
  Send();
  if (!issues_.empty()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("committing changes to MySQL: {} change(s) did not apply (first: "
                            "tag {}); call Flush before Commit",
                            issues_.size(), issues_[0].tag));
  }
  Conn().Execute(txn_state_.Upsert(task, checkpoint) + "; COMMIT",
                 fmt::format("committing changes and the checkpoint {} of task '{}' to MySQL",
                             checkpoint.position, task));
}

void MyChangeApplier::Rollback() noexcept {
  queued_.clear();
  queued_bytes_ = 0;
  issues_.clear();
  if (!conn_) return;
  static const char kRollback[] = "ROLLBACK";
  // A lost connection cannot take it: drop it, the next call reconnects (the server rolled
  // the transaction back when the session ended).
  if (mysql_real_query(conn_->get(), kRollback, sizeof(kRollback) - 1) != 0) {
    conn_.reset();
    return;
  }
  while (mysql_next_result(conn_->get()) == 0) {
    MyResult res(mysql_store_result(conn_->get()));
  }
}

std::string MyChangeApplier::Statement(const TableDef& target, const ChangeView& change) {
  TableDef def = target;
  if (def.schema.empty()) def.schema = uri_.database;
  const cdc::ChangeSqlTable shape(def, QuoteIdent(def.schema) + "." + QuoteIdent(def.name),
                                  kDialect);
  cdc::SqlValueFn lit = [&](const Batch& b, int row, int col, std::string* out) {
    cdc::StatementLiteral(kDialect, def.columns[col].type, b, row, col, out);
  };
  return cdc::ChangeSql(shape, change, false, false, lit);
}

}  // namespace ferry::mysql
