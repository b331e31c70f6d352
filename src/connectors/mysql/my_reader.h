// TableReader: one streaming SELECT (mysql_use_result, text protocol) per table inside a
// consistent-snapshot, read-only transaction; memory stays flat whatever the table size.
#pragma once

#include <memory>
#include <string>

#include "connectors/connector.h"
#include "connectors/mysql/my_connection.h"

namespace ferry::mysql {

// What a MySQL source's zero dates ('0000-00-00', '2024-00-10', ...) become: the source URI
// parameter zero_dates=null (the default: NULL, counted as a warning on its column; a row error
// in a NOT NULL column), refuse (a row error), or a date YYYY-MM-DD read instead (at midnight
// in a DATETIME), counted as a warning.
struct ZeroDates {
  enum class Mode { kNull, kRefuse, kReplace } mode = Mode::kNull;
  int64_t days = 0;  // kReplace: the date read instead, in days since 1970-01-01
  std::string text;  // the setting as given, for messages ("null" when not given)
};
// Throws Error(kInvalidArgument) naming the choices for anything else.
ZeroDates ParseZeroDates(const std::string& text);

class MyTableReader : public TableReader {
 public:
  explicit MyTableReader(const EndpointUri& uri)
      : uri_(uri), zero_dates_(ParseZeroDates(uri.Param("zero_dates"))) {}
  int64_t Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) override;
  void JoinSnapshot(const SourceSnapshot& snapshot) override;

 private:
  EndpointUri uri_;
  ZeroDates zero_dates_;
  // Opened on first use; dropped (closed) when a scan stops half-way, because draining the
  // rest of a streaming result could take as long as the whole table.
  std::unique_ptr<MyConnection> conn_;
  std::string joined_snapshot_;  // id of the snapshot whose transaction conn_ has open
};

}  // namespace ferry::mysql
