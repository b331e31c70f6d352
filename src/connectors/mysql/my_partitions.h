// MySQL/MariaDB pieces of parallel segment reads: the partitions of a table and the shared
// snapshot of a table's segment readers.
#pragma once

#include <memory>
#include <vector>

#include "connectors/connector.h"
#include "connectors/mysql/my_connection.h"

namespace ferry::mysql {

// The partitions of `table` in definition order (information_schema.PARTITIONS); where a
// partition has subpartitions and `subpartitions` is set, its subpartitions instead (a
// PARTITION (name) clause takes either). Empty when the table is not partitioned.
std::vector<PartitionInfo> ListMyPartitions(MyConnection& conn, const TableDef& table,
                                            bool subpartitions);

// A snapshot several segment readers of `table` share: a coordinator connection holds
// LOCK TABLES `table` READ (which waits for transactions that wrote the table to end and
// keeps new writes out) while every reader starts START TRANSACTION WITH CONSISTENT SNAPSHOT
// (TableReader::JoinSnapshot); SourceSnapshot::ReadersJoined unlocks. Returns nullptr, with
// one warning per process, when the lock is refused (no LOCK TABLES privilege): the segments
// then read at slightly different moments.
std::unique_ptr<SourceSnapshot> OpenMySnapshot(const EndpointUri& uri, const TableDef& table);

}  // namespace ferry::mysql
