#include "connectors/sqlite/sqlite_writer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "connectors/sqlite/sqlite_types.h"
#include "types/utf8.h"
#include "types/value_codec.h"

namespace ferry::sqlite {

namespace {

bool IsIntKind(DmsKind k) {
  return k == DmsKind::kInt1 || k == DmsKind::kInt2 || k == DmsKind::kInt4 ||
         k == DmsKind::kInt8 || k == DmsKind::kUint1 || k == DmsKind::kUint2 ||
         k == DmsKind::kUint4 || k == DmsKind::kUint8 || k == DmsKind::kBoolean;
}

std::string ShortValue(const Batch& batch, size_t row, int col, const DmsType& type) {
  std::string v;
  AppendCanonical(batch, row, col, type, &v);
  if (IsBinary(type.kind)) return fmt::format("binary value of {} bytes", v.size());
  if (StorageOf(type.kind) != Storage::kBytes) return v;
  if (v.size() > 64) {
    size_t cut = 64;
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;
    return "'" + v.substr(0, cut) + "...' (" + std::to_string(v.size()) + " bytes)";
  }
  return "'" + v + "'";
}

}  // namespace

ColumnPlan MakeColumnPlan(const TableDef& target, int c, int rowid_col) {
  const ColumnDef& col = target.columns[c];
  ColumnPlan p;
  p.in = col.type;
  p.target = DmsTypeFromDeclared(col.native_type);
  p.affinity = AffinityOf(col.native_type);
  p.not_null = !col.nullable || c == rowid_col;
  const DmsKind in = p.in.kind;
  const DmsKind tk = p.target.kind;
  p.uint8_as_text = in == DmsKind::kUint8 && p.affinity == Affinity::kText;
  if (IsIntKind(in) && IsIntKind(tk) && tk != DmsKind::kUint8) {
    int64_t lo = 0, hi = 0;
    if (SignedRange(tk, &lo, &hi)) {
      p.tmin = lo;
      p.tmax = static_cast<uint64_t>(hi);
    } else {
      p.tmin = 0;
      p.tmax = std::min<uint64_t>(UnsignedMax(tk), INT64_MAX);
    }
    p.check_int_range = true;
  } else if (in == DmsKind::kUint8 && !p.uint8_as_text) {
    p.check_int_range = true;  // above INT64_MAX it cannot be an SQLite integer
    p.tmin = 0;
    p.tmax = INT64_MAX;
  }
  p.check_decimal = in == DmsKind::kNumeric && tk == DmsKind::kNumeric &&
                    p.target.precision > 0 && p.target.scale >= 0 &&
                    !(p.in.precision > 0 && p.in.precision - p.in.scale <=
                                                p.target.precision - p.target.scale &&
                      p.in.scale <= p.target.scale && p.in.scale >= 0);
  p.check_length = ((IsText(in) && (tk == DmsKind::kString || tk == DmsKind::kWstring)) ||
                    (IsBinary(in) && tk == DmsKind::kBytes)) &&
                   p.target.length > 0 && (p.in.length == 0 || p.in.length > p.target.length);
  p.check_float = in == DmsKind::kReal8 && tk == DmsKind::kReal4;
  return p;
}

bool NeedsCheck(const ColumnPlan& p) {
  const bool real = StorageOf(p.in.kind) == Storage::kDouble;
  return p.not_null || p.check_int_range || p.check_decimal || p.check_length || real;
}

void CheckCell(const ColumnPlan& p, const TableDef& target, const Batch& batch, size_t r, int c) {
  const bool real = StorageOf(p.in.kind) == Storage::kDouble;
  const std::string& name = target.columns[c].name;
  auto fail = [&](size_t row, const std::string& why) {
    throw RowError(c, static_cast<int64_t>(row),
                   fmt::format("column \"{}\" ({} into SQLite '{}'): {}", name,
                               DescribeDmsType(p.in), target.columns[c].native_type, why),
                   DescribeRowKey(batch, row, target));
  };
  const Cell& cell = batch.at(r, c);
  if (cell.null) {
    if (p.not_null) fail(r, "NULL in a NOT NULL column");
    return;
  }
  if (p.check_int_range) {
    const Storage s = StorageOf(p.in.kind);
    const bool ok = s == Storage::kUint
                        ? cell.u <= p.tmax
                        : cell.i >= p.tmin && (cell.i < 0 || static_cast<uint64_t>(cell.i) <=
                                                                  p.tmax);
    if (!ok) {
      fail(r, fmt::format("value {} is out of range for the column",
                          ShortValue(batch, r, c, p.in)));
    }
  }
  if (real) {
    if (std::isnan(cell.d)) {
      fail(r, "NaN cannot be stored: SQLite stores NaN as NULL");
    }
    if (p.check_float && static_cast<double>(static_cast<float>(cell.d)) != cell.d) {
      fail(r, fmt::format("value {} is not exactly a 4-byte float", FormatDouble(cell.d)));
    }
  }
  if (p.check_decimal) {
    std::string_view v = batch.Bytes(r, c);
    if (v != "NaN" && v != "Infinity" && v != "-Infinity") {
      int int_digits, frac_digits;
      DecimalDigits(v, &int_digits, &frac_digits);
      if (frac_digits > p.target.scale ||
          int_digits > p.target.precision - p.target.scale) {
        fail(r, fmt::format("value {} does not fit {}", ShortValue(batch, r, c, p.in),
                            DescribeDmsType(p.target)));
      }
    }
  }
  if (p.check_length) {
    std::string_view v = batch.Bytes(r, c);
    const bool fits = IsBinary(p.in.kind) ? static_cast<int64_t>(v.size()) <= p.target.length
                                           : Utf8FitsLength(v, p.target.length);
    if (!fits) {
      fail(r, fmt::format("value {} is longer than {}", ShortValue(batch, r, c, p.in),
                          p.target.length));
    }
  }
}

void BindCell(sqlite3_stmt* st, int idx, const ColumnPlan& p, const Batch& batch, size_t r, int c,
              std::string* scratch) {
  const Cell& cell = batch.at(r, c);
  if (cell.null) {
    sqlite3_bind_null(st, idx);
    return;
  }
  switch (p.in.kind) {
    case DmsKind::kDate:
    case DmsKind::kTime:
    case DmsKind::kDatetime: {
      std::string& s = *scratch;
      s.clear();
      if (p.in.kind == DmsKind::kDate) {
        AppendDate(cell.i, &s);
      } else if (p.in.kind == DmsKind::kTime) {
        AppendTime(cell.i, &s);
      } else {
        AppendDatetime(cell.i, &s);
      }
      sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
      break;
    }
    case DmsKind::kUint8:
      if (p.uint8_as_text) {
        std::string& s = *scratch;
        s.resize(24);
        auto res = std::to_chars(s.data(), s.data() + s.size(), cell.u);
        sqlite3_bind_text(st, idx, s.data(), static_cast<int>(res.ptr - s.data()),
                          SQLITE_STATIC);
      } else {
        sqlite3_bind_int64(st, idx, static_cast<int64_t>(cell.u));
      }
      break;
    case DmsKind::kUint1:
    case DmsKind::kUint2:
    case DmsKind::kUint4:
      sqlite3_bind_int64(st, idx, static_cast<int64_t>(cell.u));
      break;
    case DmsKind::kReal4:
    case DmsKind::kReal8:
      sqlite3_bind_double(st, idx, cell.d);
      break;
    case DmsKind::kBytes:
    case DmsKind::kBlob:
      sqlite3_bind_blob64(st, idx, batch.Bytes(r, c).data(), cell.s.length, SQLITE_STATIC);
      break;
    case DmsKind::kNumeric:
    case DmsKind::kString:
    case DmsKind::kWstring:
    case DmsKind::kClob:
    case DmsKind::kNclob:
      sqlite3_bind_text64(st, idx, batch.Bytes(r, c).data(), cell.s.length, SQLITE_STATIC,
                          SQLITE_UTF8);
      break;
    case DmsKind::kEngineValue: {
      // A SQLite source's value as stored: bound with its own storage class.
      StoredValue v;
      const std::string_view encoded = batch.Bytes(r, c);
      if (!DecodeStoredValue(encoded, &v)) {
        throw Error(ErrorKind::kInternal,
                    "a value for a SQLite -> SQLite copy is not a stored SQLite value");
      }
      switch (v.tag) {
        case ValueTag::kInteger:
          sqlite3_bind_int64(st, idx, v.integer);
          break;
        case ValueTag::kReal:
          sqlite3_bind_double(st, idx, v.real);
          break;
        case ValueTag::kText:
          sqlite3_bind_text64(st, idx, v.bytes.data(), v.bytes.size(), SQLITE_STATIC,
                              SQLITE_UTF8);
          break;
        case ValueTag::kBlob:
          sqlite3_bind_blob64(st, idx, v.bytes.data(), v.bytes.size(), SQLITE_STATIC);
          break;
      }
      break;
    }
    default:  // BOOLEAN and the signed integers
      sqlite3_bind_int64(st, idx, cell.i);
      break;
  }
}

SqliteTableWriter::SqliteTableWriter(const std::string& path)
    : conn_(path, Connection::Mode::kReadWrite),
      marks_(DialectFor(Engine::kSqlite),
             SqlSegmentMarks::Session{
                 [this](const std::string& sql, const std::string& what) {
                   try {
                     ExecWrite(sql);
                   } catch (const Error& e) {
                     throw Error(e.kind(), fmt::format("{} in SQLite database '{}': {}", what,
                                                       conn_.path(), e.what()));
                   }
                 },
                 [this](const std::string& sql, const std::string& what) {
                   SqlSegmentMarks::Rows rows;
                   try {
                     Statement st(conn_, sql);
                     const int columns = sqlite3_column_count(st.get());
                     while (st.Step()) {
                       auto& row = rows.emplace_back();
                       for (int c = 0; c < columns; ++c) {
                         row.push_back(st.ColumnIsNull(c)
                                           ? std::nullopt
                                           : std::optional<std::string>(st.ColumnText(c)));
                       }
                     }
                   } catch (const Error& e) {
                     throw Error(e.kind(), fmt::format("{} in SQLite database '{}': {}", what,
                                                       conn_.path(), e.what()));
                   }
                   return rows;
                 },
                 [this](const std::string& schema, const std::string& table) {
                   return TableExists(schema, table);
                 }}) {
  const char* abs = sqlite3_db_filename(conn_.get(), "main");
  lock_ = FileWriteLock::For(abs && *abs ? abs : path);
  // WAL: readers and the writer do not block each other; NORMAL is safe with WAL (see header).
  // Switching the journal mode needs the file to itself and SQLite does not wait for it (no
  // busy handler): several writers opening one new file at once would fail with "database is
  // locked". Take this process's turn on the file, and retry while another process holds it.
  lock_->Lock();
  int rc = SQLITE_BUSY;
  for (int attempt = 0; attempt < 400 && rc != SQLITE_OK; ++attempt) {
    try {
      rc = conn_.ExecBusyAware("PRAGMA journal_mode=WAL");
    } catch (...) {
      lock_->Unlock();
      throw;
    }
    if (rc != SQLITE_OK) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  lock_->Unlock();
  if (rc != SQLITE_OK) conn_.Exec("PRAGMA journal_mode=WAL");  // still busy after 10 s: report
  conn_.Exec("PRAGMA synchronous=NORMAL");
  conn_.Exec("PRAGMA cache_size=-65536");  // 64 MiB: index b-trees of big loads stay cached
}

SqliteTableWriter::~SqliteTableWriter() { AbortLoad(); }

void SqliteTableWriter::BeginWrite() {
  lock_->Lock();
  try {
    conn_.BeginImmediate(kLockWaitSeconds);
  } catch (...) {
    lock_->Unlock();
    throw;
  }
  in_txn_ = true;
}

void SqliteTableWriter::CommitWrite() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLockWaitSeconds);
  while (conn_.ExecBusyAware("COMMIT") != SQLITE_OK) {
    if (std::chrono::steady_clock::now() > deadline) {
      RollbackWrite();
      throw Error(ErrorKind::kConnection,
                  fmt::format("could not commit to SQLite database '{}': still busy after {} "
                              "seconds",
                              conn_.path(), kLockWaitSeconds));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  in_txn_ = false;
  rows_in_txn_ = 0;
  bytes_in_txn_ = 0;
  lock_->Unlock();
}

void SqliteTableWriter::RollbackWrite() noexcept {
  if (!in_txn_) return;
  sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  in_txn_ = false;
  rows_in_txn_ = 0;
  bytes_in_txn_ = 0;
  lock_->Unlock();
}

bool SqliteTableWriter::TableExists(const std::string& schema, const std::string& name) {
  return conn_.QueryInt("SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND "
                        "name = " + QuoteLiteral(name) + " COLLATE NOCASE") > 0;
}

void SqliteTableWriter::PrepareTable(const TableDef& target, TablePrepMode mode) {
  if (in_txn_) {
    throw Error(ErrorKind::kInternal, "PrepareTable called during a load");
  }
  SqliteDialect dialect;
  const std::string table = "main." + DoubleQuoteIdent(target.name);
  BeginWrite();
  try {
    const bool exists = TableExists(target.schema, target.name);
    auto create = [&] {
      for (const std::string& sql : dialect.CreateTableSql(target)) {
        try {
          conn_.Exec(sql);
        } catch (const Error& e) {
          throw Error(ErrorKind::kSchema,
                      fmt::format("cannot create table {} in SQLite database '{}': {}",
                                  target.QualifiedName(), conn_.path(), e.what()));
        }
      }
    };
    switch (mode) {
      case TablePrepMode::kDoNothing:
        if (!exists) create();
        break;
      case TablePrepMode::kDropAndCreate:
        if (exists) conn_.Exec("DROP TABLE " + table);
        create();
        break;
      case TablePrepMode::kTruncateBeforeLoad:
        if (exists) {
          conn_.Exec("DELETE FROM " + table);
        } else {
          create();
        }
        break;
    }
    CommitWrite();
  } catch (...) {
    RollbackWrite();
    throw;
  }
}

void SqliteTableWriter::ExecWrite(const std::string& sql) {
  if (in_txn_ || insert_) throw Error(ErrorKind::kInternal, "ExecWrite called during a load");
  BeginWrite();
  try {
    conn_.Exec(sql);
    CommitWrite();
  } catch (...) {
    RollbackWrite();
    throw;
  }
}

void SqliteTableWriter::BeginLoad(const TableDef& target) { Begin(target, false); }

void SqliteTableWriter::BeginSegment(const TableDef& target) { Begin(target, true); }

void SqliteTableWriter::Begin(const TableDef& target, bool segment) {
  if (in_txn_) throw Error(ErrorKind::kInternal, "BeginLoad called during a load");
  target_ = target;
  const int n = static_cast<int>(target.columns.size());
  if (n == 0) {
    throw Error(ErrorKind::kSchema,
                fmt::format("table {} has no columns to load", target.QualifiedName()));
  }
  const int rowid_col = RowidAliasColumn(target);
  plans_.assign(n, ColumnPlan{});
  scratch_.assign(n, std::string());
  std::string sql = "INSERT INTO main." + DoubleQuoteIdent(target.name) + " (";
  std::string values;
  for (int c = 0; c < n; ++c) {
    const ColumnDef& col = target.columns[c];
    plans_[c] = MakeColumnPlan(target, c, rowid_col);
    if (c) {
      sql += ", ";
      values += ", ";
    }
    sql += DoubleQuoteIdent(col.name);
    values += "?";
  }
  sql += ") VALUES (" + values + ")";
  insert_ = std::make_unique<Statement>(conn_, sql);
  segment_ = segment;
  if (!segment) BeginWrite();  // a segment takes the write lock at its first row
  started_empty_ = conn_.QueryInt("SELECT NOT EXISTS (SELECT 1 FROM main." +
                                  DoubleQuoteIdent(target.name) + ")") == 1;
  rows_committed_ = 0;
}

void SqliteTableWriter::CheckBatch(const Batch& batch) const {
  const size_t rows = batch.rows();
  const int n = static_cast<int>(plans_.size());
  for (int c = 0; c < n; ++c) {
    const ColumnPlan& p = plans_[c];
    if (!NeedsCheck(p)) continue;
    for (size_t r = 0; r < rows; ++r) CheckCell(p, target_, batch, r, c);
  }
}

void SqliteTableWriter::InsertBatch(const Batch& batch) {
  sqlite3_stmt* st = insert_->get();
  const size_t rows = batch.rows();
  const int n = static_cast<int>(plans_.size());
  for (size_t r = 0; r < rows; ++r) {
    for (int c = 0; c < n; ++c) {
      BindCell(st, c + 1, plans_[c], batch, r, c, &scratch_[c]);
    }
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
      std::string msg = sqlite3_errmsg(conn_.get());
      if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        // "UNIQUE constraint failed: t.a, t.b": point at the first column named.
        int col = 0;
        size_t colon = msg.find(": ");
        if (colon != std::string::npos) {
          std::string rest = msg.substr(colon + 2);
          size_t dot = rest.find('.');
          size_t end = rest.find(',');
          if (dot != std::string::npos) {
            int found = target_.ColumnIndex(rest.substr(dot + 1, end == std::string::npos
                                                                    ? std::string::npos
                                                                    : end - dot - 1));
            if (found >= 0) col = found;
          }
        }
        const bool duplicate = msg.starts_with("UNIQUE constraint failed");
        throw RowError(col, static_cast<int64_t>(r),
                       fmt::format("SQLite refused the row: {}{}{}", msg,
                                   duplicate ? ": " : "", duplicate ? kDuplicateKeyHint : ""),
                       DescribeRowKey(batch, r, target_));
      }
      ThrowSqliteError(conn_.get(), rc,
                       fmt::format("inserting into {}", target_.QualifiedName()));
    }
  }
  sqlite3_clear_bindings(st);
}

void SqliteTableWriter::Write(const Batch& batch) {
  if (!insert_ || (!in_txn_ && !segment_)) {
    throw Error(ErrorKind::kInternal, "Write called outside a load");
  }
  if (batch.columns() != static_cast<int>(plans_.size())) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch for {} has {} columns, the table {}", target_.QualifiedName(),
                            batch.columns(), plans_.size()));
  }
  if (batch.empty()) return;
  CheckBatch(batch);
  if (!in_txn_) BeginWrite();  // a segment's first rows
  // A savepoint per batch: a row refused half-way leaves none of the batch behind.
  conn_.Exec("SAVEPOINT ferry_batch");
  try {
    InsertBatch(batch);
  } catch (...) {
    sqlite3_clear_bindings(insert_->get());
    sqlite3_exec(conn_.get(), "ROLLBACK TO ferry_batch; RELEASE ferry_batch", nullptr, nullptr,
                 nullptr);
    throw;
  }
  conn_.Exec("RELEASE ferry_batch");
  rows_in_txn_ += static_cast<int64_t>(batch.rows());
  bytes_in_txn_ += static_cast<int64_t>(batch.ByteSize());
  if (!segment_ && (rows_in_txn_ >= kCommitRows || bytes_in_txn_ >= kCommitBytes)) {
    const int64_t rows = rows_in_txn_;
    CommitWrite();
    rows_committed_ += rows;
    BeginWrite();
  }
}

void SqliteTableWriter::EndLoad() {
  if (in_txn_) CommitWrite();
  insert_.reset();
  rows_committed_ = 0;
  segment_ = false;
}

void SqliteTableWriter::EndSegment(const SegmentMark& mark) {
  if (!insert_ || !segment_) {
    throw Error(ErrorKind::kInternal,
                "EndSegment without BeginSegment on " + target_.QualifiedName());
  }
  if (!in_txn_) BeginWrite();  // a segment without rows still gets its mark
  try {
    conn_.Exec(marks_.InsertSql(mark));
  } catch (const Error& e) {
    throw Error(e.kind(),
                fmt::format("marking segment {} of table {} loaded in SQLite "
                            "database '{}': {}",
                            mark.segment, target_.QualifiedName(), conn_.path(), e.what()));
  }
  EndLoad();
}

int64_t SqliteTableWriter::AbortLoad() noexcept {
  RollbackWrite();
  insert_.reset();
  segment_ = false;  // a segment committed nothing before: rows_committed_ is 0
  const int64_t committed = rows_committed_;
  rows_committed_ = 0;
  if (committed == 0 || !started_empty_) return committed;
  // The chunks committed so far are the only rows of a table that started empty.
  try {
    BeginWrite();
    conn_.Exec("DELETE FROM main." + DoubleQuoteIdent(target_.name));
    CommitWrite();
    return 0;
  } catch (...) {
    RollbackWrite();
    return committed;
  }
}

void SqliteTableWriter::AddPrimaryKey(const TableDef& target) {
  // SQLite has no ALTER TABLE ... ADD PRIMARY KEY: a unique index enforces the same key.
  const std::string index = target.name + "_pkey";
  std::string sql = "CREATE UNIQUE INDEX main." + DoubleQuoteIdent(index) + " ON " +
                    DoubleQuoteIdent(target.name) + " (";
  for (size_t i = 0; i < target.primary_key.size(); ++i) {
    if (i) sql += ", ";
    sql += DoubleQuoteIdent(target.primary_key[i]);
  }
  sql += ")";
  spdlog::info("table {}: SQLite cannot add a primary key to an existing table; creating the "
               "unique index {} on ({}) instead",
               target.QualifiedName(), index, fmt::join(target.primary_key, ", "));
  BeginWrite();
  try {
    conn_.Exec(sql);
    CommitWrite();
  } catch (const Error& e) {
    RollbackWrite();
    throw Error(e.kind(), fmt::format("adding the key ({}) of table {} in SQLite database '{}' "
                                      "after the full load: {}",
                                      fmt::join(target.primary_key, ", "),
                                      target.QualifiedName(), conn_.path(), e.what()));
  }
}

}  // namespace ferry::sqlite
