#include "connectors/sqlite/sqlite_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "connectors/sqlite/sqlite_types.h"

namespace ferry::sqlite {

namespace {

// "(id=42, k='a')" from the statement's current row, for errors raised mid-row.
std::string RowKeyOf(sqlite3_stmt* st, const TableDef& table) {
  std::vector<std::string> key = table.RowKey();
  if (key.empty()) return {};
  std::string out = "(";
  for (size_t k = 0; k < key.size(); ++k) {
    if (k) out += ", ";
    out += key[k] + "=";
    const int c = table.ColumnIndex(key[k]);
    const int storage = c < 0 ? SQLITE_NULL : sqlite3_column_type(st, c);
    if (storage == SQLITE_NULL) {
      out += "NULL";
    } else if (storage == SQLITE_INTEGER || storage == SQLITE_FLOAT) {
      out += reinterpret_cast<const char*>(sqlite3_column_text(st, c));
    } else {
      std::string v(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                    static_cast<size_t>(sqlite3_column_bytes(st, c)));
      if (v.size() > 64) v = v.substr(0, 64) + "...";
      out += "'" + v + "'";
    }
  }
  return out + ")";
}

// Rolls back the read transaction unless it was committed.
class ReadTransaction {
 public:
  // `joined`: the transaction of a snapshot the reader joined is already open and stays so.
  ReadTransaction(Connection& conn, bool joined) : conn_(conn), open_(!joined) {
    if (open_) conn_.Exec("BEGIN DEFERRED");
  }
  ~ReadTransaction() {
    if (open_) sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void Commit() {
    if (!open_) return;
    open_ = false;
    conn_.Exec("COMMIT");
  }

 private:
  Connection& conn_;
  bool open_ = true;
};

}  // namespace

SqliteTableReader::SqliteTableReader(const std::string& path, DatetimeNumbers numbers)
    : conn_(path, Connection::Mode::kReadOnly), numbers_(numbers) {}

void SqliteTableReader::JoinSnapshot(const SourceSnapshot& snapshot) {
  LeaveSnapshot();
  conn_.Exec("BEGIN DEFERRED");
  try {
    // A deferred transaction takes its view of the file at its first read.
    conn_.QueryInt("SELECT count(*) FROM sqlite_master");
  } catch (...) {
    sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  joined_ = snapshot.id();
}

void SqliteTableReader::LeaveSnapshot() {
  if (joined_.empty()) return;
  joined_.clear();
  sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

int64_t SqliteTableReader::Scan(const TableDef& table, const ScanOptions& options,
                                BatchSink& sink) {
  const int ncols = static_cast<int>(table.columns.size());
  if (ncols == 0) {
    throw Error(ErrorKind::kSchema,
                fmt::format("table {} has no columns to read", table.QualifiedName()));
  }
  std::vector<ReadPlan> plans(ncols);
  std::string sql = "SELECT ";
  for (int c = 0; c < ncols; ++c) {
    const ColumnDef& col = table.columns[c];
    plans[c] = PlanRead(col, numbers_);
    if (c) sql += ", ";
    sql += DoubleQuoteIdent(col.name);
  }
  sql += " FROM main." + DoubleQuoteIdent(table.name);
  if (!options.where.empty()) sql += " WHERE " + options.where;

  const bool joined = !options.snapshot.empty() && options.snapshot == joined_;
  if (!joined) LeaveSnapshot();
  ReadTransaction txn(conn_, joined);
  Statement stmt(conn_, sql);
  sqlite3_stmt* st = stmt.get();
  const size_t batch_rows = options.batch_rows ? options.batch_rows : 10000;
  auto new_batch = [&] {
    Batch b(ncols);
    b.Reserve(batch_rows, std::min<size_t>(options.batch_bytes, 1u << 20));
    return b;
  };
  Batch batch = new_batch();
  int64_t total = 0;
  while (stmt.Step()) {
    bool skipped = false;  // a value of this row was refused and the row left out
    for (int c = 0; c < ncols; ++c) {
      const int storage = sqlite3_column_type(st, c);
      if (storage == SQLITE_NULL) {
        batch.AppendNull();
        continue;
      }
      const char* why = ReadValue(st, c, storage, plans[c], batch);
      if (why) {
        const int64_t row = static_cast<int64_t>(batch.rows());
        std::string message = fmt::format(
            "column \"{}\" ({} declared {}): {} {}", table.columns[c].name,
            DescribeDmsType(plans[c].type),
            table.columns[c].native_type.empty() ? "without a type"
                                                 : "'" + table.columns[c].native_type + "'",
            DescribeStoredValue(st, c, storage), why);
        std::string key = RowKeyOf(st, table);
        RowError error(c, row, std::move(message), std::move(key));
        batch.TruncateToRows(batch.rows());  // the half-read row
        if (!sink.SkipRow(error)) throw error;
        skipped = true;
        break;
      }
      if ((storage == SQLITE_INTEGER || storage == SQLITE_FLOAT) &&
          !plans[c].integer_warning.empty()) {
        sink.Warning(c, storage == SQLITE_INTEGER ? plans[c].integer_warning
                                                  : plans[c].real_warning);
      }
    }
    if (skipped) continue;
    ++total;
    if (batch.rows() >= batch_rows || batch.ByteSize() >= options.batch_bytes) {
      if (!sink.Push(std::move(batch))) return total;
      batch = new_batch();
    }
  }
  if (!batch.empty() && !sink.Push(std::move(batch))) return total;
  txn.Commit();
  return total;
}

}  // namespace ferry::sqlite
