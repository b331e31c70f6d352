// The one type model every value passes through: the AWS DMS data types.
//
// Every connector maps its native types to a DmsType on read, and a DmsType (plus, when
// source and target are the same engine, the source's native type) to its own DDL on write.
// The in-memory encoding of each kind is fixed here and in batch.h, so any reader can feed
// any writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

enum class DmsKind : uint8_t {
  kBoolean,
  kBytes,     // binary with a maximum length
  kDate,
  kTime,      // may exceed 24h and be negative (MySQL TIME)
  kDatetime,  // timestamp without zone; zoned source values are normalised to UTC
  kInt1,
  kInt2,
  kInt4,
  kInt8,
  kUint1,
  kUint2,
  kUint4,
  kUint8,
  kNumeric,   // exact decimal; precision 0 means unconstrained
  kReal4,
  kReal8,
  kString,    // single-byte-ish text with a maximum length (we carry UTF-8 anyway)
  kWstring,   // Unicode text with a maximum length
  kBlob,      // binary large object
  kClob,      // character large object
  kNclob,     // Unicode character large object
  // Not a DMS type: a value in its engine's own form, copied between two endpoints of the same
  // engine where any conversion could change it (SQLite: a value keeps its storage class
  // whatever the declared type, so 5000000000 in an INT column or 2024 in a DATETIME column
  // stays exactly that). Only that engine's reader makes it (see Dialect::KeepsSourceValues)
  // and only its writer takes it; the bytes are the engine's encoding (sqlite_types.h).
  kEngineValue,
};

// How a kind's values are held in a Batch cell (see batch.h).
enum class Storage : uint8_t {
  kInt,     // Cell::i: booleans (0/1), signed integers, DATE (days since 1970-01-01),
            // TIME (microseconds), DATETIME (microseconds since 1970-01-01 00:00:00)
  kUint,    // Cell::u: unsigned integers
  kDouble,  // Cell::d: REAL4 (exactly the float's value) and REAL8
  kBytes,   // arena bytes: text (UTF-8), binary, NUMERIC as canonical decimal text
};

struct DmsType {
  DmsKind kind = DmsKind::kNclob;
  int64_t length = 0;  // characters for strings, bytes for BYTES; 0 = unbounded
  int precision = 0;   // NUMERIC digits (0 = unconstrained); fractional second digits for TIME/DATETIME
  int scale = 0;       // NUMERIC scale (may be negative where the engine allows)
  bool with_time_zone = false;  // DATETIME came from a zoned type and holds UTC

  bool operator==(const DmsType&) const = default;
};

Storage StorageOf(DmsKind kind);
inline bool IsText(DmsKind k) {
  return k == DmsKind::kString || k == DmsKind::kWstring || k == DmsKind::kClob ||
         k == DmsKind::kNclob;
}
// INT1..INT8 and UINT1..UINT8.
inline bool IsIntegerKind(DmsKind k) {
  return k == DmsKind::kInt1 || k == DmsKind::kInt2 || k == DmsKind::kInt4 || k == DmsKind::kInt8 ||
         k == DmsKind::kUint1 || k == DmsKind::kUint2 || k == DmsKind::kUint4 ||
         k == DmsKind::kUint8;
}
inline bool IsBinary(DmsKind k) { return k == DmsKind::kBytes || k == DmsKind::kBlob; }
inline bool IsLob(DmsKind k) {
  return k == DmsKind::kBlob || k == DmsKind::kClob || k == DmsKind::kNclob;
}

// "INT4", "NUMERIC", ... as DMS spells them.
const char* DmsKindName(DmsKind kind);
std::optional<DmsKind> ParseDmsKindName(std::string_view name);  // case-insensitive
// "NUMERIC(38,10)", "WSTRING(20)", "DATETIME(6)", "INT8".
std::string DescribeDmsType(const DmsType& type);

// Inclusive range of the integer kinds; false for non-integer kinds.
bool SignedRange(DmsKind kind, int64_t* min, int64_t* max);
uint64_t UnsignedMax(DmsKind kind);

}  // namespace ferry
