#include "types/utf8.h"

#include <cstring>

namespace ferry {

bool IsValidUtf8(std::string_view s, bool* has_nul) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  bool nul = false;
  bool valid = true;
  while (p < end) {
    // ASCII fast path, eight bytes at a time, with the classic has-a-zero-byte test.
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        nul |= ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0;
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      nul |= c == 0;
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      valid = false;
      break;
    }
    if (end - p <= n) {
      valid = false;
      break;
    }
    for (int i = 1; i <= n && valid; ++i) {
      if ((p[i] & 0xC0) != 0x80) valid = false;
      cp = cp << 6 | (p[i] & 0x3F);
    }
    if (!valid) break;
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      valid = false;
      break;
    }
    p += n + 1;
  }
  if (has_nul) *has_nul = nul;
  return valid;
}

int64_t Utf8Length(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string_view Utf8PrefixBytes(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  // Back up over continuation bytes so the cut is before a lead byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace ferry
