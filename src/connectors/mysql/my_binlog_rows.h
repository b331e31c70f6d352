// Row images of binlog rows events (my_binlog_event.h RowsEvent), decoded column by column
// from the TABLE_MAP the event refers to: every column type MySQL and MariaDB write (integers,
// FLOAT/DOUBLE, NEWDECIMAL, YEAR, DATE, TIME/TIME2, DATETIME/DATETIME2,
// TIMESTAMP/TIMESTAMP2 with fractions, CHAR/VARCHAR/VAR_STRING, ENUM and SET (also hidden in
// STRING), the BLOB/TEXT family, BIT, JSON (MySQL's binary form, as JSON text), GEOMETRY).
//
// A decoded value is raw: what the row image holds, not yet in Ferry's type model (that is
// my_binlog_cells.h). A column left out of a partial image (binlog_row_image=MINIMAL or
// NOBLOB: the columns-present bitmaps) is ValueKind::kAbsent, distinct from kNull.
//
// Errors: every read is bounds-checked (release builds too); a truncated image, a value that
// runs past the event, an impossible decimal digit group or a malformed JSON document throws
// Error(kData) naming the event, its position, the row, the column and what was expected.
// A column type the decoder cannot decode (pre-5.0 DECIMAL, MariaDB compressed columns)
// throws Error(kUnsupported) naming the column.
//
// Lifetime: string_views in a Value point into the event's bytes (see my_binlog_event.h);
// Value::text is owned. Thread-safety: a RowsCursor is used by one thread; the free functions
// are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/my_binlog_bytes.h"
#include "connectors/mysql/my_binlog_event.h"

namespace ferry::mysql::binlog {

enum class ValueKind : uint8_t {
  kAbsent,     // not in this image (partial row image)
  kNull,       // SQL NULL
  kInteger,    // TINY, SHORT, INT24, LONG, LONGLONG: `i` sign-extended, `u` zero-extended
  kFloat,      // `d` holds the float's exact value
  kDouble,     // `d`
  kDecimal,    // `text`: as the server prints it ("-12.340000", "0.5", "100")
  kYear,       // `i`: 0 or 1901..2155
  kDate,       // `t` (year, month, day; zero parts allowed: '0000-00-00', '2024-00-10')
  kTime,       // `t` (negative, hour up to 838, minute, second, micros)
  kDatetime,   // `t`
  kTimestamp,  // `i` seconds since 1970-01-01 UTC (0 = the zero timestamp), `t.micros`
  kString,     // STRING/VARCHAR/VAR_STRING bytes in the column's character set, as stored
               // (CHAR values without their trailing pad, BINARY without trailing zeros)
  kBlob,       // BLOB family bytes: TEXT (in its character set) and BLOB alike
  kBit,        // BIT: (bits+7)/8 big-endian bytes
  kEnum,       // `i`: 1-based member index (0 = the '' error value)
  kSet,        // `u`: member bits (bit 0 = first member)
  kJson,       // MySQL binary JSON: `text` holds the JSON text as MySQL prints it
  kGeometry,   // `bytes`: 4-byte little-endian SRID then WKB (MySQL's internal form)
};

const char* ValueKindName(ValueKind kind);

struct Temporal {
  bool negative = false;  // TIME only
  uint32_t year = 0, month = 0, day = 0;
  uint32_t hour = 0, minute = 0, second = 0;
  uint32_t micros = 0;
};

struct Value {
  ValueKind kind = ValueKind::kAbsent;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  Temporal t;
  std::string_view bytes;
  std::string text;
};

// One row image: a Value per TABLE_MAP column (kAbsent for those the image leaves out).
struct RowImage {
  std::vector<Value> values;
};

// One row of a rows event: write has `after`, delete `before`, update both.
struct RowChange {
  RowImage before;
  RowImage after;
};

// Iterates the rows of one rows event. `event` must hold a RowsEvent and `map` be the
// TABLE_MAP with the event's table_id (the caller keeps the maps: they come earlier in the
// same transaction); both must outlive the cursor. Throws Error(kData) when the table ids
// differ or the event has more columns than the map.
class RowsCursor {
 public:
  RowsCursor(const Event& event, const TableMap& map);
  // Decodes the next row into `out` (reusing its vectors); false after the last row.
  // Throws Error(kData) / Error(kUnsupported) as described at the top of this file.
  bool Next(RowChange* out);
  // Rows decoded so far.
  int64_t rows() const { return row_; }

 private:
  void ReadImage(const std::vector<bool>& present, const char* image, RowImage* out);

  const RowsEvent& ev_;
  const TableMap& map_;
  ErrorContext ctx_;
  size_t pos_ = 0;
  int64_t row_ = 0;
};

// Decodes one value of `column` at the start of `bytes`; returns the bytes it took. For
// tests and the fuzz target; RowsCursor uses the same code. Throws as RowsCursor does, with
// `ctx` naming the event.
size_t DecodeValue(std::string_view bytes, const TableMapColumn& column, const ErrorContext& ctx,
                   Value* out);

// NEWDECIMAL's binary form -> decimal text with `scale` fraction digits ("-0.50"). Bytes taken
// in `*used`. Throws Error(kData) (through ctx) for short input or a digit group out of range.
std::string DecodeDecimal(std::string_view bytes, int precision, int scale, const ErrorContext& ctx,
                          size_t* used);
// Bytes of a NEWDECIMAL(precision, scale) value.
size_t DecimalBinarySize(int precision, int scale);

// MySQL's binary JSON (the JSON column type, 5.7+) -> JSON text as MySQL prints it
// (`{"a": [1, 2.5, "x"]}`: ", " and ": " separators). Throws Error(kData) through `ctx`.
std::string JsonBinaryToText(std::string_view bytes, const ErrorContext& ctx);

}  // namespace ferry::mysql::binlog
