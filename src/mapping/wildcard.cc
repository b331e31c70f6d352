#include "mapping/wildcard.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace ferry {
namespace {

// One code point of `s` at `pos`: its value and byte length. Malformed or truncated UTF-8 is
// taken one byte at a time (the byte's value), so any byte string can be matched.
std::pair<uint32_t, size_t> DecodeAt(std::string_view s, size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  size_t len = 1;
  uint32_t cp = b0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return {b0, 1};
  }
  if (pos + len > s.size()) return {b0, 1};
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0u) != 0x80u) return {b0, 1};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {cp, len};
}

uint32_t Fold(uint32_t cp, bool case_sensitive) {
  if (!case_sensitive && cp >= 'A' && cp <= 'Z') return cp - 'A' + 'a';
  return cp;
}

struct Token {
  enum Kind { kAnyRun, kOne, kSet, kLiteral } kind = kLiteral;
  uint32_t literal = 0;                               // kLiteral
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // kSet: inclusive code point ranges
};

// The end (one past `]`) of the set that starts at `pattern[open] == '['`, or npos when the
// `[` does not open a set (no `]` after at least one member).
size_t SetEnd(std::string_view pattern, size_t open) {
  const size_t close = pattern.find(']', open + 2);  // the first member may itself be ']'
  return close == std::string_view::npos ? close : close + 1;
}

std::vector<Token> Compile(std::string_view pattern, bool case_sensitive) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    Token t;
    if (c == '%') {
      // Consecutive `%` are one run.
      if (tokens.empty() || tokens.back().kind != Token::kAnyRun) {
        t.kind = Token::kAnyRun;
        tokens.push_back(std::move(t));
      }
      ++i;
      continue;
    }
    if (c == '_') {
      t.kind = Token::kOne;
      tokens.push_back(std::move(t));
      ++i;
      continue;
    }
    if (c == '[') {
      const size_t end = SetEnd(pattern, i);
      if (end != std::string_view::npos) {
        t.kind = Token::kSet;
        std::vector<uint32_t> members;
        size_t j = i + 1;
        while (j < end - 1) {
          auto [cp, len] = DecodeAt(pattern, j);
          members.push_back(cp);
          j += len;
        }
        for (size_t m = 0; m < members.size(); ++m) {
          // `a-d` is a range; a `-` first or last is a member.
          if (m + 2 < members.size() && members[m + 1] == '-' && members[m] <= members[m + 2]) {
            uint32_t lo = members[m];
            uint32_t hi = members[m + 2];
            t.ranges.emplace_back(lo, hi);
            if (!case_sensitive) {
              // Add the other case of any ASCII letters the range covers.
              for (uint32_t x = lo; x <= hi && x < 128; ++x) {
                if (x >= 'A' && x <= 'Z') t.ranges.emplace_back(x - 'A' + 'a', x - 'A' + 'a');
              }
            }
            m += 2;
          } else {
            const uint32_t f = Fold(members[m], case_sensitive);
            t.ranges.emplace_back(f, f);
          }
        }
        tokens.push_back(std::move(t));
        i = end;
        continue;
      }
    }
    auto [cp, len] = DecodeAt(pattern, i);
    t.kind = Token::kLiteral;
    t.literal = Fold(cp, case_sensitive);
    tokens.push_back(std::move(t));
    i += len;
  }
  return tokens;
}

bool MatchOne(const Token& t, uint32_t cp) {
  switch (t.kind) {
    case Token::kOne:
      return true;
    case Token::kLiteral:
      return t.literal == cp;
    case Token::kSet:
      for (const auto& [lo, hi] : t.ranges) {
        if (cp >= lo && cp <= hi) return true;
      }
      return false;
    case Token::kAnyRun:
      break;
  }
  return false;
}

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view name, bool case_sensitive) {
  const std::vector<Token> tokens = Compile(pattern, case_sensitive);
  // Greedy matching with backtracking to the last `%`: every other token consumes exactly one
  // code point, so this is exact and O(tokens * name).
  size_t ti = 0;
  size_t ni = 0;
  size_t star_t = std::string_view::npos;
  size_t star_n = 0;
  while (ni < name.size()) {
    if (ti < tokens.size() && tokens[ti].kind == Token::kAnyRun) {
      star_t = ti++;
      star_n = ni;
      continue;
    }
    auto [cp, len] = DecodeAt(name, ni);
    if (ti < tokens.size() && MatchOne(tokens[ti], Fold(cp, case_sensitive))) {
      ++ti;
      ni += len;
      continue;
    }
    if (star_t == std::string_view::npos) return false;
    // Let the last `%` swallow one more code point and retry after it.
    star_n += DecodeAt(name, star_n).second;
    ni = star_n;
    ti = star_t + 1;
  }
  while (ti < tokens.size() && tokens[ti].kind == Token::kAnyRun) ++ti;
  return ti == tokens.size();
}

bool HasWildcard(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '%' || c == '_') return true;
    if (c == '[' && SetEnd(pattern, i) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace ferry
