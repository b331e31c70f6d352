#include <gtest/gtest.h>

#include "mapping/wildcard.h"

namespace ferry {
namespace {

TEST(MappingWildcard, PercentMatchesAnyRun) {
  EXPECT_TRUE(WildcardMatch("%", ""));
  EXPECT_TRUE(WildcardMatch("%", "anything"));
  EXPECT_TRUE(WildcardMatch("DMS%", "DMS"));
  EXPECT_TRUE(WildcardMatch("DMS%", "DMS_table"));
  EXPECT_FALSE(WildcardMatch("DMS%", "xDMS"));
  EXPECT_TRUE(WildcardMatch("%_log", "audit_log"));
  EXPECT_TRUE(WildcardMatch("a%b%c", "aXXbYYc"));
  EXPECT_TRUE(WildcardMatch("a%b%c", "abbbc"));
  EXPECT_FALSE(WildcardMatch("a%b%c", "abbb"));
  EXPECT_TRUE(WildcardMatch("%%", ""));
  EXPECT_TRUE(WildcardMatch("%%", "x"));
  EXPECT_TRUE(WildcardMatch("a%%b", "ab"));
  EXPECT_TRUE(WildcardMatch("%a%", "banana"));
}

TEST(MappingWildcard, UnderscoreIsOneCharacter) {
  EXPECT_TRUE(WildcardMatch("a_c", "abc"));
  EXPECT_FALSE(WildcardMatch("a_c", "ac"));
  EXPECT_FALSE(WildcardMatch("a_c", "abbc"));
  EXPECT_TRUE(WildcardMatch("_", "é"));  // one code point, two bytes
  EXPECT_FALSE(WildcardMatch("__", "é"));
  EXPECT_FALSE(WildcardMatch("_", ""));
  EXPECT_TRUE(WildcardMatch("first_name", "first_name"));
  EXPECT_TRUE(WildcardMatch("first_name", "firstXname"));
}

TEST(MappingWildcard, SetsAndRanges) {
  EXPECT_TRUE(WildcardMatch("a[_]b", "a_b"));
  EXPECT_FALSE(WildcardMatch("a[_]b", "aXb"));
  EXPECT_TRUE(WildcardMatch("t[ab]", "ta"));
  EXPECT_TRUE(WildcardMatch("t[ab]", "tb"));
  EXPECT_FALSE(WildcardMatch("t[ab]", "tc"));
  EXPECT_TRUE(WildcardMatch("t[a-d]", "tc"));
  EXPECT_FALSE(WildcardMatch("t[a-d]", "te"));
  EXPECT_TRUE(WildcardMatch("t[-a]", "t-"));  // leading - is a member
  EXPECT_TRUE(WildcardMatch("t[a-]", "t-"));  // trailing - is a member
  EXPECT_TRUE(WildcardMatch("[%]x", "%x"));   // literal percent
  EXPECT_FALSE(WildcardMatch("[%]x", "yyx"));
  EXPECT_TRUE(WildcardMatch("[]]", "]"));  // first member may be ]
  EXPECT_TRUE(WildcardMatch("p[0-9][0-9]", "p42"));
  EXPECT_FALSE(WildcardMatch("p[0-9][0-9]", "p4x"));
}

TEST(MappingWildcard, UnterminatedAndEmptyBracketsAreLiteral) {
  EXPECT_TRUE(WildcardMatch("a[b", "a[b"));
  EXPECT_FALSE(WildcardMatch("a[b", "ab"));
  EXPECT_TRUE(WildcardMatch("[", "["));
  EXPECT_TRUE(WildcardMatch("[]", "[]"));
  EXPECT_FALSE(WildcardMatch("[]", ""));
  EXPECT_TRUE(WildcardMatch("x[]%", "x[]yz"));
  EXPECT_FALSE(HasWildcard("a[b"));
  EXPECT_FALSE(HasWildcard("[]"));
}

TEST(MappingWildcard, EmptyNameAndPattern) {
  EXPECT_TRUE(WildcardMatch("", ""));
  EXPECT_FALSE(WildcardMatch("", "a"));
  EXPECT_FALSE(WildcardMatch("a", ""));
  EXPECT_TRUE(WildcardMatch("%", ""));
}

TEST(MappingWildcard, CaseSensitivity) {
  EXPECT_FALSE(WildcardMatch("actor", "Actor"));
  EXPECT_TRUE(WildcardMatch("actor", "Actor", /*case_sensitive=*/false));
  EXPECT_TRUE(WildcardMatch("[a-c]%", "Bob", false));
  EXPECT_FALSE(WildcardMatch("[a-c]%", "Bob"));
}

TEST(MappingWildcard, HasWildcard) {
  EXPECT_TRUE(HasWildcard("%"));
  EXPECT_TRUE(HasWildcard("a_b"));
  EXPECT_TRUE(HasWildcard("[ab]"));
  EXPECT_FALSE(HasWildcard("plain"));
  EXPECT_FALSE(HasWildcard(""));
}

TEST(MappingWildcard, PathologicalPatternIsFast) {
  const std::string name(2000, 'a');
  EXPECT_FALSE(WildcardMatch("%a%a%a%a%a%a%a%a%b", name));
  EXPECT_TRUE(WildcardMatch("%a%a%a%a%a%a%a%a%", name));
}

TEST(MappingWildcard, MalformedUtf8IsMatchedBytewise) {
  EXPECT_TRUE(WildcardMatch("_", std::string("\xff")));
  EXPECT_TRUE(WildcardMatch("a_", std::string("a\xc3")));  // truncated sequence
  EXPECT_TRUE(WildcardMatch("%", std::string("\xe2\x82")));
}

}  // namespace
}  // namespace ferry
