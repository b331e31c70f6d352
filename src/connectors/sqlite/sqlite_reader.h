// TableReader over one SQLite file: one prepared SELECT stepped row by row inside a deferred
// read transaction (one consistent view of the file, even while a WAL writer commits).
//
// SQLite is dynamically typed, so every value's storage class is looked at and converted into
// the column's DMS kind when that is exact:
//   integers   INTEGER in range; REAL with no fraction (3.0 -> 3); TEXT holding an integer
//   booleans   0/1 (INTEGER or REAL), TEXT 'true'/'false'/'t'/'f'/'1'/'0' (any case)
//   REAL4/8    REAL; INTEGER exactly representable; TEXT parsed; REAL4 must be an exact float
//   NUMERIC    INTEGER as decimal text; REAL as its shortest round-trip text; TEXT normalised;
//              checked against NUMERIC(p,s) when the column declares a precision
//   DATE       TEXT 'YYYY-MM-DD' (or a datetime at midnight)
//   DATETIME   TEXT 'YYYY-MM-DD HH:MM:SS[.ffffff]' (ISO 8601 variants)
//   TIME       TEXT 'HH:MM[:SS[.ffffff]]' (beyond 24h and negative too)
//   numbers in DATE/DATETIME/TIME columns: read as DatetimeNumbers says, each counted as a
//              warning on its column (BatchSink::Warning), since no reading is certain
//   text       TEXT (must be valid UTF-8 and within a declared length); INTEGER and REAL as
//              their text; BLOB only when it is valid UTF-8
//   binary     BLOB; TEXT as its bytes
// Anything else is a RowError naming the column, the value and what was expected.
#pragma once

#include <string>

#include "connectors/connector.h"
#include "connectors/sqlite/sqlite_values.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

class SqliteTableReader : public TableReader {
 public:
  explicit SqliteTableReader(const std::string& path,
                             DatetimeNumbers numbers = DatetimeNumbers::kAuto);
  int64_t Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) override;
  // Starts this reader's read transaction now (and reads, so SQLite fixes its view of the
  // file): while the snapshot's coordinator holds the file's write lock (sqlite_capture.cc),
  // every reader that joins sees the same committed state. Scans with ScanOptions::snapshot ==
  // snapshot.id() read in it; it stays open across them (a table's segments), until the
  // next JoinSnapshot, a Scan outside it, or the reader's end.
  void JoinSnapshot(const SourceSnapshot& snapshot) override;

 private:
  // Ends the transaction JoinSnapshot started, if any.
  void LeaveSnapshot();
  Connection conn_;
  DatetimeNumbers numbers_;
  std::string joined_;  // id of the snapshot whose transaction is open, "" = none
};

}  // namespace ferry::sqlite
