// Validation's pure logic: comparable values across engines, partitioning, order-independent
// partition summaries and the keyed comparison of pass 2, on in-memory batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "test_types.h"
#include "validation/row_compare.h"

namespace ferry {
namespace {

using ::ferry::testing::T;

// Rows of (id INT4, name WSTRING, note NCLOB).
Batch People(const std::vector<std::tuple<int, std::string, std::string>>& rows) {
  Batch b(3);
  for (const auto& [id, name, note] : rows) {
    b.AppendInt(id);
    b.AppendBytes(name);
    b.AppendBytes(note);
  }
  return b;
}

CompareSpec PeopleSpec(const ValidationSettings& settings = {}) {
  std::vector<DmsType> types = {T(DmsKind::kInt4), T(DmsKind::kWstring), T(DmsKind::kNclob)};
  return MakeCompareSpec({"id", "name", "note"}, types, types, {"id"}, settings);
}

struct Collected {
  std::vector<RowDifference> diffs;
  KeyedComparer::Report Reporter() {
    return [this](RowDifference&& d) { diffs.push_back(std::move(d)); };
  }
  int Count(FailureType t) const {
    return static_cast<int>(std::count_if(diffs.begin(), diffs.end(),
                                          [t](const RowDifference& d) { return d.type == t; }));
  }
};

TEST(ValidationPartition, CountIsCeilOfEstimateAtLeastOne) {
  EXPECT_EQ(PartitionCount(-1, 10000), 1);
  EXPECT_EQ(PartitionCount(0, 10000), 1);
  EXPECT_EQ(PartitionCount(1, 10000), 1);
  EXPECT_EQ(PartitionCount(10000, 10000), 1);
  EXPECT_EQ(PartitionCount(10001, 10000), 2);
  EXPECT_EQ(PartitionCount(55, 10), 6);
  EXPECT_EQ(PartitionCount(55, 0), 1);
  for (uint64_t h : {0ull, 1ull, 12345678901ull, ~0ull}) {
    EXPECT_LT(PartitionOf(h, 7), 7u);
    EXPECT_EQ(PartitionOf(h, 1), 0u);
    EXPECT_LT(SubPartitionOf(h, 3), 3u);
  }
}

TEST(ValidationPartition, SummaryIgnoresOrderButSeesEveryChange) {
  CompareSpec spec = PeopleSpec();
  Batch a = People({{1, "ann", "x"}, {2, "bob", "y"}, {3, "cy", "z"}});
  Batch b = People({{3, "cy", "z"}, {1, "ann", "x"}, {2, "bob", "y"}});
  auto summarise = [&](const Batch& batch) {
    PartitionSummary s;
    RowImage img;
    for (size_t r = 0; r < batch.rows(); ++r) {
      MakeRowImage(batch, r, spec, Side::kSource, &img);
      s.Add(img.key_hash, img.row_hash);
    }
    return s;
  };
  EXPECT_EQ(summarise(a), summarise(b));
  EXPECT_EQ(summarise(a).count, 3);
  EXPECT_FALSE(summarise(a) == summarise(People({{1, "ann", "x"}, {2, "bob", "Y"},
                                                 {3, "cy", "z"}})));
  EXPECT_FALSE(summarise(a) == summarise(People({{1, "ann", "x"}, {2, "bob", "y"}})));
  // Two rows swapping their non-key values is a change too (the key is mixed in).
  EXPECT_FALSE(summarise(People({{1, "a", "n"}, {2, "b", "n"}})) ==
               summarise(People({{1, "b", "n"}, {2, "a", "n"}})));
  PartitionSummary merged = summarise(People({{1, "ann", "x"}}));
  merged.Merge(summarise(People({{2, "bob", "y"}, {3, "cy", "z"}})));
  EXPECT_EQ(merged, summarise(a));
}

TEST(ValidationCompare, KeyedComparerFindsDiffMissingTargetAndMissingSource) {
  CompareSpec spec = PeopleSpec();
  Batch source = People({{1, "ann", "x"}, {2, "bob", "y"}, {3, "cy", "z"}});
  Batch target = People({{2, "bobby", "y"}, {1, "ann", "x"}, {4, "dee", "w"}});
  KeyedComparer cmp(spec);
  for (size_t r = 0; r < source.rows(); ++r) cmp.AddSource(source, r);
  Collected got;
  for (size_t r = 0; r < target.rows(); ++r) cmp.CompareTarget(target, r, got.Reporter());
  cmp.Finish(got.Reporter());
  ASSERT_EQ(got.diffs.size(), 3u);
  EXPECT_EQ(cmp.matched(), 2);
  std::map<FailureType, RowDifference> by_type;
  for (auto& d : got.diffs) by_type.emplace(d.type, d);
  EXPECT_EQ(by_type.at(FailureType::kRecordDiff).key_json, R"({"key":["2"]})");
  EXPECT_EQ(by_type.at(FailureType::kRecordDiff).columns, std::vector<std::string>{"name"});
  EXPECT_EQ(by_type.at(FailureType::kRecordDiff).details,
            R"([[{"name":"bob"}],[{"name":"bobby"}]])");
  EXPECT_EQ(by_type.at(FailureType::kMissingTarget).key_json, R"({"key":["3"]})");
  EXPECT_EQ(by_type.at(FailureType::kMissingSource).key_json, R"({"key":["4"]})");
  EXPECT_STREQ(FailureTypeName(FailureType::kMissingSource), "MISSING_SOURCE");
}

TEST(ValidationCompare, DuplicateTargetKeyIsMissingSource) {
  CompareSpec spec = PeopleSpec();
  Batch source = People({{1, "ann", "x"}});
  Batch target = People({{1, "ann", "x"}, {1, "ann", "x"}});
  KeyedComparer cmp(spec);
  cmp.AddSource(source, 0);
  Collected got;
  for (size_t r = 0; r < target.rows(); ++r) cmp.CompareTarget(target, r, got.Reporter());
  cmp.Finish(got.Reporter());
  ASSERT_EQ(got.diffs.size(), 1u);
  EXPECT_EQ(got.diffs[0].type, FailureType::kMissingSource);
}

TEST(ValidationCompare, SkipLobColumnsAndPartialLobSize) {
  Batch source = People({{1, "ann", std::string(3000, 'a') + "tail-1"}});
  Batch target = People({{1, "ann", std::string(3000, 'a') + "tail-2"}});
  auto differs = [&](const ValidationSettings& s) {
    CompareSpec spec = PeopleSpec(s);
    RowImage a, b;
    MakeRowImage(source, 0, spec, Side::kSource, &a);
    MakeRowImage(target, 0, spec, Side::kTarget, &b);
    EXPECT_EQ(a.key, b.key);
    return a.row_hash != b.row_hash;
  };
  ValidationSettings whole;
  EXPECT_TRUE(differs(whole));
  ValidationSettings skip;
  skip.skip_lob_columns = true;
  EXPECT_FALSE(differs(skip));
  ValidationSettings partial;
  partial.validation_partial_lob_size = 1;  // first 1 KB only
  EXPECT_FALSE(differs(partial));
  partial.validation_partial_lob_size = 4;
  EXPECT_TRUE(differs(partial));
}

TEST(ValidationCompare, FloatAgainstDoubleAndNumbersAcrossKinds) {
  // REAL4 on the source, REAL8 on the target (float4 -> SQLite REAL, for one).
  CompareSpec spec = MakeCompareSpec({"f"}, {T(DmsKind::kReal4)}, {T(DmsKind::kReal8)}, {}, {});
  Batch s(1), t(1), u(1);
  s.AppendDouble(static_cast<double>(0.1f));
  t.AppendDouble(static_cast<double>(0.1f));
  u.AppendDouble(0.1);
  std::string a, b, c;
  AppendComparable(s, 0, 0, spec, Side::kSource, &a);
  AppendComparable(t, 0, 0, spec, Side::kTarget, &b);
  AppendComparable(u, 0, 0, spec, Side::kTarget, &c);
  EXPECT_EQ(a, "0.1");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);  // 0.1 as a double is not the float 0.1f

  // REAL8 against NUMERIC and INT8.
  CompareSpec num = MakeCompareSpec({"n", "i"}, {T(DmsKind::kReal8), T(DmsKind::kReal8)},
                                    {T(DmsKind::kNumeric), T(DmsKind::kInt8)}, {}, {});
  Batch d(2), e(2);
  d.AppendDouble(2.5);
  d.AppendDouble(3.0);
  e.AppendBytes("2.5");
  e.AppendInt(3);
  for (int col = 0; col < 2; ++col) {
    std::string x, y;
    AppendComparable(d, 0, col, num, Side::kSource, &x);
    AppendComparable(e, 0, col, num, Side::kTarget, &y);
    EXPECT_EQ(x, y) << col;
  }
  // Same kinds compare by plain canonical text.
  CompareSpec same = MakeCompareSpec({"d"}, {T(DmsKind::kReal8)}, {T(DmsKind::kReal8)}, {}, {});
  EXPECT_EQ(same.rules[0], ValueRule::kPlain);
}

TEST(ValidationCompare, KeyJsonAndBadKey) {
  EXPECT_EQ(KeyJson({std::string("1"), std::nullopt, std::string("a\"b")}),
            R"({"key":["1",null,"a\"b"]})");
  std::vector<DmsType> types = {T(DmsKind::kInt4)};
  EXPECT_THROW(MakeCompareSpec({"id"}, types, types, {"nope"}, {}), Error);
  EXPECT_THROW(MakeCompareSpec({"id"}, types, {}, {"id"}, {}), Error);
}

TEST(ValidationCompare, CompositeKeysDoNotCollide) {
  // ("ab", "c") and ("a", "bc") must be different keys.
  std::vector<DmsType> types = {T(DmsKind::kWstring), T(DmsKind::kWstring)};
  CompareSpec spec = MakeCompareSpec({"a", "b"}, types, types, {"a", "b"}, {});
  Batch x(2);
  x.AppendBytes("ab");
  x.AppendBytes("c");
  x.AppendBytes("a");
  x.AppendBytes("bc");
  RowImage r0, r1;
  MakeRowImage(x, 0, spec, Side::kSource, &r0);
  MakeRowImage(x, 1, spec, Side::kSource, &r1);
  EXPECT_NE(r0.key, r1.key);
}

}  // namespace
}  // namespace ferry
