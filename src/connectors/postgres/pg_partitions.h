// PostgreSQL pieces of parallel segment reads: leaf partitions of a partitioned table, the
// exported snapshot every segment reader imports, and the reader's transaction start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/postgres/pg_connection.h"

namespace ferry::postgres {

// Every leaf partition of `table` (recursively through sub-partitioned partitions), ordered by
// schema and name, with reltuples estimates (-1 = never analyzed). Empty when `table` is not a
// partitioned table. Throws Error(kNotFound) when `table` does not exist.
std::vector<PartitionInfo> ListPgPartitions(PgConnection& conn, const TableDef& table);

// True when `table` is a declaratively partitioned parent (relkind 'p'); throws
// Error(kNotFound) naming the table when it does not exist. `what` names the operation.
bool IsPartitionedParent(PgConnection& conn, const TableDef& table, const std::string& what);

// Starts the read transaction of a scan: REPEATABLE READ READ ONLY, inside the exported
// snapshot `snapshot` when not empty (SET TRANSACTION SNAPSHOT). Throws Error naming `what`
// and the snapshot when it cannot be imported (its exporting transaction has ended).
void BeginReadTransaction(PgConnection& conn, const std::string& snapshot,
                          const std::string& what);

// Opens a coordinator connection that exports a snapshot (BEGIN ISOLATION LEVEL REPEATABLE
// READ; SELECT pg_export_snapshot()) and keeps its transaction open until destroyed.
std::unique_ptr<SourceSnapshot> OpenPgSnapshot(const EndpointUri& uri);
// The same for a snapshot exported elsewhere (`exported`: a replication slot's, valid only
// while its exporter waits): imported into the coordinator's transaction and exported again
// from there, so it outlives the exporter. `what` names it in errors.
std::unique_ptr<SourceSnapshot> HoldPgSnapshot(const EndpointUri& uri, const std::string& exported,
                                               const std::string& what);

}  // namespace ferry::postgres
