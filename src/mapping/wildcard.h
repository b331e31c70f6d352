// AWS DMS object-locator name patterns (schema-name, table-name, column-name).
//
//   %      any run of characters, the empty run included
//   _      exactly one character (one UTF-8 code point)
//   [_]    a literal underscore (any one-character set works the same way: [%] is a literal %)
//   [ab]   one character out of the set
//   [a-d]  one character in the range (byte order; meant for ASCII)
//
// A `[` that has no closing `]` after at least one member (an unterminated `[`, or `[]`) is
// not a set: it is matched literally, like any other character. Matching is case-sensitive
// unless asked otherwise (DMS names are case-sensitive: CHAP_Tasks.CustomizingTasks.Filters.md,
// "Column names, table names, view names, and schema names are case-sensitive").
#pragma once

#include <string_view>

namespace ferry {

// True when `name` matches `pattern` as a whole. Never throws; linear memory, and time at most
// O(pattern * name).
bool WildcardMatch(std::string_view pattern, std::string_view name, bool case_sensitive = true);

// True when `pattern` contains a wildcard (`%`, `_` or a set), that is, when it may match a
// name other than itself.
bool HasWildcard(std::string_view pattern);

}  // namespace ferry
