// UTF-8 checks shared by every connector: text must be well-formed before any target sees it
// (SQLite stores any bytes as TEXT; PostgreSQL and MariaDB refuse invalid sequences).
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry {

// True when `s` is well-formed UTF-8: no overlong forms, no surrogates, nothing above
// U+10FFFF. When `has_nul` is given, it is set to whether `s` contains a zero byte (valid
// UTF-8, but PostgreSQL text cannot hold it).
bool IsValidUtf8(std::string_view s, bool* has_nul = nullptr);

// Cuts valid UTF-8 `s` to at most `max_bytes` bytes on a character boundary.
std::string_view Utf8PrefixBytes(std::string_view s, size_t max_bytes);

// Code points in valid UTF-8 `s`.
int64_t Utf8Length(std::string_view s);

// True when valid UTF-8 `s` has at most `max_chars` characters (0 or less = unbounded);
// cheap when the byte length already fits.
inline bool Utf8FitsLength(std::string_view s, int64_t max_chars) {
  if (max_chars <= 0 || static_cast<int64_t>(s.size()) <= max_chars) return true;
  return Utf8Length(s) <= max_chars;
}

}  // namespace ferry
