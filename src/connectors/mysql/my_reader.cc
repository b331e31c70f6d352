#include "connectors/mysql/my_reader.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include "connectors/mysql/my_cdc_snapshot.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_value_text.h"
#include "types/value_codec.h"

namespace ferry::mysql {

int64_t MyTableReader::Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) {
  const std::string name = table.QualifiedName();
  const int ncols = static_cast<int>(table.columns.size());
  std::vector<ReadColumn> plan(ncols);
  // Floats go through CAST(... AS DOUBLE): the text protocol prints a float with 6
  // significant digits (3.40282e38), the double cast prints the float's exact value.
  // bit columns come raw: big-endian bytes, (n+7)/8 of them, which is the BYTES encoding.
  std::string sql = "SELECT ";
  for (int i = 0; i < ncols; ++i) {
    const ColumnDef& c = table.columns[i];
    plan[i].kind = c.type.kind;
    plan[i].base = ParseNativeType(c.native_type).base;
    if (i) sql += ", ";
    if (plan[i].base == MyBase::kFloat) {
      sql += "CAST(" + QuoteIdent(c.name) + " AS DOUBLE)";
    } else {
      sql += QuoteIdent(c.name);
    }
  }
  if (ncols == 0) sql += "1";
  sql += " FROM " + QuoteIdent(table.schema) + "." + QuoteIdent(table.name);
  if (!options.partition.empty()) sql += " PARTITION (" + QuoteIdent(options.partition) + ")";
  if (!options.where.empty()) sql += " WHERE " + options.where;

  if (!conn_) {
    const std::string none;
    conn_ = std::make_unique<MyConnection>(uri_, &none);
  }
  const std::string what = fmt::format("reading MySQL table {}", name);
  // Inside the transaction JoinSnapshot started, or a fresh one.
  const bool joined = !options.snapshot.empty() && options.snapshot == joined_snapshot_;
  joined_snapshot_.clear();
  if (!joined) {
    conn_->Execute(
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        what);
  }
  MyResult res = conn_->QueryStreaming(sql, what);

  // Any exit other than the end of the rows leaves the result unread: close the connection.
  struct DropOnExit {
    std::unique_ptr<MyConnection>* conn;
    MyResult* res;
    bool armed = true;
    ~DropOnExit() {
      if (!armed) return;
      // mysql_free_result would read every remaining row first; shutting the socket down
      // makes that read end at once, then the connection is closed and reopened next scan.
      if (*conn) ::shutdown(mysql_get_socket((*conn)->get()), SHUT_RDWR);
      res->Reset();
      conn->reset();
    }
  } drop{&conn_, &res};

  int64_t total = 0;
  Batch batch(ncols);
  batch.Reserve(options.batch_rows, std::min<size_t>(options.batch_bytes, 1u << 20));
  MYSQL_RES* r = res.get();
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    const unsigned long* lengths = mysql_fetch_lengths(r);
    try {
      for (int i = 0; i < ncols; ++i) {
        if (!row[i]) {
          batch.AppendNull();
          continue;
        }
        const std::string_view text(row[i], lengths[i]);
        switch (AppendFieldValue(plan[i], text, &batch)) {
          case ReadStatus::kOk:
            break;
          case ReadStatus::kZeroDate: {
            const ColumnDef& c = table.columns[i];
            std::string why;
            if (zero_dates_.mode == ZeroDates::Mode::kRefuse) {
              why = "the MySQL source's zero_dates=refuse refuses zero dates (zero_dates=null reads "
                    "them as NULL, zero_dates=YYYY-MM-DD as that date)";
            } else if (zero_dates_.mode == ZeroDates::Mode::kNull && !c.nullable) {
              why = "a zero date reads as NULL (the MySQL source's zero_dates=null) and the column "
                    "is NOT NULL: set zero_dates to a date to read it as (e.g. "
                    "zero_dates=0001-01-01) or to refuse";
            }
            if (!why.empty()) {
              const size_t at = batch.rows();
              batch.AppendNull();  // DescribeRowKey reads the row's cells up to here
              std::string key = DescribeRowKey(batch, at, table);
              batch.TruncateToRows(at);
              throw RowError(i, static_cast<int64_t>(at),
                             fmt::format("MySQL table {} column `{}` ({}{}): zero date '{}': {}",
                                         name, c.name, c.native_type,
                                         c.nullable ? "" : " NOT NULL", text, why),
                             std::move(key));
            }
            if (zero_dates_.mode == ZeroDates::Mode::kReplace) {
              batch.AppendInt(plan[i].kind == DmsKind::kDate ? zero_dates_.days
                                                             : zero_dates_.days * kMicrosPerDay);
              sink.Warning(i, fmt::format("zero date '{}' read as {} (MySQL source zero_dates={})",
                                          text, zero_dates_.text, zero_dates_.text));
            } else {
              batch.AppendNull();
              sink.Warning(i, fmt::format("zero date '{}' read as NULL (MySQL source "
                                          "zero_dates=null)",
                                          text));
            }
            break;
          }
          case ReadStatus::kBad: {
            const size_t at = batch.rows();  // the half-written row
            std::string key = DescribeRowKey(batch, at, table);
            batch.TruncateToRows(at);
            throw RowError(i, static_cast<int64_t>(at),
                           fmt::format("MySQL table {} column `{}` ({}): cannot read value '{}' "
                                       "as {}",
                                       name, table.columns[i].name, table.columns[i].native_type,
                                       text.substr(0, 64), DescribeDmsType(table.columns[i].type)),
                           std::move(key));
          }
        }
      }
    } catch (const RowError& e) {
      batch.TruncateToRows(batch.rows());  // the half-read row
      if (!sink.SkipRow(e)) throw;
      continue;
    }
    ++total;
    if (batch.rows() >= options.batch_rows || batch.ByteSize() >= options.batch_bytes) {
      if (!sink.Push(std::move(batch))) return total;  // cancelled downstream
      batch = Batch(ncols);
      batch.Reserve(options.batch_rows, std::min<size_t>(options.batch_bytes, 1u << 20));
    }
  }
  if (mysql_errno(conn_->get()) != 0) conn_->ThrowLastError(what);
  if (!batch.empty() && !sink.Push(std::move(batch))) return total;
  drop.armed = false;
  res.Reset();
  conn_->Execute("COMMIT", what);
  return total;
}

void MyTableReader::JoinSnapshot(const SourceSnapshot& snapshot) {
  if (!conn_) {
    const std::string none;
    conn_ = std::make_unique<MyConnection>(uri_, &none);
  }
  joined_snapshot_.clear();
  conn_->Execute(
      "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
      "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
      "joining snapshot " + snapshot.id());
  // A CDC handoff's table snapshot learns where this transaction stands in the binlog.
  JoinMyTableSnapshot(snapshot, *conn_);
  joined_snapshot_ = snapshot.id();
}

}  // namespace ferry::mysql
