// Small text helpers every folder may use. ASCII only: no locale is consulted, so identifiers
// and SQL keywords compare the same on every machine.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

// `s` with A-Z as a-z; every other byte (UTF-8 included) as it is.
std::string AsciiLower(std::string_view s);
// `s` with a-z as A-Z; every other byte as it is.
std::string AsciiUpper(std::string_view s);
// `s` without leading and trailing ASCII whitespace.
std::string Trim(std::string_view s);
// Whether `needle` occurs in `s`.
inline bool Contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}
// `name` as a SQL identifier in double quotes, embedded double quotes doubled: the standard's
// quoting, which PostgreSQL and SQLite share (their Dialect::QuoteIdentifier). Every other
// byte is kept as it is. MySQL quotes with backticks: mysql::QuoteIdent.
std::string DoubleQuoteIdent(std::string_view name);
// True when `s` is "(...)" whose first '(' closes at its last character, outside '...'
// literals: the parentheses wrap the whole text (so they may be taken off).
bool WrappedInParens(std::string_view s);

}  // namespace ferry
