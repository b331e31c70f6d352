#include "connectors/postgres/pg_types.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/error.h"
#include "common/text.h"

namespace ferry::postgres {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The numbers inside the first "(...)" of `s`: "numeric(10,2)" -> {10, 2}. Returns how many.
int TypmodArgs(std::string_view s, int64_t* a, int64_t* b) {
  const size_t open = s.find('(');
  if (open == std::string_view::npos) return 0;
  const size_t close = s.find(')', open);
  if (close == std::string_view::npos) return 0;
  std::string_view inside = s.substr(open + 1, close - open - 1);
  int n = 0;
  int64_t* slots[2] = {a, b};
  while (!inside.empty() && n < 2) {
    while (!inside.empty() && inside.front() == ' ') inside.remove_prefix(1);
    int64_t v = 0;
    auto res = std::from_chars(inside.data(), inside.data() + inside.size(), v);
    if (res.ec != std::errc()) break;
    *slots[n++] = v;
    inside.remove_prefix(static_cast<size_t>(res.ptr - inside.data()));
    while (!inside.empty() && (inside.front() == ' ' || inside.front() == ',')) {
      inside.remove_prefix(1);
    }
  }
  return n;
}

// Fractional second digits of time/timestamp types: "(p)" when given, else 6.
int FractionDigits(std::string_view formatted) {
  int64_t p = 6, unused = 0;
  if (TypmodArgs(formatted, &p, &unused) >= 1) return static_cast<int>(p);
  return 6;
}

DmsType Kind(DmsKind kind, int64_t length = 0) {
  DmsType t;
  t.kind = kind;
  t.length = length;
  return t;
}

}  // namespace

PgMappedType MapPgType(const PgTypeInfo& info) {
  PgMappedType m;
  m.portable_native = !info.is_domain;
  const std::string f = AsciiLower(info.formatted);
  int64_t a = 0, b = 0;
  if (info.category == 'A' || (f.size() > 2 && f.substr(f.size() - 2) == "[]")) {
    // Arrays travel as PostgreSQL's text array syntax.
    m.type = Kind(DmsKind::kNclob);
    if (info.elem_oid >= kFirstNormalOid) m.portable_native = false;
    return m;
  }
  if (info.typtype == 'e') {
    m.type = Kind(DmsKind::kString);
    m.portable_native = false;
    return m;
  }
  switch (info.oid) {
    case kOidBool:
      m.type = Kind(DmsKind::kBoolean);
      return m;
    case kOidInt2:
      m.type = Kind(DmsKind::kInt2);
      return m;
    case kOidInt4:
      m.type = Kind(DmsKind::kInt4);
      return m;
    case kOidInt8:
      m.type = Kind(DmsKind::kInt8);
      return m;
    case kOidFloat4:
      m.type = Kind(DmsKind::kReal4);
      return m;
    case kOidFloat8:
      m.type = Kind(DmsKind::kReal8);
      return m;
    case kOidNumeric: {
      m.type = Kind(DmsKind::kNumeric);
      const int n = TypmodArgs(f, &a, &b);
      if (n >= 1) {
        m.type.precision = static_cast<int>(a);
        m.type.scale = n >= 2 ? static_cast<int>(b) : 0;
      }
      return m;
    }
    case kOidMoney:
      m.type = Kind(DmsKind::kNumeric);
      m.type.precision = 38;
      m.type.scale = 4;
      return m;
    case kOidBpchar:
    case kOidVarchar:
      if (TypmodArgs(f, &a, &b) >= 1) {
        m.type = Kind(DmsKind::kWstring, a);
      } else if (info.oid == kOidBpchar) {
        m.type = Kind(DmsKind::kWstring, f == "bpchar" ? 0 : 1);
      } else {
        m.type = Kind(DmsKind::kNclob);
      }
      return m;
    case kOidText:
      m.type = Kind(DmsKind::kNclob);
      return m;
    case kOidChar:
      m.type = Kind(DmsKind::kString, 1);
      return m;
    case kOidName:
      m.type = Kind(DmsKind::kString, 64);
      return m;
    case kOidBytea:
      m.type = Kind(DmsKind::kBlob);
      return m;
    case kOidDate:
      m.type = Kind(DmsKind::kDate);
      return m;
    case kOidTime:
      m.type = Kind(DmsKind::kTime);
      m.type.precision = FractionDigits(f);
      return m;
    case kOidTimestamp:
    case kOidTimestamptz:
      m.type = Kind(DmsKind::kDatetime);
      m.type.precision = FractionDigits(f);
      m.type.with_time_zone = info.oid == kOidTimestamptz;
      return m;
    case kOidTimetz:
    case kOidInterval:
      m.type = Kind(DmsKind::kString);
      return m;
    case kOidUuid:
      m.type = Kind(DmsKind::kString, 36);
      return m;
    case kOidJson:
    case kOidJsonb:
      m.type = Kind(DmsKind::kNclob);
      return m;
    case kOidXml:
    case 3614:  // tsvector
    case 3615:  // tsquery
      m.type = Kind(DmsKind::kClob);
      return m;
    case 869:   // inet
    case 650:   // cidr
    case 829:   // macaddr
    case 774:   // macaddr8
    case 1560:  // bit
    case 1562:  // varbit
      m.type = Kind(DmsKind::kString);
      return m;
    default:
      break;
  }
  if (info.oid >= kFirstNormalOid) {
    // Extension and user-defined types (hstore, citext, postgis, composites): text form.
    m.type = Kind(DmsKind::kNclob);
    m.portable_native = false;
    return m;
  }
  // Other built-ins: ranges, geometric, oid-ish, pg_lsn, ... travel as their text form.
  if (info.typtype == 'r' || info.typtype == 'm' || info.category == 'G' || info.category == 'N' ||
      info.category == 'U') {
    m.type = Kind(DmsKind::kString);
  } else {
    m.type = Kind(DmsKind::kNclob);
  }
  return m;
}

PgWire ReadWireForOid(uint32_t oid, std::string* cast) {
  cast->clear();
  switch (oid) {
    case kOidBool:
      return PgWire::kBool;
    case kOidInt2:
      return PgWire::kInt2;
    case kOidInt4:
      return PgWire::kInt4;
    case kOidInt8:
      return PgWire::kInt8;
    case kOidFloat4:
      return PgWire::kFloat4;
    case kOidFloat8:
      return PgWire::kFloat8;
    case kOidNumeric:
      return PgWire::kNumeric;
    case kOidMoney:
      *cast = "numeric";
      return PgWire::kNumeric;
    case kOidDate:
      return PgWire::kDate;
    case kOidTime:
      return PgWire::kTime;
    case kOidTimestamp:
      return PgWire::kTimestamp;
    case kOidTimestamptz:
      return PgWire::kTimestamptz;
    case kOidBytea:
      return PgWire::kBytea;
    case kOidText:
    case kOidVarchar:
    case kOidBpchar:
    case kOidName:
      return PgWire::kText;
    case kOidJson:
      return PgWire::kJson;
    case kOidJsonb:
      return PgWire::kJsonb;
    case kOidUuid:
      return PgWire::kUuid;
    default:
      *cast = "text";
      return PgWire::kText;
  }
}

PgWire ReadWireForColumn(const ColumnDef& column, std::string* cast) {
  if (column.native_id != 0) return ReadWireForOid(column.native_id, cast);
  cast->clear();
  const std::string lower = AsciiLower(column.native_type);
  if (lower == "money") {
    *cast = "numeric";
    return PgWire::kNumeric;
  }
  const PgTargetType t = ParsePgTargetType(column.native_type);
  if (t.wire == PgWire::kOther) *cast = "text";
  return t.wire == PgWire::kOther ? PgWire::kText : t.wire;
}

PgTargetType ParsePgTargetType(std::string_view native_type) {
  PgTargetType t;
  std::string s = AsciiLower(native_type);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > 2 && s.substr(s.size() - 2) == "[]") {
    t.is_array = true;
    return t;
  }
  int64_t a = 0, b = 0;
  const int nargs = TypmodArgs(s, &a, &b);
  const std::string base = s.substr(0, s.find('('));
  if (s == "boolean" || s == "bool") {
    t.wire = PgWire::kBool;
  } else if (s == "smallint" || s == "int2") {
    t.wire = PgWire::kInt2;
  } else if (s == "integer" || s == "int" || s == "int4") {
    t.wire = PgWire::kInt4;
  } else if (s == "bigint" || s == "int8") {
    t.wire = PgWire::kInt8;
  } else if (s == "real" || s == "float4") {
    t.wire = PgWire::kFloat4;
  } else if (s == "double precision" || s == "float8") {
    t.wire = PgWire::kFloat8;
  } else if (base == "numeric" || base == "decimal") {
    t.wire = PgWire::kNumeric;
    if (nargs >= 1) {
      t.precision = static_cast<int>(a);
      t.scale = nargs >= 2 ? static_cast<int>(b) : 0;
    }
  } else if (s == "text") {
    t.wire = PgWire::kText;
  } else if (base == "character varying" || base == "varchar") {
    t.wire = PgWire::kText;
    if (nargs >= 1) t.max_chars = a;
  } else if (base == "character" || base == "char" || s == "bpchar") {
    t.wire = PgWire::kText;
    t.max_chars = nargs >= 1 ? a : (s == "bpchar" ? 0 : 1);
  } else if (s == "bytea") {
    t.wire = PgWire::kBytea;
  } else if (s == "date") {
    t.wire = PgWire::kDate;
  } else if (StartsWith(s, "timestamp")) {
    const bool tz = s.find("with time zone") != std::string::npos || StartsWith(s, "timestamptz");
    const bool no_tz = s.find("without time zone") != std::string::npos;
    t.wire = tz && !no_tz ? PgWire::kTimestamptz : PgWire::kTimestamp;
    t.precision = nargs >= 1 ? static_cast<int>(a) : 6;
  } else if (StartsWith(s, "time") && s.find("with time zone") == std::string::npos &&
             !StartsWith(s, "timetz")) {
    t.wire = PgWire::kTime;
    t.precision = nargs >= 1 ? static_cast<int>(a) : 6;
  } else if (s == "uuid") {
    t.wire = PgWire::kUuid;
  } else if (s == "json") {
    t.wire = PgWire::kJson;
  } else if (s == "jsonb") {
    t.wire = PgWire::kJsonb;
  }
  return t;
}

std::string PgDdlType(const ColumnDef& source, Engine source_engine) {
  if (source_engine == Engine::kPostgres && source.portable_native && !source.native_type.empty()) {
    return source.native_type;
  }
  if (source_engine == Engine::kMysql && StartsWith(AsciiLower(source.native_type), "json")) {
    return "jsonb";
  }
  const DmsType& t = source.type;
  switch (t.kind) {
    case DmsKind::kBoolean:
      return "boolean";
    case DmsKind::kBytes:
    case DmsKind::kBlob:
      return "bytea";
    case DmsKind::kInt1:
    case DmsKind::kInt2:
    case DmsKind::kUint1:
      return "smallint";
    case DmsKind::kInt4:
    case DmsKind::kUint2:
      return "integer";
    case DmsKind::kInt8:
    case DmsKind::kUint4:
      return "bigint";
    case DmsKind::kUint8:
      return "numeric(20,0)";
    case DmsKind::kNumeric:
      if (t.precision <= 0 || t.precision > 1000 || t.scale < -1000 || t.scale > 1000) {
        return "numeric";
      }
      return fmt::format("numeric({},{})", t.precision, t.scale);
    case DmsKind::kReal4:
      return "real";
    case DmsKind::kReal8:
      return "double precision";
    case DmsKind::kString:
    case DmsKind::kWstring:
      if (t.length <= 0 || t.length > 10485760) return "text";
      return fmt::format("varchar({})", t.length);
    case DmsKind::kClob:
    case DmsKind::kNclob:
      return "text";
    case DmsKind::kDate:
      return "date";
    case DmsKind::kTime:
      return fmt::format("time({})", std::clamp(t.precision, 0, 6));
    case DmsKind::kDatetime:
      return fmt::format("{}({})", t.with_time_zone ? "timestamptz" : "timestamp",
                         std::clamp(t.precision, 0, 6));
    case DmsKind::kEngineValue:
      break;  // never planned for PostgreSQL (Dialect::KeepsSourceValues)
  }
  return "text";
}

std::string QuoteLiteral(std::string_view value) {
  if (value.find('\0') != std::string_view::npos) {
    throw Error(ErrorKind::kData, "a PostgreSQL string literal cannot hold a NUL byte");
  }
  std::string out;
  out.reserve(value.size() + 3);
  // In E'' a backslash is an escape under either setting of standard_conforming_strings.
  if (value.find('\\') != std::string_view::npos) out.push_back('E');
  out.push_back('\'');
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string QuoteQualified(std::string_view schema, std::string_view name) {
  return DoubleQuoteIdent(schema) + "." + DoubleQuoteIdent(name);
}

size_t PgWireFixedSize(PgWire w) {
  switch (w) {
    case PgWire::kBool:
      return 1;
    case PgWire::kInt2:
      return 2;
    case PgWire::kInt4:
    case PgWire::kFloat4:
    case PgWire::kDate:
      return 4;
    case PgWire::kInt8:
    case PgWire::kFloat8:
    case PgWire::kTime:
    case PgWire::kTimestamp:
    case PgWire::kTimestamptz:
      return 8;
    case PgWire::kUuid:
      return 16;
    default:
      return 0;
  }
}

}  // namespace ferry::postgres
