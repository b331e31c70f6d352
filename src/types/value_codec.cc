#include "types/value_codec.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>

namespace ferry {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  *month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  *year = y + (*month <= 2);
}

namespace {

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void AppendPadded(uint64_t v, int width, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  int len = static_cast<int>(res.ptr - buf);
  for (int i = len; i < width; ++i) out->push_back('0');
  out->append(buf, len);
}

// Appends ".ffffff" with trailing zeros removed, nothing when zero.
void AppendFraction(int64_t micros, std::string* out) {
  if (micros == 0) return;
  char buf[7];
  for (int i = 5; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  int len = 6;
  while (len > 0 && buf[len - 1] == '0') --len;
  out->push_back('.');
  out->append(buf, len);
}

void AppendTimeOfDay(int64_t micros, std::string* out) {
  const int64_t secs = micros / kMicrosPerSecond;
  AppendPadded(secs / 3600, 2, out);
  out->push_back(':');
  AppendPadded((secs / 60) % 60, 2, out);
  out->push_back(':');
  AppendPadded(secs % 60, 2, out);
  AppendFraction(micros % kMicrosPerSecond, out);
}

// A small cursor over text for the parsers below.
struct Cursor {
  std::string_view s;
  size_t p = 0;
  bool done() const { return p >= s.size(); }
  char peek() const { return done() ? '\0' : s[p]; }
  bool Eat(char c) {
    if (peek() != c) return false;
    ++p;
    return true;
  }
  // Reads 1..max_digits digits; returns false if none.
  bool Digits(int min_digits, int max_digits, int64_t* v, int* count = nullptr) {
    int n = 0;
    int64_t x = 0;
    while (!done() && n < max_digits && s[p] >= '0' && s[p] <= '9') {
      x = x * 10 + (s[p] - '0');
      ++p;
      ++n;
    }
    if (count) *count = n;
    if (n < min_digits) return false;
    *v = x;
    return true;
  }
  void SkipSpaces() {
    while (!done() && s[p] == ' ') ++p;
  }
};

bool ParseDatePart(Cursor& c, int64_t* year, unsigned* month, unsigned* day) {
  bool negative = c.Eat('-');
  int64_t y, m, d;
  if (!c.Digits(1, 9, &y) || !c.Eat('-') || !c.Digits(1, 2, &m) || !c.Eat('-') ||
      !c.Digits(1, 2, &d)) {
    return false;
  }
  if (m < 1 || m > 12 || d < 1) return false;
  *year = negative ? -y : y;
  *month = static_cast<unsigned>(m);
  *day = static_cast<unsigned>(d);
  return true;
}

bool ParseFraction(Cursor& c, int64_t* micros) {
  *micros = 0;
  if (!c.Eat('.')) return true;
  int64_t v = 0;
  int n = 0;
  while (!c.done() && c.peek() >= '0' && c.peek() <= '9') {
    if (n < 6) {
      v = v * 10 + (c.peek() - '0');
      ++n;
    } else if (n == 6 && c.peek() != '0') {
      return false;  // more than microsecond precision and not zero: would lose data
    }
    ++c.p;
  }
  while (n < 6) {
    v *= 10;
    ++n;
  }
  *micros = v;
  return true;
}

// "+HH", "+HH:MM", "+HHMM", "+HH:MM:SS", "Z": offset in microseconds east of UTC.
bool ParseZone(Cursor& c, int64_t* offset) {
  *offset = 0;
  if (c.Eat('Z') || c.Eat('z')) return true;
  int sign;
  if (c.Eat('+')) {
    sign = 1;
  } else if (c.Eat('-')) {
    sign = -1;
  } else {
    return false;
  }
  int64_t hh = 0, mm = 0, ss = 0;
  int n = 0;
  if (!c.Digits(1, 2, &hh, &n)) return false;
  if (c.Eat(':')) {
    if (!c.Digits(2, 2, &mm)) return false;
    if (c.Eat(':') && !c.Digits(2, 2, &ss)) return false;
  } else if (!c.done() && c.peek() >= '0' && c.peek() <= '9') {
    if (!c.Digits(2, 2, &mm)) return false;
  }
  *offset = sign * ((hh * 3600 + mm * 60 + ss) * kMicrosPerSecond);
  return true;
}

bool EatBc(Cursor& c) {
  size_t save = c.p;
  c.SkipSpaces();
  if (c.s.substr(c.p) == "BC" || c.s.substr(c.p) == "bc") {
    c.p = c.s.size();
    return true;
  }
  c.p = save;
  return false;
}

}  // namespace

void AppendDate(int64_t days, std::string* out) {
  if (days == kDateInfinity || days == kDateMinusInfinity) {
    out->append(days > 0 ? "infinity" : "-infinity");
    return;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const bool bc = y <= 0;
  AppendPadded(static_cast<uint64_t>(bc ? 1 - y : y), 4, out);
  out->push_back('-');
  AppendPadded(m, 2, out);
  out->push_back('-');
  AppendPadded(d, 2, out);
  if (bc) out->append(" BC");
}

void AppendTime(int64_t micros, std::string* out) {
  if (micros < 0) {
    out->push_back('-');
    // -INT64_MIN overflows; TIME values never come near it.
    micros = -micros;
  }
  AppendTimeOfDay(micros, out);
}

void AppendDatetime(int64_t micros, std::string* out) {
  if (micros == kDatetimeInfinity || micros == kDatetimeMinusInfinity) {
    out->append(micros > 0 ? "infinity" : "-infinity");
    return;
  }
  const int64_t days = FloorDiv(micros, kMicrosPerDay);
  // Not micros - days * kMicrosPerDay: that product overflows near the int64 ends.
  int64_t tod = micros % kMicrosPerDay;
  if (tod < 0) tod += kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const bool bc = y <= 0;
  AppendPadded(static_cast<uint64_t>(bc ? 1 - y : y), 4, out);
  out->push_back('-');
  AppendPadded(m, 2, out);
  out->push_back('-');
  AppendPadded(d, 2, out);
  out->push_back(' ');
  AppendTimeOfDay(tod, out);
  if (bc) out->append(" BC");
}

std::string FormatDate(int64_t days) {
  std::string s;
  AppendDate(days, &s);
  return s;
}
std::string FormatTime(int64_t micros) {
  std::string s;
  AppendTime(micros, &s);
  return s;
}
std::string FormatDatetime(int64_t micros) {
  std::string s;
  AppendDatetime(micros, &s);
  return s;
}

std::optional<int64_t> ParseDate(std::string_view text) {
  // The inverse of AppendDate for PostgreSQL's infinite dates, so a target that keeps them as
  // text (SQLite) reads back what it was given.
  if (text == "infinity") return kDateInfinity;
  if (text == "-infinity") return kDateMinusInfinity;
  Cursor c{text};
  int64_t y;
  unsigned m, d;
  if (!ParseDatePart(c, &y, &m, &d)) return std::nullopt;
  if (EatBc(c)) y = 1 - y;
  if (!c.done()) return std::nullopt;
  if (d > DaysInMonth(y, m)) return std::nullopt;
  return DaysFromCivil(y, m, d);
}

std::optional<int64_t> ParseTime(std::string_view text) {
  Cursor c{text};
  const bool negative = c.Eat('-');
  int64_t h, m, s, frac;
  if (!c.Digits(1, 4, &h) || !c.Eat(':') || !c.Digits(2, 2, &m) || !c.Eat(':') ||
      !c.Digits(2, 2, &s) || !ParseFraction(c, &frac) || !c.done()) {
    return std::nullopt;
  }
  if (m > 59 || s > 60) return std::nullopt;
  int64_t v = (h * 3600 + m * 60 + s) * kMicrosPerSecond + frac;
  return negative ? -v : v;
}

std::optional<int64_t> ParseDatetime(std::string_view text) {
  if (text == "infinity") return kDatetimeInfinity;
  if (text == "-infinity") return kDatetimeMinusInfinity;
  Cursor c{text};
  int64_t y;
  unsigned mo, d;
  if (!ParseDatePart(c, &y, &mo, &d)) return std::nullopt;
  int64_t h = 0, mi = 0, s = 0, frac = 0, zone = 0;
  if (c.Eat(' ') || c.Eat('T')) {
    if (!c.Digits(1, 2, &h) || !c.Eat(':') || !c.Digits(2, 2, &mi)) return std::nullopt;
    if (c.Eat(':') && (!c.Digits(2, 2, &s) || !ParseFraction(c, &frac))) return std::nullopt;
    if (!c.done() && c.peek() != ' ') {
      if (!ParseZone(c, &zone)) return std::nullopt;
    }
  }
  if (EatBc(c)) y = 1 - y;
  if (!c.done()) return std::nullopt;
  if (d > DaysInMonth(y, mo) || h > 24 || mi > 59 || s > 60) return std::nullopt;
  const int64_t days = DaysFromCivil(y, mo, d);
  if (days < kMinDatetimeDays || days > kMaxDatetimeDays) return std::nullopt;
  return days * kMicrosPerDay + (h * 3600 + mi * 60 + s) * kMicrosPerSecond +
         frac - zone;
}

void AppendDouble(double v, bool as_float, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
  } else if (as_float) {
    fmt::format_to(std::back_inserter(*out), "{}", static_cast<float>(v));
  } else {
    fmt::format_to(std::back_inserter(*out), "{}", v);
  }
}

std::string FormatDouble(double v, bool as_float) {
  std::string s;
  AppendDouble(v, as_float, &s);
  return s;
}

std::optional<double> ParseDouble(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  bool negative = false;
  std::string_view body = text;
  if (body.front() == '+' || body.front() == '-') {
    negative = body.front() == '-';
    body.remove_prefix(1);
    if (body.empty() || body.front() == '+' || body.front() == '-') return std::nullopt;
  }
  auto eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return true;
  };
  if (eq(body, "nan")) return std::nan("");
  if (eq(body, "infinity") || eq(body, "inf")) {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  double v = 0;
  auto res = std::from_chars(body.data(), body.data() + body.size(), v);
  if (res.ec != std::errc() || res.ptr != body.data() + body.size()) return std::nullopt;
  return negative ? -v : v;
}

std::optional<std::string> NormalizeDecimal(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text == "NaN" || text == "nan" || text == "NAN") return std::string("NaN");
  if (text == "Infinity" || text == "+Infinity" || text == "inf") return std::string("Infinity");
  if (text == "-Infinity" || text == "-inf") return std::string("-Infinity");
  size_t p = 0;
  bool negative = false;
  if (p < text.size() && (text[p] == '+' || text[p] == '-')) negative = text[p++] == '-';
  std::string digits;
  int64_t point = -1;  // digits before the decimal point
  size_t start = p;
  for (; p < text.size(); ++p) {
    char ch = text[p];
    if (ch >= '0' && ch <= '9') {
      digits.push_back(ch);
    } else if (ch == '.' && point < 0) {
      point = static_cast<int64_t>(digits.size());
    } else {
      break;
    }
  }
  if (digits.empty() || p == start) return std::nullopt;
  if (point < 0) point = static_cast<int64_t>(digits.size());
  if (p < text.size() && (text[p] == 'e' || text[p] == 'E')) {
    ++p;
    bool eneg = false;
    if (p < text.size() && (text[p] == '+' || text[p] == '-')) eneg = text[p++] == '-';
    int64_t e = 0;
    size_t estart = p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      e = e * 10 + (text[p] - '0');
      if (e > 100000) return std::nullopt;  // absurd exponent: refuse rather than expand
      ++p;
    }
    if (p == estart) return std::nullopt;
    point += eneg ? -e : e;
  }
  if (p != text.size()) return std::nullopt;
  // Integer part = digits[0, point), fraction = digits[point, end); pad as needed.
  std::string integer, fraction;
  if (point <= 0) {
    fraction.assign(static_cast<size_t>(-point), '0');
    fraction += digits;
  } else if (point >= static_cast<int64_t>(digits.size())) {
    integer = digits;
    integer.append(static_cast<size_t>(point - static_cast<int64_t>(digits.size())), '0');
  } else {
    integer = digits.substr(0, static_cast<size_t>(point));
    fraction = digits.substr(static_cast<size_t>(point));
  }
  size_t lead = integer.find_first_not_of('0');
  integer = lead == std::string::npos ? "0" : integer.substr(lead);
  size_t trail = fraction.find_last_not_of('0');
  fraction = trail == std::string::npos ? "" : fraction.substr(0, trail + 1);
  std::string out;
  if (negative && !(integer == "0" && fraction.empty())) out.push_back('-');
  out += integer;
  if (!fraction.empty()) {
    out.push_back('.');
    out += fraction;
  }
  return out;
}

void DecimalDigits(std::string_view s, int* integer_digits, int* fraction_digits) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view integer = dot == std::string_view::npos ? s : s.substr(0, dot);
  *integer_digits = integer == "0" ? 0 : static_cast<int>(integer.size());
  *fraction_digits = dot == std::string_view::npos ? 0 : static_cast<int>(s.size() - dot - 1);
}

void AppendCanonicalCell(const DmsType& type, const Cell& c, std::string* out) {
  switch (type.kind) {
    case DmsKind::kBoolean:
      out->push_back(c.i ? '1' : '0');
      return;
    case DmsKind::kDate:
      AppendDate(c.i, out);
      return;
    case DmsKind::kTime:
      AppendTime(c.i, out);
      return;
    case DmsKind::kDatetime:
      AppendDatetime(c.i, out);
      return;
    default:
      break;
  }
  switch (StorageOf(type.kind)) {
    case Storage::kInt:
      fmt::format_to(std::back_inserter(*out), "{}", c.i);
      return;
    case Storage::kUint:
      fmt::format_to(std::back_inserter(*out), "{}", c.u);
      return;
    case Storage::kDouble:
      AppendDouble(c.d, type.kind == DmsKind::kReal4, out);
      return;
    case Storage::kBytes:
      return;
  }
}

void AppendCanonical(const Batch& batch, size_t row, int col, const DmsType& type,
                     std::string* out) {
  const Cell& c = batch.at(row, col);
  if (c.null) return;
  if (StorageOf(type.kind) == Storage::kBytes) {
    out->append(batch.Bytes(row, col));
    return;
  }
  AppendCanonicalCell(type, c, out);
}

uint64_t CanonicalRowHash(const Batch& batch, size_t row, const DmsType* types) {
  uint64_t h = kFnvOffset;
  std::string buf;
  for (int col = 0; col < batch.columns(); ++col) {
    const bool null = batch.IsNull(row, col);
    const unsigned char flag = null ? 0 : 1;
    h = Fnv(h, &flag, 1);
    if (null) continue;
    buf.clear();
    std::string_view v;
    if (StorageOf(types[col].kind) == Storage::kBytes) {
      v = batch.Bytes(row, col);
    } else {
      AppendCanonical(batch, row, col, types[col], &buf);
      v = buf;
    }
    const uint64_t len = v.size();
    h = Fnv(h, &len, sizeof(len));
    h = Fnv(h, v.data(), v.size());
  }
  // Final avalanche so sums of row hashes do not cancel structurally.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace ferry
