#include "connectors/sqlite/sqlite_types.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "common/text.h"
#include "connectors/ddl.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

namespace {

// A declared type split into its name (upper case, single spaces, without UNSIGNED/ZEROFILL),
// its numeric arguments and whether it said UNSIGNED: "int(10) unsigned" -> INT, {10}, true.
struct ParsedType {
  std::string name;
  std::vector<int64_t> args;
  bool has_args = false;
  bool is_unsigned = false;
};

ParsedType Parse(std::string_view declared) {
  ParsedType out;
  std::string upper = AsciiUpper(declared);
  std::string words;  // everything outside the parentheses
  size_t open = upper.find('(');
  if (open != std::string::npos) {
    size_t close = upper.find(')', open);
    std::string_view inside =
        std::string_view(upper).substr(open + 1, close == std::string::npos
                                                     ? std::string::npos
                                                     : close - open - 1);
    out.has_args = true;
    size_t p = 0;
    while (p <= inside.size()) {
      size_t comma = inside.find(',', p);
      std::string_view arg = inside.substr(p, comma == std::string_view::npos ? inside.npos
                                                                              : comma - p);
      while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
      while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
      int64_t v = 0;
      bool neg = !arg.empty() && arg.front() == '-';
      if (neg || (!arg.empty() && arg.front() == '+')) arg.remove_prefix(1);
      auto res = std::from_chars(arg.data(), arg.data() + arg.size(), v);
      if (res.ec != std::errc() || res.ptr != arg.data() + arg.size()) {
        out.has_args = false;  // ENUM('a','b') and the like: not a length or precision
        out.args.clear();
        break;
      }
      out.args.push_back(neg ? -v : v);
      if (comma == std::string_view::npos) break;
      p = comma + 1;
    }
    words = upper.substr(0, open) + " " +
            (close == std::string::npos ? std::string() : upper.substr(close + 1));
  } else {
    words = upper;
  }
  // Re-join the words with single spaces, dropping the modifiers.
  size_t p = 0;
  while (p < words.size()) {
    while (p < words.size() && std::isspace(static_cast<unsigned char>(words[p]))) ++p;
    size_t e = p;
    while (e < words.size() && !std::isspace(static_cast<unsigned char>(words[e]))) ++e;
    if (e > p) {
      std::string w = words.substr(p, e - p);
      if (w == "UNSIGNED") {
        out.is_unsigned = true;
      } else if (w != "ZEROFILL" && w != "SIGNED") {
        if (!out.name.empty()) out.name.push_back(' ');
        out.name += w;
      }
    }
    p = e;
  }
  return out;
}

DmsType Make(DmsKind kind, int64_t length = 0, int precision = 0, int scale = 0) {
  DmsType t;
  t.kind = kind;
  t.length = length;
  t.precision = precision;
  t.scale = scale;
  return t;
}

DmsKind IntKind(int bytes, bool is_unsigned) {
  switch (bytes) {
    case 1: return is_unsigned ? DmsKind::kUint1 : DmsKind::kInt1;
    case 2: return is_unsigned ? DmsKind::kUint2 : DmsKind::kInt2;
    case 4: return is_unsigned ? DmsKind::kUint4 : DmsKind::kInt4;
    default: return is_unsigned ? DmsKind::kUint8 : DmsKind::kInt8;
  }
}

}  // namespace

Affinity AffinityOf(std::string_view declared) {
  std::string u = AsciiUpper(declared);
  if (u.find("INT") != std::string::npos) return Affinity::kInteger;
  if (u.find("CHAR") != std::string::npos || u.find("CLOB") != std::string::npos ||
      u.find("TEXT") != std::string::npos) {
    return Affinity::kText;
  }
  if (u.find("BLOB") != std::string::npos || u.empty()) return Affinity::kBlob;
  if (u.find("REAL") != std::string::npos || u.find("FLOA") != std::string::npos ||
      u.find("DOUB") != std::string::npos) {
    return Affinity::kReal;
  }
  return Affinity::kNumeric;
}

DmsType DmsTypeFromDeclared(std::string_view declared) {
  const ParsedType p = Parse(declared);
  const std::string& n = p.name;
  const int64_t a0 = p.has_args && !p.args.empty() ? p.args[0] : 0;
  const int a1 = p.has_args && p.args.size() > 1 ? static_cast<int>(p.args[1]) : 0;
  if (n.empty()) return Make(DmsKind::kNclob);
  if (n == "BOOLEAN" || n == "BOOL") return Make(DmsKind::kBoolean);
  if (n == "TINYINT" || n == "INT1") return Make(IntKind(1, p.is_unsigned));
  if (n == "SMALLINT" || n == "INT2") return Make(IntKind(2, p.is_unsigned));
  if (n == "MEDIUMINT" || n == "INT" || n == "INT4") return Make(IntKind(4, p.is_unsigned));
  if (n == "INTEGER" || n == "BIGINT" || n == "INT8" || n == "BIG INT") {
    return Make(IntKind(8, p.is_unsigned));
  }
  if (n == "CHAR" || n == "VARCHAR" || n == "NCHAR" || n == "NVARCHAR" || n == "CHARACTER" ||
      n == "CHARACTER VARYING" || n == "VARYING CHARACTER" || n == "NATIVE CHARACTER" ||
      n == "NATIONAL CHARACTER" || n == "NATIONAL CHAR" || n == "VARCHAR2" ||
      n == "NVARCHAR2") {
    if (a0 > 0) return Make(DmsKind::kWstring, a0);
    return Make(DmsKind::kNclob);
  }
  if (n == "TEXT" || n == "CLOB" || n == "TINYTEXT" || n == "MEDIUMTEXT" || n == "LONGTEXT" ||
      n == "NTEXT" || n == "JSON" || n == "JSONB" || n == "JSON_TEXT") {
    return Make(DmsKind::kNclob);
  }
  if (n == "BLOB" || n == "BYTEA" || n == "LONGBLOB" || n == "MEDIUMBLOB" || n == "TINYBLOB") {
    return Make(DmsKind::kBlob);
  }
  if (n == "BINARY" || n == "VARBINARY") {
    return a0 > 0 ? Make(DmsKind::kBytes, a0) : Make(DmsKind::kBlob);
  }
  if (n == "FLOAT4" || n == "REAL4") return Make(DmsKind::kReal4);
  if (n == "REAL" || n == "DOUBLE" || n == "DOUBLE PRECISION" || n == "FLOAT" ||
      n == "FLOAT8") {
    return Make(DmsKind::kReal8);
  }
  if (n == "NUMERIC" || n == "DECIMAL" || n == "DECIMAL_TEXT" || n == "NUMBER" ||
      n == "DEC") {
    if (a0 > 0) return Make(DmsKind::kNumeric, 0, static_cast<int>(a0), a1);
    return Make(DmsKind::kNumeric);
  }
  if (n == "DATE") return Make(DmsKind::kDate);
  if (n == "DATETIME" || n == "TIMESTAMP" || n == "TIMESTAMP WITHOUT TIME ZONE") {
    return Make(DmsKind::kDatetime, 0, p.has_args ? static_cast<int>(a0) : 6);
  }
  if (n == "TIMESTAMPTZ" || n == "TIMESTAMP WITH TIME ZONE" || n == "DATETIMETZ") {
    DmsType t = Make(DmsKind::kDatetime, 0, p.has_args ? static_cast<int>(a0) : 6);
    t.with_time_zone = true;
    return t;
  }
  if (n == "TIME" || n == "TIME WITHOUT TIME ZONE") {
    return Make(DmsKind::kTime, 0, p.has_args ? static_cast<int>(a0) : 6);
  }
  if (n == "UUID") return Make(DmsKind::kString, 36);
  switch (AffinityOf(declared)) {
    case Affinity::kInteger: return Make(DmsKind::kInt8);
    case Affinity::kText: return Make(DmsKind::kNclob);
    case Affinity::kBlob: return Make(DmsKind::kBlob);
    case Affinity::kReal: return Make(DmsKind::kReal8);
    case Affinity::kNumeric: return Make(DmsKind::kNumeric);
  }
  return Make(DmsKind::kNclob);
}

void AppendStoredInteger(int64_t v, std::string* out) {
  char buf[24];
  buf[0] = static_cast<char>(ValueTag::kInteger);
  auto res = std::to_chars(buf + 1, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

void AppendStoredReal(double v, std::string* out) {
  char buf[40];
  buf[0] = static_cast<char>(ValueTag::kReal);
  auto res = std::to_chars(buf + 1, buf + sizeof buf, v);  // shortest round trip
  out->append(buf, res.ptr);
}

void AppendStoredBytes(ValueTag tag, std::string_view v, std::string* out) {
  out->push_back(static_cast<char>(tag));
  out->append(v);
}

bool DecodeStoredValue(std::string_view encoded, StoredValue* out) {
  if (encoded.empty()) return false;
  out->tag = static_cast<ValueTag>(encoded[0]);
  const std::string_view rest = encoded.substr(1);
  switch (out->tag) {
    case ValueTag::kInteger: {
      auto res = std::from_chars(rest.data(), rest.data() + rest.size(), out->integer);
      return res.ec == std::errc() && res.ptr == rest.data() + rest.size();
    }
    case ValueTag::kReal: {
      auto res = std::from_chars(rest.data(), rest.data() + rest.size(), out->real);
      return res.ec == std::errc() && res.ptr == rest.data() + rest.size();
    }
    case ValueTag::kText:
    case ValueTag::kBlob:
      out->bytes = rest;
      return true;
  }
  return false;
}

std::string QuoteStoredValue(std::string_view encoded) {
  StoredValue v;
  if (!DecodeStoredValue(encoded, &v)) return "?";
  switch (v.tag) {
    case ValueTag::kInteger:
      return std::to_string(v.integer);
    case ValueTag::kReal: {
      std::string s = fmt::format("{}", v.real);  // shortest text that reads back exactly
      if (s.find_first_of(".eEin") == std::string::npos) s += ".0";
      return s;
    }
    case ValueTag::kText: {
      if (v.bytes.find('\0') == std::string_view::npos) return QuoteLiteral(v.bytes);
      // A NUL byte, which no SQLite literal holds: quoted the same way for messages and
      // hashes (EngineValueLiteral refuses it as SQL).
      std::string s = "'";
      for (char c : v.bytes) {
        if (c == '\'') s += '\'';
        s += c;
      }
      return s + "'";
    }
    case ValueTag::kBlob: {
      static const char* digits = "0123456789ABCDEF";
      std::string s = "X'";
      for (unsigned char c : v.bytes) {
        s += digits[c >> 4];
        s += digits[c & 15];
      }
      return s + "'";
    }
  }
  return "?";
}

std::string SqliteDialect::QuoteIdentifier(std::string_view name) const {
  return DoubleQuoteIdent(name);
}

std::string SqliteDialect::QuoteLiteral(std::string_view value) const {
  return sqlite::QuoteLiteral(value);
}

std::string SqliteDialect::IsIntegerPredicate(std::string_view quoted_column) const {
  return fmt::format("typeof({}) = 'integer'", quoted_column);
}

std::string SqliteDialect::ControlSchema(const std::string& /*configured*/) const { return "main"; }

std::string SqliteDialect::ControlColumnSql(ControlColumnType type) const {
  switch (type) {
    case ControlColumnType::kName:
    case ControlColumnType::kShortText:
      return "VARCHAR(128)";
    case ControlColumnType::kLongText:
    case ControlColumnType::kPosition:
      return "TEXT";
    case ControlColumnType::kTime:
    case ControlColumnType::kPreciseTime:
      return "DATETIME";
    case ControlColumnType::kInt:
      return "INTEGER";
  }
  return "TEXT";
}

std::string SqliteDialect::CreateSchemaSql(const std::string& /*schema*/) const { return {}; }

std::string SqliteDialect::TimestampMicrosSql(const std::string& quoted_column) const {
  return fmt::format(
      "CAST(strftime('%s', {0}) AS INTEGER) * 1000000 + "
      "CAST(substr({0}, 21, 6) AS INTEGER)",
      quoted_column);
}

std::string SqliteDialect::UpsertSql(const std::string& quoted_table,
                                     const std::vector<std::string>& quoted_columns,
                                     const std::vector<std::string>& values,
                                     const std::string& /*quoted_key*/) const {
  return fmt::format("REPLACE INTO {} ({}) VALUES ({})", quoted_table,
                     fmt::join(quoted_columns, ", "), fmt::join(values, ", "));
}

std::string SqliteDialect::ObjectTableName(const TableDef& table) const {
  return DoubleQuoteIdent(table.name);
}

// sqlite_schema.sql of an index: "CREATE INDEX i ON t (...) [WHERE ...]": from the '('.
std::optional<std::string> SqliteDialect::VerbatimIndexTail(const std::string& definition) const {
  return IndexDefinitionTail(definition, "(");
}

std::string SqliteDialect::UniqueIndexName(const TableDef& target, size_t i) const {
  const IndexDef& index = target.unique_indexes[i];
  std::string name = index.name.empty() ? fmt::format("{}_key{}", target.name, i + 1) : index.name;
  if (name.compare(0, target.name.size(), target.name) != 0) name = target.name + "_" + name;
  return name;
}

std::string SqliteDialect::DeclaredTypeFor(const DmsType& t) {
  switch (t.kind) {
    case DmsKind::kBoolean: return "BOOLEAN";
    case DmsKind::kInt1: return "TINYINT";
    case DmsKind::kInt2: return "SMALLINT";
    case DmsKind::kInt4: return "INT";
    case DmsKind::kInt8: return "BIGINT";
    case DmsKind::kUint1: return "TINYINT UNSIGNED";
    case DmsKind::kUint2: return "SMALLINT UNSIGNED";
    case DmsKind::kUint4: return "INT UNSIGNED";
    case DmsKind::kUint8: return "DECIMAL_TEXT(20,0)";
    case DmsKind::kNumeric:
      if (t.precision >= 1 && t.precision <= 15) {
        return fmt::format("NUMERIC({},{})", t.precision, t.scale);
      }
      if (t.precision > 15) return fmt::format("DECIMAL_TEXT({},{})", t.precision, t.scale);
      return "DECIMAL_TEXT";
    case DmsKind::kReal4: return "FLOAT4";
    case DmsKind::kReal8: return "DOUBLE";
    case DmsKind::kString:
      return t.length > 0 ? fmt::format("VARCHAR({})", t.length) : "TEXT";
    case DmsKind::kWstring:
      return t.length > 0 ? fmt::format("NVARCHAR({})", t.length) : "TEXT";
    case DmsKind::kClob:
    case DmsKind::kNclob:
      return "TEXT";
    case DmsKind::kBytes:
    case DmsKind::kBlob:
      return "BLOB";
    case DmsKind::kDate: return "DATE";
    case DmsKind::kTime: return "TIME";
    case DmsKind::kDatetime: return "DATETIME";
    case DmsKind::kEngineValue: return "";  // any storage class (no affinity: BLOB)
  }
  return "TEXT";
}

ColumnDef SqliteDialect::MapColumn(const ColumnDef& source, Engine source_engine,
                                   bool in_key) const {
  ColumnDef out = source;
  if (source_engine == Engine::kSqlite && source.portable_native) {
    return out;  // same engine: the declared type as it was written (none stays none)
  }
  const std::string native = AsciiLower(source.native_type);
  if (IsText(source.type.kind) && (native == "json" || native == "jsonb")) {
    out.native_type = "JSON_TEXT";
  } else if (IsText(source.type.kind) && native == "uuid") {
    out.native_type = "UUID";  // NUMERIC affinity, but a UUID's text is never a number
  } else {
    out.native_type = DeclaredTypeFor(source.type);
  }
  out.native_id = 0;
  out.portable_native = true;
  return out;
}

int RowidAliasColumn(const TableDef& target) {
  if (target.primary_key.size() != 1) return -1;
  int c = target.ColumnIndex(target.primary_key[0]);
  if (c >= 0 && IsIntegerKind(target.columns[c].type.kind) &&
      target.columns[c].type.kind != DmsKind::kUint8 &&
      AffinityOf(target.columns[c].native_type) == Affinity::kInteger) {
    return c;
  }
  return -1;
}

std::vector<std::string> SqliteDialect::CreateTableSql(const TableDef& target) const {
  const QuoteFn quote = [](std::string_view name) { return DoubleQuoteIdent(name); };
  const std::string table = DoubleQuoteIdent(target.name);
  const int rowid_col = RowidAliasColumn(target);
  std::vector<std::string> out{ferry::CreateTableSql(
      target, table, quote,
      [&](size_t i) {
        return static_cast<int>(i) == rowid_col ? std::string("INTEGER")
                                                : target.columns[i].native_type;
      },
      [&](size_t i) { return !target.columns[i].nullable || static_cast<int>(i) == rowid_col; })};
  for (size_t x = 0; x < target.unique_indexes.size(); ++x) {
    out.push_back(
        CreateUniqueIndexSql(UniqueIndexName(target, x), table, target.unique_indexes[x], quote));
  }
  return out;
}

}  // namespace ferry::sqlite
