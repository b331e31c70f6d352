// MySQL/MariaDB positions: a point in the binlog as cdc::Position and as text.
//
// A position is a binlog coordinate (a file of the server's binlog and a byte offset in it) and,
// when known, the GTID state at that point: MariaDB's GTID position ("0-1-1234,1-2-7": per
// replication domain, the last transaction's domain-server-sequence) or MySQL's GTID set
// ("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11"). Either part may be missing: a start point
// the user gives as a GTID has no coordinate until the capture connects with it.
//
// Bytes (ordered as change/position.h requires): the file's sequence number (the digits after
// its last '.', "mysql-bin.000024" -> 24) as 8 big-endian bytes, the offset as 8 big-endian
// bytes, the file's base name, a NUL byte, then the GTID state text. So positions order by
// file, then offset, as the binlog does; a GTID-only start point (file 0, offset 0) sorts
// before every coordinate. The empty Position is "none yet".
//
// Text: "mysql-bin.000024:373" (DMS CdcStartPosition's form for MySQL); with a GTID state
// "mysql-bin.000024:373#0-1-1234"; or the GTID state alone. The empty position is "". A GTID
// state is kept without whitespace (@@gtid_executed prints newlines after its commas).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "change/position.h"

namespace ferry::mysql {

struct BinlogPoint {
  std::string file;     // "mysql-bin.000024"; empty: no coordinate (GTID only)
  uint64_t offset = 0;  // byte offset in `file` (the next event's start)
  std::string gtid;     // the GTID state at this point, as the server spells it; empty: unknown

  bool operator==(const BinlogPoint&) const = default;
};

// Whether `text` is a MariaDB GTID position: one or more domain-server-sequence triples of
// decimal numbers (each within 32, 32 and 64 bits), comma-separated.
bool IsMariadbGtidPosition(std::string_view text);
// Whether `text` is a MySQL GTID set: comma-separated "uuid:interval[:interval...]" (an
// interval "n" or "n-m", n >= 1, m >= n), the uuid in its 8-4-4-4-12 hex form. Whitespace
// after a comma (as @@gtid_executed prints it, with newlines) is allowed.
bool IsMysqlGtidSet(std::string_view text);

cdc::Position BinlogPosition(const BinlogPoint& point);
// The point of a position made by BinlogPosition (empty: a point with nothing). Throws
// Error(kData) for bytes that are not one (a position from another engine's stream).
BinlogPoint PositionBinlogPoint(const cdc::Position& position);

std::string FormatBinlogPoint(const BinlogPoint& point);
// Reads FormatBinlogPoint's text back; nullopt when `text` is none of its forms: a file name
// without ':', '#' or whitespace, ending in '.' and digits; an offset in decimal; a GTID state
// as IsMariadbGtidPosition or IsMysqlGtidSet.
std::optional<BinlogPoint> ParseBinlogPoint(std::string_view text);

// The codec of mysql:// sources.
const cdc::PositionCodec& BinlogCodec();

}  // namespace ferry::mysql
