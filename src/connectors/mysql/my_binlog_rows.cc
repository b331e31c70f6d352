#include "connectors/mysql/my_binlog_rows.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "connectors/mysql/my_binlog_bytes.h"

namespace ferry::mysql::binlog {

namespace {

constexpr int kDigitsPerGroup = 9;
constexpr int kDig2Bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr uint32_t kPow10[10] = {1,      10,      100,      1000,      10000,
                                 100000, 1000000, 10000000, 100000000, 1000000000};

// Fraction bytes of TIME2/DATETIME2/TIMESTAMP2 with `fsp` digits, and the multiplier to micros.
int FracBytes(int fsp) { return (fsp + 1) / 2; }
uint32_t FracScale(int fsp) { return fsp <= 2 ? 10000 : fsp <= 4 ? 100 : 1; }

int64_t SignExtend(uint64_t v, int bytes) {
  const int shift = 64 - 8 * bytes;
  return static_cast<int64_t>(v << shift) >> shift;
}

std::string ColumnLabel(const TableMapColumn& c, size_t index) {
  if (c.name.empty()) return fmt::format("column {} ({})", index, ColumnTypeName(c.type));
  return fmt::format("column {} `{}` ({})", index, c.name, ColumnTypeName(c.type));
}

}  // namespace

const char* ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kAbsent:
      return "absent";
    case ValueKind::kNull:
      return "NULL";
    case ValueKind::kInteger:
      return "integer";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kDouble:
      return "double";
    case ValueKind::kDecimal:
      return "decimal";
    case ValueKind::kYear:
      return "year";
    case ValueKind::kDate:
      return "date";
    case ValueKind::kTime:
      return "time";
    case ValueKind::kDatetime:
      return "datetime";
    case ValueKind::kTimestamp:
      return "timestamp";
    case ValueKind::kString:
      return "string";
    case ValueKind::kBlob:
      return "blob";
    case ValueKind::kBit:
      return "bit";
    case ValueKind::kEnum:
      return "enum";
    case ValueKind::kSet:
      return "set";
    case ValueKind::kJson:
      return "json";
    case ValueKind::kGeometry:
      return "geometry";
  }
  return "?";
}

size_t DecimalBinarySize(int precision, int scale) {
  const int intg = precision - scale;
  const int bytes = (intg / kDigitsPerGroup) * 4 + kDig2Bytes[intg % kDigitsPerGroup] +
                    (scale / kDigitsPerGroup) * 4 + kDig2Bytes[scale % kDigitsPerGroup];
  return static_cast<size_t>(bytes);
}

// The binary form (MySQL's decimal2bin): digit groups of 9 in 4 big-endian bytes, a shorter
// leading integer group and trailing fraction group in as few bytes as their digits need; the
// first byte's top bit is set for non-negative values, and a negative value has every byte
// inverted.
std::string DecodeDecimal(std::string_view bytes, int precision, int scale, const ErrorContext& ctx,
                          size_t* used) {
  if (precision < 1 || precision > 65 || scale < 0 || scale > precision) {
    ThrowData(ctx,
              fmt::format("DECIMAL({},{}): not a valid precision and scale", precision, scale));
  }
  const size_t size = DecimalBinarySize(precision, scale);
  if (bytes.size() < size) {
    ThrowData(ctx, fmt::format("truncated DECIMAL({},{}): expected {} bytes, {} left", precision,
                               scale, size, bytes.size()));
  }
  *used = size;
  uint8_t buf[40];  // DECIMAL(65,30): 30 bytes at most
  std::memcpy(buf, bytes.data(), size);
  const bool negative = (buf[0] & 0x80) == 0;
  buf[0] ^= 0x80;
  if (negative) {
    for (size_t i = 0; i < size; ++i) buf[i] = static_cast<uint8_t>(~buf[i]);
  }
  size_t p = 0;
  auto group = [&](int digits) -> uint32_t {
    const int n = digits == kDigitsPerGroup ? 4 : kDig2Bytes[digits];
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) v = (v << 8) | buf[p++];
    if (v >= kPow10[digits]) {
      ThrowData(ctx, fmt::format("DECIMAL({},{}): digit group {} has more than {} digits",
                                 precision, scale, v, digits));
    }
    return v;
  };
  const int intg = precision - scale;
  std::string out;
  if (negative) out.push_back('-');
  char tmp[16];
  auto append_group = [&](uint32_t v, int width) {
    auto res = std::to_chars(tmp, tmp + sizeof(tmp), v);
    const int len = static_cast<int>(res.ptr - tmp);
    out.append(static_cast<size_t>(width > len ? width - len : 0), '0');
    out.append(tmp, static_cast<size_t>(len));
  };
  // Integer part: leading zeros dropped.
  bool started = false;
  auto integer_group = [&](uint32_t v, int digits) {
    if (!started) {
      if (v == 0) return;
      auto res = std::to_chars(tmp, tmp + sizeof(tmp), v);
      out.append(tmp, static_cast<size_t>(res.ptr - tmp));
      started = true;
      return;
    }
    append_group(v, digits);
  };
  if (intg % kDigitsPerGroup) integer_group(group(intg % kDigitsPerGroup), intg % kDigitsPerGroup);
  for (int k = 0; k < intg / kDigitsPerGroup; ++k) integer_group(group(kDigitsPerGroup), 9);
  if (!started) out.push_back('0');
  if (scale > 0) {
    out.push_back('.');
    for (int k = 0; k < scale / kDigitsPerGroup; ++k) append_group(group(kDigitsPerGroup), 9);
    if (scale % kDigitsPerGroup)
      append_group(group(scale % kDigitsPerGroup), scale % kDigitsPerGroup);
  }
  return out;
}

size_t DecodeValue(std::string_view bytes, const TableMapColumn& c, const ErrorContext& ctx,
                   Value* out) {
  ByteReader r(bytes, ctx);
  out->text.clear();
  out->bytes = {};
  out->t = Temporal{};
  out->i = 0;
  out->u = 0;
  out->d = 0;
  // The column is named by RowsCursor on the way out; no formatting per value here.
  constexpr std::string_view what = "value";
  auto integer = [&](int n) {
    out->kind = ValueKind::kInteger;
    out->u = r.Le(n, what);
    out->i = SignExtend(out->u, n);
  };
  auto length_prefixed = [&](int len_bytes, ValueKind kind) {
    const uint64_t n = r.Le(len_bytes, "value length");
    if (n > r.remaining()) {
      r.Fail(fmt::format("{} value of {} bytes, {} left", what, n, r.remaining()));
    }
    out->kind = kind;
    out->bytes = r.Bytes(static_cast<size_t>(n), what);
  };
  switch (static_cast<ColumnType>(c.type)) {
    case ColumnType::kTiny:
      integer(1);
      break;
    case ColumnType::kShort:
      integer(2);
      break;
    case ColumnType::kInt24:
      integer(3);
      break;
    case ColumnType::kLong:
      integer(4);
      break;
    case ColumnType::kLongLong:
      integer(8);
      break;
    case ColumnType::kFloat: {
      const uint32_t bits = static_cast<uint32_t>(r.Le(4, what));
      float f;
      std::memcpy(&f, &bits, 4);
      out->kind = ValueKind::kFloat;
      out->d = f;
      break;
    }
    case ColumnType::kDouble: {
      const uint64_t bits = r.Le(8, what);
      std::memcpy(&out->d, &bits, 8);
      out->kind = ValueKind::kDouble;
      break;
    }
    case ColumnType::kNewDecimal: {
      size_t used = 0;
      out->text = DecodeDecimal(bytes, c.precision, c.scale, ctx, &used);
      out->kind = ValueKind::kDecimal;
      r.Skip(used, what);
      break;
    }
    case ColumnType::kYear: {
      const uint8_t y = r.U8(what);
      out->kind = ValueKind::kYear;
      out->i = y == 0 ? 0 : 1900 + y;
      break;
    }
    case ColumnType::kDate:
    case ColumnType::kNewDate: {
      const uint32_t v = static_cast<uint32_t>(r.Le(3, what));
      out->kind = ValueKind::kDate;
      out->t.day = v & 31;
      out->t.month = (v >> 5) & 15;
      out->t.year = v >> 9;
      break;
    }
    case ColumnType::kTime: {  // old format: HHMMSS as a signed 3-byte integer
      int64_t v = SignExtend(r.Le(3, what), 3);
      out->kind = ValueKind::kTime;
      if (v < 0) {
        out->t.negative = true;
        v = -v;
      }
      out->t.hour = static_cast<uint32_t>(v / 10000);
      out->t.minute = static_cast<uint32_t>(v / 100 % 100);
      out->t.second = static_cast<uint32_t>(v % 100);
      break;
    }
    case ColumnType::kTime2: {
      // 3 bytes (offset 0x800000) of hour<<12 | minute<<6 | second, then the fraction; a
      // negative value keeps its fraction in reverse order (borrowing from the integer part).
      int64_t packed;
      if (c.fsp >= 5) {
        packed = static_cast<int64_t>(r.Be(6, what)) - 0x800000000000LL;
      } else {
        int64_t intpart = static_cast<int64_t>(r.Be(3, what)) - 0x800000;
        int64_t frac = 0;
        if (c.fsp >= 1) {
          const int n = FracBytes(c.fsp);
          frac = static_cast<int64_t>(r.Be(n, what));
          if (intpart < 0 && frac != 0) {
            intpart += 1;
            frac -= int64_t{1} << (8 * n);
          }
          frac *= FracScale(c.fsp);
        }
        packed = intpart * (int64_t{1} << 24) + frac;
      }
      out->kind = ValueKind::kTime;
      if (packed < 0) {
        out->t.negative = true;
        packed = -packed;
      }
      const int64_t hms = packed >> 24;
      out->t.micros = static_cast<uint32_t>(packed % (int64_t{1} << 24));
      out->t.hour = static_cast<uint32_t>((hms >> 12) % (1 << 10));
      out->t.minute = static_cast<uint32_t>((hms >> 6) % 64);
      out->t.second = static_cast<uint32_t>(hms % 64);
      break;
    }
    case ColumnType::kDatetime: {  // old format: YYYYMMDDhhmmss as an 8-byte integer
      uint64_t v = r.U64(what);
      out->kind = ValueKind::kDatetime;
      const uint64_t date = v / 1000000, time = v % 1000000;
      out->t.year = static_cast<uint32_t>(date / 10000 % 100000);
      out->t.month = static_cast<uint32_t>(date / 100 % 100);
      out->t.day = static_cast<uint32_t>(date % 100);
      out->t.hour = static_cast<uint32_t>(time / 10000);
      out->t.minute = static_cast<uint32_t>(time / 100 % 100);
      out->t.second = static_cast<uint32_t>(time % 100);
      break;
    }
    case ColumnType::kDatetime2: {
      // 5 bytes (offset 0x8000000000): (year*13+month)<<22 | day<<17 | hour<<12 | minute<<6
      // | second, then the fraction.
      const int64_t intpart = static_cast<int64_t>(r.Be(5, what)) - 0x8000000000LL;
      uint32_t frac = 0;
      if (c.fsp >= 1) frac = static_cast<uint32_t>(r.Be(FracBytes(c.fsp), what)) * FracScale(c.fsp);
      if (intpart < 0) r.Fail("negative DATETIME2 value");
      const int64_t ymd = intpart >> 17, hms = intpart % (1 << 17);
      const int64_t ym = ymd >> 5;
      out->kind = ValueKind::kDatetime;
      out->t.year = static_cast<uint32_t>(ym / 13);
      out->t.month = static_cast<uint32_t>(ym % 13);
      out->t.day = static_cast<uint32_t>(ymd % (1 << 5));
      out->t.hour = static_cast<uint32_t>(hms >> 12);
      out->t.minute = static_cast<uint32_t>((hms >> 6) % 64);
      out->t.second = static_cast<uint32_t>(hms % 64);
      out->t.micros = frac;
      break;
    }
    case ColumnType::kTimestamp:
      out->kind = ValueKind::kTimestamp;
      out->i = r.U32(what);
      break;
    case ColumnType::kTimestamp2:
      out->kind = ValueKind::kTimestamp;
      out->i = static_cast<int64_t>(r.Be(4, what));
      if (c.fsp >= 1) {
        out->t.micros = static_cast<uint32_t>(r.Be(FracBytes(c.fsp), what)) * FracScale(c.fsp);
      }
      break;
    case ColumnType::kVarchar:
    case ColumnType::kVarString:
      length_prefixed(c.max_length > 255 ? 2 : 1, ValueKind::kString);
      break;
    case ColumnType::kString:
    case ColumnType::kEnum:
    case ColumnType::kSet:
      if (c.real_type == static_cast<uint8_t>(ColumnType::kEnum)) {
        out->kind = ValueKind::kEnum;
        out->i = static_cast<int64_t>(r.Le(c.pack_length, what));
      } else if (c.real_type == static_cast<uint8_t>(ColumnType::kSet)) {
        out->kind = ValueKind::kSet;
        out->u = r.Le(c.pack_length, what);
      } else {
        length_prefixed(c.max_length > 255 ? 2 : 1, ValueKind::kString);
      }
      break;
    case ColumnType::kBit: {
      const size_t n = (c.bits + 7) / 8;
      out->kind = ValueKind::kBit;
      out->bytes = r.Bytes(n, what);
      break;
    }
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
    case ColumnType::kBlob:
      length_prefixed(c.length_bytes, ValueKind::kBlob);
      break;
    case ColumnType::kGeometry:
      length_prefixed(c.length_bytes, ValueKind::kGeometry);
      break;
    case ColumnType::kJson: {
      length_prefixed(c.length_bytes, ValueKind::kJson);
      out->text = JsonBinaryToText(out->bytes, ctx);
      break;
    }
    default:
      throw Error(
          ErrorKind::kUnsupported,
          fmt::format("binlog {} at {}{}{}: column type {} cannot be decoded", ctx.event, ctx.file,
                      ctx.file.empty() ? "" : ":", ctx.position, ColumnTypeName(c.type)));
  }
  return r.offset();
}

RowsCursor::RowsCursor(const Event& event, const TableMap& map)
    : ev_([&]() -> const RowsEvent& {
        const RowsEvent* e = event.get<RowsEvent>();
        if (!e) {
          throw Error(ErrorKind::kInternal,
                      fmt::format("RowsCursor on a {}", EventTypeName(event.header.type)));
        }
        return *e;
      }()),
      map_(map),
      ctx_{EventTypeName(event.header.type), "", event.position} {
  if (ev_.table_id != map_.table_id) {
    ThrowData(ctx_, fmt::format("rows of table id {} decoded with the TABLE_MAP of table id {} "
                                "({}.{})",
                                ev_.table_id, map_.table_id, map_.schema, map_.table));
  }
  if (ev_.column_count > map_.columns.size()) {
    ThrowData(ctx_, fmt::format("rows event has {} columns, the TABLE_MAP of {}.{} {}",
                                ev_.column_count, map_.schema, map_.table, map_.columns.size()));
  }
  ctx_.event = fmt::format("{} ({}.{})", ctx_.event, map_.schema, map_.table);
}

void RowsCursor::ReadImage(const std::vector<bool>& present, const char* image, RowImage* out) {
  const size_t ncols = map_.columns.size();
  out->values.resize(ncols);
  size_t npresent = 0;
  for (size_t i = 0; i < ev_.column_count; ++i) npresent += present[i];
  ByteReader r(ev_.rows.substr(pos_), ctx_, pos_);
  if ((npresent + 7) / 8 > r.remaining()) {
    r.Fail(fmt::format("truncated: the null bitmap of row {} ({} image) needs {} byte(s), {} left",
                       row_, image, (npresent + 7) / 8, r.remaining()));
  }
  const std::string_view nulls = r.Bytes((npresent + 7) / 8, "null bitmap");
  size_t k = 0;  // index among the present columns
  for (size_t i = 0; i < ncols; ++i) {
    Value& v = out->values[i];
    if (i >= ev_.column_count || !present[i]) {
      v.kind = ValueKind::kAbsent;
      continue;
    }
    const bool is_null = (static_cast<uint8_t>(nulls[k / 8]) >> (k % 8)) & 1;
    ++k;
    if (is_null) {
      v.kind = ValueKind::kNull;
      continue;
    }
    const size_t at = pos_ + r.offset();
    size_t used = 0;
    try {
      used = DecodeValue(ev_.rows.substr(at), map_.columns[i], ctx_, &v);
    } catch (const Error& e) {
      // Where in the event, added only on the way out (no formatting per value).
      throw Error(e.kind(),
                  fmt::format("{} (row {}, {} image, {}, at byte {} of the rows)", e.what(), row_,
                              image, ColumnLabel(map_.columns[i], i), at));
    }
    r.Skip(used, "value");
  }
  pos_ += r.offset();
}

bool RowsCursor::Next(RowChange* out) {
  if (pos_ >= ev_.rows.size()) return false;
  out->before.values.clear();
  out->after.values.clear();
  if (ev_.kind != RowsKind::kWrite) ReadImage(ev_.present_before, "before", &out->before);
  if (ev_.kind != RowsKind::kDelete) ReadImage(ev_.present_after, "after", &out->after);
  ++row_;
  return true;
}

}  // namespace ferry::mysql::binlog
