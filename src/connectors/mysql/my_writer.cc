#include "connectors/mysql/my_writer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>

#include "connectors/mysql/my_types.h"

namespace ferry::mysql {

namespace {

const std::string kNoDatabase;

std::atomic<int64_t> g_redo_log_bytes_for_testing{0};

}  // namespace

void MyTableWriter::SetRedoLogBytesForTesting(int64_t bytes) {
  g_redo_log_bytes_for_testing = bytes;
}

std::vector<WriteColumn> ActualWriteColumns(MyConnection& conn, const TableDef& target,
                                            std::string_view what) {
  const std::string qualified = target.QualifiedName();
  // Values are checked against the table as it really is (DO_NOTHING targets were created by
  // someone else; CreateTableStatements may have widened a varchar), not as planned.
  std::map<std::string, std::string> actual;
  for (auto& r : conn.Query(
           "SELECT COLUMN_NAME, COLUMN_TYPE, CHECK_CLAUSE IS NOT NULL "
           "FROM information_schema.COLUMNS c LEFT JOIN information_schema.CHECK_CONSTRAINTS k "
           "ON k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME "
           "AND k.CHECK_CLAUSE = CONCAT('json_valid(`', REPLACE(c.COLUMN_NAME, '`', '``'), '`)') "
           "WHERE c.TABLE_SCHEMA = " +
               QuoteLiteral(target.schema) + " AND c.TABLE_NAME = " + QuoteLiteral(target.name),
           what)) {
    std::string type = r[1].value_or("");
    if (r[2].value_or("0") == "1" && type == "longtext") type = "json";
    actual[r[0].value_or("")] = type;
  }
  if (actual.empty()) {
    throw Error(ErrorKind::kNotFound, fmt::format("MySQL table {} not found", qualified));
  }
  std::vector<WriteColumn> columns;
  for (const ColumnDef& c : target.columns) {
    auto it = actual.find(c.name);
    if (it == actual.end()) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("MySQL table {} has no column `{}`", qualified, c.name));
    }
    columns.push_back(MakeWriteColumn(c.name, c.type, it->second));
  }
  return columns;
}

size_t MaxLoadRowBytes(MyConnection& conn, std::string_view what, int64_t* redo_log_bytes) {
  *redo_log_bytes = 0;
  auto rows = conn.Query("SELECT VERSION(), @@innodb_log_file_size", what);
  if (!rows.empty() && rows[0][0] && rows[0][0]->find("MariaDB") != std::string::npos &&
      rows[0][1]) {
    *redo_log_bytes = std::stoll(*rows[0][1]);
  }
  if (g_redo_log_bytes_for_testing != 0) *redo_log_bytes = g_redo_log_bytes_for_testing;
  // A tenth of the log is left for the rest of the row's work and for other sessions.
  return *redo_log_bytes > 0 ? static_cast<size_t>(*redo_log_bytes) / 10 * 9 : SIZE_MAX;
}

std::string RowTooLargeForRedoLog(size_t row_bytes, const std::string& column,
                                  size_t largest_bytes, int64_t redo_log_bytes) {
  return fmt::format(
      "a row of {} bytes (column \"{}\" holds {}) is larger than this MariaDB server can "
      "write: InnoDB keeps a row's redo in its log, innodb_log_file_size is {} bytes, and a "
      "larger row stalls the server for good; raise innodb_log_file_size on the target to at "
      "least {} bytes (SET GLOBAL on MariaDB 10.9 and later, else in its configuration and a "
      "restart), or cut LOBs (limited LOB mode with LobMaxSize)",
      row_bytes, column, largest_bytes, redo_log_bytes,
      (row_bytes / 9 * 10 + (64u << 20)) & ~size_t{0xFFFFF});
}

MyTableWriter::MyTableWriter(const EndpointUri& uri)
    // No default database: the target database may not exist until EnsureSchema, and every
    // statement names its database anyway.
    : conn_(uri, &kNoDatabase),
      marks_(DialectFor(Engine::kMysql),
             SqlSegmentMarks::Session{[this](const std::string& sql, const std::string& what) {
                                        conn_.Execute(sql, what);
                                      },
                                      [this](const std::string& sql, const std::string& what) {
                                        return conn_.Query(sql, what);
                                      },
                                      [this](const std::string& schema, const std::string& table) {
                                        return TableExists(schema, table);
                                      }}) {}

std::string MyTableWriter::Schema(const TableDef& t) const {
  return t.schema.empty() ? conn_.uri().database : t.schema;
}

void MyTableWriter::EnsureSchema(const std::string& schema) {
  conn_.Execute("CREATE DATABASE IF NOT EXISTS " + QuoteIdent(schema) +
                    " CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
                fmt::format("creating MySQL database '{}'", schema));
}

bool MyTableWriter::TableExists(const std::string& schema, const std::string& name) {
  auto rows = conn_.Query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                              QuoteLiteral(schema) + " AND TABLE_NAME = " + QuoteLiteral(name),
                          fmt::format("looking for MySQL table {}.{}", schema, name));
  return !rows.empty();
}

void MyTableWriter::PrepareTable(const TableDef& target, TablePrepMode mode) {
  TableDef t = target;
  t.schema = Schema(target);
  const std::string table = QuoteIdent(t.schema) + "." + QuoteIdent(t.name);
  const std::string what =
      fmt::format("preparing MySQL table {} ({})", t.QualifiedName(), TablePrepModeName(mode));
  const bool exists = TableExists(t.schema, t.name);
  if (mode == TablePrepMode::kDropAndCreate && exists) {
    conn_.Execute("DROP TABLE " + table, what);
  } else if (exists) {
    if (mode == TablePrepMode::kTruncateBeforeLoad) conn_.Execute("TRUNCATE TABLE " + table, what);
    return;
  }
  for (const auto& sql : CreateTableStatements(t)) conn_.Execute(sql, what);
}

void MyTableWriter::BeginLoad(const TableDef& target) { Begin(target, false); }

void MyTableWriter::BeginSegment(const TableDef& target) { Begin(target, true); }

void MyTableWriter::Begin(const TableDef& target, bool segment) {
  target_ = target;
  target_.schema = Schema(target);
  qualified_ = target_.QualifiedName();
  const std::string what = fmt::format("starting the load of MySQL table {}", qualified_);
  columns_ = ActualWriteColumns(conn_, target_, what);
  std::string cols, sets;
  for (size_t i = 0; i < target_.columns.size(); ++i) {
    const ColumnDef& c = target_.columns[i];
    if (i) cols += ", ";
    if (columns_[i].via_variable) {
      // bit(n): LOAD DATA would store the field's text bytes; go through a number instead.
      const std::string var = fmt::format("@ferry_v{}", i);
      cols += var;
      sets += sets.empty() ? " SET " : ", ";
      sets += QuoteIdent(c.name) + " = CAST(" + var + " AS UNSIGNED)";
    } else {
      cols += QuoteIdent(c.name);
    }
  }
  load_sql_ = "LOAD DATA LOCAL INFILE 'ferry-batch' INTO TABLE " + QuoteIdent(target_.schema) +
              "." + QuoteIdent(target_.name) +
              " CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
              "LINES TERMINATED BY '\\n' (" +
              cols + ")" + sets;
  // unique_checks=0 would let InnoDB skip duplicate detection in secondary unique indexes
  // (it only speeds those up); a duplicate must fail the load, so it is off only when the
  // table has no unique index besides the primary key (which is always checked). A segment
  // keeps it on: with both checks off, MariaDB (10.6+) makes a transaction's first insert into
  // an empty table a bulk insert that locks the whole table until the transaction ends, and
  // the table's other segments, loading at the same time, would wait for that whole segment
  // (and fail after innodb_lock_wait_timeout) instead of its first 100,000 rows.
  conn_.Execute(fmt::format("SET SESSION foreign_key_checks = 0, unique_checks = {}",
                            target_.unique_indexes.empty() && !segment ? 0 : 1),
                what);
  const auto any = conn_.Query(
      "SELECT EXISTS (SELECT 1 FROM " + QuoteIdent(target_.schema) + "." +
          QuoteIdent(target_.name) + ")",
      what);
  started_empty_ = !any.empty() && !any[0].empty() && any[0][0].value_or("1") == "0";
  conn_.Execute("START TRANSACTION", what);
  rows_since_commit_ = 0;
  rows_committed_ = 0;
  in_load_ = true;
  segment_ = segment;
}

void MyTableWriter::Write(const Batch& batch) {
  const size_t rows = batch.rows();
  if (rows == 0) return;
  const int ncols = static_cast<int>(columns_.size());
  if (batch.columns() != ncols) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch for MySQL table {} has {} columns, the table {}", qualified_,
                            batch.columns(), ncols));
  }
  CheckNotNull(batch, target_);
  const std::string what = fmt::format("loading MySQL table {}", qualified_);
  if (row_limit_ == 0) row_limit_ = MaxLoadRowBytes(conn_, what, &redo_log_bytes_);
  const size_t row_limit = row_limit_;
  buffer_.clear();
  for (size_t r = 0; r < rows; ++r) {
    const size_t row_start = buffer_.size();
    size_t largest = 0;
    int largest_column = 0;
    for (int c = 0; c < ncols; ++c) {
      if (c) buffer_.push_back('\t');
      const size_t field_start = buffer_.size();
      AppendLoadField(columns_[c], batch, r, c, &scratch_, &buffer_);
      if (buffer_.size() - field_start > largest) {
        largest = buffer_.size() - field_start;
        largest_column = c;
      }
    }
    buffer_.push_back('\n');
    if (buffer_.size() - row_start > row_limit) {
      const size_t row_bytes = buffer_.size() - row_start;
      buffer_.resize(row_start);
      throw RowError(largest_column, static_cast<int64_t>(r),
                     RowTooLargeForRedoLog(row_bytes, target_.columns[largest_column].name,
                                           largest, redo_log_bytes_),
                     DescribeRowKey(batch, r, target_));
    }
  }
  const uint64_t loaded = conn_.LoadDataFromMemory(load_sql_, buffer_, what);
  if (mysql_warning_count(conn_.get()) != 0 || loaded != rows) {
    // Strict mode makes bad values errors and every value was checked before sending, so a
    // warning means something we do not understand: stop rather than keep a changed value.
    std::string text = fmt::format("{}: the server loaded {} of {} rows", what, loaded, rows);
    bool duplicate = false;
    for (auto& w : conn_.Query("SHOW WARNINGS LIMIT 5", what)) {
      text += fmt::format("; {} {}: {}", w[0].value_or(""), w[1].value_or(""), w[2].value_or(""));
      duplicate |= w[1].value_or("") == "1062";  // ER_DUP_ENTRY (LOAD DATA LOCAL skips it)
    }
    if (duplicate) text += fmt::format(": {}", kDuplicateKeyHint);
    throw Error(ErrorKind::kData, text);
  }
  rows_since_commit_ += static_cast<int64_t>(rows);
  if (!segment_ && rows_since_commit_ >= kCommitRows) {
    conn_.Execute("COMMIT; START TRANSACTION", what);
    rows_committed_ += rows_since_commit_;
    rows_since_commit_ = 0;
  }
  if (buffer_.capacity() > (64u << 20)) std::string().swap(buffer_);  // after a huge LOB batch
}

void MyTableWriter::EndLoad() {
  const std::string what = fmt::format("committing the load of MySQL table {}", qualified_);
  conn_.Execute("COMMIT", what);
  in_load_ = false;
  segment_ = false;
  conn_.Execute("SET SESSION foreign_key_checks = 1, unique_checks = 1", what);
}

void MyTableWriter::EndSegment(const SegmentMark& mark) {
  if (!in_load_ || !segment_) {
    throw Error(ErrorKind::kInternal,
                fmt::format("EndSegment without BeginSegment on MySQL table {}", qualified_));
  }
  // The mark goes into the segment's own transaction: on an error the caller's AbortLoad
  // rolls back both.
  conn_.Execute(marks_.InsertSql(mark), fmt::format("marking segment {} of MySQL table {} loaded",
                                                    mark.segment, qualified_));
  EndLoad();
}

int64_t MyTableWriter::AbortLoad() noexcept {
  if (!in_load_) return 0;
  in_load_ = false;
  segment_ = false;  // a segment committed nothing before: rows_committed_ is 0
  // A connection that failed may not take the ROLLBACK; either way the server rolls the open
  // transaction back when the session ends.
  for (const char* sql : {"ROLLBACK", "SET SESSION foreign_key_checks = 1, unique_checks = 1"}) {
    if (mysql_real_query(conn_.get(), sql, std::strlen(sql)) != 0) break;
  }
  if (rows_committed_ == 0 || !started_empty_) return rows_committed_;
  // The chunks committed so far are the only rows of a table that started empty.
  const std::string table = QuoteIdent(target_.schema) + "." + QuoteIdent(target_.name);
  for (const std::string& sql : {"TRUNCATE TABLE " + table, "DELETE FROM " + table}) {
    if (mysql_real_query(conn_.get(), sql.data(), sql.size()) == 0) return 0;
  }
  return rows_committed_;
}

void MyTableWriter::AddPrimaryKey(const TableDef& target) {
  const std::string schema = Schema(target);
  std::string sql = "ALTER TABLE " + QuoteIdent(schema) + "." + QuoteIdent(target.name) +
                    " ADD PRIMARY KEY (";
  for (size_t i = 0; i < target.primary_key.size(); ++i) {
    if (i) sql += ", ";
    sql += QuoteIdent(target.primary_key[i]);
  }
  sql += ")";
  conn_.Execute(sql, fmt::format("adding the primary key ({}) to MySQL table {}.{} after the "
                                 "full load",
                                 fmt::join(target.primary_key, ", "), schema, target.name));
}

}  // namespace ferry::mysql
