// Strings that have broken SQL string-literal escapers: quotes, backslashes in every position,
// a backslash before a quote, control characters, multi-byte UTF-8, SQL comment and statement
// separators. All valid UTF-8 (a server may refuse anything else before reading the value).
// Shared by the escaper's unit tests (tests/unit/dialect_literal_test.cc) and the round trip
// through the real servers (tests/integration/literal_round_trip_test.cc).
#pragma once

#include <string>
#include <vector>

namespace ferry::test_support {

inline std::vector<std::string> NastyStrings() {
  return {
      "",
      "plain",
      "O'Brien",
      "''",
      "'",
      "\\",
      "\\\\",
      "a\\b",
      "x\\",
      "\\'",
      "\\''",
      "'\\",
      "\\'; DROP TABLE t; --",
      "line1\nline2\r\n\ttab",
      "\x1a\x08\x7f",
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",  // café 日本 😀
      "%_*?[]",
      "$$ $tag$ E'x' U&'d' N'x' X'00'",
      "/* c */ -- c\n#c",
  };
}

}  // namespace ferry::test_support
