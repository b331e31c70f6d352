#include "connectors/mysql/my_binlog_cells.h"

#include <fmt/format.h>

#include "connectors/mysql/my_value_text.h"
#include "types/value_codec.h"

namespace ferry::mysql::binlog {

namespace {

// MySQL's latin1 is Windows-1252; its five undefined bytes map to the C1 controls.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void AppendLatin1AsUtf8(std::string_view s, std::string* out) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    uint32_t cp = c;
    if (c >= 0x80 && c < 0xA0) cp = kCp1252High[c - 0x80];
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
}

// The binlog type codes that can carry a column of native type `b`.
bool TypeCarries(uint8_t type, uint8_t real_type, MyBase b) {
  const auto t = static_cast<ColumnType>(type);
  const auto rt = static_cast<ColumnType>(real_type);
  switch (b) {
    case MyBase::kTinyint:
      return t == ColumnType::kTiny;
    case MyBase::kSmallint:
      return t == ColumnType::kShort;
    case MyBase::kMediumint:
      return t == ColumnType::kInt24;
    case MyBase::kInt:
      return t == ColumnType::kLong;
    case MyBase::kBigint:
      return t == ColumnType::kLongLong;
    case MyBase::kDecimal:
      return t == ColumnType::kNewDecimal;
    case MyBase::kFloat:
      return t == ColumnType::kFloat;
    case MyBase::kDouble:
      return t == ColumnType::kDouble;
    case MyBase::kBit:
      return t == ColumnType::kBit;
    case MyBase::kChar:
    case MyBase::kBinary:
    case MyBase::kVarchar:
    case MyBase::kVarbinary:
      return t == ColumnType::kVarchar || t == ColumnType::kVarString ||
             (t == ColumnType::kString && rt == ColumnType::kString);
    case MyBase::kTinytext:
    case MyBase::kText:
    case MyBase::kMediumtext:
    case MyBase::kLongtext:
    case MyBase::kTinyblob:
    case MyBase::kBlob:
    case MyBase::kMediumblob:
    case MyBase::kLongblob:
      return t == ColumnType::kBlob || t == ColumnType::kTinyBlob || t == ColumnType::kMediumBlob ||
             t == ColumnType::kLongBlob;
    case MyBase::kJson:  // MySQL: binary JSON; MariaDB: LONGTEXT
      return t == ColumnType::kJson || t == ColumnType::kBlob;
    case MyBase::kGeometry:
      return t == ColumnType::kGeometry;
    case MyBase::kDate:
      return t == ColumnType::kDate || t == ColumnType::kNewDate;
    case MyBase::kTime:
      return t == ColumnType::kTime || t == ColumnType::kTime2;
    case MyBase::kDatetime:
      return t == ColumnType::kDatetime || t == ColumnType::kDatetime2;
    case MyBase::kTimestamp:
      return t == ColumnType::kTimestamp || t == ColumnType::kTimestamp2;
    case MyBase::kYear:
      return t == ColumnType::kYear;
    case MyBase::kEnum:
      return rt == ColumnType::kEnum;
    case MyBase::kSet:
      return rt == ColumnType::kSet;
    default:
      return false;
  }
}

bool IsTemporalBase(MyBase b) {
  return b == MyBase::kDate || b == MyBase::kTime || b == MyBase::kDatetime ||
         b == MyBase::kTimestamp;
}

// The value as MariaDB's text protocol prints it, for temporals (what AppendFieldValue
// reads); `fsp` fraction digits as the column declares them.
void FormatTemporal(const Value& v, int fsp, std::string* out) {
  out->clear();
  auto fraction = [&](uint32_t micros) {
    if (fsp <= 0) return;
    fmt::format_to(std::back_inserter(*out), ".{:06}", micros);
    out->resize(out->size() - static_cast<size_t>(6 - std::min(fsp, 6)));
  };
  const Temporal& t = v.t;
  switch (v.kind) {
    case ValueKind::kDate:
      fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02}", t.year, t.month, t.day);
      return;
    case ValueKind::kDatetime:
      fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year,
                     t.month, t.day, t.hour, t.minute, t.second);
      fraction(t.micros);
      return;
    case ValueKind::kTime:
      fmt::format_to(std::back_inserter(*out), "{}{:02}:{:02}:{:02}", t.negative ? "-" : "", t.hour,
                     t.minute, t.second);
      fraction(t.micros);
      return;
    case ValueKind::kTimestamp: {
      if (v.i == 0 && t.micros == 0) {
        out->append("0000-00-00 00:00:00");
        fraction(0);
        return;
      }
      int64_t year;
      unsigned month, day;
      CivilFromDays(v.i / 86400, &year, &month, &day);
      const int64_t secs = v.i % 86400;
      fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}", year, month,
                     day, secs / 3600, secs / 60 % 60, secs % 60);
      fraction(t.micros);
      return;
    }
    default:
      return;
  }
}

}  // namespace

TextEncoding EncodingOfCollation(uint32_t id) {
  // MariaDB's NO PAD variants are the PAD SPACE id + 1024.
  const uint32_t base = id >= 1024 && id < 2048 ? id - 1024 : id;
  if (base == 63) return TextEncoding::kBinary;
  if (base == 33 || base == 83 || base == 76 || (base >= 192 && base <= 215) || base == 223 ||
      base == 45 || base == 46 || (base >= 224 && base <= 247) || (base >= 255 && base <= 323) ||
      base == 11 || base == 65) {
    return TextEncoding::kUtf8;
  }
  // MariaDB 10.10+ UCA 14.0.0 collations: utf8mb3 2048-2303, utf8mb4 2304-2559.
  if (id >= 2048 && id < 2560) return TextEncoding::kUtf8;
  if (base == 5 || base == 8 || base == 15 || base == 31 || base == 47 || base == 48 ||
      base == 49 || base == 94) {
    return TextEncoding::kLatin1;
  }
  return TextEncoding::kOther;
}

BinlogRowConverter::BinlogRowConverter(const TableDef& table, const TableMap& map,
                                       ZeroDates zero_dates)
    : table_(table), name_(table.QualifiedName()), zero_dates_(std::move(zero_dates)) {
  const std::string& name = name_;
  if (map.columns.size() != table_.columns.size()) {
    throw Error(ErrorKind::kSchema,
                fmt::format("MySQL table {}: the binlog's TABLE_MAP has {} columns, the table {}",
                            name, map.columns.size(), table_.columns.size()));
  }
  columns_.resize(table_.columns.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    const ColumnDef& def = table_.columns[i];
    const TableMapColumn& mc = map.columns[i];
    Column& c = columns_[i];
    c.native = ParseNativeType(def.native_type);
    c.kind = def.type.kind;
    auto refuse = [&](ErrorKind kind, const std::string& why) {
      throw Error(kind, fmt::format("MySQL table {} column `{}` ({}): {}", name, def.name,
                                    def.native_type, why));
    };
    if (map.has_names && mc.name != def.name) {
      refuse(ErrorKind::kSchema,
             fmt::format("the binlog's TABLE_MAP names column {} `{}`", i, mc.name));
    }
    if (c.native.base == MyBase::kInet4 || c.native.base == MyBase::kInet6 ||
        c.native.base == MyBase::kUuid) {
      refuse(ErrorKind::kUnsupported, "its binlog form is not converted to text yet");
    }
    if (!TypeCarries(mc.type, mc.real_type, c.native.base)) {
      refuse(ErrorKind::kSchema, fmt::format("the binlog's TABLE_MAP has type {} for it",
                                             ColumnTypeName(mc.real_type)));
    }
    const bool integer_type = mc.type == static_cast<uint8_t>(ColumnType::kTiny) ||
                              mc.type == static_cast<uint8_t>(ColumnType::kShort) ||
                              mc.type == static_cast<uint8_t>(ColumnType::kInt24) ||
                              mc.type == static_cast<uint8_t>(ColumnType::kLong) ||
                              mc.type == static_cast<uint8_t>(ColumnType::kLongLong);
    if (mc.is_unsigned && integer_type && IsIntegerKind(c.kind) &&
        *mc.is_unsigned != (StorageOf(c.kind) == Storage::kUint)) {
      refuse(ErrorKind::kSchema, fmt::format("the binlog's TABLE_MAP says {}",
                                             *mc.is_unsigned ? "unsigned" : "signed"));
    }
    c.text = IsText(c.kind);
    if (c.text && mc.collation) {
      c.encoding = EncodingOfCollation(*mc.collation);
      if (c.encoding == TextEncoding::kOther) {
        refuse(ErrorKind::kUnsupported,
               fmt::format("collation id {}: only utf8mb3, utf8mb4, ascii, latin1 and binary "
                           "text is converted from the binlog",
                           *mc.collation));
      }
    }
    if (c.native.base == MyBase::kBinary) c.pad_to = c.native.length;
    if (c.native.base == MyBase::kEnum || c.native.base == MyBase::kSet) {
      c.members = c.native.members;
      const auto& from_map = c.native.base == MyBase::kEnum ? mc.enum_values : mc.set_values;
      if (!from_map.empty() && from_map != c.members) {
        refuse(ErrorKind::kSchema, "the binlog's TABLE_MAP lists other members");
      }
    }
  }
}

void BinlogRowConverter::AppendImage(const RowImage& image, Batch* batch,
                                     std::vector<CellWarning>* warnings) const {
  const std::string& name = name_;
  const size_t at = batch->rows();
  const int ncols = static_cast<int>(columns_.size());
  auto fail = [&](int col, const std::string& message) {
    batch->AppendNull();  // DescribeRowKey reads the row's cells up to here
    std::string key = DescribeRowKey(*batch, at, table_);
    batch->TruncateToRows(at);
    throw RowError(col, static_cast<int64_t>(at), message, std::move(key));
  };
  if (static_cast<int>(image.values.size()) != ncols) {
    throw Error(ErrorKind::kInternal,
                fmt::format("MySQL table {}: row image of {} values for {} columns", name,
                            image.values.size(), ncols));
  }
  std::string text;
  for (int i = 0; i < ncols; ++i) {
    const Column& c = columns_[i];
    const ColumnDef& def = table_.columns[i];
    const Value& v = image.values[i];
    auto bad = [&](std::string_view shown) {
      fail(i,
           fmt::format("MySQL table {} column `{}` ({}): cannot read value '{}' as {}", name,
                       def.name, def.native_type, shown.substr(0, 64), DescribeDmsType(def.type)));
    };
    switch (v.kind) {
      case ValueKind::kAbsent:
        batch->AppendUnchanged();
        continue;
      case ValueKind::kNull:
        batch->AppendNull();
        continue;
      case ValueKind::kInteger:
      case ValueKind::kYear:
        if (StorageOf(c.kind) == Storage::kUint) {
          batch->AppendUint(v.u);
        } else if (StorageOf(c.kind) == Storage::kInt) {
          batch->AppendInt(v.i);
        } else {
          bad(std::to_string(v.i));
        }
        continue;
      case ValueKind::kFloat:
      case ValueKind::kDouble:
        if (StorageOf(c.kind) != Storage::kDouble) bad(FormatDouble(v.d));
        batch->AppendDouble(c.kind == DmsKind::kReal4 ? static_cast<double>(static_cast<float>(v.d))
                                                      : v.d);
        continue;
      case ValueKind::kDecimal: {
        std::string& arena = batch->arena();
        const size_t start = arena.size();
        if (c.kind != DmsKind::kNumeric || !AppendCanonicalMysqlDecimal(v.text, &arena)) {
          arena.resize(start);
          bad(v.text);
        }
        batch->CommitBytes(start);
        continue;
      }
      case ValueKind::kDate:
      case ValueKind::kTime:
      case ValueKind::kDatetime:
      case ValueKind::kTimestamp: {
        // As the server prints it (the reader reads its text): the native type's fraction digits.
        FormatTemporal(v, static_cast<int>(c.native.length), &text);
        const ReadStatus st = AppendFieldValue(ReadColumn{c.kind, c.native.base}, text, batch);
        if (st == ReadStatus::kOk) continue;
        if (st == ReadStatus::kBad) bad(text);
        std::string why;
        if (zero_dates_.mode == ZeroDates::Mode::kRefuse) {
          why =
              "the MySQL source's zero_dates=refuse refuses zero dates (zero_dates=null reads "
              "them as NULL, zero_dates=YYYY-MM-DD as that date)";
        } else if (zero_dates_.mode == ZeroDates::Mode::kNull && !def.nullable) {
          why =
              "a zero date reads as NULL (the MySQL source's zero_dates=null) and the column "
              "is NOT NULL: set zero_dates to a date to read it as (e.g. "
              "zero_dates=0001-01-01) or to refuse";
        }
        if (!why.empty()) {
          fail(i,
               fmt::format("MySQL table {} column `{}` ({}{}): zero date '{}': {}", name, def.name,
                           def.native_type, def.nullable ? "" : " NOT NULL", text, why));
        }
        if (zero_dates_.mode == ZeroDates::Mode::kReplace) {
          batch->AppendInt(c.kind == DmsKind::kDate ? zero_dates_.days
                                                    : zero_dates_.days * kMicrosPerDay);
          warnings->push_back({i, fmt::format("zero date '{}' read as {} (MySQL source "
                                              "zero_dates={})",
                                              text, zero_dates_.text, zero_dates_.text)});
        } else {
          batch->AppendNull();
          warnings->push_back(
              {i, fmt::format("zero date '{}' read as NULL (MySQL source zero_dates=null)", text)});
        }
        continue;
      }
      case ValueKind::kString:
      case ValueKind::kBlob:
      case ValueKind::kGeometry: {
        if (IsTemporalBase(c.native.base) || StorageOf(c.kind) != Storage::kBytes) {
          bad(std::string(v.bytes.substr(0, 64)));
        }
        if (c.text && c.encoding == TextEncoding::kLatin1) {
          std::string& arena = batch->arena();
          const size_t start = arena.size();
          AppendLatin1AsUtf8(v.bytes, &arena);
          batch->CommitBytes(start);
        } else if (c.pad_to > static_cast<int64_t>(v.bytes.size())) {
          // BINARY(n) is stored without its trailing zero bytes; the reader gets all n.
          std::string& arena = batch->arena();
          const size_t start = arena.size();
          arena.append(v.bytes);
          arena.append(static_cast<size_t>(c.pad_to) - v.bytes.size(), '\0');
          batch->CommitBytes(start);
        } else {
          batch->AppendBytes(v.bytes);
        }
        continue;
      }
      case ValueKind::kBit: {
        const ReadStatus st = AppendFieldValue(ReadColumn{c.kind, c.native.base}, v.bytes, batch);
        if (st != ReadStatus::kOk) bad("bit value");
        continue;
      }
      case ValueKind::kEnum: {
        if (v.i < 0 || static_cast<size_t>(v.i) > c.members.size()) {
          bad(fmt::format("member #{} of {}", v.i, c.members.size()));
        }
        batch->AppendBytes(v.i == 0 ? std::string_view() : std::string_view(c.members[v.i - 1]));
        continue;
      }
      case ValueKind::kSet: {
        if (c.members.size() < 64 && (v.u >> c.members.size()) != 0) {
          bad(fmt::format("set bits 0x{:x} of {} members", v.u, c.members.size()));
        }
        std::string& arena = batch->arena();
        const size_t start = arena.size();
        bool first = true;
        for (size_t k = 0; k < c.members.size() && k < 64; ++k) {
          if (!((v.u >> k) & 1)) continue;
          if (!first) arena.push_back(',');
          arena.append(c.members[k]);
          first = false;
        }
        batch->CommitBytes(start);
        continue;
      }
      case ValueKind::kJson:
        if (StorageOf(c.kind) != Storage::kBytes) bad(v.text);
        batch->AppendBytes(v.text);
        continue;
    }
  }
}

}  // namespace ferry::mysql::binlog
