// Value conversions of the MySQL connector, as pure functions testable without a server:
// - text protocol field -> Batch cell (reader);
// - Batch cell -> one escaped LOAD DATA field, checked against the target native type first
//   (writer); a value the target cannot hold exactly is a RowError, never rounded or clamped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/connector.h"
#include "connectors/mysql/my_types.h"
#include "types/batch.h"
#include "types/utf8.h"
#include "types/dms_type.h"

namespace ferry::mysql {

// ---- Reading -------------------------------------------------------------------------------

// How the reader decodes one column of the text result set.
struct ReadColumn {
  DmsKind kind = DmsKind::kNclob;
  MyBase base = MyBase::kUnknown;
};

enum class ReadStatus {
  kOk,        // a cell was appended
  kZeroDate,  // a zero date ('0000-00-00', '2024-00-10', ...): nothing appended; policy NULL
  kBad,       // not a valid value of the kind: nothing appended
};

// Appends the cell for `text` (a non-NULL field as the server sent it) to `batch`.
// REAL4 columns must be selected as CAST(col AS DOUBLE) (the server prints floats with only
// 6 significant digits); bit columns raw (big-endian bytes).
ReadStatus AppendFieldValue(const ReadColumn& column, std::string_view text, Batch* batch);

// Canonical decimal (value_codec.h NormalizeDecimal form) of MySQL's decimal text, appended
// to `out` without any allocation. False when `text` is not plain [-]digits[.digits].
bool AppendCanonicalMysqlDecimal(std::string_view text, std::string* out);

// ---- Writing -------------------------------------------------------------------------------

// Appends `value` escaped for LOAD DATA ... FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES
// TERMINATED BY '\n': backslash, tab, newline, carriage return and NUL become \\ \t \n \r \0.
void AppendLoadDataEscaped(std::string_view value, std::string* out);
// The LOAD DATA field for NULL.
inline void AppendLoadDataNull(std::string* out) { out->append("\\N"); }


// How the writer encodes values of one column: the incoming DMS type and the target's
// actual native type.
struct WriteColumn {
  std::string name;
  DmsType source;
  MyNativeType target;
  // bit(n) columns are loaded through a user variable: (@v) SET col = CAST(@v AS UNSIGNED).
  bool via_variable = false;
};

WriteColumn MakeWriteColumn(const std::string& name, const DmsType& source,
                            const std::string& target_native_type);

// Appends the escaped LOAD DATA field of batch(row, col) for `column` (NULL as \N), after
// checking the value fits the target exactly. Throws RowError(col, row, message naming the
// column, the value and what was expected). `scratch` is a reused buffer.
void AppendLoadField(const WriteColumn& column, const Batch& batch, size_t row, int col,
                     std::string* scratch, std::string* out);

// The same checks as AppendLoadField for a non-NULL batch(row, col), appending the value
// unescaped (what LOAD DATA receives once unescaped): numbers as digits, dates and times as
// text, text as its UTF-8 bytes, binary as raw bytes. For SQL literals (cdc applier).
void AppendCheckedValue(const WriteColumn& column, const Batch& batch, size_t row, int col,
                        std::string* scratch, std::string* out);

// How a value AppendCheckedValue produced is written as an SQL literal: a bare number,
// a quoted string, or binary (X'hex').
enum class ValueClass { kNumber, kString, kBinary };
ValueClass ClassOf(const WriteColumn& column);

}  // namespace ferry::mysql
