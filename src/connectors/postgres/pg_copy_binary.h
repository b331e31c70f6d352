// PostgreSQL binary COPY: the stream framing and the binary form of each core type, as pure
// functions over bytes so they can be tested without a server.
//
// Stream layout (COPY ... (FORMAT binary)): an 11-byte signature, int32 flags, int32 header
// extension length plus that many bytes; then tuples (int16 field count, then per field an
// int32 length, -1 for NULL, followed by that many bytes); then the trailer, int16 -1.
// All integers are big-endian (network order).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::postgres {

// PostgreSQL counts days and microseconds from 2000-01-01; Ferry from 1970-01-01.
constexpr int64_t kPgEpochDays = 10957;
constexpr int64_t kPgEpochMicros = kPgEpochDays * 86'400 * 1'000'000LL;

inline constexpr char kCopySignature[11] = {'P',  'G',    'C',  'O',  'P', 'Y',
                                            '\n', '\377', '\r', '\n', '\0'};

// --- Big-endian helpers (no alignment assumptions). ---
inline uint16_t LoadU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}
inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t LoadU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void PutU16(uint16_t v, std::string* out) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}
inline void PutU32(uint32_t v, std::string* out) {
  v = __builtin_bswap32(v);
  out->append(reinterpret_cast<const char*>(&v), 4);
}
inline void PutU64(uint64_t v, std::string* out) {
  v = __builtin_bswap64(v);
  out->append(reinterpret_cast<const char*>(&v), 8);
}

// One field of a tuple: `length` -1 means NULL. Points into the parser's buffer.
struct CopyField {
  const char* data;
  int32_t length;
};

// Incremental parser of a binary COPY stream. Feed it bytes in any chunking (libpq hands out
// one CopyData message at a time; a tuple may span several), then call Next() until it says
// it needs more. Every length is checked against the bytes present in release builds; a
// malformed stream throws ferry::Error(kData) that says what was wrong, never reads out of
// bounds.
class CopyBinaryParser {
 public:
  enum class Status { kTuple, kNeedMore, kEnd };

  // `fields`: the number of fields every tuple must have.
  explicit CopyBinaryParser(int fields);

  // Adds stream bytes. They are parsed in place (no copy) and must stay valid until Next()
  // returns kNeedMore or kEnd; the parser keeps its own copy of an incomplete tuple's bytes
  // at that point. Invalidates fields() of the previous tuple.
  void Feed(const char* data, size_t size);
  // Parses the next tuple. kTuple: fields() holds it (valid until the next Feed or Next);
  // kNeedMore: feed more bytes; kEnd: the trailer was read.
  Status Next();
  const CopyField* fields() const { return fields_.data(); }
  // True once the trailer was read; bytes after it are an error.
  bool ended() const { return ended_; }
  // Call at end of stream: throws when the stream stopped before its trailer.
  void Finish() const;

 private:
  Status NeedMore();
  std::string buf_;             // an incomplete tuple carried over between Feeds
  const char* base_ = nullptr;  // the bytes being parsed: buf_ or the caller's buffer
  size_t size_ = 0;
  size_t pos_ = 0;
  bool header_done_ = false;
  bool ended_ = false;
  int nfields_;
  std::vector<CopyField> fields_;
};

// Appends the 19-byte stream header (signature, flags 0, no extension).
void AppendCopyHeader(std::string* out);
// Appends the trailer (int16 -1).
void AppendCopyTrailer(std::string* out);

// --- numeric ---
// Binary numeric (int16 ndigits, int16 weight, uint16 sign, uint16 dscale, base-10000 digits)
// -> canonical decimal text (value_codec.h NormalizeDecimal form, "NaN", "Infinity",
// "-Infinity"), appended to `out`. Returns false when the bytes are not a valid numeric.
bool DecodeNumeric(const char* data, size_t size, std::string* out);
// Canonical (or any plain "[-]digits[.digits]") decimal text, or NaN/Infinity/-Infinity ->
// binary numeric appended to `out` (without the length prefix). Returns false for text that
// is not such a number or exceeds numeric's limits.
bool EncodeNumeric(std::string_view text, std::string* out);

// --- uuid ---
// 16 bytes -> "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lowercase) appended to out.
void AppendUuidText(const char* data16, std::string* out);
// Text (with or without hyphens, any case, optional braces) -> 16 bytes; false when invalid.
bool ParseUuidText(std::string_view text, char out16[16]);

// --- dates and times (see pg_types.h for the infinity convention) ---
// PostgreSQL date (days since 2000-01-01, INT32_MAX/MIN = +/-infinity) -> Ferry DATE cell.
int64_t DateCellFromPg(int32_t pg_days);
// Ferry DATE cell -> PostgreSQL days; false when outside PostgreSQL's date range.
bool PgDateFromCell(int64_t cell, int32_t* pg_days);
// PostgreSQL timestamp (micros since 2000-01-01, INT64_MAX/MIN = +/-infinity) -> Ferry
// DATETIME cell; false when the value does not fit Ferry's 1970-based int64 (after 294247 AD).
bool DatetimeCellFromPg(int64_t pg_micros, int64_t* cell);
// Ferry DATETIME cell -> PostgreSQL micros; false when outside PostgreSQL's timestamp range.
bool PgTimestampFromCell(int64_t cell, int64_t* pg_micros);


}  // namespace ferry::postgres
