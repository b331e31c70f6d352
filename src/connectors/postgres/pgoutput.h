// Decoder for the messages of PostgreSQL's built-in logical decoding plugin, pgoutput (the
// payload of XLogData in the streaming replication protocol), protocol versions 1 to 4:
// Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate, Message, and the
// streamed-transaction messages Stream Start/Stop/Commit/Abort (v2+, with the transaction id
// that v2 puts in front of data messages inside a stream).
//
// Every read is bounds-checked: malformed or truncated input gives Error(kData) naming the
// message, the field and the byte offset, never a read past the buffer (release builds too).
// Decoded strings and values are string_views into the caller's buffer, which must outlive
// the message. Two-phase messages (v3: Begin Prepare, Prepare, Commit/Rollback Prepared,
// Stream Prepare) are refused with kUnsupported: Ferry never asks for two_phase.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"

namespace ferry::pgoutput {

// Microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's epoch), as the protocol sends them.
using PgTimestamp = int64_t;
using Lsn = uint64_t;

struct Begin {
  Lsn final_lsn = 0;  // LSN of the transaction's commit record
  PgTimestamp commit_time = 0;
  uint32_t xid = 0;
};

struct Commit {
  uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;  // where the next transaction starts: the position to confirm
  PgTimestamp commit_time = 0;
};

struct Origin {
  Lsn commit_lsn = 0;
  std::string_view name;
};

struct RelationColumn {
  bool key = false;  // part of the replica identity
  std::string_view name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
};

struct Relation {
  uint32_t xid = 0;  // streamed transactions only
  uint32_t relation_id = 0;
  std::string_view schema;  // "" means pg_catalog
  std::string_view name;
  char replica_identity = 'd';  // d default, n nothing, f full, i index
  std::vector<RelationColumn> columns;
};

struct Type {
  uint32_t xid = 0;
  uint32_t type_oid = 0;
  std::string_view schema;
  std::string_view name;
};

struct TupleValue {
  enum class Kind : char { kNull = 'n', kUnchangedToast = 'u', kText = 't', kBinary = 'b' };
  Kind kind = Kind::kNull;
  std::string_view data;  // kText / kBinary only
};
using Tuple = std::vector<TupleValue>;

struct Insert {
  uint32_t xid = 0;
  uint32_t relation_id = 0;
  Tuple new_tuple;
};

struct Update {
  uint32_t xid = 0;
  uint32_t relation_id = 0;
  // 'K': the old key (replica identity index columns changed), 'O': the whole old row
  // (REPLICA IDENTITY FULL), 0: no old tuple sent.
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
};

struct Delete {
  uint32_t xid = 0;
  uint32_t relation_id = 0;
  char old_kind = 'K';  // 'K' key columns only, 'O' the whole old row
  Tuple old_tuple;
};

struct Truncate {
  uint32_t xid = 0;
  bool cascade = false;
  bool restart_identity = false;
  std::vector<uint32_t> relation_ids;
};

struct LogicalMessage {  // pg_logical_emit_message
  uint32_t xid = 0;
  bool transactional = false;
  Lsn lsn = 0;
  std::string_view prefix;
  std::string_view content;
};

struct StreamStart {
  uint32_t xid = 0;
  bool first_segment = false;
};
struct StreamStop {};
struct StreamCommit {
  uint32_t xid = 0;
  uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;
  PgTimestamp commit_time = 0;
};
struct StreamAbort {
  uint32_t xid = 0;
  uint32_t subxid = 0;
  Lsn abort_lsn = 0;            // v4 parallel streaming only, else 0
  PgTimestamp abort_time = 0;   // v4 parallel streaming only, else 0
};

using Message = std::variant<Begin, Commit, Origin, Relation, Type, Insert, Update, Delete,
                             Truncate, LogicalMessage, StreamStart, StreamStop, StreamCommit,
                             StreamAbort>;

// Decodes one message at a time. Stateful: between Stream Start and Stream Stop, data
// messages carry a transaction id first. Not thread-safe; one per replication connection.
class Decoder {
 public:
  // `protocol_version` is the proto_version Ferry asked for (1..4): v4 adds the abort LSN and
  // time to Stream Abort when parallel streaming is on (`parallel_streaming`).
  explicit Decoder(int protocol_version = 1, bool parallel_streaming = false)
      : version_(protocol_version), parallel_(parallel_streaming) {}

  // Decodes `bytes` (one whole pgoutput message). Errors: kData for malformed or truncated
  // input, kUnsupported for two-phase messages and unknown message types.
  Result<Message> Decode(std::string_view bytes);

  bool in_stream() const { return in_stream_; }

 private:
  int version_;
  bool parallel_;
  bool in_stream_ = false;
};

// Name of a message type byte for messages: 'I' -> "Insert".
const char* MessageName(char type);

}  // namespace ferry::pgoutput
