#include "transform/value_convert.h"

#include <fmt/format.h>

#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>

#include "types/utf8.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

enum class Family { kBool, kInt, kNumber, kDate, kTime, kDatetime, kText, kBinary };

Family FamilyOf(DmsKind k) {
  if (IsIntegerKind(k)) return Family::kInt;
  switch (k) {
    case DmsKind::kBoolean:
      return Family::kBool;
    case DmsKind::kNumeric:
    case DmsKind::kReal4:
    case DmsKind::kReal8:
      return Family::kNumber;
    case DmsKind::kDate:
      return Family::kDate;
    case DmsKind::kTime:
      return Family::kTime;
    case DmsKind::kDatetime:
      return Family::kDatetime;
    case DmsKind::kBytes:
    case DmsKind::kBlob:
      return Family::kBinary;
    default:
      return Family::kText;
  }
}

bool IsUnsigned(DmsKind k) {
  return k == DmsKind::kUint1 || k == DmsKind::kUint2 || k == DmsKind::kUint4 ||
         k == DmsKind::kUint8;
}

// A short, printable form of a value for messages.
std::string Preview(std::string_view v) {
  if (!IsValidUtf8(v)) return fmt::format("<{} bytes of binary>", v.size());
  constexpr size_t kMax = 64;
  if (v.size() <= kMax) return fmt::format("'{}'", v);
  return fmt::format("'{}...'", Utf8PrefixBytes(v, kMax));
}

std::string_view TrimAll(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' ||
                        s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

ConvertStatus DataError(std::string* message, std::string text) {
  *message = std::move(text);
  return ConvertStatus::kDataError;
}

// Appends an integer given as sign and magnitude to an integer or boolean kind.
ConvertStatus AppendInteger(bool negative, uint64_t magnitude, const DmsType& to, Batch* out,
                            std::string* message, std::string_view shown) {
  if (to.kind == DmsKind::kBoolean) {
    out->AppendInt(magnitude != 0 ? 1 : 0);
    return ConvertStatus::kOk;
  }
  if (IsUnsigned(to.kind)) {
    if ((negative && magnitude != 0) || magnitude > UnsignedMax(to.kind)) {
      return DataError(message, fmt::format("value {} is out of range for {}", shown,
                                            DmsKindName(to.kind)));
    }
    out->AppendUint(magnitude);
    return ConvertStatus::kOk;
  }
  int64_t min = 0, max = 0;
  SignedRange(to.kind, &min, &max);
  const uint64_t limit =
      negative ? static_cast<uint64_t>(-(min + 1)) + 1 : static_cast<uint64_t>(max);
  if (magnitude > limit) {
    return DataError(message, fmt::format("value {} is out of range for {}", shown,
                                          DmsKindName(to.kind)));
  }
  int64_t v;
  if (negative) {
    v = magnitude == 0 ? 0 : -static_cast<int64_t>(magnitude - 1) - 1;
  } else {
    v = static_cast<int64_t>(magnitude);
  }
  out->AppendInt(v);
  return ConvertStatus::kOk;
}

// Rounds canonical decimal text (not NaN/Infinity) to an integer, half away from zero.
// False when the magnitude exceeds uint64.
bool RoundedInteger(std::string_view canonical, bool* negative, uint64_t* magnitude) {
  *negative = !canonical.empty() && canonical.front() == '-';
  if (*negative) canonical.remove_prefix(1);
  const size_t dot = canonical.find('.');
  std::string_view integer = canonical.substr(0, dot);
  bool up = dot != std::string_view::npos && dot + 1 < canonical.size() &&
            canonical[dot + 1] >= '5';
  uint64_t v = 0;
  if (integer.size() > 20) return false;
  for (char ch : integer) {
    const uint64_t d = static_cast<uint64_t>(ch - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (up) {
    if (v == UINT64_MAX) return false;
    ++v;
  }
  *magnitude = v;
  return true;
}

// Canonical decimal `s` rounded to `scale` fractional digits (negative: to tens, hundreds...),
// half away from zero, in canonical form.
std::string RoundDecimal(const std::string& s, int scale) {
  if (s == "NaN" || s == "Infinity" || s == "-Infinity") return s;
  std::string_view body = s;
  const bool negative = !body.empty() && body.front() == '-';
  if (negative) body.remove_prefix(1);
  const size_t dot = body.find('.');
  std::string all(body.substr(0, dot));
  int64_t point = static_cast<int64_t>(all.size());
  if (dot != std::string_view::npos) all.append(body.substr(dot + 1));
  const int64_t keep = point + scale;
  if (keep >= static_cast<int64_t>(all.size())) return s;
  if (keep < 0) return "0";
  const bool up = all[static_cast<size_t>(keep)] >= '5';
  std::string kept = all.substr(0, static_cast<size_t>(keep));
  if (up) {
    int64_t i = static_cast<int64_t>(kept.size()) - 1;
    while (i >= 0 && kept[static_cast<size_t>(i)] == '9') kept[static_cast<size_t>(i--)] = '0';
    if (i >= 0) {
      ++kept[static_cast<size_t>(i)];
    } else {
      kept.insert(kept.begin(), '1');
      ++point;
    }
  }
  std::string text = negative ? "-" : "";
  const int64_t n = static_cast<int64_t>(kept.size());
  if (point >= n) {
    text += kept.empty() ? "0" : kept;
    if (!kept.empty()) text.append(static_cast<size_t>(point - n), '0');
  } else if (point <= 0) {
    text += "0.";
    text.append(static_cast<size_t>(-point), '0');
    text += kept;
  } else {
    text += kept.substr(0, static_cast<size_t>(point));
    text += '.';
    text += kept.substr(static_cast<size_t>(point));
  }
  auto normal = NormalizeDecimal(text);
  return normal ? *normal : "0";
}

// Appends canonical decimal text to NUMERIC(p,s): rounded to the scale; too many integer
// digits is a data error.
ConvertStatus AppendNumeric(const std::string& canonical, const DmsType& to, Batch* out,
                            std::string* message) {
  if (canonical == "NaN" || canonical == "Infinity" || canonical == "-Infinity") {
    if (to.precision > 0) {
      return DataError(message, fmt::format("value {} does not fit {}", canonical,
                                            DescribeDmsType(to)));
    }
    out->AppendBytes(canonical);
    return ConvertStatus::kOk;
  }
  if (to.precision <= 0) {
    out->AppendBytes(canonical);
    return ConvertStatus::kOk;
  }
  int integer_digits = 0, fraction_digits = 0;
  DecimalDigits(canonical, &integer_digits, &fraction_digits);
  if (fraction_digits <= to.scale && to.scale >= 0) {
    if (integer_digits > to.precision - to.scale) {
      return DataError(message, fmt::format("value {} is out of range for {} (at most {} "
                                            "digits before the decimal point)",
                                            canonical, DescribeDmsType(to),
                                            std::max(0, to.precision - to.scale)));
    }
    out->AppendBytes(canonical);
    return ConvertStatus::kOk;
  }
  const std::string rounded = RoundDecimal(canonical, to.scale);
  DecimalDigits(rounded, &integer_digits, &fraction_digits);
  if (integer_digits > to.precision - to.scale) {
    return DataError(message, fmt::format("value {} is out of range for {} (at most {} digits "
                                          "before the decimal point)",
                                          canonical, DescribeDmsType(to),
                                          std::max(0, to.precision - to.scale)));
  }
  out->AppendBytes(rounded);
  return ConvertStatus::kOk;
}

ConvertStatus AppendReal(double v, const DmsType& to, Batch* out, std::string* message,
                         std::string_view shown) {
  if (to.kind == DmsKind::kReal4) {
    if (std::isfinite(v) && std::fabs(v) > FLT_MAX) {
      return DataError(message, fmt::format("value {} is out of range for REAL4", shown));
    }
    out->AppendDouble(static_cast<double>(static_cast<float>(v)));
  } else {
    out->AppendDouble(v);
  }
  return ConvertStatus::kOk;
}

// Appends text or binary bytes to a text or binary kind, checking the target's length.
ConvertStatus AppendBytesChecked(std::string_view v, bool source_is_binary, const DmsType& to,
                                 Batch* out, std::string* message) {
  if (FamilyOf(to.kind) == Family::kBinary) {
    if (to.length > 0 && static_cast<int64_t>(v.size()) > to.length) {
      *message = fmt::format("value of {} bytes does not fit {}", v.size(), DescribeDmsType(to));
      return ConvertStatus::kTruncation;
    }
    out->AppendBytes(v);
    return ConvertStatus::kOk;
  }
  if (source_is_binary && !IsValidUtf8(v)) {
    return DataError(message, fmt::format("binary value of {} bytes is not valid UTF-8 text "
                                          "for {}",
                                          v.size(), DescribeDmsType(to)));
  }
  if (!Utf8FitsLength(v, to.length)) {
    *message = fmt::format("value of {} characters does not fit {}: {}", Utf8Length(v),
                           DescribeDmsType(to), Preview(v));
    return ConvertStatus::kTruncation;
  }
  out->AppendBytes(v);
  return ConvertStatus::kOk;
}

// The canonical text of a non-byte-stored value.
void CanonicalText(const DmsType& from, const Cell& c, std::string* out) {
  out->clear();
  AppendCanonicalCell(from, c, out);
}

ConvertStatus AppendDateDays(int64_t days, Batch* out) {
  out->AppendInt(days);
  return ConvertStatus::kOk;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t TimeOfDay(int64_t micros) {
  int64_t tod = micros % kMicrosPerDay;
  if (tod < 0) tod += kMicrosPerDay;
  return tod;
}

}  // namespace

bool CanConvert(const DmsType& from, const DmsType& to, std::string* why) {
  const Family f = FamilyOf(from.kind);
  const Family t = FamilyOf(to.kind);
  bool ok;
  switch (t) {
    case Family::kText:
    case Family::kBinary:
      ok = true;
      break;
    case Family::kBool:
    case Family::kInt:
    case Family::kNumber:
      ok = f == Family::kText || f == Family::kBool || f == Family::kInt || f == Family::kNumber;
      break;
    case Family::kDate:
    case Family::kDatetime:
      ok = f == Family::kText || f == Family::kDate || f == Family::kDatetime;
      break;
    case Family::kTime:
      ok = f == Family::kText || f == Family::kTime || f == Family::kDatetime;
      break;
    default:
      ok = false;
  }
  if (!ok && why) {
    *why = fmt::format("a {} value cannot be converted to {}", DescribeDmsType(from),
                       DescribeDmsType(to));
  }
  return ok;
}

bool IsLosslessCopy(const DmsType& from, const DmsType& to) {
  const Family f = FamilyOf(from.kind);
  const Family t = FamilyOf(to.kind);
  if (f != t) return false;
  switch (f) {
    case Family::kText:
    case Family::kBinary:
      return to.length <= 0 || (from.length > 0 && from.length <= to.length);
    case Family::kBool:
    case Family::kDate:
    case Family::kTime:
    case Family::kDatetime:
      return true;
    case Family::kInt: {
      if (from.kind == to.kind) return true;
      const bool fu = IsUnsigned(from.kind), tu = IsUnsigned(to.kind);
      if (fu && tu) return UnsignedMax(from.kind) <= UnsignedMax(to.kind);
      if (!fu && tu) return false;
      int64_t tmin = 0, tmax = 0;
      SignedRange(to.kind, &tmin, &tmax);
      if (fu) return UnsignedMax(from.kind) <= static_cast<uint64_t>(tmax);
      int64_t fmin = 0, fmax = 0;
      SignedRange(from.kind, &fmin, &fmax);
      return fmin >= tmin && fmax <= tmax;
    }
    case Family::kNumber:
      if (from.kind == DmsKind::kReal4 || from.kind == DmsKind::kReal8) {
        return to.kind == DmsKind::kReal8 ||
               (to.kind == DmsKind::kReal4 && from.kind == DmsKind::kReal4);
      }
      if (to.kind != DmsKind::kNumeric) return false;
      if (to.precision <= 0) return true;
      return from.precision > 0 && from.scale <= to.scale &&
             from.precision - from.scale <= to.precision - to.scale;
  }
  return false;
}

ConvertStatus AppendFromText(std::string_view text, const DmsType& to, Batch* out,
                             std::string* message) {
  const Family t = FamilyOf(to.kind);
  if (t == Family::kText || t == Family::kBinary) {
    return AppendBytesChecked(text, false, to, out, message);
  }
  const std::string_view v = TrimAll(text);
  switch (t) {
    case Family::kBool:
      if (v == "1" || EqualsNoCase(v, "true") || EqualsNoCase(v, "t") ||
          EqualsNoCase(v, "yes") || EqualsNoCase(v, "y") || EqualsNoCase(v, "on")) {
        out->AppendInt(1);
        return ConvertStatus::kOk;
      }
      if (v == "0" || EqualsNoCase(v, "false") || EqualsNoCase(v, "f") ||
          EqualsNoCase(v, "no") || EqualsNoCase(v, "n") || EqualsNoCase(v, "off")) {
        out->AppendInt(0);
        return ConvertStatus::kOk;
      }
      [[fallthrough]];
    case Family::kInt: {
      // Fast path: plain integers.
      if (!v.empty()) {
        const char* b = v.data();
        const char* e = v.data() + v.size();
        bool negative = false;
        if (*b == '-' || *b == '+') {
          negative = *b == '-';
          ++b;
        }
        uint64_t mag = 0;
        auto r = std::from_chars(b, e, mag);
        if (r.ec == std::errc() && r.ptr == e && b != e) {
          return AppendInteger(negative, mag, to, out, message, Preview(v));
        }
      }
      auto canonical = NormalizeDecimal(v);
      if (!canonical) {
        return DataError(message, fmt::format("value {} is not {}", Preview(text),
                                              to.kind == DmsKind::kBoolean
                                                  ? "a boolean"
                                                  : "a number"));
      }
      if (*canonical == "NaN" || *canonical == "Infinity" || *canonical == "-Infinity") {
        return DataError(message, fmt::format("value {} is out of range for {}", *canonical,
                                              DmsKindName(to.kind)));
      }
      if (to.kind == DmsKind::kBoolean) {  // any non-zero number is true, 0.4 included
        out->AppendInt(*canonical != "0" ? 1 : 0);
        return ConvertStatus::kOk;
      }
      bool negative = false;
      uint64_t mag = 0;
      if (!RoundedInteger(*canonical, &negative, &mag)) {
        return DataError(message, fmt::format("value {} is out of range for {}", Preview(v),
                                              DmsKindName(to.kind)));
      }
      return AppendInteger(negative, mag, to, out, message, Preview(v));
    }
    case Family::kNumber: {
      auto canonical = NormalizeDecimal(v);
      if (!canonical) {
        // ParseDouble knows a few more spellings of the special values ("inf", "-nan"...).
        auto d = ParseDouble(v);
        if (!d || (to.kind == DmsKind::kNumeric && std::isfinite(*d))) {
          return DataError(message, fmt::format("value {} is not a number", Preview(text)));
        }
        canonical = FormatDouble(*d);
      }
      if (to.kind == DmsKind::kNumeric) return AppendNumeric(*canonical, to, out, message);
      auto d = ParseDouble(*canonical);
      if (!d) {
        return DataError(message, fmt::format("value {} is out of range for {}", Preview(v),
                                              DmsKindName(to.kind)));
      }
      return AppendReal(*d, to, out, message, Preview(v));
    }
    case Family::kDate: {
      if (v == "infinity") return AppendDateDays(kDateInfinity, out);
      if (v == "-infinity") return AppendDateDays(kDateMinusInfinity, out);
      if (auto d = ParseDate(v)) return AppendDateDays(*d, out);
      if (auto dt = ParseDatetime(v)) return AppendDateDays(FloorDiv(*dt, kMicrosPerDay), out);
      return DataError(message, fmt::format("value {} is not a valid date", Preview(text)));
    }
    case Family::kDatetime: {
      if (v == "infinity") {
        out->AppendInt(kDatetimeInfinity);
        return ConvertStatus::kOk;
      }
      if (v == "-infinity") {
        out->AppendInt(kDatetimeMinusInfinity);
        return ConvertStatus::kOk;
      }
      if (auto dt = ParseDatetime(v)) {
        out->AppendInt(*dt);
        return ConvertStatus::kOk;
      }
      return DataError(message, fmt::format("value {} is not a valid datetime", Preview(text)));
    }
    case Family::kTime: {
      if (auto tm = ParseTime(v)) {
        out->AppendInt(*tm);
        return ConvertStatus::kOk;
      }
      if (auto dt = ParseDatetime(v)) {
        out->AppendInt(TimeOfDay(*dt));
        return ConvertStatus::kOk;
      }
      return DataError(message, fmt::format("value {} is not a valid time", Preview(text)));
    }
    default:
      break;
  }
  return DataError(message, "internal: unhandled target type");
}

namespace {

// `decimal` (canonical decimal text) with at least `scale` fraction digits; NaN and the
// infinities unchanged.
std::string_view PadFraction(std::string_view decimal, int scale, std::string* scratch) {
  if (decimal.empty() || !(std::isdigit(static_cast<unsigned char>(decimal.back())))) {
    return decimal;
  }
  const size_t dot = decimal.find('.');
  const size_t have = dot == std::string_view::npos ? 0 : decimal.size() - dot - 1;
  if (have >= static_cast<size_t>(scale)) return decimal;
  scratch->assign(decimal);
  if (dot == std::string_view::npos) scratch->push_back('.');
  scratch->append(static_cast<size_t>(scale) - have, '0');
  return *scratch;
}

}  // namespace

ConvertStatus ConvertValue(const DmsType& from, const Cell& c, std::string_view bytes,
                           const DmsType& to, Batch* out, std::string* message,
                           std::string* scratch) {
  const Family f = FamilyOf(from.kind);
  const Family t = FamilyOf(to.kind);
  if (!CanConvert(from, to, message)) return ConvertStatus::kDataError;
  // Byte-stored sources (text, binary, NUMERIC) go through the text parser.
  if (StorageOf(from.kind) == Storage::kBytes) {
    if (f == Family::kText || f == Family::kBinary) {
      if (t == Family::kText || t == Family::kBinary) {
        return AppendBytesChecked(bytes, f == Family::kBinary, to, out, message);
      }
      return AppendFromText(bytes, to, out, message);
    }
    // NUMERIC.
    if (to.kind == DmsKind::kNumeric) {
      return AppendNumeric(std::string(bytes), to, out, message);
    }
    if (t == Family::kText && from.scale > 0) {
      // A NUMERIC(p,s) as text keeps its s fraction digits, as the source prints it
      // (5000.50, not the canonical 5000.5).
      return AppendFromText(PadFraction(bytes, from.scale, scratch), to, out, message);
    }
    return AppendFromText(bytes, to, out, message);
  }
  switch (t) {
    case Family::kBool:
    case Family::kInt:
      if (StorageOf(from.kind) == Storage::kInt) {
        const bool negative = c.i < 0;
        const uint64_t mag =
            negative ? static_cast<uint64_t>(0) - static_cast<uint64_t>(c.i)
                     : static_cast<uint64_t>(c.i);
        CanonicalText(from, c, scratch);
        return AppendInteger(negative, mag, to, out, message, *scratch);
      }
      if (StorageOf(from.kind) == Storage::kUint) {
        CanonicalText(from, c, scratch);
        return AppendInteger(false, c.u, to, out, message, *scratch);
      }
      {  // REAL
        const double d = c.d;
        CanonicalText(from, c, scratch);
        if (std::isnan(d)) {
          if (to.kind == DmsKind::kBoolean) {
            return DataError(message, "value NaN is not a boolean");
          }
          return DataError(message, fmt::format("value NaN is out of range for {}",
                                                DmsKindName(to.kind)));
        }
        if (to.kind == DmsKind::kBoolean) {
          out->AppendInt(d != 0 ? 1 : 0);
          return ConvertStatus::kOk;
        }
        const double r = std::round(d);
        if (!(std::fabs(r) < 18446744073709551616.0)) {
          return DataError(message, fmt::format("value {} is out of range for {}", *scratch,
                                                DmsKindName(to.kind)));
        }
        return AppendInteger(r < 0, static_cast<uint64_t>(std::fabs(r)), to, out, message,
                             *scratch);
      }
    case Family::kNumber:
      if (to.kind == DmsKind::kNumeric) {
        CanonicalText(from, c, scratch);
        if (from.kind == DmsKind::kReal4 || from.kind == DmsKind::kReal8) {
          auto canonical = NormalizeDecimal(*scratch);
          if (!canonical) return DataError(message, "value is not a number");
          return AppendNumeric(*canonical, to, out, message);
        }
        return AppendNumeric(*scratch, to, out, message);
      }
      if (StorageOf(from.kind) == Storage::kInt) {
        return AppendReal(static_cast<double>(c.i), to, out, message, "");
      }
      if (StorageOf(from.kind) == Storage::kUint) {
        return AppendReal(static_cast<double>(c.u), to, out, message, "");
      }
      CanonicalText(from, c, scratch);
      return AppendReal(c.d, to, out, message, *scratch);
    case Family::kDate:
      if (from.kind == DmsKind::kDate) return AppendDateDays(c.i, out);
      // DATETIME
      if (c.i == kDatetimeInfinity) return AppendDateDays(kDateInfinity, out);
      if (c.i == kDatetimeMinusInfinity) return AppendDateDays(kDateMinusInfinity, out);
      return AppendDateDays(FloorDiv(c.i, kMicrosPerDay), out);
    case Family::kDatetime:
      if (from.kind == DmsKind::kDatetime) {
        out->AppendInt(c.i);
        return ConvertStatus::kOk;
      }
      // DATE
      if (c.i == kDateInfinity || c.i == kDateMinusInfinity) {
        out->AppendInt(c.i > 0 ? kDatetimeInfinity : kDatetimeMinusInfinity);
        return ConvertStatus::kOk;
      }
      if (c.i < kMinDatetimeDays || c.i > kMaxDatetimeDays) {
        return DataError(message, fmt::format("date {} is out of range for DATETIME",
                                              FormatDate(c.i)));
      }
      out->AppendInt(c.i * kMicrosPerDay);
      return ConvertStatus::kOk;
    case Family::kTime:
      if (from.kind == DmsKind::kTime) {
        out->AppendInt(c.i);
        return ConvertStatus::kOk;
      }
      if (c.i == kDatetimeInfinity || c.i == kDatetimeMinusInfinity) {
        return DataError(message, "an infinite datetime has no time of day");
      }
      out->AppendInt(TimeOfDay(c.i));
      return ConvertStatus::kOk;
    case Family::kText:
    case Family::kBinary:
      CanonicalText(from, c, scratch);
      return AppendBytesChecked(*scratch, false, to, out, message);
  }
  return DataError(message, "internal: unhandled conversion");
}

ConvertStatus ConvertCell(const Batch& in, size_t row, int col, const DmsType& from,
                          const DmsType& to, Batch* out, std::string* message,
                          std::string* scratch) {
  const Cell& c = in.at(row, col);
  if (c.null) {
    out->AppendNull();
    return ConvertStatus::kOk;
  }
  std::string_view bytes;
  if (StorageOf(from.kind) == Storage::kBytes) bytes = in.Bytes(row, col);
  return ConvertValue(from, c, bytes, to, out, message, scratch);
}

}  // namespace ferry
