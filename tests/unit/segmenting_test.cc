// The splitting math of automatic segments (engine/segmenting.h): every row in exactly one
// segment, whatever the sizes.
#include "engine/segmenting.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(AutoSegmentCount, SplitsOnlyAtOrAboveEitherThreshold) {
  const AutoSegmentPolicy policy{4, 1000, 1 << 20};
  EXPECT_EQ(AutoSegmentCount(999, 100, policy), 0);
  EXPECT_EQ(AutoSegmentCount(1000, 100, policy), 4);
  EXPECT_EQ(AutoSegmentCount(-1, 1 << 20, policy), 4);  // rows unknown, size known
  EXPECT_EQ(AutoSegmentCount(-1, -1, policy), 0);
  EXPECT_EQ(AutoSegmentCount(1 << 30, 1 << 30, AutoSegmentPolicy{1, 0, 0}), 0);  // off
  EXPECT_EQ(AutoSegmentCount(1 << 30, 1 << 30, AutoSegmentPolicy{0, 0, 0}), 0);
}

TEST(SplitPages, EvenStrictlyIncreasingInnerBoundaries) {
  EXPECT_EQ(SplitPages(100, 4), (std::vector<int64_t>{25, 50, 75}));
  EXPECT_EQ(SplitPages(10, 3), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(SplitPages(3, 8), (std::vector<int64_t>{1, 2}));  // fewer pages than parts
  EXPECT_TRUE(SplitPages(1, 4).empty());
  EXPECT_TRUE(SplitPages(0, 4).empty());
  EXPECT_TRUE(SplitPages(100, 1).empty());
  const auto big = SplitPages(int64_t{1} << 40, 7);
  ASSERT_EQ(big.size(), 6u);
  for (size_t i = 1; i < big.size(); ++i) EXPECT_GT(big[i], big[i - 1]);
}

TEST(SplitIntegerRange, CoversSignedAndUnsignedExtremes) {
  EXPECT_EQ(SplitIntegerRange("1", "100", 4), (std::vector<std::string>{"26", "51", "76"}));
  EXPECT_EQ(SplitIntegerRange("-10", "9", 2), (std::vector<std::string>{"0"}));
  EXPECT_EQ(SplitIntegerRange("5", "5", 4), std::vector<std::string>{});
  EXPECT_EQ(SplitIntegerRange("5", "7", 8), (std::vector<std::string>{"6", "7"}));
  EXPECT_EQ(SplitIntegerRange("-9223372036854775808", "9223372036854775807", 2),
            (std::vector<std::string>{"0"}));
  EXPECT_EQ(SplitIntegerRange("0", "18446744073709551615", 2),
            (std::vector<std::string>{"9223372036854775808"}));
  EXPECT_THROW(SplitIntegerRange("10", "1", 2), Error);
  EXPECT_THROW(SplitIntegerRange("1.5", "10", 2), Error);
  EXPECT_THROW(SplitIntegerRange("0", "18446744073709551616", 2), Error);
  EXPECT_THROW(SplitIntegerRange("", "1", 2), Error);
}

// Every integer in [lo, hi] falls into exactly one boundary range, for many shapes.
TEST(SplitIntegerRange, EveryValueInExactlyOneRange) {
  for (int64_t lo : {-7, 0, 1, 1000}) {
    for (int64_t width : {1, 2, 3, 10, 97}) {
      for (int n : {2, 3, 4, 16}) {
        const int64_t hi = lo + width - 1;
        auto b = SplitIntegerRange(std::to_string(lo), std::to_string(hi), n);
        std::vector<int64_t> bounds;
        bounds.reserve(b.size());
        for (const auto& s : b) bounds.push_back(std::stoll(s));
        EXPECT_LE(bounds.size(), static_cast<size_t>(n - 1));
        for (int64_t v = lo; v <= hi; ++v) {
          int hits = 0;
          for (size_t i = 0; i <= bounds.size(); ++i) {
            const bool above = i == 0 || v >= bounds[i - 1];
            const bool below = i == bounds.size() || v < bounds[i];
            hits += above && below;
          }
          EXPECT_EQ(hits, 1) << lo << ".." << hi << " n=" << n << " v=" << v;
        }
      }
    }
  }
}

TEST(PageRangeSegments, PostgresCtidRangesFirstAndLastOpenEnded) {
  auto segs = PageRangeSegments(DialectFor(Engine::kPostgres), {10, 20});
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].predicate, "ctid < '(10,0)'::tid");
  EXPECT_EQ(segs[1].predicate, "ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid");
  EXPECT_EQ(segs[2].predicate, "ctid >= '(20,0)'::tid");
  auto one = PageRangeSegments(DialectFor(Engine::kPostgres), {});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].predicate, "");
}

TEST(KeySegments, NullsAndOutliersGoToTheLast) {
  auto segs = KeySegments("\"k\"", {"10", "20"});
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].predicate, "\"k\" < 10");
  EXPECT_EQ(segs[1].predicate, "\"k\" >= 10 AND \"k\" < 20");
  EXPECT_EQ(segs[2].predicate, "\"k\" >= 20 OR \"k\" IS NULL");
  EXPECT_EQ(KeySegments("k", {}).size(), 1u);
}

}  // namespace
}  // namespace ferry
