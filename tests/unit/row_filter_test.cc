// RowFilter: DMS selection-rule filters evaluated on change row images, by DMS kind.
#include "cdc/row_filter.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "types/value_codec.h"

namespace ferry::cdc {
namespace {

FilterCondition Cond(FilterOperator op, std::string a = "", std::string b = "") {
  FilterCondition c;
  c.op = op;
  if (op == FilterOperator::kBetween || op == FilterOperator::kNotBetween) {
    c.start_value = std::move(a);
    c.end_value = std::move(b);
  } else {
    c.value = std::move(a);
  }
  return c;
}

SourceFilter On(std::string column, std::vector<FilterCondition> conds) {
  SourceFilter f;
  f.column = std::move(column);
  f.rule_id = "7";
  f.conditions = std::move(conds);
  return f;
}

TableDef Table() {
  TableDef t;
  t.schema = "s";
  t.name = "t";
  auto col = [&](const char* name, DmsKind kind) {
    ColumnDef c;
    c.name = name;
    c.type.kind = kind;
    t.columns.push_back(c);
  };
  col("i", DmsKind::kInt4);
  col("n", DmsKind::kNumeric);
  col("d", DmsKind::kDate);
  col("ts", DmsKind::kDatetime);
  col("s", DmsKind::kString);
  col("b", DmsKind::kBoolean);
  col("r", DmsKind::kReal8);
  return t;
}

// One row: i, n, d, ts, s, b, r.
Batch Row(int64_t i, const char* n, const char* d, const char* ts, const char* s, bool b,
          double r) {
  Batch batch(7);
  batch.AppendInt(i);
  batch.AppendBytes(n);
  batch.AppendInt(*ParseDate(d));
  batch.AppendInt(*ParseDatetime(ts));
  batch.AppendBytes(s);
  batch.AppendInt(b ? 1 : 0);
  batch.AppendDouble(r);
  return batch;
}

bool Match(const std::vector<SourceFilter>& f, const Batch& b) {
  return *RowFilter(f, Table()).Matches(b, 0);
}

TEST(RowFilter, ComparesByKind) {
  const Batch row = Row(10, "12.50", "2024-03-01", "2024-03-01 12:00:00", "abc", true, 2.5);
  EXPECT_TRUE(Match({On("i", {Cond(FilterOperator::kBetween, "1", "10")})}, row));
  EXPECT_FALSE(Match({On("i", {Cond(FilterOperator::kBetween, "11", "20")})}, row));
  EXPECT_TRUE(Match({On("i", {Cond(FilterOperator::kSte, "10")})}, row));
  EXPECT_TRUE(Match({On("i", {Cond(FilterOperator::kGte, "9.5")})}, row));
  EXPECT_FALSE(Match({On("i", {Cond(FilterOperator::kGte, "10.01")})}, row));
  // Decimals compare as numbers, not text: 12.5 > 9, and 12.50 = 12.5.
  EXPECT_TRUE(Match({On("n", {Cond(FilterOperator::kGte, "9")})}, row));
  EXPECT_TRUE(Match({On("n", {Cond(FilterOperator::kEq, "12.5")})}, row));
  EXPECT_FALSE(Match({On("n", {Cond(FilterOperator::kEq, "-12.5")})}, row));
  EXPECT_TRUE(Match({On("n", {Cond(FilterOperator::kGte, "-100")})}, row));
  // Dates and timestamps as points in time; a date bound on a timestamp means its midnight.
  EXPECT_TRUE(Match({On("d", {Cond(FilterOperator::kBetween, "2024-01-01", "2024-12-31")})},
                    row));
  EXPECT_TRUE(Match({On("ts", {Cond(FilterOperator::kGte, "2024-03-01")})}, row));
  EXPECT_FALSE(Match({On("ts", {Cond(FilterOperator::kSte, "2024-03-01")})}, row));
  EXPECT_TRUE(Match({On("ts", {Cond(FilterOperator::kSte, "2024-03-01 12:00:00.000")})}, row));
  EXPECT_TRUE(Match({On("s", {Cond(FilterOperator::kEq, "abc")})}, row));
  EXPECT_TRUE(Match({On("s", {Cond(FilterOperator::kNotEq, "abd")})}, row));
  EXPECT_TRUE(Match({On("b", {Cond(FilterOperator::kEq, "true")})}, row));
  EXPECT_FALSE(Match({On("b", {Cond(FilterOperator::kEq, "f")})}, row));
  EXPECT_TRUE(Match({On("r", {Cond(FilterOperator::kNotBetween, "3", "4")})}, row));
  // Conditions of a filter are ORed, filters ANDed.
  EXPECT_TRUE(Match({On("i", {Cond(FilterOperator::kEq, "1"), Cond(FilterOperator::kEq, "10")})},
                    row));
  EXPECT_FALSE(Match({On("i", {Cond(FilterOperator::kEq, "10")}),
                      On("s", {Cond(FilterOperator::kEq, "x")})},
                     row));
}

TEST(RowFilter, NullAndUnchanged) {
  Batch row(7);
  for (int c = 0; c < 7; ++c) row.AppendNull();
  EXPECT_FALSE(Match({On("i", {Cond(FilterOperator::kNotEq, "1")})}, row));
  EXPECT_FALSE(Match({On("i", {Cond(FilterOperator::kNotBetween, "1", "2")})}, row));
  EXPECT_TRUE(Match({On("i", {Cond(FilterOperator::kNull)})}, row));
  EXPECT_FALSE(Match({On("i", {Cond(FilterOperator::kNotNull)})}, row));
  Batch unchanged(7);
  for (int c = 0; c < 7; ++c) unchanged.AppendUnchanged();
  EXPECT_FALSE(RowFilter({On("s", {Cond(FilterOperator::kEq, "a")})}, Table())
                   .Matches(unchanged, 0)
                   .has_value());
}

TEST(RowFilter, BadLiteralsNameRuleColumnAndValue) {
  try {
    RowFilter({On("i", {Cond(FilterOperator::kEq, "ten")})}, Table());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "selection rule 7: filter value 'ten' for column s.t.i is not a number");
  }
  try {
    RowFilter({On("d", {Cond(FilterOperator::kGte, "yesterday")})}, Table());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a date or timestamp"), std::string::npos);
  }
  try {
    RowFilter({On("nope", {Cond(FilterOperator::kNull)})}, Table());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "selection rule 7: filter column 'nope' is not a column of s.t");
  }
  RowFilter texts({On("s", {Cond(FilterOperator::kGte, "m")})}, Table());
  ASSERT_EQ(texts.text_orderings().size(), 1u);
  EXPECT_EQ(texts.text_orderings()[0], "gte on text column s (rule 7)");
}

TEST(RowFilter, CompareDecimal) {
  EXPECT_EQ(CompareDecimal("10", "9"), 1);
  EXPECT_EQ(CompareDecimal("-10", "-9"), -1);
  EXPECT_EQ(CompareDecimal("0.5", "0.45"), 1);
  EXPECT_EQ(CompareDecimal("1.5", "1.5"), 0);
  EXPECT_EQ(CompareDecimal("-0.1", "0"), -1);
  EXPECT_EQ(CompareDecimal("123456789012345678901234567890", "123456789012345678901234567889"),
            1);
}

}  // namespace
}  // namespace ferry::cdc
