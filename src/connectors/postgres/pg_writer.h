// TableWriter for PostgreSQL: COPY FROM STDIN in binary format (text format for tables with
// native types Ferry has no binary encoder for), every value checked against the target
// column before anything of a batch is sent.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/segment_marks.h"

namespace ferry::postgres {

// CREATE TABLE (columns, NOT NULL, PRIMARY KEY) then CREATE UNIQUE INDEX statements.
std::vector<std::string> PgCreateTableSql(const TableDef& target);

// The per-column conversion the writer applies: source DMS value -> target native type.
struct PgWriteColumn {
  std::string name;
  DmsType source;
  PgTargetType target;
};

// Appends the binary wire form (without a length) of the non-null value at `row`, `col` of
// `batch` for `column`'s target type, with the same checks as EncodeBinaryRow: throws RowError
// naming `table`, the column and the row key for a value the column cannot hold, and
// Error(kInternal) for a target type without a binary encoder (PgWire::kOther). `scratch` is
// reused. Used per value by EncodeBinaryRow and by the CDC applier's binary parameters.
void EncodeBinaryValue(const Batch& batch, size_t row, int col, const PgWriteColumn& column,
                       const TableDef& table, std::string* out, std::string* scratch);
// Appends the PostgreSQL text input form of the same non-null value, as the text COPY path
// produces it but without COPY escaping (what a text-format query parameter takes). Checks as
// EncodeBinaryValue for columns with a binary form; throws RowError likewise.
void EncodeTextValue(const Batch& batch, size_t row, int col, const PgWriteColumn& column,
                     const TableDef& table, std::string* out, std::string* scratch);

// Encodes one row of `batch` into `out` as a binary COPY tuple (field count, length-prefixed
// fields). Throws RowError for a value the target column cannot hold. `scratch` is reused.
// Exposed for unit tests; the writer calls it per row.
void EncodeBinaryRow(const Batch& batch, size_t row, const std::vector<PgWriteColumn>& cols,
                     const TableDef& table, std::string* out, std::string* scratch);
// The same row as a text COPY line (tab-separated, \N for NULL, escaped, newline-terminated).
void EncodeTextRow(const Batch& batch, size_t row, const std::vector<PgWriteColumn>& cols,
                   const TableDef& table, std::string* out, std::string* scratch);

class PgTableWriter : public TableWriter {
 public:
  explicit PgTableWriter(std::unique_ptr<PgConnection> conn);
  ~PgTableWriter() override;
  void EnsureSchema(const std::string& schema) override;
  bool TableExists(const std::string& schema, const std::string& name) override;
  void PrepareTable(const TableDef& target, TablePrepMode mode) override;
  void BeginLoad(const TableDef& target) override;
  void Write(const Batch& batch) override;
  void EndLoad() override;
  int64_t AbortLoad() noexcept override;
  // A load is one transaction already: a segment is a load whose mark commits with it.
  SegmentMarks* segment_marks() override { return &marks_; }
  void BeginSegment(const TableDef& target) override { BeginLoad(target); }
  void EndSegment(const SegmentMark& mark) override;
  void AddPrimaryKey(const TableDef& target) override;

 private:
  void Send(const std::string& data);
  // Ends the COPY and, when `mark`, inserts it; then commits.
  void Finish(const SegmentMark* mark);

  std::unique_ptr<PgConnection> conn_;
  TableDef target_;
  std::vector<PgWriteColumn> cols_;
  bool binary_ = true;
  bool loading_ = false;
  std::string buf_;
  std::string scratch_;
  SqlSegmentMarks marks_;
};

}  // namespace ferry::postgres
