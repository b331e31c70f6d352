// TableReader: one streaming SELECT (mysql_use_result, text protocol) per table inside a
// consistent-snapshot, read-only transaction; memory stays flat whatever the table size.
#pragma once

#include <memory>
#include <string>

#include "connectors/connector.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_zero_dates.h"

namespace ferry::mysql {

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
