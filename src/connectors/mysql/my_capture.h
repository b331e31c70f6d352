// Change data capture from a MySQL/MariaDB source: Ferry reads the binlog as a replica
// (my_binlog_stream.h), decodes every event itself (my_binlog_event.h, my_binlog_rows.h) and
// turns row images into change records exactly as the full-load reader reads the same values
// (my_binlog_cells.h).
//
// What it delivers (change/change_capture.h):
//   - a transaction per binlog event group (GTID or BEGIN ... XID/COMMIT) that changed a
//     selected table, in binlog order, with its commit position (the group's last event) and
//     end position (the next event: where a resume starts) as BinlogPoint positions
//     (my_position.h) carrying the MariaDB GTID state;
//   - updates and deletes with the whole old row (binlog_row_image=FULL): the target matches
//     a table with a primary key on its key, one without on every column;
//   - DDL of a selected table, read from QUERY events: ALTER TABLE re-reads the table from the
//     catalog and reports OnTableChanged before its next change; TRUNCATE is a truncate
//     record; DROP TABLE and RENAME TABLE (away) report OnTableDropped.
// Each TABLE_MAP is checked against the table's columns (BinlogRowConverter): an event whose
// shape is not the table's (a resume reading events from before an ALTER that the catalog no
// longer describes) stops the capture with Error(kSchema) naming table, column and position;
// never decoded with the wrong columns.
//
// Nothing is created on the source: no slot, no table. The binlog is kept by the server's
// retention (binlog_expire_logs_seconds / expire_logs_days), checked by CheckPrerequisites;
// a resume whose binlog file was purged stops with Error(kNotFound) naming the file.
#pragma once

#include <memory>

#include "change/change_capture.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::mysql {

// The server id Ferry announces as a replica: the source URI's server_id parameter, else one
// derived from the task id (in 2^30 .. 2^31-1, away from the small ids servers are given).
uint32_t ReplicaServerId(const EndpointUri& uri, const cdc::CaptureOptions& options);

std::unique_ptr<cdc::ChangeCapture> OpenMyChangeCapture(const EndpointUri& uri,
                                                        const cdc::CaptureOptions& options);

}  // namespace ferry::mysql
