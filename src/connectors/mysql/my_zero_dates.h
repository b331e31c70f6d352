// The zero_dates policy of a MySQL source, shared by the full-load reader (my_reader.h) and
// the binlog row conversion (my_binlog_cells.h), without either's connection headers.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::mysql {

// What a MySQL source's zero dates ('0000-00-00', '2024-00-10', ...) become: the source URI
// parameter zero_dates=null (the default: NULL, counted as a warning on its column; a row error
// in a NOT NULL column), refuse (a row error), or a date YYYY-MM-DD read instead (at midnight
// in a DATETIME), counted as a warning.
struct ZeroDates {
  enum class Mode { kNull, kRefuse, kReplace } mode = Mode::kNull;
  int64_t days = 0;  // kReplace: the date read instead, in days since 1970-01-01
  std::string text;  // the setting as given, for messages ("null" when not given)
};
// Throws Error(kInvalidArgument) naming the choices for anything else.
ZeroDates ParseZeroDates(const std::string& text);

}  // namespace ferry::mysql
