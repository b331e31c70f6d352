// The conversion of one stored SQLite value into a column's DMS kind (sqlite_values.h), shared
// by the full-load reader and the change capture so both read a value the same way.
#include "connectors/sqlite/sqlite_values.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "connectors/sqlite/sqlite_types.h"
#include "types/utf8.h"
#include "types/value_codec.h"

namespace ferry::sqlite {

namespace {

// Julian day number of 1970-01-01 00:00:00 in milliseconds (SQLite keeps julian days as
// integer milliseconds internally: 2440587.5 * 86400000).
constexpr int64_t kUnixEpochJulianMs = 210866760000000LL;
constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

// How `storage` (SQLITE_INTEGER or SQLITE_FLOAT) values of a `kind` column are read under
// `mode`, as the warning that counts them.
std::string NumberWarning(DmsKind kind, int storage, DatetimeNumbers mode) {
  const char* what = storage == SQLITE_INTEGER ? "INTEGER" : "REAL";
  const bool julian = mode == DatetimeNumbers::kJulianDay ||
                      (mode == DatetimeNumbers::kAuto && storage == SQLITE_FLOAT);
  const char* reading = kind == DmsKind::kTime
                            ? (julian ? "the time of day of a Julian day number" : "seconds")
                            : (julian ? "Julian day numbers" : "Unix seconds");
  return fmt::format(
      "{} values read as {} (SQLite source datetime_numbers={}; "
      "auto, unixepoch, julianday or refuse choose the reading)",
      what, reading, DatetimeNumbersName(mode));
}

bool ParseInt64(std::string_view s, int64_t* v) {
  s = TrimSpaces(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto res = std::from_chars(s.data(), s.data() + s.size(), *v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && !s.empty();
}

bool ParseUint64(std::string_view s, uint64_t* v) {
  s = TrimSpaces(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto res = std::from_chars(s.data(), s.data() + s.size(), *v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && !s.empty();
}

bool IEq(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  }
  return true;
}

// Julian day (REAL) -> microseconds since the Unix epoch, at SQLite's millisecond resolution.
bool JulianToMicros(double jd, int64_t* micros) {
  if (!std::isfinite(jd) || jd < 0 || jd > 5373484.5) return false;  // SQLite's own range
  const int64_t ms = std::llround(jd * 86400000.0);
  *micros = (ms - kUnixEpochJulianMs) * 1000;
  return true;
}

// A number (storage SQLITE_INTEGER or SQLITE_FLOAT) in a DATE, DATETIME or TIME column as
// microseconds since the Unix epoch, read as `mode` says. Returns nullptr, or why not.
const char* NumberToMicros(sqlite3_stmt* st, int i, int storage, DatetimeNumbers mode,
                           int64_t* micros) {
  if (mode == DatetimeNumbers::kRefuse) {
    return "is a number, and the SQLite source's datetime_numbers=refuse reads no number as a "
           "date or time (auto, unixepoch or julianday choose a reading)";
  }
  const bool julian = mode == DatetimeNumbers::kJulianDay ||
                      (mode == DatetimeNumbers::kAuto && storage == SQLITE_FLOAT);
  if (julian) {
    if (!JulianToMicros(sqlite3_column_double(st, i), micros)) {
      return "is not a Julian day number (0 to 5373484.5)";
    }
    return nullptr;
  }
  if (storage == SQLITE_INTEGER) {
    const int64_t s = sqlite3_column_int64(st, i);
    // Unix seconds; beyond +-292,000 years the microseconds overflow.
    if (s > INT64_MAX / kMicrosPerSecond || s < INT64_MIN / kMicrosPerSecond) {
      return "is out of range for Unix seconds";
    }
    *micros = s * kMicrosPerSecond;
    return nullptr;
  }
  const double us = sqlite3_column_double(st, i) * 1e6;
  if (!(std::fabs(us) < 9.2e18)) return "is out of range for Unix seconds";
  *micros = std::llround(us);
  return nullptr;
}

}  // namespace

bool IsDatetimeKind(DmsKind kind) {
  return kind == DmsKind::kDate || kind == DmsKind::kDatetime || kind == DmsKind::kTime;
}

ReadPlan PlanRead(const ColumnDef& col, DatetimeNumbers numbers) {
  ReadPlan plan;
  plan.type = col.type;
  SignedRange(col.type.kind, &plan.min, &plan.max);
  plan.umax = UnsignedMax(col.type.kind);
  plan.numbers = numbers;
  if (IsDatetimeKind(col.type.kind)) {
    plan.integer_warning = NumberWarning(col.type.kind, SQLITE_INTEGER, numbers);
    plan.real_warning = NumberWarning(col.type.kind, SQLITE_FLOAT, numbers);
  }
  return plan;
}

DatetimeNumbers ParseDatetimeNumbers(const std::string& text) {
  for (DatetimeNumbers mode : {DatetimeNumbers::kAuto, DatetimeNumbers::kUnixEpoch,
                               DatetimeNumbers::kJulianDay, DatetimeNumbers::kRefuse}) {
    if (text == DatetimeNumbersName(mode)) return mode;
  }
  if (text.empty()) return DatetimeNumbers::kAuto;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("SQLite URI parameter datetime_numbers='{}': expected auto, unixepoch, "
                          "julianday or refuse",
                          text));
}

const char* DatetimeNumbersName(DatetimeNumbers mode) {
  switch (mode) {
    case DatetimeNumbers::kAuto:
      return "auto";
    case DatetimeNumbers::kUnixEpoch:
      return "unixepoch";
    case DatetimeNumbers::kJulianDay:
      return "julianday";
    case DatetimeNumbers::kRefuse:
      return "refuse";
  }
  return "auto";
}

// "REAL value 3.5", "TEXT value 'abc'", "BLOB of 3 bytes" for messages.
std::string DescribeStoredValue(sqlite3_stmt* st, int i, int storage) {
  switch (storage) {
    case SQLITE_INTEGER:
      return fmt::format("INTEGER value {}", sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
      return fmt::format("REAL value {}", FormatDouble(sqlite3_column_double(st, i)));
    case SQLITE_TEXT: {
      std::string_view t(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                         static_cast<size_t>(sqlite3_column_bytes(st, i)));
      std::string shown(t.substr(0, 64));
      if (!IsValidUtf8(shown)) {
        return fmt::format("TEXT value of {} bytes that is not valid UTF-8", t.size());
      }
      return fmt::format("TEXT value '{}'{}", shown, t.size() > 64 ? "..." : "");
    }
    case SQLITE_BLOB:
      return fmt::format("BLOB of {} bytes", sqlite3_column_bytes(st, i));
    default:
      return "NULL";
  }
}

// Converts the value of result column `i` (non-NULL, storage class `storage`) into `plan`'s
// kind and appends it to `batch`. Returns nullptr, or why the value does not fit.
const char* ReadValue(sqlite3_stmt* st, int i, int storage, const ReadPlan& plan, Batch& batch) {
  const DmsKind kind = plan.type.kind;
  auto text = [&] {
    return std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                            static_cast<size_t>(sqlite3_column_bytes(st, i)));
  };
  auto blob = [&] {
    const void* p = sqlite3_column_blob(st, i);
    const int n = sqlite3_column_bytes(st, i);
    return std::string_view(p ? static_cast<const char*>(p) : "", static_cast<size_t>(n));
  };
  switch (kind) {
    case DmsKind::kBoolean: {
      if (storage == SQLITE_INTEGER) {
        const int64_t v = sqlite3_column_int64(st, i);
        if (v != 0 && v != 1) return "is not a boolean (0 or 1)";
        batch.AppendInt(v);
        return nullptr;
      }
      if (storage == SQLITE_FLOAT) {
        const double d = sqlite3_column_double(st, i);
        if (d != 0.0 && d != 1.0) return "is not a boolean (0 or 1)";
        batch.AppendInt(d == 1.0);
        return nullptr;
      }
      if (storage == SQLITE_TEXT) {
        std::string_view t = TrimSpaces(text());
        if (IEq(t, "true") || IEq(t, "t") || t == "1") {
          batch.AppendInt(1);
        } else if (IEq(t, "false") || IEq(t, "f") || t == "0") {
          batch.AppendInt(0);
        } else {
          return "is not a boolean (0/1, true/false, t/f)";
        }
        return nullptr;
      }
      return "is not a boolean";
    }
    case DmsKind::kInt1:
    case DmsKind::kInt2:
    case DmsKind::kInt4:
    case DmsKind::kInt8: {
      int64_t v;
      if (storage == SQLITE_INTEGER) {
        v = sqlite3_column_int64(st, i);
      } else if (storage == SQLITE_FLOAT) {
        const double d = sqlite3_column_double(st, i);
        if (!(d >= -kTwo63 && d < kTwo63) || std::trunc(d) != d) return "is not an integer";
        v = static_cast<int64_t>(d);
      } else if (storage == SQLITE_TEXT) {
        if (!ParseInt64(text(), &v)) return "is not an integer";
      } else {
        return "is not an integer";
      }
      if (v < plan.min || v > plan.max) return "is out of range";
      batch.AppendInt(v);
      return nullptr;
    }
    case DmsKind::kUint1:
    case DmsKind::kUint2:
    case DmsKind::kUint4:
    case DmsKind::kUint8: {
      uint64_t v;
      if (storage == SQLITE_INTEGER) {
        const int64_t s = sqlite3_column_int64(st, i);
        if (s < 0) return "is negative";
        v = static_cast<uint64_t>(s);
      } else if (storage == SQLITE_FLOAT) {
        const double d = sqlite3_column_double(st, i);
        if (!(d >= 0 && d < kTwo64) || std::trunc(d) != d) {
          return "is not an unsigned integer";
        }
        v = static_cast<uint64_t>(d);
      } else if (storage == SQLITE_TEXT) {
        if (!ParseUint64(text(), &v)) return "is not an unsigned integer";
      } else {
        return "is not an unsigned integer";
      }
      if (v > plan.umax) return "is out of range";
      batch.AppendUint(v);
      return nullptr;
    }
    case DmsKind::kReal4:
    case DmsKind::kReal8: {
      double d;
      if (storage == SQLITE_FLOAT) {
        d = sqlite3_column_double(st, i);
      } else if (storage == SQLITE_INTEGER) {
        const int64_t v = sqlite3_column_int64(st, i);
        d = static_cast<double>(v);
        if (d >= kTwo63 || static_cast<int64_t>(d) != v) {
          return "has no exact floating-point value";
        }
      } else if (storage == SQLITE_TEXT) {
        auto parsed = ParseDouble(text());
        if (!parsed) return "is not a number";
        d = *parsed;
      } else {
        return "is not a number";
      }
      if (kind == DmsKind::kReal4 && !std::isnan(d) &&
          static_cast<double>(static_cast<float>(d)) != d) {
        return "is not exactly a 4-byte float";
      }
      batch.AppendDouble(d);
      return nullptr;
    }
    case DmsKind::kNumeric: {
      std::string& arena = batch.arena();
      const size_t start = arena.size();
      if (storage == SQLITE_INTEGER) {
        char buf[24];
        auto res = std::to_chars(buf, buf + sizeof(buf), sqlite3_column_int64(st, i));
        arena.append(buf, res.ptr);
      } else if (storage == SQLITE_FLOAT) {
        const double d = sqlite3_column_double(st, i);
        if (std::isinf(d)) {
          arena.append(d > 0 ? "Infinity" : "-Infinity");
        } else {
          // The shortest round-trip text is already canonical unless it uses an exponent
          // or is "-0"; only those go through NormalizeDecimal (which allocates).
          AppendDouble(d, false, &arena);
          std::string_view shown(arena.data() + start, arena.size() - start);
          if (shown.find('e') != std::string_view::npos || shown == "-0") {
            auto canonical = NormalizeDecimal(shown);
            arena.resize(start);
            if (!canonical) return "is not a decimal number";
            arena.append(*canonical);
          }
        }
      } else if (storage == SQLITE_TEXT) {
        auto canonical = NormalizeDecimal(text());
        if (!canonical) return "is not a decimal number";
        arena.append(*canonical);
      } else {
        return "is not a decimal number";
      }
      std::string_view value(arena.data() + start, arena.size() - start);
      if (plan.type.precision > 0 && plan.type.scale >= 0 && value != "NaN" &&
          value != "Infinity" && value != "-Infinity") {
        int int_digits, frac_digits;
        DecimalDigits(value, &int_digits, &frac_digits);
        if (frac_digits > plan.type.scale || int_digits > plan.type.precision - plan.type.scale) {
          arena.resize(start);
          return "does not fit the declared precision and scale";
        }
      }
      batch.CommitBytes(start);
      return nullptr;
    }
    case DmsKind::kDate: {
      if (storage == SQLITE_TEXT) {
        const std::string_view t = TrimSpaces(text());
        if (auto d = ParseDate(t)) {
          batch.AppendInt(*d);
          return nullptr;
        }
        auto dt = ParseDatetime(t);
        if (!dt) return "is not a date (YYYY-MM-DD)";
        if (*dt % kMicrosPerDay != 0) return "has a time of day, which a DATE cannot hold";
        batch.AppendInt(*dt / kMicrosPerDay);
        return nullptr;
      }
      if (storage != SQLITE_INTEGER && storage != SQLITE_FLOAT) return "is not a date";
      int64_t micros;
      if (const char* why = NumberToMicros(st, i, storage, plan.numbers, &micros)) return why;
      if (micros % kMicrosPerDay != 0) return "has a time of day, which a DATE cannot hold";
      batch.AppendInt(micros / kMicrosPerDay);
      return nullptr;
    }
    case DmsKind::kDatetime: {
      int64_t micros;
      if (storage == SQLITE_TEXT) {
        auto dt = ParseDatetime(TrimSpaces(text()));
        if (!dt) return "is not a datetime (YYYY-MM-DD HH:MM:SS[.ffffff])";
        micros = *dt;
      } else if (storage == SQLITE_INTEGER || storage == SQLITE_FLOAT) {
        if (const char* why = NumberToMicros(st, i, storage, plan.numbers, &micros)) return why;
      } else {
        return "is not a datetime";
      }
      batch.AppendInt(micros);
      return nullptr;
    }
    case DmsKind::kTime: {
      if (storage == SQLITE_TEXT) {
        const std::string_view t = TrimSpaces(text());
        auto v = ParseTime(t);
        if (!v && t.size() <= 8 && t.find(':') != std::string_view::npos) {
          const std::string with_seconds = std::string(t) + ":00";  // SQLite also writes "HH:MM"
          v = ParseTime(with_seconds);
        }
        if (!v) return "is not a time (HH:MM:SS[.ffffff])";
        batch.AppendInt(*v);
        return nullptr;
      }
      const bool number = storage == SQLITE_INTEGER || storage == SQLITE_FLOAT;
      if (number && (plan.numbers == DatetimeNumbers::kRefuse ||
                     plan.numbers == DatetimeNumbers::kJulianDay)) {
        int64_t micros;
        if (const char* why = NumberToMicros(st, i, storage, plan.numbers, &micros)) return why;
        const int64_t of_day = micros % kMicrosPerDay;
        batch.AppendInt(of_day < 0 ? of_day + kMicrosPerDay : of_day);
        return nullptr;
      }
      if (storage == SQLITE_INTEGER) {
        const int64_t s = sqlite3_column_int64(st, i);
        if (s > INT64_MAX / kMicrosPerSecond || s < INT64_MIN / kMicrosPerSecond) {
          return "is out of range";
        }
        batch.AppendInt(s * kMicrosPerSecond);
        return nullptr;
      }
      if (storage == SQLITE_FLOAT) {
        const double d = sqlite3_column_double(st, i) * 1e6;
        if (!(std::fabs(d) < 9e18) || std::nearbyint(d) != d) {
          return "is not a whole number of microseconds";
        }
        batch.AppendInt(static_cast<int64_t>(d));
        return nullptr;
      }
      return "is not a time";
    }
    case DmsKind::kEngineValue: {
      // A SQLite -> SQLite copy: the value as stored, storage class included.
      std::string& arena = batch.arena();
      const size_t start = arena.size();
      if (storage == SQLITE_INTEGER) {
        AppendStoredInteger(sqlite3_column_int64(st, i), &arena);
      } else if (storage == SQLITE_FLOAT) {
        AppendStoredReal(sqlite3_column_double(st, i), &arena);
      } else if (storage == SQLITE_TEXT) {
        AppendStoredBytes(ValueTag::kText, text(), &arena);
      } else {
        AppendStoredBytes(ValueTag::kBlob, blob(), &arena);
      }
      batch.CommitBytes(start);
      return nullptr;
    }
    case DmsKind::kString:
    case DmsKind::kWstring:
    case DmsKind::kClob:
    case DmsKind::kNclob: {
      if (storage == SQLITE_TEXT || storage == SQLITE_BLOB) {
        std::string_view t = storage == SQLITE_TEXT ? text() : blob();
        if (!IsValidUtf8(t)) return "is not valid UTF-8 text";
        if (!Utf8FitsLength(t, plan.type.length)) return "is longer than the declared length";
        batch.AppendBytes(t);
        return nullptr;
      }
      std::string& arena = batch.arena();
      const size_t start = arena.size();
      if (storage == SQLITE_INTEGER) {
        char buf[24];
        auto res = std::to_chars(buf, buf + sizeof(buf), sqlite3_column_int64(st, i));
        arena.append(buf, res.ptr);
      } else {
        AppendDouble(sqlite3_column_double(st, i), false, &arena);
      }
      if (!Utf8FitsLength(std::string_view(arena.data() + start, arena.size() - start),
                          plan.type.length)) {
        arena.resize(start);
        return "is longer than the declared length";
      }
      batch.CommitBytes(start);
      return nullptr;
    }
    case DmsKind::kBytes:
    case DmsKind::kBlob: {
      std::string_view b;
      if (storage == SQLITE_BLOB) {
        b = blob();
      } else if (storage == SQLITE_TEXT) {
        b = text();
      } else {
        return "is a number, not binary data";
      }
      if (plan.type.length > 0 && static_cast<int64_t>(b.size()) > plan.type.length) {
        return "is longer than the declared length";
      }
      batch.AppendBytes(b);
      return nullptr;
    }
  }
  return "has an unsupported type";
}

}  // namespace ferry::sqlite
