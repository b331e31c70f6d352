// Decoder for MySQL and MariaDB binary log events (binlog v4), without a connection: the
// bytes of one event in, a typed event out. The foundation of MySQL/MariaDB change capture:
// a replica connection (each network packet after its OK byte is one event) and a binlog
// file (BinlogFileReader below) feed the very same EventDecoder.
//
// Events decoded: FORMAT_DESCRIPTION (post-header lengths, checksum algorithm), ROTATE,
// HEARTBEAT, STOP, QUERY and MariaDB's QUERY_COMPRESSED (schema, SQL text, the status
// variables a capture needs), XID, MariaDB GTID / GTID_LIST / ANNOTATE_ROWS /
// BINLOG_CHECKPOINT, MySQL GTID / ANONYMOUS_GTID / PREVIOUS_GTIDS, TABLE_MAP (column types,
// metadata, null bitmap, optional metadata), rows events v1 (MariaDB 23-25), v2 (MySQL 30-32,
// with the extra-data section), MariaDB's compressed rows events (166-171, zlib) and MySQL's
// TRANSACTION_PAYLOAD (zstd), whose inner events InnerEvents() decodes. Any other type comes
// back as UnknownEvent, never as an error. The row images inside a rows event are decoded by
// RowsCursor (my_binlog_rows.h) against the TABLE_MAP the event refers to.
//
// Errors: every read is bounds-checked in release builds. Malformed or truncated input, a
// CRC32 that does not match, or a compressed body that does not inflate to its stated size
// throws Error(kData) naming the event type, the event's position and what was expected,
// never a read outside the bytes given.
//
// Lifetime: the string_views in a decoded event point into the bytes given to Decode, or
// into Event::owned for bodies Ferry decompressed; an event is valid while both live
// (copying an Event shares `owned`). TableMap holds its own strings.
//
// Thread-safety: EventDecoder is stateful (the format description in force) and not
// thread-safe: one per binlog stream. The free functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"

namespace ferry::mysql::binlog {

// Event type codes as both servers write them (MySQL's binlog_event.h, MariaDB's
// log_event.h). Only the ones Ferry decodes or names are listed; others are still accepted.
enum class EventType : uint8_t {
  kUnknown = 0,
  kStartV3 = 1,
  kQuery = 2,
  kStop = 3,
  kRotate = 4,
  kIntvar = 5,
  kRand = 13,
  kUserVar = 14,
  kFormatDescription = 15,
  kXid = 16,
  kTableMap = 19,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kIncident = 26,
  kHeartbeat = 27,
  kIgnorable = 28,
  kRowsQuery = 29,
  kWriteRowsV2 = 30,
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kGtid = 33,  // MySQL
  kAnonymousGtid = 34,
  kPreviousGtids = 35,
  kTransactionContext = 36,
  kViewChange = 37,
  kXaPrepare = 38,
  kPartialUpdateRows = 39,
  kTransactionPayload = 40,
  kHeartbeatV2 = 41,
  kAnnotateRows = 160,  // MariaDB from here on
  kBinlogCheckpoint = 161,
  kMariaGtid = 162,
  kMariaGtidList = 163,
  kStartEncryption = 164,
  kQueryCompressed = 165,
  kWriteRowsCompressedV1 = 166,
  kUpdateRowsCompressedV1 = 167,
  kDeleteRowsCompressedV1 = 168,
  kWriteRowsCompressed = 169,
  kUpdateRowsCompressed = 170,
  kDeleteRowsCompressed = 171,
};

// "TABLE_MAP_EVENT", "WRITE_ROWS_EVENT_V1", ...; "UNKNOWN_EVENT(200)" for other codes.
std::string EventTypeName(uint8_t type);

constexpr size_t kHeaderSize = 19;  // the v4 common header
constexpr size_t kChecksumSize = 4;
constexpr std::string_view kBinlogMagic =
    "\xfe"
    "bin";

enum class Checksum : uint8_t { kOff = 0, kCrc32 = 1 };

// The v4 common header every event starts with.
struct EventHeader {
  uint32_t timestamp = 0;  // seconds since 1970-01-01 UTC when the statement started
  uint8_t type = 0;        // EventType code (may be one not in the enum)
  uint32_t server_id = 0;
  uint32_t event_size = 0;  // header + body + checksum
  uint32_t log_pos = 0;     // position of the next event in the file; 0 for artificial events
  uint16_t flags = 0;       // LOG_EVENT_*_F; 0x20 = artificial
};

struct FormatDescription {
  uint16_t binlog_version = 4;
  std::string server_version;  // "10.11.6-MariaDB-0+deb12u1-log", "8.0.36"
  uint32_t create_timestamp = 0;
  uint8_t header_length = kHeaderSize;
  // Post-header length of each event type, indexed by type - 1.
  std::vector<uint8_t> post_header_lengths;
  Checksum checksum = Checksum::kOff;  // of the events after this one (and of this one)
  bool mariadb = false;                // the server version says MariaDB
};

struct Rotate {
  uint64_t position = 0;       // where to read in the next file
  std::string_view next_file;  // "mysql-bin.000002"
};

struct Heartbeat {
  std::string_view log_file;  // the file the server is sending from
};

// QUERY and QUERY_COMPRESSED (sql decompressed).
struct Query {
  uint32_t thread_id = 0;
  uint32_t exec_time = 0;
  uint16_t error_code = 0;
  std::string_view schema;  // the default database of the statement ("" when none)
  std::string_view sql;     // "BEGIN", "COMMIT", DDL, ... in the client's character set
  // Status variables (present when the server sent them).
  std::optional<uint32_t> flags2;
  std::optional<uint64_t> sql_mode;
  // Q_CHARSET_CODE: character_set_client, collation_connection, collation_server.
  std::optional<std::array<uint16_t, 3>> charset;
  std::string_view time_zone;                  // Q_TIME_ZONE_CODE; "" when not sent (the server's)
  std::optional<uint16_t> database_collation;  // Q_CHARSET_DATABASE_CODE
  std::optional<uint32_t> microseconds;        // Q_MICROSECONDS (MariaDB, MySQL 5.6+)
  std::optional<uint64_t> xid;                 // Q_XID (MariaDB: DDL logged with an XID)
};

struct Xid {
  uint64_t xid = 0;
};

// A MariaDB GTID: domain, server and sequence number.
struct MariaGtidTriple {
  uint32_t domain_id = 0;
  uint32_t server_id = 0;
  uint64_t seq_no = 0;
  bool operator==(const MariaGtidTriple&) const = default;
};

// MariaDB GTID (162): starts an event group; the GTID is domain_id-server_id-seq_no, with the
// server_id from the event header.
struct MariaGtid {
  uint64_t seq_no = 0;
  uint32_t domain_id = 0;
  uint32_t server_id = 0;
  uint8_t flags = 0;  // kFlStandalone ...
  std::optional<uint64_t> commit_id;
  MariaGtidTriple triple() const { return {domain_id, server_id, seq_no}; }
  static constexpr uint8_t kFlStandalone = 1;  // no terminating COMMIT/XID (DDL, ...)
  static constexpr uint8_t kFlGroupCommitId = 2;
  static constexpr uint8_t kFlTransactional = 4;
  static constexpr uint8_t kFlAllowParallel = 8;
  static constexpr uint8_t kFlWaited = 16;
  static constexpr uint8_t kFlDdl = 32;
  static constexpr uint8_t kFlPreparedXa = 64;
  static constexpr uint8_t kFlCompletedXa = 128;
};

// "0-1-42": domain-server-sequence, as MariaDB spells a GTID (gtid_slave_pos and friends).
std::string FormatMariaGtid(const MariaGtidTriple& gtid);

// MariaDB GTID_LIST (163): the binlog state at the start of a file.
struct MariaGtidList {
  uint8_t flags = 0;  // the top 4 bits of the count
  std::vector<MariaGtidTriple> gtids;
};

struct AnnotateRows {  // MariaDB 160: the statement behind the rows events that follow
  std::string_view sql;
};

struct BinlogCheckpoint {  // MariaDB 161
  std::string_view file;
};

using Uuid = std::array<uint8_t, 16>;
// "3e11fa47-71ca-11e1-9e33-c80aa9429562"
std::string FormatUuid(const Uuid& uuid);

// MySQL GTID (33) and ANONYMOUS_GTID (34).
struct MysqlGtid {
  bool anonymous = false;
  uint8_t flags = 0;  // 1 = may have changes that are not row-based (commit flag)
  Uuid sid{};
  int64_t gno = 0;
  // Logical clock (present since 5.7): 0 when not sent.
  int64_t last_committed = 0;
  int64_t sequence_number = 0;
  // Microseconds since 1970 (8.0.1+): 0 when not sent.
  uint64_t immediate_commit_timestamp = 0;
  uint64_t original_commit_timestamp = 0;
  uint64_t transaction_length = 0;  // 8.0.2+, 0 when not sent
};

// MySQL PREVIOUS_GTIDS (35): the GTID set executed before this file.
struct GtidInterval {
  int64_t start = 0;
  int64_t end = 0;  // exclusive
  bool operator==(const GtidInterval&) const = default;
};
struct GtidSetEntry {
  Uuid sid{};
  std::vector<GtidInterval> intervals;
};
struct PreviousGtids {
  std::vector<GtidSetEntry> sets;
};
// "uuid:1-5:7,uuid2:1-3" as MySQL prints a GTID set.
std::string FormatGtidSet(const std::vector<GtidSetEntry>& sets);

// Column type codes of TABLE_MAP (MySQL's enum_field_types).
enum class ColumnType : uint8_t {
  kDecimal = 0,  // pre-5.0 DECIMAL: not decoded
  kTiny = 1,
  kShort = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kNull = 6,
  kTimestamp = 7,
  kLongLong = 8,
  kInt24 = 9,
  kDate = 10,
  kTime = 11,
  kDatetime = 12,
  kYear = 13,
  kNewDate = 14,
  kVarchar = 15,
  kBit = 16,
  kTimestamp2 = 17,
  kDatetime2 = 18,
  kTime2 = 19,
  kTypedArray = 20,
  kBlobCompressed = 140,  // MariaDB compressed columns: not decoded
  kVarcharCompressed = 141,
  kJson = 245,  // MySQL binary JSON
  kNewDecimal = 246,
  kEnum = 247,
  kSet = 248,
  kTinyBlob = 249,
  kMediumBlob = 250,
  kLongBlob = 251,
  kBlob = 252,
  kVarString = 253,
  kString = 254,
  kGeometry = 255,
};
// "LONG", "NEWDECIMAL", "STRING", ... for messages.
std::string ColumnTypeName(uint8_t type);

// One column of a TABLE_MAP, with its metadata unpacked.
struct TableMapColumn {
  uint8_t type = 0;       // ColumnType code as in the event
  uint8_t real_type = 0;  // STRING's real type (STRING, ENUM or SET); else == type
  uint16_t meta = 0;      // the raw metadata (0 for types without any)
  // From the metadata, per type:
  uint32_t max_length = 0;   // STRING/VAR_STRING/VARCHAR: maximum bytes of a value
  uint8_t length_bytes = 0;  // BLOB family, GEOMETRY, JSON: bytes of the length prefix (1-4)
  uint8_t precision = 0;     // NEWDECIMAL
  uint8_t scale = 0;         // NEWDECIMAL
  uint8_t fsp = 0;           // TIME2/DATETIME2/TIMESTAMP2: fractional second digits (0-6)
  uint16_t bits = 0;         // BIT: number of bits
  uint8_t pack_length = 0;   // ENUM (1-2) and SET (1-8): bytes of a value; FLOAT/DOUBLE size
  bool nullable = true;
  // Optional metadata (binlog_row_metadata=FULL on MariaDB 10.5+ / MySQL 8.0.1+), when sent:
  std::optional<bool> is_unsigned;       // numeric columns (MINIMAL sends it too)
  std::optional<uint32_t> collation;     // character, ENUM and SET columns (63 = binary)
  std::string name;                      // "" when not sent
  std::vector<std::string> enum_values;  // ENUM members, in order
  std::vector<std::string> set_values;   // SET members, in order
  std::optional<uint32_t> geometry_type;
  bool in_primary_key = false;
  bool visible = true;
};

struct TableMap {
  uint64_t table_id = 0;
  uint16_t flags = 0;
  std::string schema;
  std::string table;
  std::vector<TableMapColumn> columns;
  // Which optional metadata fields the event carried.
  bool has_signedness = false;
  bool has_charsets = false;
  bool has_names = false;
  bool has_primary_key = false;
  std::vector<uint32_t> primary_key;  // column indexes, in key order
};

enum class RowsKind : uint8_t { kWrite, kUpdate, kDelete };

// WRITE/UPDATE/DELETE rows events v1, v2 and MariaDB's compressed ones.
struct RowsEvent {
  RowsKind kind = RowsKind::kWrite;
  int version = 1;          // 1: MariaDB and MySQL 5.5; 2: MySQL 5.6+ (extra data)
  bool compressed = false;  // MariaDB's *_COMPRESSED events (rows inflated into `rows`)
  uint64_t table_id = 0;
  uint16_t flags = 0;           // kStmtEnd: the last rows event of the statement
  std::string_view extra_data;  // v2 only: the extra-data section without its length
  uint32_t column_count = 0;
  // Columns present in the before image (update, delete) and the after image (write,
  // update): one bool per column. With binlog_row_image=FULL every column is present.
  std::vector<bool> present_before;
  std::vector<bool> present_after;
  std::string_view rows;  // the row images, decoded by RowsCursor (my_binlog_rows.h)
  static constexpr uint16_t kStmtEnd = 1;
  static constexpr uint16_t kNoForeignKeyChecks = 2;
  static constexpr uint16_t kNoUniqueKeyChecks = 4;
  static constexpr uint16_t kRelaxedUniqueChecks = 8;
  static constexpr uint16_t kCompleteRows = 16;
};

// MySQL TRANSACTION_PAYLOAD (40): a transaction's events, compressed. The inner events come
// from EventDecoder::InnerEvents.
struct TransactionPayload {
  uint64_t compression = 0;  // 0 zstd, 255 none
  uint64_t uncompressed_size = 0;
  std::string_view events;  // the uncompressed inner events, one after another
};

struct StopEvent {};

// A type Ferry does not decode (INTVAR, USER_VAR, INCIDENT, START_ENCRYPTION, ...): the body
// (after the common header, without the checksum) as is.
struct UnknownEvent {
  std::string_view body;
};

using EventBody = std::variant<UnknownEvent, FormatDescription, Rotate, Heartbeat, StopEvent, Query,
                               Xid, MariaGtid, MariaGtidList, AnnotateRows, BinlogCheckpoint,
                               MysqlGtid, PreviousGtids, TableMap, RowsEvent, TransactionPayload>;

struct Event {
  EventHeader header;
  uint64_t position = 0;  // where the event starts, as given to Decode (for messages)
  EventBody body;
  // Bytes Ferry decompressed (compressed rows or query, a transaction payload, and for an
  // inner event its payload's) that views in `body` point into; empty otherwise.
  std::vector<std::shared_ptr<const std::string>> owned;

  EventType type() const { return static_cast<EventType>(header.type); }
  template <typename T>
  const T* get() const {
    return std::get_if<T>(&body);
  }
};

// Reads only the common header of `bytes` (at least 19 bytes). Throws Error(kData).
EventHeader ParseEventHeader(std::string_view bytes, uint64_t position);

// CRC32 (zlib's, as the servers compute it) of `bytes`.
uint32_t Crc32(std::string_view bytes);

class EventDecoder {
 public:
  EventDecoder() = default;

  // Decodes one whole event: `bytes` holds exactly the common header, the body and (when
  // the checksum in force is CRC32) the 4-byte checksum; event_size in the header must equal
  // bytes.size(). `position` is where the event starts in its file (log_pos - event_size for
  // file events), used only in error messages and Event::position.
  // A FORMAT_DESCRIPTION event changes the decoder's state: the checksum algorithm and the
  // post-header lengths apply to the events after it (and the checksum to itself).
  // Throws Error(kData) for malformed input (see the top of this file); a checksum that does
  // not match is kData too, naming the stored and the computed values.
  Event Decode(std::string_view bytes, uint64_t position);

  // The events inside a TRANSACTION_PAYLOAD event (`payload` must hold one), in order,
  // decoded with the same format description but without checksums (MySQL writes inner events
  // without them). Each inner event's `position` is the payload event's. Throws Error(kData).
  std::vector<Event> InnerEvents(const Event& payload);

  // The checksum algorithm in force: set by each FORMAT_DESCRIPTION, or by the caller before
  // the first one (a replica connection knows @master_binlog_checksum: the artificial ROTATE
  // that precedes the first FORMAT_DESCRIPTION already carries a checksum then).
  Checksum checksum() const { return fd_.checksum; }
  void set_checksum(Checksum c) { fd_.checksum = c; }
  // Whether CRC32 checksums are verified (default true). When false they are still stripped.
  void set_verify_checksums(bool verify) { verify_ = verify; }
  // The file the events come from, for error messages ("" = not named).
  void set_file_name(std::string name) { file_ = std::move(name); }
  const std::string& file_name() const { return file_; }

  // The format description in force (a default v4 one until the first is decoded).
  const FormatDescription& format() const { return fd_; }
  bool has_format() const { return has_fd_; }

 private:
  uint8_t PostHeaderLength(uint8_t type, uint8_t fallback) const;
  Event DecodeBody(std::string_view bytes, uint64_t position, bool with_checksum,
                   std::vector<std::shared_ptr<const std::string>> owned);

  FormatDescription fd_;
  bool has_fd_ = false;
  bool verify_ = true;
  std::string file_;
};

// Splits a binlog file's bytes (starting with the 4-byte magic "\xfebin") into events.
// Next() returns each event's bytes and position; the bytes must outlive the reader. Throws
// Error(kData) for a missing magic or an event whose size runs past the end (a file cut off
// mid-event, which a live server's current file may be: check `partial_tail()` first if that
// is expected). Not thread-safe.
class BinlogFileReader {
 public:
  explicit BinlogFileReader(std::string_view file_bytes, std::string file_name = {});
  // The next event's bytes and start position; false at the end of the bytes.
  bool Next(std::string_view* event, uint64_t* position);
  // True when what is left is shorter than the event it starts (a file still being written).
  bool partial_tail() const;

 private:
  std::string_view bytes_;
  std::string file_;
  size_t pos_ = 4;
};

}  // namespace ferry::mysql::binlog
