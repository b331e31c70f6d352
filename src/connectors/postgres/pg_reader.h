// TableReader for PostgreSQL: one binary COPY of a SELECT per table, decoded incrementally
// into batches inside a REPEATABLE READ READ ONLY transaction.
#pragma once

#include <memory>

#include "connectors/connector.h"
#include "connectors/postgres/pg_connection.h"

namespace ferry::postgres {

class PgTableReader : public TableReader {
 public:
  explicit PgTableReader(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  int64_t Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) override;

 private:
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace ferry::postgres
