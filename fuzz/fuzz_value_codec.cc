// Fuzzes the shared text codecs (value_codec.h): every connector parses server text and
// user-supplied values through them. The whole input goes to every parser; round trips are
// checked where the contract promises them:
//  - a parsed date / time / datetime formats to text that parses back to the same value;
//  - a parsed double formats to its shortest text, which parses back to the same bits;
//  - NormalizeDecimal is idempotent and its output has the canonical shape.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "types/value_codec.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "fuzz_value_codec: %s\n  input: '%.*s'\n  detail: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [-](0|[1-9][0-9]*)[.[0-9]*[1-9]], not "-0", or NaN/Infinity/-Infinity.
bool IsCanonicalDecimal(std::string_view s) {
  if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  const size_t dot = s.find('.');
  const std::string_view integer = s.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (integer.empty() || (integer.size() > 1 && integer.front() == '0')) return false;
  for (char c : integer) {
    if (!IsDigit(c)) return false;
  }
  if (dot != std::string_view::npos) {
    if (fraction.empty() || fraction.back() == '0') return false;
    for (char c : fraction) {
      if (!IsDigit(c)) return false;
    }
  }
  if (negative && integer == "0" && fraction.empty()) return false;
  return true;
}

bool SameDouble(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto d = ferry::ParseDate(text)) {
    const std::string f = ferry::FormatDate(*d);
    auto again = ferry::ParseDate(f);
    if (!again || *again != *d) Fail("date does not round-trip", text, f);
    int64_t y;
    unsigned m, day;
    ferry::CivilFromDays(*d, &y, &m, &day);
    if (m < 1 || m > 12 || day < 1 || day > 31 || ferry::DaysFromCivil(y, m, day) != *d) {
      Fail("civil date does not round-trip", text, f);
    }
  }

  if (auto t = ferry::ParseTime(text)) {
    const std::string f = ferry::FormatTime(*t);
    auto again = ferry::ParseTime(f);
    if (!again || *again != *t) Fail("time does not round-trip", text, f);
  }

  if (auto dt = ferry::ParseDatetime(text)) {
    const std::string f = ferry::FormatDatetime(*dt);
    auto again = ferry::ParseDatetime(f);
    if (!again || *again != *dt) Fail("datetime does not round-trip", text, f);
  }

  if (auto v = ferry::ParseDouble(text)) {
    const std::string f = ferry::FormatDouble(*v);
    auto again = ferry::ParseDouble(f);
    if (!again || !SameDouble(*again, *v)) Fail("double does not round-trip", text, f);
    const auto fl = static_cast<float>(*v);
    if (std::isfinite(*v) && static_cast<double>(fl) == *v) {
      const std::string ff = ferry::FormatDouble(*v, /*as_float=*/true);
      auto fagain = ferry::ParseDouble(ff);
      if (!fagain || static_cast<float>(*fagain) != fl) Fail("float does not round-trip", text, ff);
    }
    // A finite double's shortest text is a decimal NormalizeDecimal accepts.
    if (std::isfinite(*v) && !ferry::NormalizeDecimal(f)) {
      Fail("NormalizeDecimal rejects a formatted double", text, f);
    }
  }

  if (auto n = ferry::NormalizeDecimal(text)) {
    if (!IsCanonicalDecimal(*n)) Fail("NormalizeDecimal output is not canonical", text, *n);
    auto again = ferry::NormalizeDecimal(*n);
    if (!again || *again != *n) Fail("NormalizeDecimal is not idempotent", text, *n);
    int integer_digits = -1, fraction_digits = -1;
    if (*n != "NaN" && *n != "Infinity" && *n != "-Infinity") {
      ferry::DecimalDigits(*n, &integer_digits, &fraction_digits);
      const size_t sign = n->front() == '-' ? 1 : 0;
      const size_t expected = static_cast<size_t>(integer_digits) +
                              static_cast<size_t>(fraction_digits) +
                              (fraction_digits > 0 ? 1 : 0) + sign + (integer_digits == 0 ? 1 : 0);
      if (integer_digits < 0 || fraction_digits < 0 || expected != n->size()) {
        Fail("DecimalDigits disagrees with the text", text, *n);
      }
    }
  }

  // The input's first 8 bytes as a day / microsecond count: formatting never crashes and the
  // civil conversion is a bijection over a wide range (+/- 2.7 billion years).
  if (size >= 8) {
    int64_t raw;
    std::memcpy(&raw, data, 8);
    const int64_t days = raw % 1'000'000'000'000LL;
    int64_t y;
    unsigned m, day;
    ferry::CivilFromDays(days, &y, &m, &day);
    if (ferry::DaysFromCivil(y, m, day) != days) Fail("CivilFromDays/DaysFromCivil", text, "");
    const std::string f = ferry::FormatDate(days);
    auto again = ferry::ParseDate(f);
    // Years beyond 9 digits cannot be parsed back; everything else must.
    if (y > -999'999'998 && y < 999'999'999 && (!again || *again != days)) {
      Fail("formatted date does not parse back", text, f);
    }
    // Datetimes within PostgreSQL's and MySQL's combined range (well inside int64).
    const int64_t micros = raw % (200'000LL * 366 * ferry::kMicrosPerDay);
    const std::string fd = ferry::FormatDatetime(micros);
    auto dagain = ferry::ParseDatetime(fd);
    if (!dagain || *dagain != micros) Fail("formatted datetime does not parse back", text, fd);
    const int64_t tmicros = raw % (10'000LL * 3600 * ferry::kMicrosPerSecond);
    const std::string ft = ferry::FormatTime(tmicros);
    auto tagain = ferry::ParseTime(ft);
    if (!tagain || *tagain != tmicros) Fail("formatted time does not parse back", text, ft);
  }
  return 0;
}
