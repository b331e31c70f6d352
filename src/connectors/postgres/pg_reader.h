// TableReader for PostgreSQL: one binary COPY of a SELECT per table, decoded incrementally
// into batches inside a REPEATABLE READ READ ONLY transaction.
#pragma once

#include <memory>

#include "connectors/connector.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

// Where a binary value of wire form `w` lands in a cell (bool, ints, dates and times kInt;
// floats kDouble; everything else kBytes). The reader falls back to ::text when this differs
// from the column's StorageOf.
Storage PgWireStorage(PgWire w);

// Decodes one binary field (PostgreSQL's send form of `wire`; length -1 = NULL) into `batch`
// as column `index` of `table` (for messages). Shared by the reader and change capture.
// Throws Error(kData) for a fixed-size value of the wrong length, RowError when the value has
// no representation in Ferry's encoding, Error(kUnsupported) past 4 GB of arena.
void DecodeBinaryField(const CopyField& f, PgWire wire, int index, Batch& batch,
                       const TableDef& table);

class PgTableReader : public TableReader {
 public:
  explicit PgTableReader(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  int64_t Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) override;

 private:
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace ferry::postgres
