#include "connectors/mysql/my_types.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/error.h"
#include "connectors/ddl.h"

namespace ferry::mysql {

namespace {

struct BaseName {
  std::string_view name;
  MyBase base;
};

// Synonyms information_schema never prints (real, numeric, ...) are accepted for types typed
// by hand in tests and DO_NOTHING targets.
constexpr BaseName kBaseNames[] = {
    {"tinyint", MyBase::kTinyint},
    {"smallint", MyBase::kSmallint},
    {"mediumint", MyBase::kMediumint},
    {"int", MyBase::kInt},
    {"integer", MyBase::kInt},
    {"bigint", MyBase::kBigint},
    {"decimal", MyBase::kDecimal},
    {"numeric", MyBase::kDecimal},
    {"float", MyBase::kFloat},
    {"double", MyBase::kDouble},
    {"real", MyBase::kDouble},
    {"bit", MyBase::kBit},
    {"char", MyBase::kChar},
    {"varchar", MyBase::kVarchar},
    {"tinytext", MyBase::kTinytext},
    {"text", MyBase::kText},
    {"mediumtext", MyBase::kMediumtext},
    {"longtext", MyBase::kLongtext},
    {"binary", MyBase::kBinary},
    {"varbinary", MyBase::kVarbinary},
    {"tinyblob", MyBase::kTinyblob},
    {"blob", MyBase::kBlob},
    {"mediumblob", MyBase::kMediumblob},
    {"longblob", MyBase::kLongblob},
    {"date", MyBase::kDate},
    {"time", MyBase::kTime},
    {"datetime", MyBase::kDatetime},
    {"timestamp", MyBase::kTimestamp},
    {"year", MyBase::kYear},
    {"enum", MyBase::kEnum},
    {"set", MyBase::kSet},
    {"json", MyBase::kJson},
    {"geometry", MyBase::kGeometry},
    {"point", MyBase::kGeometry},
    {"linestring", MyBase::kGeometry},
    {"polygon", MyBase::kGeometry},
    {"multipoint", MyBase::kGeometry},
    {"multilinestring", MyBase::kGeometry},
    {"multipolygon", MyBase::kGeometry},
    {"geometrycollection", MyBase::kGeometry},
    {"inet6", MyBase::kInet6},
    {"inet4", MyBase::kInet4},
    {"uuid", MyBase::kUuid},
};

int64_t ParseInt(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Splits "'a','it''s'" into its unquoted members.
std::vector<std::string> ParseMembers(std::string_view s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < s.size()) {
    if (s[p] != '\'') {
      ++p;
      continue;
    }
    ++p;
    std::string m;
    while (p < s.size()) {
      if (s[p] == '\'' && p + 1 < s.size() && s[p + 1] == '\'') {
        m.push_back('\'');
        p += 2;
      } else if (s[p] == '\'') {
        ++p;
        break;
      } else if (s[p] == '\\' && p + 1 < s.size()) {
        m.push_back(s[p + 1]);
        p += 2;
      } else {
        m.push_back(s[p++]);
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

// Number of UTF-8 characters in `s` (which is valid UTF-8).
int64_t Utf8Chars(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

MyNativeType ParseNativeType(std::string_view column_type) {
  MyNativeType t;
  t.text.resize(column_type.size());
  std::transform(column_type.begin(), column_type.end(), t.text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view s = t.text;
  size_t name_end = 0;
  while (name_end < s.size() &&
         (std::isalnum(static_cast<unsigned char>(s[name_end])) || s[name_end] == '_')) {
    ++name_end;
  }
  std::string_view name = s.substr(0, name_end);
  std::string_view rest = s.substr(name_end);
  if (name == "double" && rest.starts_with(" precision")) rest.remove_prefix(10);
  if (name == "boolean" || name == "bool") {
    t.base = MyBase::kTinyint;
    t.length = 1;
    return t;
  }
  if (name == "serial") {
    t.base = MyBase::kBigint;
    t.is_unsigned = true;
    return t;
  }
  for (const auto& b : kBaseNames) {
    if (b.name == name) t.base = b.base;
  }
  if (!rest.empty() && rest.front() == '(') {
    // Enum and set members may contain ')' inside quotes: find the closing paren outside them.
    size_t p = 1;
    bool quoted = false;
    for (; p < rest.size(); ++p) {
      if (rest[p] == '\'') quoted = !quoted;
      if (!quoted && rest[p] == ')') break;
    }
    std::string_view args = rest.substr(1, p - 1);
    rest = p < rest.size() ? rest.substr(p + 1) : std::string_view();
    if (t.base == MyBase::kEnum || t.base == MyBase::kSet) {
      // Keep the original case of the members: they are data.
      size_t open = column_type.find('(');
      t.members = ParseMembers(column_type.substr(open + 1, args.size()));
    } else {
      size_t comma = args.find(',');
      t.length = ParseInt(args.substr(0, comma));
      if (comma != std::string_view::npos)
        t.scale = static_cast<int>(ParseInt(args.substr(comma + 1)));
    }
  } else if (t.base == MyBase::kDecimal) {
    t.length = 10;  // DECIMAL without arguments is DECIMAL(10,0)
  } else if (t.base == MyBase::kChar || t.base == MyBase::kBinary || t.base == MyBase::kBit) {
    t.length = 1;
  }
  t.is_unsigned = rest.find("unsigned") != std::string_view::npos;
  return t;
}

bool IsTextNative(MyBase b) {
  switch (b) {
    case MyBase::kChar:
    case MyBase::kVarchar:
    case MyBase::kTinytext:
    case MyBase::kText:
    case MyBase::kMediumtext:
    case MyBase::kLongtext:
    case MyBase::kEnum:
    case MyBase::kSet:
    case MyBase::kJson:
    case MyBase::kInet6:
    case MyBase::kInet4:
    case MyBase::kUuid:
    case MyBase::kUnknown:
      return true;
    default:
      return false;
  }
}

bool IsBinaryNative(MyBase b) {
  switch (b) {
    case MyBase::kBinary:
    case MyBase::kVarbinary:
    case MyBase::kTinyblob:
    case MyBase::kBlob:
    case MyBase::kMediumblob:
    case MyBase::kLongblob:
    case MyBase::kGeometry:
      return true;
    default:
      return false;
  }
}

int64_t MaxBytes(const MyNativeType& t) {
  switch (t.base) {
    case MyBase::kChar:
      return std::min<int64_t>(t.length, 255) * 4;
    case MyBase::kVarchar:
      return std::min<int64_t>(std::min<int64_t>(t.length, 65535) * 4, 65535);
    case MyBase::kTinytext:
    case MyBase::kTinyblob:
      return 255;
    case MyBase::kText:
    case MyBase::kBlob:
      return 65535;
    case MyBase::kMediumtext:
    case MyBase::kMediumblob:
      return 16777215;
    case MyBase::kLongtext:
    case MyBase::kLongblob:
    case MyBase::kJson:
    case MyBase::kGeometry:
    case MyBase::kUnknown:
      return 4294967295LL;
    case MyBase::kBinary:
    case MyBase::kVarbinary:
      return t.length;
    default:
      return 0;
  }
}

int64_t MaxChars(const MyNativeType& t) {
  return t.base == MyBase::kChar || t.base == MyBase::kVarchar ? t.length : 0;
}

// Read mapping (MySQL native -> DMS), following the DMS MySQL source table:
//   tinyint INT1 (tinyint(1)/boolean too: DMS keeps it an integer), smallint INT2,
//   mediumint/int INT4, bigint INT8; unsigned: UINT1, UINT2, UINT4 (mediumint too), UINT8
//   decimal(p,s) NUMERIC(p,s); float REAL4; double REAL8
//   bit(1) BOOLEAN; bit(n>1) BYTES((n+7)/8), big-endian bytes as the server sends them
//   char(n)/varchar(n) WSTRING(n); tinytext WSTRING(255) (it holds at most 255 bytes);
//   text/mediumtext/longtext NCLOB (a 64 KiB text is a LOB in practice: DMS does the same)
//   binary(n)/varbinary(n) BYTES(n); tinyblob..longblob BLOB
//   date DATE; time(p) TIME(p); datetime(p) DATETIME(p); timestamp(p) DATETIME(p) UTC
//   year INT2; enum/set WSTRING(longest possible value); json CLOB (native "json" kept)
//   geometry (all spatial types) BLOB: MySQL's internal form, a 4-byte little-endian SRID
//   followed by standard WKB, so the SRID is not lost (a MySQL target takes it back as is)
//   inet6 STRING(39), inet4 STRING(15), uuid STRING(36); anything else NCLOB (text)
DmsType DmsTypeForNative(const MyNativeType& t) {
  DmsType d;
  const bool u = t.is_unsigned;
  switch (t.base) {
    case MyBase::kTinyint:
      d.kind = u ? DmsKind::kUint1 : DmsKind::kInt1;
      break;
    case MyBase::kSmallint:
      d.kind = u ? DmsKind::kUint2 : DmsKind::kInt2;
      break;
    case MyBase::kMediumint:
    case MyBase::kInt:
      d.kind = u ? DmsKind::kUint4 : DmsKind::kInt4;
      break;
    case MyBase::kBigint:
      d.kind = u ? DmsKind::kUint8 : DmsKind::kInt8;
      break;
    case MyBase::kDecimal:
      d.kind = DmsKind::kNumeric;
      d.precision = static_cast<int>(t.length);
      d.scale = t.scale;
      break;
    case MyBase::kFloat:
      d.kind = DmsKind::kReal4;
      break;
    case MyBase::kDouble:
      d.kind = DmsKind::kReal8;
      break;
    case MyBase::kBit:
      if (t.length <= 1) {
        d.kind = DmsKind::kBoolean;
      } else {
        d.kind = DmsKind::kBytes;
        d.length = (t.length + 7) / 8;
      }
      break;
    case MyBase::kChar:
    case MyBase::kVarchar:
      d.kind = DmsKind::kWstring;
      d.length = t.length;
      break;
    case MyBase::kTinytext:
      d.kind = DmsKind::kWstring;
      d.length = 255;
      break;
    case MyBase::kText:
    case MyBase::kMediumtext:
    case MyBase::kLongtext:
      d.kind = DmsKind::kNclob;
      break;
    case MyBase::kBinary:
    case MyBase::kVarbinary:
      d.kind = DmsKind::kBytes;
      d.length = t.length;
      break;
    case MyBase::kTinyblob:
    case MyBase::kBlob:
    case MyBase::kMediumblob:
    case MyBase::kLongblob:
    case MyBase::kGeometry:
      d.kind = DmsKind::kBlob;
      break;
    case MyBase::kDate:
      d.kind = DmsKind::kDate;
      break;
    case MyBase::kTime:
      d.kind = DmsKind::kTime;
      d.precision = static_cast<int>(t.length);
      break;
    case MyBase::kDatetime:
    case MyBase::kTimestamp:
      d.kind = DmsKind::kDatetime;
      d.precision = static_cast<int>(t.length);
      d.with_time_zone = t.base == MyBase::kTimestamp;
      break;
    case MyBase::kYear:
      d.kind = DmsKind::kInt2;
      break;
    case MyBase::kEnum:
    case MyBase::kSet: {
      d.kind = DmsKind::kWstring;
      int64_t longest = 0, all = 0;
      for (const auto& m : t.members) {
        longest = std::max(longest, Utf8Chars(m));
        all += Utf8Chars(m) + 1;
      }
      d.length = std::max<int64_t>(1, t.base == MyBase::kEnum ? longest : all - 1);
      break;
    }
    case MyBase::kJson:
      d.kind = DmsKind::kClob;
      break;
    case MyBase::kInet6:
      d.kind = DmsKind::kString;
      d.length = 39;
      break;
    case MyBase::kInet4:
      d.kind = DmsKind::kString;
      d.length = 15;
      break;
    case MyBase::kUuid:
      d.kind = DmsKind::kString;
      d.length = 36;
      break;
    case MyBase::kUnknown:
      d.kind = DmsKind::kNclob;
      break;
  }
  return d;
}

std::string QuoteIdent(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('`');
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "''";
        break;
      case '\0':
        out += "\\0";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

namespace {

// Longest varchar a key column gets: utf8mb4 keys are limited to 3072 bytes per index
// (InnoDB, DYNAMIC rows), and 768 characters x 4 bytes is exactly that.
constexpr int64_t kKeyVarcharChars = 768;
constexpr int64_t kKeyVarbinaryBytes = 3072;
// Longest varchar we declare: 16383 x 4 bytes stays under the 65535-byte varchar limit.
constexpr int64_t kMaxVarcharChars = 16383;

std::string TextType(int64_t length, bool in_key) {
  if (length > 0 && length <= kMaxVarcharChars) {
    if (in_key && length > kKeyVarcharChars) return fmt::format("varchar({})", kKeyVarcharChars);
    return fmt::format("varchar({})", length);
  }
  return in_key ? fmt::format("varchar({})", kKeyVarcharChars) : "longtext";
}

bool IsPostgresJson(std::string_view native) { return native == "json" || native == "jsonb"; }

}  // namespace

// Write mapping (DMS -> MySQL native):
//   BOOLEAN tinyint(1); INT1 tinyint; INT2 smallint; INT4 int; INT8 bigint;
//   UINT1..UINT8 tinyint..bigint unsigned;
//   NUMERIC(p,s) decimal(p,s) when 0 < p <= 65, 0 <= s <= 30 and s <= p; otherwise
//   (unconstrained, p > 65, negative scale) decimal(65,30): a value that does not fit exactly
//   is a RowError at write time, never rounded;
//   REAL4 float; REAL8 double;
//   STRING/WSTRING(n) varchar(n) for n <= 16383, else longtext; CLOB/NCLOB longtext;
//   in a key, unbounded text becomes varchar(768) (utf8mb4 index keys are at most 3072
//   bytes) and longer values are RowErrors;
//   BYTES(n) varbinary(n) for n <= 65535, else longblob; BLOB longblob (varbinary(3072) in a
//   key); DATE date; TIME(p) time(p); DATETIME(p) datetime(p) (p capped at 6);
//   PostgreSQL json/jsonb json; a MySQL source's native type as is when portable.
ColumnDef MapColumnToMysql(const ColumnDef& source, Engine source_engine, bool in_key) {
  ColumnDef out = source;
  out.native_id = 0;
  if (source_engine == Engine::kMysql && source.portable_native && !source.native_type.empty()) {
    MyNativeType nt = ParseNativeType(source.native_type);
    const bool unindexable = nt.base == MyBase::kTinytext || nt.base == MyBase::kText ||
                             nt.base == MyBase::kMediumtext || nt.base == MyBase::kLongtext ||
                             nt.base == MyBase::kJson || nt.base == MyBase::kTinyblob ||
                             nt.base == MyBase::kBlob || nt.base == MyBase::kMediumblob ||
                             nt.base == MyBase::kLongblob;
    if (!(in_key && unindexable)) return out;
  }
  if (!in_key && source_engine == Engine::kPostgres && IsPostgresJson(source.native_type)) {
    out.native_type = "json";
    return out;
  }
  const DmsType& t = source.type;
  switch (t.kind) {
    case DmsKind::kBoolean:
      out.native_type = "tinyint(1)";
      break;
    case DmsKind::kInt1:
      out.native_type = "tinyint";
      break;
    case DmsKind::kInt2:
      out.native_type = "smallint";
      break;
    case DmsKind::kInt4:
      out.native_type = "int";
      break;
    case DmsKind::kInt8:
      out.native_type = "bigint";
      break;
    case DmsKind::kUint1:
      out.native_type = "tinyint unsigned";
      break;
    case DmsKind::kUint2:
      out.native_type = "smallint unsigned";
      break;
    case DmsKind::kUint4:
      out.native_type = "int unsigned";
      break;
    case DmsKind::kUint8:
      out.native_type = "bigint unsigned";
      break;
    case DmsKind::kNumeric:
      if (t.precision > 0 && t.precision <= 65 && t.scale >= 0 && t.scale <= 30 &&
          t.scale <= t.precision) {
        out.native_type = fmt::format("decimal({},{})", t.precision, t.scale);
      } else {
        out.native_type = "decimal(65,30)";
      }
      break;
    case DmsKind::kReal4:
      out.native_type = "float";
      break;
    case DmsKind::kReal8:
      out.native_type = "double";
      break;
    case DmsKind::kString:
    case DmsKind::kWstring:
      out.native_type = TextType(t.length, in_key);
      break;
    case DmsKind::kClob:
    case DmsKind::kNclob:
      out.native_type = TextType(0, in_key);
      break;
    case DmsKind::kBytes:
      if (t.length > 0 && t.length <= 65535 && !(in_key && t.length > kKeyVarbinaryBytes)) {
        out.native_type = fmt::format("varbinary({})", t.length);
      } else {
        out.native_type = in_key ? fmt::format("varbinary({})", kKeyVarbinaryBytes) : "longblob";
      }
      break;
    case DmsKind::kBlob:
      out.native_type = in_key ? fmt::format("varbinary({})", kKeyVarbinaryBytes) : "longblob";
      break;
    case DmsKind::kDate:
      out.native_type = "date";
      break;
    case DmsKind::kTime:
      out.native_type =
          t.precision > 0 ? fmt::format("time({})", std::min(t.precision, 6)) : "time";
      break;
    case DmsKind::kDatetime:
      out.native_type =
          t.precision > 0 ? fmt::format("datetime({})", std::min(t.precision, 6)) : "datetime";
      break;
    case DmsKind::kEngineValue:
      throw Error(ErrorKind::kInternal,
                  fmt::format("column {}: another engine's own value cannot go to MySQL",
                              source.name));
  }
  return out;
}

namespace {

// Bytes a column takes in InnoDB's 65535-byte row-size limit (LOBs count a pointer only).
int64_t RowBytes(const MyNativeType& t) {
  // Lengths come from type text; clamp to MySQL's own maxima so absurd ones cannot overflow.
  const int64_t length = std::min<int64_t>(t.length, 65535);
  if (t.base == MyBase::kVarchar) return length * 4 + 2;
  if (t.base == MyBase::kChar) return length * 4;
  if (t.base == MyBase::kVarbinary) return length + 2;
  if (t.base == MyBase::kBinary) return length;
  return 12;
}

}  // namespace

std::vector<std::string> CreateTableStatements(const TableDef& target) {
  const std::string table = QuoteIdent(target.schema) + "." + QuoteIdent(target.name);
  // MySQL refuses a table whose declared varchar widths add up past 65535 bytes. When a wide
  // source table gets there, the widest varchar columns that are not in a key become
  // mediumtext (same values, stored off-row), until the row fits.
  std::vector<std::string> types;
  std::vector<MyNativeType> parsed;
  int64_t row_bytes = 0;
  for (const auto& c : target.columns) {
    types.push_back(c.native_type);
    parsed.push_back(ParseNativeType(c.native_type));
    row_bytes += RowBytes(parsed.back());
  }
  auto in_key = [&](const std::string& name) {
    if (std::find(target.primary_key.begin(), target.primary_key.end(), name) !=
        target.primary_key.end()) {
      return true;
    }
    for (const auto& idx : target.unique_indexes) {
      if (std::find(idx.columns.begin(), idx.columns.end(), name) != idx.columns.end()) {
        return true;
      }
    }
    return false;
  };
  while (row_bytes > 65000) {
    int widest = -1;
    for (size_t i = 0; i < parsed.size(); ++i) {
      if (parsed[i].base != MyBase::kVarchar || in_key(target.columns[i].name)) continue;
      if (widest < 0 || parsed[i].length > parsed[widest].length) widest = static_cast<int>(i);
    }
    if (widest < 0) break;  // nothing left to move off-row; let the server say why
    row_bytes -= RowBytes(parsed[widest]) - 12;
    types[widest] = "mediumtext";
    parsed[widest] = ParseNativeType("mediumtext");
  }

  const QuoteFn quote = [](std::string_view name) { return QuoteIdent(name); };
  std::string sql = CreateTableSql(
      target, table, quote, [&](size_t i) { return types[i]; },
      [&](size_t i) { return !target.columns[i].nullable; });
  // utf8mb4_nopad_bin: binary comparison (case kept distinct) AND no trailing-space padding.
  // utf8mb4_bin is a PAD SPACE collation in MariaDB, so 'a' and 'a ' would collide in a
  // primary key that held both in the source (PostgreSQL and SQLite keep them distinct).
  sql += " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";
  std::vector<std::string> out{std::move(sql)};
  for (const auto& idx : target.unique_indexes) {
    out.push_back(CreateUniqueIndexSql(idx.name.size() > 64 ? idx.name.substr(0, 64) : idx.name,
                                       table, idx, quote));
  }
  return out;
}

}  // namespace ferry::mysql
