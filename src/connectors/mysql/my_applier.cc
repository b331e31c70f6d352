#include "connectors/mysql/my_applier.h"

#include <fmt/format.h>
#include <mysqld_error.h>

#include <cstring>
#include <functional>

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
};

namespace {

const std::string kNoDatabase;

// Values longer than this are shortened in Statement().
constexpr size_t kStatementValueBytes = 200;

// Appends `v` as a quoted MySQL string literal (backslash escapes, NO_BACKSLASH_ESCAPES off).
void AppendQuoted(std::string_view v, std::string* out) {
  out->push_back('\'');
  for (char c : v) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\'':
        out->append("\\'");
        break;
      case '\0':
        out->append("\\0");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('\'');
}

void AppendHex(std::string_view v, std::string* out) {
  static const char* kDigits = "0123456789ABCDEF";
  out->append("X'");
  for (unsigned char c : v) {
    out->push_back(kDigits[c >> 4]);
    out->push_back(kDigits[c & 15]);
  }
  out->push_back('\'');
}

// Writes the literal of batch(row, col) to `out`.
using LiteralFn = std::function<void(const Batch&, size_t, int, std::string*)>;

// The table's shape as the SQL builders need it.
struct Shape {
  const TableDef* def;
  std::string sql_name;
  std::vector<int> key;  // primary key columns; every column when the table has none
  bool has_pk;
};

Shape ShapeOf(const TableDef& def, std::string sql_name) {
  Shape s{&def, std::move(sql_name), {}, !def.primary_key.empty()};
  if (s.has_pk) {
    for (const std::string& k : def.primary_key) {
      const int i = def.ColumnIndex(k);
      if (i < 0) {
        throw Error(ErrorKind::kSchema, fmt::format("primary key column `{}` of MySQL table {} "
                                                    "is not one of its columns",
                                                    k, def.QualifiedName()));
      }
      s.key.push_back(i);
    }
  } else {
    for (size_t i = 0; i < def.columns.size(); ++i) s.key.push_back(static_cast<int>(i));
  }
  return s;
}

std::string InsertSql(const Shape& s, const Batch& b, int row, bool upsert, const LiteralFn& lit) {
  std::string cols, vals, dup;
  for (size_t c = 0; c < s.def->columns.size(); ++c) {
    if (b.at(row, static_cast<int>(c)).unchanged) continue;
    const std::string name = QuoteIdent(s.def->columns[c].name);
    if (!cols.empty()) {
      cols += ", ";
      vals += ", ";
      dup += ", ";
    }
    cols += name;
    lit(b, row, static_cast<int>(c), &vals);
    dup += name + " = VALUES(" + name + ")";
  }
  std::string sql = "INSERT INTO " + s.sql_name + " (" + cols + ") VALUES (" + vals + ")";
  if (upsert && s.has_pk && !dup.empty()) sql += " ON DUPLICATE KEY UPDATE " + dup;
  return sql;
}

// The row an UPDATE or DELETE finds: " WHERE ..." (+ " LIMIT 1" without a key).
std::string WhereSql(const Shape& s, const ChangeView& ch, bool strict, const LiteralFn& lit) {
  int row = ch.old_kind != OldImage::kNone ? ch.old_row : ch.new_row;
  if (!s.has_pk && ch.old_kind != OldImage::kFull) {
    if (strict) {
      throw Error(ErrorKind::kData,
                  fmt::format("{} of MySQL table {}: the table has no primary key and the change "
                              "carries no full old row to find it by; the source table needs "
                              "REPLICA IDENTITY FULL",
                              cdc::ChangeOpName(ch.op), s.def->QualifiedName()));
    }
    if (ch.old_kind == OldImage::kNone) row = ch.new_row;
  }
  std::string sql = " WHERE ";
  bool first = true;
  for (int c : s.key) {
    if (ch.rows->at(row, c).unchanged) continue;
    if (!first) sql += " AND ";
    first = false;
    sql += QuoteIdent(s.def->columns[c].name);
    sql += s.has_pk ? " = " : " <=> ";
    lit(*ch.rows, row, c, &sql);
  }
  if (first) sql += "1 = 1";
  if (!s.has_pk) sql += " LIMIT 1";
  return sql;
}

std::string UpdateSql(const Shape& s, const ChangeView& ch, bool strict, const LiteralFn& lit) {
  std::string sql = "UPDATE " + s.sql_name + " SET ";
  bool first = true;
  for (size_t c = 0; c < s.def->columns.size(); ++c) {
    if (ch.rows->at(ch.new_row, static_cast<int>(c)).unchanged) continue;
    if (!first) sql += ", ";
    first = false;
    sql += QuoteIdent(s.def->columns[c].name) + " = ";
    lit(*ch.rows, ch.new_row, static_cast<int>(c), &sql);
  }
  if (first) {
    // Nothing to set: still find the row (CLIENT_FOUND_ROWS counts it as matched).
    const std::string k = QuoteIdent(s.def->columns[s.key[0]].name);
    sql += k + " = " + k;
  }
  return sql + WhereSql(s, ch, strict, lit);
}

std::string ChangeSql(const Shape& s, const ChangeView& ch, bool upsert, bool strict,
                      const LiteralFn& lit, std::string* fallback) {
  switch (ch.op) {
    case ChangeOp::kInsert:
      return InsertSql(s, *ch.rows, ch.new_row, upsert, lit);
    case ChangeOp::kUpdate:
      if (upsert && fallback) *fallback = InsertSql(s, *ch.rows, ch.new_row, true, lit);
      return UpdateSql(s, ch, strict, lit);
    case ChangeOp::kDelete:
      return "DELETE FROM " + s.sql_name + WhereSql(s, ch, strict, lit);
    case ChangeOp::kTruncate:
      // Not TRUNCATE TABLE: it is DDL and would commit the open transaction (see header).
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
    AppendHex(v, out);
    if (cut) out->insert(out->size() - 1, "...");
    return;
  }
  const Storage st = StorageOf(type.kind);
  const bool temporal =
      type.kind == DmsKind::kDate || type.kind == DmsKind::kTime || type.kind == DmsKind::kDatetime;
  const bool bare = !temporal && (st != Storage::kBytes || type.kind == DmsKind::kNumeric) &&
                    v != "NaN" && v != "Infinity" && v != "-Infinity";
  if (bare) {
    out->append(v);
    return;
  }
  if (cut) v += "...";
  AppendQuoted(v, out);
}

}  // namespace

MyChangeApplier::MyChangeApplier(const EndpointUri& uri)
    : uri_(uri), txn_state_(Engine::kMysql, "") {}

MyChangeApplier::~MyChangeApplier() { Rollback(); }

MyConnection& MyChangeApplier::Conn() {
  // No default database: every statement names its database (the control schema may not
  // exist yet).
  if (!conn_) conn_ = std::make_unique<MyConnection>(uri_, &kNoDatabase, CLIENT_FOUND_ROWS);
  return *conn_;
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
  const Shape shape = ShapeOf(info.def, info.sql_name);
  int current_row = -1;
  LiteralFn lit = [&](const Batch& b, size_t row, int col, std::string* out) {
    current_row = static_cast<int>(row);
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
    q.sql = ChangeSql(shape, change, upsert, true, lit, &q.fallback);
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
  const Shape shape = ShapeOf(def, QuoteIdent(def.schema) + "." + QuoteIdent(def.name));
  LiteralFn lit = [&](const Batch& b, size_t row, int col, std::string* out) {
    StatementLiteral(def.columns[col].type, b, row, col, out);
  };
  return ChangeSql(shape, change, false, false, lit, nullptr);
}

}  // namespace ferry::mysql
