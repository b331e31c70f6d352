#include "connectors/dialect.h"

#include <fmt/format.h>

#include <cctype>
#include <regex>

#include "common/error.h"
#include "common/text.h"

namespace ferry {

namespace {

// Reads a quoted string literal starting at `s[pos]` ('...' or E'...'); returns the position
// after it, or npos when it is not a complete literal. `backslash`: backslash escapes apply.
size_t ReadLiteral(const std::string& s, size_t pos, bool backslash, std::string* out) {
  if (pos >= s.size() || s[pos] != '\'') return std::string::npos;
  for (size_t i = pos + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (backslash && c == '\\' && i + 1 < s.size()) {
      const char n = s[++i];
      out->push_back(n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == '0' ? '\0' : n);
      continue;
    }
    if (c == '\'') {
      if (i + 1 < s.size() && s[i + 1] == '\'') {
        out->push_back('\'');
        ++i;
        continue;
      }
      return i + 1;
    }
    out->push_back(c);
  }
  return std::string::npos;
}

bool IsNumber(const std::string& s) {
  static const std::regex number(R"([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)");
  return std::regex_match(s, number);
}

}  // namespace

ParsedDefault Dialect::ParseDefaultExpression(std::string_view expression,
                                              const DefaultSyntax& syntax) {
  ParsedDefault p;
  std::string s = Trim(expression);
  while (WrappedInParens(s)) s = Trim(s.substr(1, s.size() - 2));
  const std::string lower = AsciiLower(s);
  static const std::regex now(
      R"((now\(\)|current_timestamp(\(\d*\))?|localtimestamp(\(\d*\))?|transaction_timestamp\(\)|datetime\('now'\)|getdate\(\)))");
  static const std::regex date(R"((current_date(\(\))?|curdate\(\)|date\('now'\)))");
  static const std::regex time(
      R"((current_time(\(\d*\))?|curtime(\(\d*\))?|localtime(\(\d*\))?|time\('now'\)))");
  if (lower.empty() || lower == "null") {
    p.kind = ParsedDefault::kNull;
  } else if (lower.rfind("nextval(", 0) == 0 || lower == "auto_increment" ||
             lower.find("as identity") != std::string::npos) {
    p.kind = ParsedDefault::kSequence;
  } else if (std::regex_match(lower, now)) {
    p.kind = ParsedDefault::kNow;
  } else if (std::regex_match(lower, date)) {
    p.kind = ParsedDefault::kDate;
  } else if (std::regex_match(lower, time)) {
    p.kind = ParsedDefault::kTime;
  } else if (lower == "true" || lower == "false") {
    p.kind = ParsedDefault::kBoolean;
    p.value = lower;
  } else if (IsNumber(s)) {
    p.kind = ParsedDefault::kNumber;
    p.value = s;
  } else if (lower.rfind("null::", 0) == 0) {
    p.kind = ParsedDefault::kNull;  // PostgreSQL NULL::character varying
  } else {
    size_t start = 0;
    bool backslash = syntax.backslash_escapes;
    if (syntax.escape_strings && (s.rfind("E'", 0) == 0 || s.rfind("e'", 0) == 0)) {
      start = 1;
      backslash = true;
    }
    std::string literal;
    const size_t end = ReadLiteral(s, start, backslash, &literal);
    if (end == std::string::npos) return p;  // kOther
    const std::string rest = AsciiLower(Trim(s.substr(end)));
    if (rest.empty()) {
      p.kind = ParsedDefault::kString;
      p.value = literal;
    } else if (syntax.casts && rest.rfind("::", 0) == 0) {
      // 'x'::text, '-1'::integer, 't'::boolean, '2020-01-01'::date ...
      const std::string type = rest.substr(2);
      if (type == "boolean" || type == "bool") {
        p.kind = ParsedDefault::kBoolean;
        const std::string v = AsciiLower(literal);
        p.value = (v == "t" || v == "true" || v == "y" || v == "yes" || v == "on" || v == "1")
                      ? "true"
                      : "false";
      } else if (IsNumber(literal) && type.find("char") == std::string::npos &&
                 type.find("text") == std::string::npos) {
        p.kind = ParsedDefault::kNumber;
        p.value = literal;
      } else if (type.find("[]") != std::string::npos || type.find("json") != std::string::npos ||
                 type.find("interval") != std::string::npos ||
                 type.find("bytea") != std::string::npos) {
        return p;  // arrays, json, intervals, bytes: engine-specific text forms
      } else {
        p.kind = ParsedDefault::kString;
        p.value = literal;
      }
    }
  }
  return p;
}

ParsedDefault Dialect::ParseDefault(std::string_view expression) const {
  return ParseDefaultExpression(expression, DefaultSyntax{});
}

std::string Dialect::CurrentTimeDefaultSql(ParsedDefault::Kind kind) const {
  switch (kind) {
    case ParsedDefault::kDate:
      return "CURRENT_DATE";
    case ParsedDefault::kTime:
      return "CURRENT_TIME";
    default:
      return "CURRENT_TIMESTAMP";
  }
}

std::string Dialect::AddColumnSql(const std::string& quoted_table, const ColumnDef& column) const {
  return fmt::format("ALTER TABLE {} ADD COLUMN {} {}", quoted_table, QuoteIdentifier(column.name),
                     column.native_type);
}

std::string Dialect::PageRangePredicate(int64_t from_page, int64_t to_page) const {
  throw Error(ErrorKind::kInternal,
              fmt::format("{} reads no page ranges (pages {} to {} asked for)", DisplayName(),
                          from_page, to_page));
}

std::string Dialect::ObjectTableName(const TableDef& table) const {
  return QuoteIdentifier(table.schema) + "." + QuoteIdentifier(table.name);
}

std::string Dialect::IndexDefinitionTail(const std::string& definition, std::string_view from) {
  const std::string lower = AsciiLower(definition);
  const size_t on = lower.find(" on ");
  if (on == std::string::npos) return "";
  const size_t at = lower.find(from, on);
  if (at == std::string::npos) return "";
  return Trim(definition.substr(at));
}

std::optional<std::string> Dialect::VerbatimIndexTail(const std::string& definition) const {
  (void)definition;
  return std::nullopt;
}

}  // namespace ferry
