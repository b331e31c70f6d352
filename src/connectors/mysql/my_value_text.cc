#include "connectors/mysql/my_value_text.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "types/value_codec.h"

namespace ferry::mysql {

// ---- Reading -------------------------------------------------------------------------------

namespace {

// 'YYYY-MM-DD...' with a zero month or day (zero dates included): the server stores such
// values when its sql_mode allows them, and no calendar holds them.
bool IsZeroDateText(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return false;
  return (text[5] == '0' && text[6] == '0') || (text[8] == '0' && text[9] == '0');
}

template <typename T>
bool ParseInteger(std::string_view text, T* v) {
  auto res = std::from_chars(text.data(), text.data() + text.size(), *v);
  return res.ec == std::errc() && res.ptr == text.data() + text.size();
}

}  // namespace

bool AppendCanonicalMysqlDecimal(std::string_view text, std::string* out) {
  size_t p = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) ++p;
  size_t int_begin = p;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
  size_t int_end = p;
  size_t frac_begin = p, frac_end = p;
  if (p < text.size() && text[p] == '.') {
    frac_begin = ++p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
    frac_end = p;
  }
  if (p != text.size() || (int_end == int_begin && frac_end == frac_begin)) return false;
  while (int_begin < int_end && text[int_begin] == '0') ++int_begin;
  while (frac_end > frac_begin && text[frac_end - 1] == '0') --frac_end;
  const bool zero = int_begin == int_end && frac_begin == frac_end;
  if (negative && !zero) out->push_back('-');
  if (int_begin == int_end) {
    out->push_back('0');
  } else {
    out->append(text.data() + int_begin, int_end - int_begin);
  }
  if (frac_end > frac_begin) {
    out->push_back('.');
    out->append(text.data() + frac_begin, frac_end - frac_begin);
  }
  return true;
}

ReadStatus AppendFieldValue(const ReadColumn& column, std::string_view text, Batch* batch) {
  switch (column.kind) {
    case DmsKind::kBoolean:
      if (column.base == MyBase::kBit) {
        // bit(1) arrives as one raw byte, 0x00 or 0x01.
        if (text.size() != 1 || static_cast<unsigned char>(text[0]) > 1) return ReadStatus::kBad;
        batch->AppendInt(text[0]);
        return ReadStatus::kOk;
      } else {
        int64_t v;
        if (!ParseInteger(text, &v) || (v != 0 && v != 1)) return ReadStatus::kBad;
        batch->AppendInt(v);
        return ReadStatus::kOk;
      }
    case DmsKind::kInt1:
    case DmsKind::kInt2:
    case DmsKind::kInt4:
    case DmsKind::kInt8: {
      int64_t v;
      if (!ParseInteger(text, &v)) return ReadStatus::kBad;
      batch->AppendInt(v);
      return ReadStatus::kOk;
    }
    case DmsKind::kUint1:
    case DmsKind::kUint2:
    case DmsKind::kUint4:
    case DmsKind::kUint8: {
      uint64_t v;
      if (!ParseInteger(text, &v)) return ReadStatus::kBad;
      batch->AppendUint(v);
      return ReadStatus::kOk;
    }
    case DmsKind::kReal4:
    case DmsKind::kReal8: {
      auto v = ParseDouble(text);
      if (!v) return ReadStatus::kBad;
      batch->AppendDouble(
          column.kind == DmsKind::kReal4 ? static_cast<double>(static_cast<float>(*v)) : *v);
      return ReadStatus::kOk;
    }
    case DmsKind::kNumeric: {
      std::string& arena = batch->arena();
      const size_t start = arena.size();
      if (AppendCanonicalMysqlDecimal(text, &arena)) {
        batch->CommitBytes(start);
        return ReadStatus::kOk;
      }
      arena.resize(start);
      auto v = NormalizeDecimal(text);
      if (!v) return ReadStatus::kBad;
      batch->AppendBytes(*v);
      return ReadStatus::kOk;
    }
    case DmsKind::kDate: {
      auto v = ParseDate(text);
      if (!v) return IsZeroDateText(text) ? ReadStatus::kZeroDate : ReadStatus::kBad;
      batch->AppendInt(*v);
      return ReadStatus::kOk;
    }
    case DmsKind::kTime: {
      auto v = ParseTime(text);
      if (!v) return ReadStatus::kBad;
      batch->AppendInt(*v);
      return ReadStatus::kOk;
    }
    case DmsKind::kDatetime: {
      auto v = ParseDatetime(text);
      if (!v) return IsZeroDateText(text) ? ReadStatus::kZeroDate : ReadStatus::kBad;
      batch->AppendInt(*v);
      return ReadStatus::kOk;
    }
    default:
      // Text (already utf8mb4 from the server), binary and bit(n>1) bytes: as sent.
      batch->AppendBytes(text);
      return ReadStatus::kOk;
  }
}

// ---- Writing -------------------------------------------------------------------------------

namespace {

// The escape character for each byte that needs one in a LOAD DATA field, else 0.
struct EscapeTable {
  char code[256] = {};
  constexpr EscapeTable() {
    code[0] = '0';
    code[static_cast<unsigned char>('\t')] = 't';
    code[static_cast<unsigned char>('\n')] = 'n';
    code[static_cast<unsigned char>('\r')] = 'r';
    code[static_cast<unsigned char>('\\')] = '\\';
  }
};
constexpr EscapeTable kEscape;

}  // namespace

void AppendLoadDataEscaped(std::string_view value, std::string* out) {
  const char* p = value.data();
  const char* end = p + value.size();
  const char* run = p;
  for (; p < end; ++p) {
    const char e = kEscape.code[static_cast<unsigned char>(*p)];
    if (e == 0) continue;
    out->append(run, p - run);
    out->push_back('\\');
    out->push_back(e);
    run = p + 1;
  }
  out->append(run, end - run);
}

WriteColumn MakeWriteColumn(const std::string& name, const DmsType& source,
                            const std::string& target_native_type) {
  WriteColumn w;
  w.name = name;
  w.source = source;
  w.target = ParseNativeType(target_native_type);
  w.via_variable = w.target.base == MyBase::kBit;
  return w;
}

namespace {

constexpr int64_t kMinDateDays = -719162;  // 0001-01-01
constexpr int64_t kMaxDateDays = 2932896;  // 9999-12-31
constexpr int64_t kMaxTimeMicros = (838LL * 3600 + 59 * 60 + 59) * kMicrosPerSecond + 999999;
constexpr int64_t kMinTimestampMicros = 1 * kMicrosPerSecond;  // 1970-01-01 00:00:01
constexpr int64_t kMaxTimestampMicros =
    2147483647LL * kMicrosPerSecond + 999999;  // 2038-01-19 03:14:07

// The value as text for messages, shortened.
std::string Shown(std::string_view v) {
  if (v.size() > 64) return fmt::format("'{}...' ({} bytes)", v.substr(0, 64), v.size());
  return fmt::format("'{}'", v);
}

std::string ShownCell(const WriteColumn& w, const Batch& b, size_t row, int col) {
  std::string s;
  AppendCanonical(b, row, col, w.source, &s);
  if (IsBinary(w.source.kind)) {
    std::string hex = "0x";
    for (size_t i = 0; i < s.size() && i < 32; ++i) {
      fmt::format_to(std::back_inserter(hex), "{:02X}", static_cast<unsigned char>(s[i]));
    }
    if (s.size() > 32) hex += fmt::format("... ({} bytes)", s.size());
    return hex;
  }
  return StorageOf(w.source.kind) == Storage::kBytes ? Shown(s) : s;
}

[[noreturn]] void Fail(const WriteColumn& w, const Batch& b, size_t row, int col,
                       std::string_view why) {
  throw RowError(
      col, static_cast<int64_t>(row),
      fmt::format("column `{}` ({} value {}) cannot be written to MySQL {}: {}", w.name,
                  DescribeDmsType(w.source), ShownCell(w, b, row, col), w.target.text, why));
}

bool IsTemporal(DmsKind k) {
  return k == DmsKind::kDate || k == DmsKind::kTime || k == DmsKind::kDatetime;
}

// Integer range of an integer-like target.
void TargetRange(const MyNativeType& t, bool* is_signed, int64_t* min, int64_t* max,
                 uint64_t* umax) {
  *is_signed = !t.is_unsigned;
  int bits = 64;
  switch (t.base) {
    case MyBase::kTinyint:
      bits = 8;
      break;
    case MyBase::kSmallint:
      bits = 16;
      break;
    case MyBase::kMediumint:
      bits = 24;
      break;
    case MyBase::kInt:
      bits = 32;
      break;
    case MyBase::kBigint:
      bits = 64;
      break;
    case MyBase::kYear:
      *is_signed = true;
      *min = 0;
      *max = 2155;
      *umax = 2155;
      return;
    case MyBase::kBit:
      *is_signed = false;
      bits = static_cast<int>(t.length);
      break;
    default:
      break;
  }
  if (*is_signed) {
    *max = bits == 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (bits - 1)) - 1;
    *min = -*max - 1;
    *umax = static_cast<uint64_t>(*max);
  } else {
    *min = 0;
    *umax = bits >= 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << bits) - 1;
    *max = *umax > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(*umax);
  }
}

void AppendInteger(bool negative, uint64_t magnitude, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), magnitude);
  if (negative) out->push_back('-');
  out->append(buf, res.ptr - buf);
}

void EncodeInteger(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* out) {
  const Cell& c = b.at(row, col);
  bool negative = false;
  uint64_t mag = 0;
  const DmsKind k = w.source.kind;
  if (IsTemporal(k)) Fail(w, b, row, col, "a date/time value is not an integer");
  switch (StorageOf(k)) {
    case Storage::kInt:
      negative = c.i < 0;
      mag = negative ? 0 - static_cast<uint64_t>(c.i) : static_cast<uint64_t>(c.i);
      break;
    case Storage::kUint:
      mag = c.u;
      break;
    case Storage::kDouble:
      if (!std::isfinite(c.d) || c.d != std::trunc(c.d) ||
          std::fabs(c.d) >= 18446744073709551616.0) {
        Fail(w, b, row, col, "not an integer in range");
      }
      negative = c.d < 0;
      mag = static_cast<uint64_t>(std::fabs(c.d));
      break;
    case Storage::kBytes: {
      std::string_view v = b.Bytes(row, col);
      if (IsBinary(k)) {
        if (w.target.base != MyBase::kBit) Fail(w, b, row, col, "binary data is not an integer");
        // Big-endian bytes, as a MySQL bit(n) column reads.
        size_t skip = 0;
        while (skip < v.size() && v[skip] == 0) ++skip;
        if (v.size() - skip > 8) Fail(w, b, row, col, "more than 64 bits");
        for (size_t i = skip; i < v.size(); ++i)
          mag = (mag << 8) | static_cast<unsigned char>(v[i]);
        break;
      }
      negative = !v.empty() && v[0] == '-';
      std::string_view digits = negative || (!v.empty() && v[0] == '+') ? v.substr(1) : v;
      if (digits.empty() || !ParseInteger(digits, &mag)) {
        Fail(w, b, row, col, "not an integer (fractions are never rounded)");
      }
      if (mag == 0) negative = false;
      break;
    }
  }
  bool is_signed;
  int64_t min, max;
  uint64_t umax;
  TargetRange(w.target, &is_signed, &min, &max, &umax);
  bool ok;
  if (negative) {
    ok = is_signed && mag <= static_cast<uint64_t>(0) - static_cast<uint64_t>(min);
  } else {
    ok = mag <= umax;
  }
  if (w.target.base == MyBase::kYear && ok && mag != 0 && mag < 1901) ok = false;
  if (!ok) {
    if (w.target.base == MyBase::kYear) Fail(w, b, row, col, "out of range 1901..2155 (or 0)");
    if (is_signed) Fail(w, b, row, col, fmt::format("out of range {}..{}", min, max));
    Fail(w, b, row, col, fmt::format("out of range 0..{}", umax));
  }
  AppendInteger(negative, mag, out);
}

// Canonical decimal text of a numeric-ish source value into `scratch`.
void CanonicalDecimal(const WriteColumn& w, const Batch& b, size_t row, int col,
                      std::string* scratch) {
  scratch->clear();
  const Cell& c = b.at(row, col);
  const DmsKind k = w.source.kind;
  if (IsTemporal(k) || IsBinary(k)) Fail(w, b, row, col, "not a number");
  switch (StorageOf(k)) {
    case Storage::kInt:
      AppendInteger(c.i < 0, c.i < 0 ? 0 - static_cast<uint64_t>(c.i) : c.i, scratch);
      return;
    case Storage::kUint:
      AppendInteger(false, c.u, scratch);
      return;
    case Storage::kDouble: {
      if (!std::isfinite(c.d)) Fail(w, b, row, col, "MySQL cannot hold NaN or Infinity");
      std::string t;
      AppendDouble(c.d, k == DmsKind::kReal4, &t);
      *scratch = *NormalizeDecimal(t);
      return;
    }
    case Storage::kBytes: {
      std::string_view v = b.Bytes(row, col);
      if (v == "NaN" || v == "Infinity" || v == "-Infinity") {
        Fail(w, b, row, col, "MySQL cannot hold NaN or Infinity");
      }
      if (k == DmsKind::kNumeric) {
        scratch->assign(v);
        return;
      }
      auto n = NormalizeDecimal(v);
      if (!n || *n == "NaN" || *n == "Infinity" || *n == "-Infinity") {
        Fail(w, b, row, col, "not a number");
      }
      *scratch = std::move(*n);
      return;
    }
  }
}

void EncodeDecimal(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* scratch,
                   std::string* out) {
  CanonicalDecimal(w, b, row, col, scratch);
  int integer_digits, fraction_digits;
  DecimalDigits(*scratch, &integer_digits, &fraction_digits);
  const int p = static_cast<int>(w.target.length);
  const int s = w.target.scale;
  if (fraction_digits > s) {
    Fail(w, b, row, col,
         fmt::format("{} fractional digits exceed scale {} (values are never rounded)",
                     fraction_digits, s));
  }
  if (integer_digits > p - s) {
    Fail(w, b, row, col,
         fmt::format("{} integer digits exceed the {} that decimal({},{}) holds", integer_digits,
                     p - s, p, s));
  }
  out->append(*scratch);
}

void EncodeFloat(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* scratch,
                 std::string* out) {
  const bool to_float = w.target.base == MyBase::kFloat;
  const Cell& c = b.at(row, col);
  double v = 0;
  switch (StorageOf(w.source.kind)) {
    case Storage::kDouble:
      v = c.d;
      break;
    case Storage::kInt:
      if (IsTemporal(w.source.kind)) Fail(w, b, row, col, "a date/time value is not a number");
      v = static_cast<double>(c.i);
      // 2^63 (what INT64_MAX rounds to) has no int64 value: casting it back is undefined.
      if (v >= 9223372036854775808.0 || static_cast<int64_t>(v) != c.i) {
        Fail(w, b, row, col, "not exact as a double");
      }
      break;
    case Storage::kUint:
      v = static_cast<double>(c.u);
      if (v >= 18446744073709551615.0 || static_cast<uint64_t>(v) != c.u) {
        Fail(w, b, row, col, "not exact as a double");
      }
      break;
    case Storage::kBytes: {
      if (IsBinary(w.source.kind)) Fail(w, b, row, col, "binary data is not a number");
      std::string_view t = b.Bytes(row, col);
      auto d = ParseDouble(t);
      if (!d) Fail(w, b, row, col, "not a number");
      v = *d;
      if (std::isfinite(v)) {
        // A decimal that the double does not reproduce would be silently rounded.
        scratch->clear();
        AppendDouble(to_float ? static_cast<double>(static_cast<float>(v)) : v, to_float, scratch);
        auto a = NormalizeDecimal(*scratch);
        auto e = NormalizeDecimal(t);
        if (!a || !e || *a != *e) Fail(w, b, row, col, "not exactly representable; would round");
      }
      break;
    }
  }
  if (!std::isfinite(v)) Fail(w, b, row, col, "MySQL cannot hold NaN or Infinity");
  if (to_float) {
    const float f = static_cast<float>(v);
    if (!std::isfinite(f) || static_cast<double>(f) != v) {
      Fail(w, b, row, col, "not exactly representable as a float");
    }
  }
  // Always the double's shortest text, even for a float column: the float's own shortest text
  // ("3.4028235e+38") is parsed by the server as a double first and can land above FLT_MAX;
  // the exact double of the float converts back to that float exactly.
  AppendDouble(v, false, out);
}

// Text of a non-text source value (numbers, dates) into `scratch`.
std::string_view SourceText(const WriteColumn& w, const Batch& b, size_t row, int col,
                            std::string* scratch) {
  if (StorageOf(w.source.kind) == Storage::kBytes) return b.Bytes(row, col);
  scratch->clear();
  AppendCanonical(b, row, col, w.source, scratch);
  return *scratch;
}

bool IsMember(const std::vector<std::string>& members, std::string_view v) {
  for (const auto& m : members) {
    if (m == v) return true;
  }
  return false;
}

void EncodeText(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* scratch,
                std::string* out, bool escape) {
  std::string_view v = SourceText(w, b, row, col, scratch);
  if (!IsValidUtf8(v)) Fail(w, b, row, col, "not valid UTF-8");
  const int64_t max_bytes = MaxBytes(w.target);
  const int64_t max_chars = MaxChars(w.target);
  if (max_chars > 0 && static_cast<int64_t>(v.size()) > max_chars) {
    const int64_t chars = Utf8Length(v);
    if (chars > max_chars) {
      Fail(w, b, row, col, fmt::format("{} characters exceed the limit of {}", chars, max_chars));
    }
  }
  if (max_bytes > 0 && static_cast<int64_t>(v.size()) > max_bytes) {
    Fail(w, b, row, col, fmt::format("{} bytes exceed the limit of {}", v.size(), max_bytes));
  }
  if (w.target.base == MyBase::kEnum && !IsMember(w.target.members, v)) {
    Fail(w, b, row, col, "not one of the enum's values");
  }
  if (w.target.base == MyBase::kSet && !v.empty()) {
    size_t start = 0;
    for (;;) {
      size_t comma = v.find(',', start);
      std::string_view part =
          v.substr(start, comma == std::string_view::npos ? comma : comma - start);
      if (!IsMember(w.target.members, part)) {
        Fail(w, b, row, col, fmt::format("'{}' is not one of the set's values", part));
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (w.target.base == MyBase::kJson && !nlohmann::json::accept(v)) {
    Fail(w, b, row, col, "not valid JSON");
  }
  if (escape) {
    AppendLoadDataEscaped(v, out);
  } else {
    out->append(v);
  }
}

void EncodeBinary(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* scratch,
                  std::string* out, bool escape) {
  std::string_view v = SourceText(w, b, row, col, scratch);
  const int64_t max_bytes = MaxBytes(w.target);
  if (static_cast<int64_t>(v.size()) > max_bytes) {
    Fail(w, b, row, col, fmt::format("{} bytes exceed the limit of {}", v.size(), max_bytes));
  }
  if (w.target.base == MyBase::kBinary && static_cast<int64_t>(v.size()) != max_bytes) {
    Fail(w, b, row, col,
         fmt::format("{} bytes would be padded with zero bytes to {}", v.size(), max_bytes));
  }
  if (escape) {
    AppendLoadDataEscaped(v, out);
  } else {
    out->append(v);
  }
}

// The value as microseconds (datetime targets), days * day (date) or time micros.
int64_t TemporalValue(const WriteColumn& w, const Batch& b, size_t row, int col) {
  const Cell& c = b.at(row, col);
  const DmsKind k = w.source.kind;
  const MyBase t = w.target.base;
  if (t == MyBase::kTime) {
    if (k == DmsKind::kTime) return c.i;
    if (IsText(k)) {
      if (auto v = ParseTime(b.Bytes(row, col))) return *v;
    }
    Fail(w, b, row, col, "not a time of day or duration");
  }
  if (k == DmsKind::kDatetime) return c.i;
  if (k == DmsKind::kDate) {
    // Days far outside any calendar (PostgreSQL infinity sentinels, year 586546) would overflow
    // when scaled to microseconds and wrap to a plausible wrong date.
    if (c.i < kMinDatetimeDays || c.i > kMaxDatetimeDays) {
      Fail(w, b, row, col, "outside the range MySQL can hold");
    }
    return c.i * kMicrosPerDay;
  }
  if (IsText(k)) {
    std::string_view s = b.Bytes(row, col);
    if (auto v = ParseDatetime(s)) return *v;
  }
  Fail(w, b, row, col, "not a date or timestamp");
}

void EncodeTemporal(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* out) {
  const int64_t v = TemporalValue(w, b, row, col);
  const MyBase t = w.target.base;
  const int fsp = t == MyBase::kDate ? 0 : static_cast<int>(w.target.length);
  int64_t unit = 1;
  for (int i = fsp; i < 6; ++i) unit *= 10;
  if (t == MyBase::kTime) {
    if (v > kMaxTimeMicros || v < -kMaxTimeMicros) {
      Fail(w, b, row, col, "outside MySQL's TIME range -838:59:59.999999..838:59:59.999999");
    }
    if (v % unit != 0) {
      Fail(w, b, row, col, fmt::format("more fractional digits than time({}) keeps", fsp));
    }
    AppendTime(v, out);
    return;
  }
  const int64_t days = v >= 0 ? v / kMicrosPerDay : -((-v + kMicrosPerDay - 1) / kMicrosPerDay);
  if (days < kMinDateDays || days > kMaxDateDays) {
    Fail(w, b, row, col, "outside MySQL's range 0001-01-01..9999-12-31");
  }
  if (t == MyBase::kDate) {
    if (v != days * kMicrosPerDay) Fail(w, b, row, col, "has a time of day a date cannot keep");
    AppendDate(days, out);
    return;
  }
  if (t == MyBase::kTimestamp && (v < kMinTimestampMicros || v > kMaxTimestampMicros)) {
    Fail(w, b, row, col,
         "outside MySQL's TIMESTAMP range 1970-01-01 00:00:01..2038-01-19 03:14:07 UTC");
  }
  if (v % unit != 0) {
    Fail(w, b, row, col, fmt::format("more fractional digits than {} keeps", w.target.text));
  }
  AppendDatetime(v, out);
}

// The checked value of a non-NULL cell; text and binary escaped for LOAD DATA when `escape`.
void EncodeValue(const WriteColumn& w, const Batch& b, size_t row, int col, std::string* scratch,
                 std::string* out, bool escape) {
  if (w.source.kind == DmsKind::kEngineValue) {
    // MySQL -> MySQL date or datetime text as the source printed it (Dialect::KeepsSourceValue).
    if (escape) {
      AppendLoadDataEscaped(b.Bytes(row, col), out);
    } else {
      out->append(b.Bytes(row, col));
    }
    return;
  }
  switch (w.target.base) {
    case MyBase::kTinyint:
    case MyBase::kSmallint:
    case MyBase::kMediumint:
    case MyBase::kInt:
    case MyBase::kBigint:
    case MyBase::kYear:
    case MyBase::kBit:
      EncodeInteger(w, b, row, col, out);
      return;
    case MyBase::kDecimal:
      EncodeDecimal(w, b, row, col, scratch, out);
      return;
    case MyBase::kFloat:
    case MyBase::kDouble:
      EncodeFloat(w, b, row, col, scratch, out);
      return;
    case MyBase::kDate:
    case MyBase::kTime:
    case MyBase::kDatetime:
    case MyBase::kTimestamp:
      EncodeTemporal(w, b, row, col, out);
      return;
    case MyBase::kBinary:
    case MyBase::kVarbinary:
    case MyBase::kTinyblob:
    case MyBase::kBlob:
    case MyBase::kMediumblob:
    case MyBase::kLongblob:
    case MyBase::kGeometry:
      EncodeBinary(w, b, row, col, scratch, out, escape);
      return;
    default:
      EncodeText(w, b, row, col, scratch, out, escape);
      return;
  }
}

}  // namespace

void AppendLoadField(const WriteColumn& w, const Batch& b, size_t row, int col,
                     std::string* scratch, std::string* out) {
  if (b.IsNull(row, col)) {
    AppendLoadDataNull(out);
    return;
  }
  EncodeValue(w, b, row, col, scratch, out, true);
}

void AppendCheckedValue(const WriteColumn& w, const Batch& b, size_t row, int col,
                        std::string* scratch, std::string* out) {
  EncodeValue(w, b, row, col, scratch, out, false);
}

ValueClass ClassOf(const WriteColumn& w) {
  switch (w.target.base) {
    case MyBase::kTinyint:
    case MyBase::kSmallint:
    case MyBase::kMediumint:
    case MyBase::kInt:
    case MyBase::kBigint:
    case MyBase::kYear:
    case MyBase::kBit:
    case MyBase::kDecimal:
    case MyBase::kFloat:
    case MyBase::kDouble:
      return ValueClass::kNumber;
    case MyBase::kBinary:
    case MyBase::kVarbinary:
    case MyBase::kTinyblob:
    case MyBase::kBlob:
    case MyBase::kMediumblob:
    case MyBase::kLongblob:
    case MyBase::kGeometry:
      return ValueClass::kBinary;
    default:
      return ValueClass::kString;
  }
}

}  // namespace ferry::mysql
