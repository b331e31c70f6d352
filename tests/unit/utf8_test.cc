#include "types/utf8.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Utf8, ValidatesFindsNulAndCounts) {
  bool nul = true;
  EXPECT_TRUE(IsValidUtf8("plain ascii text longer than eight bytes", &nul));
  EXPECT_FALSE(nul);
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9llo \xF0\x9F\x98\x80 \xE4\xB8\xAD"));
  EXPECT_TRUE(IsValidUtf8(std::string_view("abcdefgh\0ijk", 12), &nul));
  EXPECT_TRUE(nul);  // found by the eight-byte fast path
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0", 2), &nul));
  EXPECT_TRUE(nul);  // found byte by byte
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abc\xE2\x82"));       // truncated
  EXPECT_FALSE(IsValidUtf8("abcdefgh\x80"));      // stray continuation after the fast path
  EXPECT_EQ(Utf8Length("h\xC3\xA9llo \xF0\x9F\x98\x80"), 7);
  EXPECT_TRUE(Utf8FitsLength("\xC3\xA9\xC3\xA9", 2));
  EXPECT_FALSE(Utf8FitsLength("\xC3\xA9\xC3\xA9x", 2));
  EXPECT_TRUE(Utf8FitsLength("anything", 0));
}

}  // namespace
}  // namespace ferry
