// Conversions between Ferry's in-memory encodings (batch.h) and text, shared by every
// connector so that one value has exactly one text form wherever it is written.
//
// Calendar: proleptic Gregorian, astronomical year numbering internally (year 0 = 1 BC).
// Text forms follow ISO 8601 / SQL: "YYYY-MM-DD", "HH:MM:SS[.ffffff]",
// "YYYY-MM-DD HH:MM:SS[.ffffff]"; years before 1 are written PostgreSQL style with " BC".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "types/batch.h"
#include "types/dms_type.h"

namespace ferry {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// PostgreSQL 'infinity' / '-infinity' dates and timestamps travel as these sentinels (see
// connectors/postgres/pg_types.h); they print as "infinity" / "-infinity".
constexpr int64_t kDateInfinity = INT32_MAX;
constexpr int64_t kDateMinusInfinity = INT32_MIN;
constexpr int64_t kDatetimeInfinity = INT64_MAX;
constexpr int64_t kDatetimeMinusInfinity = INT64_MIN;
// The days a DATETIME can hold without overflowing microseconds (about +-292,000 years).
constexpr int64_t kMaxDatetimeDays = INT64_MAX / kMicrosPerDay - 1;
constexpr int64_t kMinDatetimeDays = -kMaxDatetimeDays;

// `s` without leading and trailing spaces and tabs (engines pad some text forms).
std::string_view TrimSpaces(std::string_view s);

// Days since 1970-01-01 <-> civil date. Month 1..12, day 1..31.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);

// Appends the text form to `out`.
void AppendDate(int64_t days, std::string* out);
void AppendTime(int64_t micros, std::string* out);      // "-838:59:59.000000" style allowed
void AppendDatetime(int64_t micros, std::string* out);  // no zone suffix
std::string FormatDate(int64_t days);
std::string FormatTime(int64_t micros);
std::string FormatDatetime(int64_t micros);

// Parsers accept what the engines print: "2024-01-31", "2024-01-31 BC", "12:00:01.5",
// "-838:59:59", "2024-01-31 12:00:00.123456", "2024-01-31T12:00:00", and an optional
// zone suffix "+02", "+05:30", "Z" on datetimes (the result is then UTC). nullopt when
// the text is not a valid value.
std::optional<int64_t> ParseDate(std::string_view text);
std::optional<int64_t> ParseTime(std::string_view text);
std::optional<int64_t> ParseDatetime(std::string_view text);

// Shortest text that reads back to exactly `v` ("0.1", "1e+300", "NaN", "Infinity",
// "-Infinity"). REAL4 values are formatted as floats so 0.1f prints "0.1".
void AppendDouble(double v, bool as_float, std::string* out);
std::string FormatDouble(double v, bool as_float = false);
// Accepts decimal/exponent text and NaN/Infinity/-Infinity/inf spellings.
std::optional<double> ParseDouble(std::string_view text);

// Canonical decimal text: optional '-', no leading zeros (single "0" before the point),
// no trailing fractional zeros, no '.' when integral, no "-0"; exponent notation expanded.
// NaN / Infinity / -Infinity pass through in that spelling. nullopt when not a number.
std::optional<std::string> NormalizeDecimal(std::string_view text);
// Digits before and after the point of a canonical decimal (for range checks).
void DecimalDigits(std::string_view canonical, int* integer_digits, int* fraction_digits);

// The canonical text of a cell whose kind is not stored as bytes, appended to `out`
// (nothing is appended for byte-stored kinds). Booleans are "1"/"0".
void AppendCanonicalCell(const DmsType& type, const Cell& c, std::string* out);

// The canonical text of one cell, as used by row hashes and text-based writers.
// Booleans are "1"/"0"; binary is returned raw (hashes use it as bytes).
void AppendCanonical(const Batch& batch, size_t row, int col, const DmsType& type,
                     std::string* out);

// 64-bit FNV-1a: folds `n` bytes of `data` into `h` (start from kFnvOffset).
constexpr uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;
inline uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

// Hash of one row's canonical values, independent of engine: 64-bit FNV-1a over
// (null flag, length, canonical bytes) per column. A table's hash is the wrapping sum of its
// row hashes, so it does not depend on row order.
uint64_t CanonicalRowHash(const Batch& batch, size_t row, const DmsType* types);

}  // namespace ferry
