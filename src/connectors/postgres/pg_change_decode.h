// pgoutput tuple values -> Batch cells -> change records (change/change.h), for PostgreSQL change
// capture (pg_capture.h).
//
// A value arrives in text ('t', the type's output function under the replication session's
// settings: DateStyle ISO, TimeZone UTC, extra_float_digits 3, bytea_output hex, lc_monetary C)
// or in binary ('b', the type's send function). Either way the cell is exactly the one
// PgTableReader produces for the same value, per the column's PgWire (pg_types.h): the reader
// is the reference, and a full load followed by CDC must agree value for value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "change/change.h"
#include "connectors/postgres/pg_position.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/postgres/pgoutput.h"
#include "types/batch.h"

namespace ferry::postgres {

// How one column's values are decoded; the choice PgTableReader makes for the column.
struct ChangeColumn {
  PgWire wire = PgWire::kOther;  // kOther: the text as is (the reader selects ::text)
  bool money = false;            // money: the reader casts to numeric; parse the money text
  bool inet = false;             // inet: inet::text always carries the netmask
  // The column's binary (send) form can be decoded: wire != kOther and not money.
  bool binary_ok = false;
};

// The decoder for `column` as the reader would read it (by native_id, else native_type).
ChangeColumn ChangeColumnFor(const ColumnDef& column);

// Appends the cell for `text`, the text form of a value of a column decoded as `col`.
// Returns "" on success; otherwise nothing is appended and the result says what is wrong
// with the value (without naming table or column: the caller adds them).
std::string AppendTextValue(const ChangeColumn& col, std::string_view text, Batch& batch);

// Money text as PostgreSQL prints it under lc_monetary C ("$1,234.56", "-$0.01") -> the
// canonical decimal money::numeric gives ("1234.56", "-0.01"). nullopt when malformed.
std::optional<std::string> ParseMoneyText(std::string_view text);

// bytea hex output ("\x00ff") -> bytes. nullopt when malformed.
std::optional<std::string> ParseByteaHex(std::string_view text);

// Decodes the changes of one table into change records. Holds the table's current TableDef
// (the columns records are encoded with) and the mapping from the latest Relation message's
// columns to the TableDef's columns. Not thread-safe.
class TableChangeEncoder {
 public:
  TableChangeEncoder() = default;
  TableChangeEncoder(uint32_t table_id, TableDef def);

  uint32_t table_id() const { return table_id_; }
  const TableDef& def() const { return def_; }
  // Replaces the TableDef (after the source table changed); the relation mapping is rebuilt
  // by the next SetRelation.
  void SetDef(TableDef def);

  // True when the relation's columns are the TableDef's columns: same names in the same order
  // and, where `base_oids` (the relation's column types resolved through domains) and
  // ColumnDef::native_id are known, the same types.
  bool Matches(const pgoutput::Relation& rel, const std::vector<uint32_t>& base_oids) const;

  // Maps the relation's columns to the TableDef's by name; TableDef columns missing from the
  // relation become NULL in every record.
  void SetRelation(const pgoutput::Relation& rel);
  bool has_relation() const { return has_relation_; }

  // Encodes one change, appending the record to `out`. `lsn` names the position in errors.
  // Throws Error(kData) naming table, column and LSN for a value that cannot be decoded.
  void EncodeInsert(const pgoutput::Insert& m, Lsn lsn, std::string* out);
  void EncodeUpdate(const pgoutput::Update& m, Lsn lsn, std::string* out);
  void EncodeDelete(const pgoutput::Delete& m, Lsn lsn, std::string* out);
  void EncodeTruncate(std::string* out) const;

 private:
  void AppendTuple(const pgoutput::Tuple& tuple, Lsn lsn, const char* image);

  uint32_t table_id_ = 0;
  TableDef def_;
  std::vector<ChangeColumn> columns_;
  std::vector<Storage> storage_;
  std::vector<int> source_index_;  // per TableDef column: index in the relation, -1 = absent
  size_t relation_columns_ = 0;
  bool has_relation_ = false;
  Batch batch_;
};

}  // namespace ferry::postgres
