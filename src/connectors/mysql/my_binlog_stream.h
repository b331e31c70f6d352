// The raw bytes of a MariaDB/MySQL binlog as a replica receives them, one event at a time.
//
// The capture (my_capture.h) decodes events itself (my_binlog_event.h); this seam only carries
// them, so the same capture code reads a live server or recorded bytes. The replica stream
// connects with Connector/C, announces itself as a replica (its server_id; MariaDB's GTID
// capability, so GTID and annotate events arrive as the server wrote them; the checksum
// algorithm; a heartbeat period, so an idle server still sends something), asks for the binlog
// from a file and offset with COM_BINLOG_DUMP, and reads events on a thread of its own into a
// bounded queue: Next never blocks longer than it is asked to.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "connectors/mysql/my_position.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::mysql {

class BinlogStream {
 public:
  virtual ~BinlogStream() = default;
  // The next event's bytes (common header, body and, when the server checksums events, the
  // CRC32) into `event`; false when none arrived within `wait`. Throws Error(kConnection) when
  // the connection was lost, Error(kNotFound) when the server no longer has the binlog file
  // asked for (purged), Error(kInvalidArgument) for the server's other refusals, each naming
  // the server and the position.
  virtual bool Next(std::string* event, std::chrono::milliseconds wait) = 0;
  // Bytes of events waiting in the stream's buffer (for statistics).
  virtual size_t buffered_bytes() const = 0;
};

struct ReplicaStreamOptions {
  // File and offset to read from (offset 0 = the file's start); or, without a file, a MariaDB
  // GTID position: the server starts after the transactions it names.
  BinlogPoint start;
  uint32_t server_id = 0;  // this replica's id: unique among the server's replicas
  // The server sends a HEARTBEAT when it has sent nothing for this long.
  std::chrono::milliseconds heartbeat{1000};
  // Events held between the connection's thread and Next at most (and about this many bytes).
  size_t queue_events = 4096;
};

// Connects to `uri` as a replica and asks for the binlog from options.start. Throws Error as
// Next does, and Error(kAuth) for refused credentials or a missing REPLICATION SLAVE grant.
std::unique_ptr<BinlogStream> OpenReplicaStream(const EndpointUri& uri,
                                                const ReplicaStreamOptions& options);

}  // namespace ferry::mysql
