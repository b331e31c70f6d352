#include "connectors/postgres/pg_reader.h"

#include <fmt/format.h>

#include <cstring>

#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_partitions.h"
#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

namespace {

struct ReadColumn {
  PgWire wire;
  DmsKind kind;
};

}  // namespace

Storage PgWireStorage(PgWire w) {
  switch (w) {
    case PgWire::kBool:
    case PgWire::kInt2:
    case PgWire::kInt4:
    case PgWire::kInt8:
    case PgWire::kDate:
    case PgWire::kTime:
    case PgWire::kTimestamp:
    case PgWire::kTimestamptz:
      return Storage::kInt;
    case PgWire::kFloat4:
    case PgWire::kFloat8:
      return Storage::kDouble;
    default:
      return Storage::kBytes;
  }
}

void DecodeBinaryField(const CopyField& f, PgWire wire, int index, Batch& batch,
                       const TableDef& table) {
  if (f.length < 0) {
    batch.AppendNull();
    return;
  }
  const size_t len = static_cast<size_t>(f.length);
  const size_t fixed = PgWireFixedSize(wire);
  auto row_error = [&](const std::string& msg) -> RowError {
    const size_t row = batch.rows();
    return RowError(
        index, static_cast<int64_t>(row),
        fmt::format("column {} of {}: {}", table.columns[index].name, table.QualifiedName(), msg),
        DescribeRowKey(batch, row, table));
  };
  if (fixed != 0 && len != fixed) {
    throw Error(ErrorKind::kData,
                fmt::format("malformed binary COPY stream from PostgreSQL: column {} of {} has "
                            "{} bytes, expected {}",
                            table.columns[index].name, table.QualifiedName(), len, fixed));
  }
  // Cell offsets are 32-bit: a row whose values alone pass 4 GB cannot be batched.
  if (batch.arena().size() + len * 2 + 64 > UINT32_MAX) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("row of {} is larger than 4 GB in memory at column {}",
                            table.QualifiedName(), table.columns[index].name));
  }
  const char* d = f.data;
  switch (wire) {
    case PgWire::kBool:
      batch.AppendInt(d[0] != 0);
      return;
    case PgWire::kInt2:
      batch.AppendInt(static_cast<int16_t>(LoadU16(d)));
      return;
    case PgWire::kInt4:
      batch.AppendInt(static_cast<int32_t>(LoadU32(d)));
      return;
    case PgWire::kInt8:
    case PgWire::kTime:
      batch.AppendInt(static_cast<int64_t>(LoadU64(d)));
      return;
    case PgWire::kFloat4: {
      const uint32_t bits = LoadU32(d);
      float v;
      std::memcpy(&v, &bits, 4);
      batch.AppendDouble(v);
      return;
    }
    case PgWire::kFloat8: {
      const uint64_t bits = LoadU64(d);
      double v;
      std::memcpy(&v, &bits, 8);
      batch.AppendDouble(v);
      return;
    }
    case PgWire::kDate:
      batch.AppendInt(DateCellFromPg(static_cast<int32_t>(LoadU32(d))));
      return;
    case PgWire::kTimestamp:
    case PgWire::kTimestamptz: {
      int64_t cell;
      if (!DatetimeCellFromPg(static_cast<int64_t>(LoadU64(d)), &cell)) {
        throw row_error("timestamp beyond year 294246 does not fit Ferry's DATETIME range");
      }
      batch.AppendInt(cell);
      return;
    }
    case PgWire::kNumeric: {
      const size_t start = batch.arena().size();
      if (!DecodeNumeric(d, len, &batch.arena())) {
        batch.arena().resize(start);
        throw row_error("invalid binary numeric value");
      }
      batch.CommitBytes(start);
      return;
    }
    case PgWire::kUuid: {
      const size_t start = batch.arena().size();
      AppendUuidText(d, &batch.arena());
      batch.CommitBytes(start);
      return;
    }
    case PgWire::kJsonb:
      if (len < 1 || d[0] != 1) throw row_error("unknown jsonb binary version");
      batch.AppendBytes(std::string_view(d + 1, len - 1));
      return;
    case PgWire::kBytea:
    case PgWire::kText:
    case PgWire::kJson:
    case PgWire::kOther:
      batch.AppendBytes(std::string_view(d, len));
      return;
  }
}

namespace {

inline void DecodeField(const CopyField& f, const ReadColumn& col, int index, Batch& batch,
                        const TableDef& table) {
  DecodeBinaryField(f, col.wire, index, batch, table);
}

}  // namespace

int64_t PgTableReader::Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) {
  const std::string what = "reading table " + table.QualifiedName();
  if (table.columns.empty()) {
    throw Error(ErrorKind::kSchema, fmt::format("table {} has no columns", table.QualifiedName()));
  }
  // A leaf partition (ScanOptions::partition) is a plain table: read it alone.
  const bool partitioned = options.partition.empty() && IsPartitionedParent(*conn_, table, what);

  std::vector<ReadColumn> cols;
  std::string sql = "COPY (SELECT ";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const ColumnDef& c = table.columns[i];
    std::string cast;
    PgWire wire = ReadWireForColumn(c, &cast);
    const Storage want = StorageOf(c.type.kind);
    if (PgWireStorage(wire) != want) {
      if (want != Storage::kBytes) {
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("column {} of {} ({}) cannot be read as {}", c.name,
                                table.QualifiedName(), c.native_type, DescribeDmsType(c.type)));
      }
      cast = "text";
      wire = PgWire::kText;
    }
    if (i) sql += ", ";
    sql += DoubleQuoteIdent(c.name);
    if (!cast.empty()) sql += "::" + cast;
    cols.push_back(ReadColumn{wire, c.type.kind});
  }
  sql += partitioned ? " FROM " : " FROM ONLY ";
  sql += options.partition.empty()
             ? QuoteQualified(table.schema, table.name)
             : QuoteQualified(
                   options.partition_schema.empty() ? table.schema : options.partition_schema,
                   options.partition);
  if (!options.where.empty()) sql += " WHERE " + options.where;
  sql += ") TO STDOUT (FORMAT binary)";

  BeginReadTransaction(*conn_, options.snapshot, what);
  int64_t total = 0;
  try {
    PgResult copy(PQexec(conn_->get(), sql.c_str()));
    if (PQresultStatus(copy.get()) != PGRES_COPY_OUT) throw conn_->MakeError(what, copy.get());
    copy.reset();

    const int ncols = static_cast<int>(cols.size());
    CopyBinaryParser parser(ncols);
    auto fresh_batch = [&] {
      Batch b(ncols);
      b.Reserve(options.batch_rows, std::min<size_t>(options.batch_bytes, 1u << 20));
      return b;
    };
    Batch batch = fresh_batch();
    bool stopped = false;
    for (;;) {
      char* buf = nullptr;
      const int n = PQgetCopyData(conn_->get(), &buf, 0);
      if (n == -1) break;
      if (n < 0) throw conn_->MakeError(what, nullptr);
      // The parser reads the message in place until it asks for more, so it is freed after.
      std::unique_ptr<char, decltype(&PQfreemem)> message(buf, &PQfreemem);
      parser.Feed(buf, static_cast<size_t>(n));
      while (parser.Next() == CopyBinaryParser::Status::kTuple) {
        const CopyField* fields = parser.fields();
        try {
          for (int i = 0; i < ncols; ++i) DecodeField(fields[i], cols[i], i, batch, table);
        } catch (const RowError& e) {
          const size_t at = batch.rows();  // the half-read row
          RowError named(e.column, static_cast<int64_t>(at), e.what(),
                         e.row_key.empty() ? DescribeRowKey(batch, at, table) : e.row_key);
          batch.TruncateToRows(at);
          if (!sink.SkipRow(named)) throw named;
          continue;
        }
        ++total;
        if (batch.rows() >= options.batch_rows || batch.ByteSize() >= options.batch_bytes) {
          const bool more = sink.Push(std::move(batch));
          batch = Batch(ncols);  // the pushed one is gone, whatever happens next
          if (!more) {
            stopped = true;
            break;
          }
          batch = fresh_batch();
        }
      }
      if (stopped) break;
    }
    if (stopped) {
      conn_->ResetAfterFailedCopy();
      return total;
    }
    // The server's verdict first: a connection terminated mid-COPY ends the stream inside a
    // tuple, and must surface as the connection error it is (retried), not as bad data.
    PgResult end(PQgetResult(conn_->get()));
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK) throw conn_->MakeError(what, end.get());
    parser.Finish();
    while (PGresult* extra = PQgetResult(conn_->get())) PQclear(extra);
    if (!batch.empty() && !sink.Push(std::move(batch))) {
      conn_->Exec("COMMIT", what);
      return total;
    }
  } catch (...) {
    conn_->ResetAfterFailedCopy();
    throw;
  }
  conn_->Exec("COMMIT", what);
  return total;
}

}  // namespace ferry::postgres
