// One stored SQLite value converted into a column's DMS kind: the single conversion that the
// full-load reader (sqlite_reader.h, which documents what each kind accepts) and the change
// capture (sqlite_capture.h, reading the values its triggers copied) both use, so a value
// reads the same whichever way it reaches the target.
#pragma once

#include <cstdint>
#include <string>

#include "catalog/table_def.h"
#include "sqlite_api/sqlite_connection.h"
#include "types/batch.h"
#include "types/dms_type.h"

namespace ferry::sqlite {

// How INTEGER and REAL values in DATE, DATETIME and TIME columns are read: the SQLite
// source URI parameter datetime_numbers=. SQLite has no date storage class; applications
// store Unix seconds, Julian day numbers or text, and SQLite's own date functions take any
// number as a Julian day.
enum class DatetimeNumbers {
  kAuto,       // INTEGER as Unix seconds, REAL as a Julian day number (the default)
  kUnixEpoch,  // INTEGER and REAL as Unix seconds (REAL to the microsecond)
  kJulianDay,  // INTEGER and REAL as Julian day numbers
  kRefuse,     // a row error naming the value
};
// The setting named by `text` ("" = auto); throws Error(kInvalidArgument) naming the choices.
DatetimeNumbers ParseDatetimeNumbers(const std::string& text);
const char* DatetimeNumbersName(DatetimeNumbers mode);  // "auto", "unixepoch", ...

// How one column's values are read (PlanRead).
struct ReadPlan {
  DmsType type;
  int64_t min = 0;
  int64_t max = 0;
  uint64_t umax = 0;
  DatetimeNumbers numbers = DatetimeNumbers::kAuto;
  // DATE/DATETIME/TIME: the warning each INTEGER / REAL value read as a date or time counts.
  std::string integer_warning;
  std::string real_warning;
};

bool IsDatetimeKind(DmsKind kind);

ReadPlan PlanRead(const ColumnDef& col, DatetimeNumbers numbers);

// Converts the value of result column `i` of `st` (non-NULL, storage class `storage`) into
// `plan`'s kind and appends it to `batch`. Returns nullptr, or why the value does not fit
// (then nothing was appended).
const char* ReadValue(sqlite3_stmt* st, int i, int storage, const ReadPlan& plan, Batch& batch);

// "REAL value 3.5", "TEXT value 'abc'", "BLOB of 3 bytes" for messages.
std::string DescribeStoredValue(sqlite3_stmt* st, int i, int storage);

}  // namespace ferry::sqlite
