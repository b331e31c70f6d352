#include "connectors/postgres/pg_copy_binary.h"

#include <fmt/format.h>

#include <limits>

#include "common/error.h"

namespace ferry::postgres {

namespace {

[[noreturn]] void Malformed(const std::string& what) {
  throw Error(ErrorKind::kData, "malformed binary COPY stream from PostgreSQL: " + what);
}

constexpr int kHeaderSize = 19;  // signature + flags + extension length

// PostgreSQL's limits (src/include/datatype/timestamp.h): julian day 0 (4714-11-24 BC) up to
// the last day before julian 2147483494, expressed relative to 2000-01-01.
constexpr int64_t kPgMinDate = -2451545;
constexpr int64_t kPgEndDate = 2147483494LL - 2451545;  // exclusive
constexpr int64_t kPgMinTimestamp = -211813488000000000LL;
constexpr int64_t kPgEndTimestamp = 9223371331200000000LL;  // exclusive

constexpr uint16_t kNumericPos = 0x0000;
constexpr uint16_t kNumericNeg = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPinf = 0xD000;
constexpr uint16_t kNumericNinf = 0xF000;
constexpr int kNumericDscaleMax = 0x3FFF;

}  // namespace

CopyBinaryParser::CopyBinaryParser(int fields) : nfields_(fields), fields_(fields) {}

void CopyBinaryParser::Feed(const char* data, size_t size) {
  if (pos_ == size_) {
    // Nothing carried over: parse the caller's bytes where they are.
    base_ = data;
    size_ = size;
    pos_ = 0;
    return;
  }
  // The carried-over bytes are in buf_ (NeedMore copied them there).
  buf_.erase(0, buf_.size() - (size_ - pos_));
  buf_.append(data, size);
  base_ = buf_.data();
  size_ = buf_.size();
  pos_ = 0;
}

CopyBinaryParser::Status CopyBinaryParser::NeedMore() {
  if (base_ != buf_.data()) {
    buf_.assign(base_ + pos_, size_ - pos_);
    base_ = buf_.data();
    size_ = buf_.size();
    pos_ = 0;
  }
  return Status::kNeedMore;
}

CopyBinaryParser::Status CopyBinaryParser::Next() {
  const size_t avail = size_ - pos_;
  const char* p = base_ + pos_;
  if (ended_) {
    if (avail != 0) Malformed(fmt::format("{} bytes after the trailer", avail));
    return Status::kEnd;
  }
  if (!header_done_) {
    if (avail < kHeaderSize) return NeedMore();
    if (std::memcmp(p, kCopySignature, sizeof(kCopySignature)) != 0) {
      Malformed("bad signature (not a binary COPY stream)");
    }
    const uint32_t flags = LoadU32(p + 11);
    if (flags & (1u << 16)) Malformed("stream carries OIDs, which Ferry does not request");
    const uint32_t ext = LoadU32(p + 15);
    if (ext > (1u << 30)) Malformed(fmt::format("header extension of {} bytes", ext));
    if (avail < kHeaderSize + ext) return NeedMore();
    pos_ += kHeaderSize + ext;
    header_done_ = true;
    return Next();
  }
  if (avail < 2) return NeedMore();
  const auto count = static_cast<int16_t>(LoadU16(p));
  if (count == -1) {
    ended_ = true;
    pos_ += 2;
    if (pos_ != size_) Malformed("bytes after the trailer");
    return Status::kEnd;
  }
  if (count != nfields_) {
    Malformed(fmt::format("tuple has {} fields, expected {}", count, nfields_));
  }
  size_t off = 2;
  for (int i = 0; i < nfields_; ++i) {
    if (avail - off < 4) return NeedMore();
    const auto len = static_cast<int32_t>(LoadU32(p + off));
    off += 4;
    if (len == -1) {
      fields_[i] = CopyField{nullptr, -1};
      continue;
    }
    if (len < 0) Malformed(fmt::format("field {} has negative length {}", i + 1, len));
    if (avail - off < static_cast<size_t>(len)) return NeedMore();
    fields_[i] = CopyField{p + off, len};
    off += static_cast<size_t>(len);
  }
  pos_ += off;
  return Status::kTuple;
}

void CopyBinaryParser::Finish() const {
  if (!ended_) {
    Malformed(header_done_ ? "stream ended inside a tuple or before its trailer"
                           : "stream ended before its header");
  }
}

void AppendCopyHeader(std::string* out) {
  out->append(kCopySignature, sizeof(kCopySignature));
  PutU32(0, out);
  PutU32(0, out);
}

void AppendCopyTrailer(std::string* out) { PutU16(0xFFFF, out); }

bool DecodeNumeric(const char* data, size_t size, std::string* out) {
  if (size < 8) return false;
  const auto ndigits = static_cast<int16_t>(LoadU16(data));
  const auto weight = static_cast<int16_t>(LoadU16(data + 2));
  const uint16_t sign = LoadU16(data + 4);
  if (ndigits < 0 || size != 8 + 2 * static_cast<size_t>(ndigits)) return false;
  switch (sign) {
    case kNumericNaN:
      out->append("NaN");
      return true;
    case kNumericPinf:
      out->append("Infinity");
      return true;
    case kNumericNinf:
      out->append("-Infinity");
      return true;
    case kNumericPos:
    case kNumericNeg:
      break;
    default:
      return false;
  }
  const char* digits = data + 8;
  bool any = false;
  for (int i = 0; i < ndigits; ++i) {
    const uint16_t d = LoadU16(digits + 2 * i);
    if (d > 9999) return false;
    any |= d != 0;
  }
  if (!any) {
    out->push_back('0');
    return true;
  }
  auto digit = [&](int i) -> uint16_t {
    return i >= 0 && i < ndigits ? LoadU16(digits + 2 * i) : 0;
  };
  if (sign == kNumericNeg) out->push_back('-');
  // Integer part: groups 0..weight; leading zero groups are skipped so the text is canonical.
  bool started = false;
  for (int g = 0; g <= weight; ++g) {
    const uint16_t d = digit(g);
    if (!started) {
      if (d == 0) continue;
      char b[4];
      int n = 0;
      for (uint16_t v = d; v != 0; v /= 10) b[3 - n++] = static_cast<char>('0' + v % 10);
      out->append(b + 4 - n, n);
      started = true;
    } else {
      const char b[4] = {static_cast<char>('0' + d / 1000), static_cast<char>('0' + d / 100 % 10),
                         static_cast<char>('0' + d / 10 % 10), static_cast<char>('0' + d % 10)};
      out->append(b, 4);
    }
  }
  if (!started) out->push_back('0');
  // Fraction: groups weight+1 .. ndigits-1 (zero groups first when weight < -1).
  const int first_frac = weight + 1;
  if (first_frac < ndigits) {
    const size_t dot = out->size();
    out->push_back('.');
    for (int g = first_frac; g < ndigits; ++g) {
      const uint16_t d = digit(g);
      const char b[4] = {static_cast<char>('0' + d / 1000), static_cast<char>('0' + d / 100 % 10),
                         static_cast<char>('0' + d / 10 % 10), static_cast<char>('0' + d % 10)};
      out->append(b, 4);
    }
    size_t end = out->size();
    while (end > dot + 1 && (*out)[end - 1] == '0') --end;
    out->resize(end == dot + 1 ? dot : end);
  }
  return true;
}

bool EncodeNumeric(std::string_view text, std::string* out) {
  auto special = [&](uint16_t sign) {
    PutU16(0, out);
    PutU16(0, out);
    PutU16(sign, out);
    PutU16(0, out);
    return true;
  };
  if (text == "NaN") return special(kNumericNaN);
  if (text == "Infinity") return special(kNumericPinf);
  if (text == "-Infinity") return special(kNumericNinf);
  size_t p = 0;
  bool negative = false;
  if (p < text.size() && (text[p] == '-' || text[p] == '+')) negative = text[p++] == '-';
  const size_t int_begin = p;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
  std::string_view integer = text.substr(int_begin, p - int_begin);
  std::string_view fraction;
  if (p < text.size() && text[p] == '.') {
    const size_t frac_begin = ++p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
    fraction = text.substr(frac_begin, p - frac_begin);
  }
  if (p != text.size() || (integer.empty() && fraction.empty())) return false;
  while (!integer.empty() && integer.front() == '0') integer.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.size() > kNumericDscaleMax) return false;
  const int n_int = static_cast<int>((integer.size() + 3) / 4);
  const int n_frac = static_cast<int>((fraction.size() + 3) / 4);
  if (n_int > 32768 || n_int + n_frac > 32767) return false;
  const size_t header = out->size();
  out->append(8, '\0');
  const int pad_left = 4 * n_int - static_cast<int>(integer.size());
  auto digit_at = [&](int k) -> int {
    if (k < 4 * n_int) {
      const int idx = k - pad_left;
      return idx < 0 ? 0 : integer[idx] - '0';
    }
    const size_t idx = static_cast<size_t>(k - 4 * n_int);
    return idx < fraction.size() ? fraction[idx] - '0' : 0;
  };
  int weight = n_int - 1;
  bool started = false;
  int nd = 0, nd_nonzero = 0;
  size_t end_nonzero = out->size();
  for (int g = 0; g < n_int + n_frac; ++g) {
    const int k = 4 * g;
    const auto v = static_cast<uint16_t>(digit_at(k) * 1000 + digit_at(k + 1) * 100 +
                                         digit_at(k + 2) * 10 + digit_at(k + 3));
    if (!started) {
      if (v == 0) {
        --weight;
        continue;
      }
      started = true;
    }
    PutU16(v, out);
    ++nd;
    if (v != 0) {
      nd_nonzero = nd;
      end_nonzero = out->size();
    }
  }
  out->resize(end_nonzero);
  if (nd_nonzero == 0) {
    weight = 0;
    negative = false;
  }
  char* h = out->data() + header;
  const uint16_t fields[4] = {static_cast<uint16_t>(nd_nonzero), static_cast<uint16_t>(weight),
                              negative ? kNumericNeg : kNumericPos,
                              static_cast<uint16_t>(fraction.size())};
  for (int i = 0; i < 4; ++i) {
    h[2 * i] = static_cast<char>(fields[i] >> 8);
    h[2 * i + 1] = static_cast<char>(fields[i]);
  }
  return weight >= -32768 && weight <= 32767;
}

void AppendUuidText(const char* d, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[36];
  int o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) buf[o++] = '-';
    const auto b = static_cast<unsigned char>(d[i]);
    buf[o++] = kHex[b >> 4];
    buf[o++] = kHex[b & 15];
  }
  out->append(buf, 36);
}

bool ParseUuidText(std::string_view text, char out16[16]) {
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  int n = 0;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else if (c == '-' && hi < 0 && n > 0 && n % 2 == 0) {
      continue;
    } else {
      return false;
    }
    if (n >= 16) return false;
    if (hi < 0) {
      hi = v;
    } else {
      out16[n++] = static_cast<char>(hi << 4 | v);
      hi = -1;
    }
  }
  return n == 16 && hi < 0 && text.back() != '-';
}

int64_t DateCellFromPg(int32_t pg_days) {
  if (pg_days == std::numeric_limits<int32_t>::max() ||
      pg_days == std::numeric_limits<int32_t>::min()) {
    return pg_days;
  }
  return static_cast<int64_t>(pg_days) + kPgEpochDays;
}

bool PgDateFromCell(int64_t cell, int32_t* pg_days) {
  if (cell == std::numeric_limits<int32_t>::max() || cell == std::numeric_limits<int32_t>::min()) {
    *pg_days = static_cast<int32_t>(cell);
    return true;
  }
  if (cell < kPgMinDate + kPgEpochDays || cell >= kPgEndDate + kPgEpochDays) return false;
  *pg_days = static_cast<int32_t>(cell - kPgEpochDays);
  return true;
}

bool DatetimeCellFromPg(int64_t pg_micros, int64_t* cell) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (pg_micros == kMax || pg_micros == kMin) {
    *cell = pg_micros;
    return true;
  }
  int64_t v;
  if (__builtin_add_overflow(pg_micros, kPgEpochMicros, &v) || v == kMax) return false;
  *cell = v;
  return true;
}

bool PgTimestampFromCell(int64_t cell, int64_t* pg_micros) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (cell == kMax || cell == kMin) {
    *pg_micros = cell;
    return true;
  }
  int64_t v;
  if (__builtin_sub_overflow(cell, kPgEpochMicros, &v)) return false;
  if (v < kPgMinTimestamp || v >= kPgEndTimestamp) return false;
  *pg_micros = v;
  return true;
}

}  // namespace ferry::postgres
