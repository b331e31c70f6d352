// MySQL's binary JSON (sql-common/json_binary.h in MySQL 5.7+): a type byte, then the value.
// Objects and arrays come in a small form (2-byte counts, sizes and offsets) and a large one
// (4-byte); an object's keys are sorted entries (offset, 2-byte length); each value entry is
// a type byte and either an offset from the start of the container or, for literals and
// 16-bit integers (and 32-bit ones in the large form), the value itself. Scalars: literal
// (null/true/false), int16/uint16/int32/uint32/int64/uint64 little-endian, double, string
// (a variable-length length: 7 bits a byte, low first), opaque (a MySQL type byte, a
// variable-length length, the bytes: DECIMAL, DATE, TIME, DATETIME, ... values).
#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "connectors/mysql/my_binlog_bytes.h"
#include "connectors/mysql/my_binlog_rows.h"

namespace ferry::mysql::binlog {

namespace {

constexpr int kMaxDepth = 100;  // MySQL refuses deeper documents

class JsonWriter {
 public:
  JsonWriter(std::string_view doc, const ErrorContext& ctx) : doc_(doc), ctx_(ctx) {}

  void Value(uint8_t type, size_t offset, int depth, std::string* out) {
    if (depth > kMaxDepth) Fail(offset, fmt::format("nested deeper than {}", kMaxDepth));
    // Every value of a well-formed document takes bytes of its own (inline ones their entry),
    // so there are fewer values than bytes. More means containers share values through their
    // offsets, which could make the text exponentially longer than the document.
    if (++values_ > doc_.size() + 1) Fail(offset, "values shared between containers");
    switch (type) {
      case 0x00:
      case 0x01:
        Container(true, type == 0x01, offset, depth, out);
        return;
      case 0x02:
      case 0x03:
        Container(false, type == 0x03, offset, depth, out);
        return;
      case 0x04:
        Literal(Le(offset, 1), offset, out);
        return;
      case 0x05:
        AppendInt(static_cast<int16_t>(Le(offset, 2)), out);
        return;
      case 0x06:
        AppendInt(static_cast<uint16_t>(Le(offset, 2)), out);
        return;
      case 0x07:
        AppendInt(static_cast<int32_t>(Le(offset, 4)), out);
        return;
      case 0x08:
        AppendInt(static_cast<uint32_t>(Le(offset, 4)), out);
        return;
      case 0x09:
        AppendInt(static_cast<int64_t>(Le(offset, 8)), out);
        return;
      case 0x0a:
        AppendInt(Le(offset, 8), out);
        return;
      case 0x0b: {
        const uint64_t bits = Le(offset, 8);
        double d;
        std::memcpy(&d, &bits, 8);
        AppendDouble(d, out);
        return;
      }
      case 0x0c: {
        size_t p = offset;
        const uint64_t n = VarLength(&p);
        AppendString(Slice(p, n, "string"), out);
        return;
      }
      case 0x0f:
        Opaque(offset, out);
        return;
      default:
        Fail(offset, fmt::format("value type 0x{:02x}", type));
    }
  }

 private:
  [[noreturn]] void Fail(size_t offset, std::string_view what) const {
    ThrowData(ctx_,
              fmt::format("malformed binary JSON at byte {} of {}: {}", offset, doc_.size(), what));
  }

  std::string_view Slice(size_t offset, uint64_t n, std::string_view what) const {
    if (offset > doc_.size() || n > doc_.size() - offset) {
      Fail(offset, fmt::format("{} of {} bytes runs past the end", what, n));
    }
    return doc_.substr(offset, static_cast<size_t>(n));
  }

  uint64_t Le(size_t offset, int n) const {
    std::string_view b = Slice(offset, static_cast<uint64_t>(n), "number");
    uint64_t v = 0;
    for (int i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }

  uint64_t VarLength(size_t* p) const {
    uint64_t v = 0;
    for (int i = 0; i < 5; ++i) {
      const uint8_t b = static_cast<uint8_t>(Le(*p, 1));
      ++*p;
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    Fail(*p, "variable-length length of more than 5 bytes");
  }

  void Literal(uint64_t v, size_t offset, std::string* out) const {
    switch (v) {
      case 0:
        out->append("null");
        return;
      case 1:
        out->append("true");
        return;
      case 2:
        out->append("false");
        return;
      default:
        Fail(offset, fmt::format("literal {}", v));
    }
  }

  template <typename T>
  static void AppendInt(T v, std::string* out) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, static_cast<size_t>(res.ptr - buf));
  }

  // The shortest text that reads back as `d`, with ".0" on integral values and no '+' in the
  // exponent, as MySQL prints a JSON double (2.0, 2.5, 1e300, -1.5e-7).
  static void AppendDouble(double d, std::string* out) {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof(buf), d);
    std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
    const size_t e = s.find('e');
    if (e == std::string_view::npos) {
      out->append(s);
      if (s.find('.') == std::string_view::npos &&
          s.find_first_of("ni") == std::string_view::npos) {
        out->append(".0");
      }
      return;
    }
    out->append(s.substr(0, e + 1));
    std::string_view exp = s.substr(e + 1);
    if (!exp.empty() && exp[0] == '+') exp.remove_prefix(1);
    out->append(exp);
  }

  static void AppendString(std::string_view s, std::string* out) {
    out->push_back('"');
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (c < 0x20) {
            fmt::format_to(std::back_inserter(*out), "\\u{:04x}", c);
          } else {
            out->push_back(ch);
          }
      }
    }
    out->push_back('"');
  }

  void Container(bool object, bool large, size_t offset, int depth, std::string* out) {
    const int w = large ? 4 : 2;
    const uint64_t count = Le(offset, w);
    const uint64_t size = Le(offset + w, w);
    const std::string_view self = Slice(offset, size, object ? "object" : "array");
    (void)self;
    const size_t header = 2 * static_cast<size_t>(w);
    const size_t key_entry = object ? static_cast<size_t>(w) + 2 : 0;
    const size_t value_entry = 1 + static_cast<size_t>(w);
    if (count > size / (key_entry + value_entry)) {
      Fail(offset, fmt::format("{} elements cannot fit in {} bytes", count, size));
    }
    out->push_back(object ? '{' : '[');
    for (uint64_t i = 0; i < count; ++i) {
      if (i) out->append(", ");
      if (object) {
        const size_t ke = offset + header + static_cast<size_t>(i) * key_entry;
        const uint64_t koff = Le(ke, w);
        const uint64_t klen = Le(ke + w, 2);
        if (koff > size || klen > size - koff) Fail(ke, "key outside its object");
        AppendString(Slice(offset + static_cast<size_t>(koff), klen, "key"), out);
        out->append(": ");
      }
      const size_t ve = offset + header + static_cast<size_t>(count) * key_entry +
                        static_cast<size_t>(i) * value_entry;
      const uint8_t type = static_cast<uint8_t>(Le(ve, 1));
      const bool inlined =
          type == 0x04 || type == 0x05 || type == 0x06 || (large && (type == 0x07 || type == 0x08));
      if (inlined) {
        Value(type, ve + 1, depth + 1, out);
      } else {
        const uint64_t voff = Le(ve + 1, w);
        if (voff >= size) Fail(ve, "value outside its container");
        Value(type, offset + static_cast<size_t>(voff), depth + 1, out);
      }
    }
    out->push_back(object ? '}' : ']');
  }

  void Opaque(size_t offset, std::string* out) const {
    const uint8_t field_type = static_cast<uint8_t>(Le(offset, 1));
    size_t p = offset + 1;
    const uint64_t n = VarLength(&p);
    const std::string_view data = Slice(p, n, "opaque value");
    switch (static_cast<ColumnType>(field_type)) {
      case ColumnType::kNewDecimal: {
        if (data.size() < 2) Fail(p, "opaque DECIMAL without precision and scale");
        size_t used = 0;
        out->append(DecodeDecimal(data.substr(2), static_cast<uint8_t>(data[0]),
                                  static_cast<uint8_t>(data[1]), ctx_, &used));
        return;
      }
      case ColumnType::kDate:
      case ColumnType::kNewDate:
      case ColumnType::kDatetime:
      case ColumnType::kTimestamp:
      case ColumnType::kDatetime2:
      case ColumnType::kTimestamp2:
      case ColumnType::kTime:
      case ColumnType::kTime2: {
        if (data.size() < 8) Fail(p, "opaque temporal of less than 8 bytes");
        uint64_t u = 0;
        for (int i = 8; i-- > 0;) u = (u << 8) | static_cast<uint8_t>(data[i]);
        // Two's complement magnitude in unsigned arithmetic: INT64_MIN has no positive twin.
        const bool negative = static_cast<int64_t>(u) < 0;
        const uint64_t magnitude = negative ? 0 - u : u;
        const uint64_t micros = magnitude % (uint64_t{1} << 24);
        const uint64_t intpart = magnitude >> 24;
        const auto t = static_cast<ColumnType>(field_type);
        if (t == ColumnType::kTime || t == ColumnType::kTime2) {
          fmt::format_to(std::back_inserter(*out), "\"{}{:02}:{:02}:{:02}.{:06}\"",
                         negative ? "-" : "", (intpart >> 12) % (1 << 10), (intpart >> 6) % 64,
                         intpart % 64, micros);
          return;
        }
        const uint64_t ymd = intpart >> 17, hms = intpart % (1 << 17), ym = ymd >> 5;
        if (t == ColumnType::kDate || t == ColumnType::kNewDate) {
          fmt::format_to(std::back_inserter(*out), "\"{:04}-{:02}-{:02}\"", ym / 13, ym % 13,
                         ymd % 32);
          return;
        }
        fmt::format_to(std::back_inserter(*out), "\"{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}\"",
                       ym / 13, ym % 13, ymd % 32, hms >> 12, (hms >> 6) % 64, hms % 64, micros);
        return;
      }
      default: {
        static constexpr char kB64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        fmt::format_to(std::back_inserter(*out), "\"base64:type{}:", field_type);
        size_t i = 0;
        for (; i + 3 <= data.size(); i += 3) {
          const uint32_t v = (static_cast<uint8_t>(data[i]) << 16) |
                             (static_cast<uint8_t>(data[i + 1]) << 8) |
                             static_cast<uint8_t>(data[i + 2]);
          for (int k = 3; k >= 0; --k) out->push_back(kB64[(v >> (6 * k)) & 63]);
        }
        if (i < data.size()) {
          uint32_t v = static_cast<uint8_t>(data[i]) << 16;
          if (i + 1 < data.size()) v |= static_cast<uint8_t>(data[i + 1]) << 8;
          out->push_back(kB64[(v >> 18) & 63]);
          out->push_back(kB64[(v >> 12) & 63]);
          out->push_back(i + 1 < data.size() ? kB64[(v >> 6) & 63] : '=');
          out->push_back('=');
        }
        out->push_back('"');
      }
    }
  }

  std::string_view doc_;
  const ErrorContext& ctx_;
  size_t values_ = 0;
};

}  // namespace

std::string JsonBinaryToText(std::string_view bytes, const ErrorContext& ctx) {
  std::string out;
  if (bytes.empty()) {
    out = "null";  // MySQL writes an empty value for a JSON null document
    return out;
  }
  JsonWriter w(bytes.substr(1), ctx);
  w.Value(static_cast<uint8_t>(bytes[0]), 0, 0, &out);
  return out;
}

}  // namespace ferry::mysql::binlog
