// Decoded binlog row images (my_binlog_rows.h) -> Batch cells, exactly as MyTableReader
// (my_reader.h) produces them for the same values: the full-load reader is the reference, and
// a full load followed by binlog CDC must agree byte for byte (tests/integration/
// mysql_binlog_test.cc proves it on the MariaDB server).
//
// How each column is read comes from the table as MyCatalogReader described it (ColumnDef:
// DmsType and native_type): signedness, ENUM/SET members and BINARY(n) padding come from the
// catalog; the TABLE_MAP's optional metadata (binlog_row_metadata=FULL) adds the character
// set of each text column, and when present its column names and signedness are checked
// against the catalog. Text reaches the batch as UTF-8, like the reader's (its session reads
// utf8mb4): utf8mb3/utf8mb4/ascii bytes as they are, latin1 (MySQL's cp1252) converted,
// binary as is; a column whose character set is unknown (no optional metadata) is taken as
// UTF-8.
//
// Thread-safety: a converter is immutable after construction; AppendImage may be called
// from several threads with different batches.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "catalog/table_def.h"
#include "connectors/connector.h"
#include "connectors/mysql/my_binlog_event.h"
#include "connectors/mysql/my_binlog_rows.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_zero_dates.h"
#include "types/batch.h"

namespace ferry::mysql::binlog {

// A warning the reader would have counted on the column (sink.Warning(column, message)):
// a zero date read as NULL or as the zero_dates date.
struct CellWarning {
  int column = 0;
  std::string message;
};

// The text encoding of a character column's bytes in the row image.
enum class TextEncoding : uint8_t { kUtf8, kLatin1, kBinary, kOther };
// By collation id (TABLE_MAP optional metadata); kOther for the ones Ferry does not convert
// (ucs2, utf16, sjis, ...), kUtf8 for the utf8mb3/utf8mb4/ascii families.
TextEncoding EncodingOfCollation(uint32_t collation);

class BinlogRowConverter {
 public:
  // `table`: the table's columns in table order (the binlog's order) as MyCatalogReader read
  // them. `map`: a TABLE_MAP of that table. `zero_dates`: the source URI's policy (as
  // MyTableReader's). Throws Error(kSchema) naming the table and column when the TABLE_MAP
  // does not describe `table`: another column count, another name (when the map has names),
  // another signedness (when it has signedness), or a binlog type that cannot hold the
  // column's native type. Throws Error(kUnsupported) for a native type whose binlog form
  // Ferry does not convert (MariaDB INET4/INET6/UUID) or a character set it cannot convert.
  BinlogRowConverter(const TableDef& table, const TableMap& map, ZeroDates zero_dates);

  int columns() const { return static_cast<int>(columns_.size()); }

  // Appends one row image as a row of `batch` (batch->columns() == columns()): each present
  // value as the reader would append it, NULL as AppendNull, and a column absent from the image
  // as AppendUnchanged (Cell::unchanged: not sent, keep the target's value).
  // Zero dates follow `zero_dates` like the reader: NULL or the replacement date with a
  // CellWarning added to `warnings`, or a RowError. A value the reader could not read either
  // throws RowError(column, row in batch, message naming table, column and value, row key)
  // with the half-written row removed from the batch.
  void AppendImage(const RowImage& image, Batch* batch, std::vector<CellWarning>* warnings) const;

 private:
  struct Column {
    MyNativeType native;
    DmsKind kind = DmsKind::kNclob;
    TextEncoding encoding = TextEncoding::kUtf8;
    bool text = false;                 // converted to UTF-8
    int64_t pad_to = 0;                // BINARY(n): right-padded with zero bytes to n
    std::vector<std::string> members;  // ENUM / SET
  };
  TableDef table_;
  std::string name_;  // table_.QualifiedName(), for messages
  ZeroDates zero_dates_;
  std::vector<Column> columns_;
};

}  // namespace ferry::mysql::binlog
