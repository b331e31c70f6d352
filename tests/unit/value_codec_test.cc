#include "types/value_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ferry {
namespace {

TEST(Calendar, RoundTripsEveryDayOverFourHundredYearsAndEdges) {
  for (int64_t d = -800000; d < 800000; d += 7) {
    int64_t y;
    unsigned m, day;
    CivilFromDays(d, &y, &m, &day);
    EXPECT_EQ(DaysFromCivil(y, m, day), d);
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(FormatDate(*ParseDate("0001-01-01")), "0001-01-01");
  EXPECT_EQ(FormatDate(*ParseDate("9999-12-31")), "9999-12-31");
  EXPECT_EQ(FormatDate(*ParseDate("2000-02-29")), "2000-02-29");
  EXPECT_FALSE(ParseDate("1900-02-29"));
  EXPECT_FALSE(ParseDate("2024-13-01"));
  EXPECT_FALSE(ParseDate("0000-00-00"));
  EXPECT_FALSE(ParseDate("2024-01-01x"));
  EXPECT_FALSE(ParseDate(""));
}

TEST(Calendar, BcDatesUsePostgresSpelling) {
  auto d = ParseDate("0044-03-15 BC");
  ASSERT_TRUE(d);
  EXPECT_EQ(FormatDate(*d), "0044-03-15 BC");
  EXPECT_LT(*d, *ParseDate("0001-01-01"));
  EXPECT_EQ(*ParseDate("0001-12-31 BC") + 1, *ParseDate("0001-01-01"));
}

TEST(TimeText, BeyondADayAndNegative) {
  EXPECT_EQ(FormatTime(*ParseTime("838:59:59")), "838:59:59");
  EXPECT_EQ(FormatTime(*ParseTime("-838:59:59.000001")), "-838:59:59.000001");
  EXPECT_EQ(FormatTime(*ParseTime("12:00:01.500000")), "12:00:01.5");
  EXPECT_EQ(*ParseTime("00:00:01.25"), 1'250'000);
  EXPECT_FALSE(ParseTime("12:60:00"));
  EXPECT_FALSE(ParseTime("12:00:00.1234567"));  // finer than microseconds would lose data
  EXPECT_TRUE(ParseTime("12:00:00.1234560"));
}

// PostgreSQL's infinite dates print as infinity / -infinity and read back as the same
// sentinels, so a target that keeps them as text (SQLite) reads back what it was given.
TEST(DatetimeText, InfinityReadsBackAsItPrints) {
  EXPECT_EQ(FormatDate(kDateInfinity), "infinity");
  EXPECT_EQ(ParseDate(FormatDate(kDateInfinity)), kDateInfinity);
  EXPECT_EQ(ParseDate(FormatDate(kDateMinusInfinity)), kDateMinusInfinity);
  EXPECT_EQ(ParseDatetime(FormatDatetime(kDatetimeInfinity)), kDatetimeInfinity);
  EXPECT_EQ(ParseDatetime(FormatDatetime(kDatetimeMinusInfinity)), kDatetimeMinusInfinity);
  EXPECT_FALSE(ParseDate("infinite").has_value());
}

TEST(DatetimeText, MicrosecondsZonesAndEdges) {
  EXPECT_EQ(FormatDatetime(*ParseDatetime("2024-05-06 07:08:09.123456")),
            "2024-05-06 07:08:09.123456");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("2024-05-06T07:08:09")), "2024-05-06 07:08:09");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("2024-05-06 07:08:09+02")), "2024-05-06 05:08:09");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("2024-05-06 07:08:09.5-05:30")),
            "2024-05-06 12:38:09.5");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("0001-01-01 00:00:00")), "0001-01-01 00:00:00");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("9999-12-31 23:59:59.999999")),
            "9999-12-31 23:59:59.999999");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("1969-12-31 23:59:59.999999")),
            "1969-12-31 23:59:59.999999");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("0010-01-01 10:00:00+00 BC")),
            "0010-01-01 10:00:00 BC");
  EXPECT_EQ(FormatDatetime(*ParseDatetime("2024-01-01")), "2024-01-01 00:00:00");
  EXPECT_FALSE(ParseDatetime("2024-01-01 25:00:00"));
  EXPECT_FALSE(ParseDatetime("300000-01-01"));  // beyond int64 microseconds: refused, not wrapped
  EXPECT_EQ(FormatDatetime(kDatetimeInfinity), "infinity");
  EXPECT_EQ(FormatDatetime(kDatetimeMinusInfinity), "-infinity");
  EXPECT_EQ(FormatDate(kDateMinusInfinity), "-infinity");
  EXPECT_EQ(FormatDatetime(kDatetimeMinusInfinity + 1).substr(0, 1), "2");  // no overflow
  EXPECT_FALSE(ParseDatetime("2024-01-01 10:00:00 junk"));
}

TEST(DoubleText, ShortestRoundTrip) {
  for (double v : {0.1, 1.0 / 3, 1e300, -2.5e-308, 5e-324, 123456789.125,
                   std::numeric_limits<double>::max()}) {
    EXPECT_EQ(*ParseDouble(FormatDouble(v)), v) << FormatDouble(v);
  }
  EXPECT_EQ(FormatDouble(0.1f, true), "0.1");
  EXPECT_EQ(static_cast<float>(*ParseDouble(FormatDouble(0.1f, true))), 0.1f);
  EXPECT_EQ(FormatDouble(std::nan("")), "NaN");
  EXPECT_EQ(FormatDouble(HUGE_VAL), "Infinity");
  EXPECT_EQ(FormatDouble(-HUGE_VAL), "-Infinity");
  EXPECT_TRUE(std::isnan(*ParseDouble("NaN")));
  EXPECT_EQ(*ParseDouble("-inf"), -HUGE_VAL);
  EXPECT_EQ(*ParseDouble("Infinity"), HUGE_VAL);
  EXPECT_FALSE(ParseDouble("1.5x"));
  EXPECT_FALSE(ParseDouble("--5"));
  EXPECT_FALSE(ParseDouble("+-5"));
  EXPECT_FALSE(ParseDouble("-"));
  EXPECT_FALSE(ParseDouble(""));
}

TEST(Decimal, Normalises) {
  EXPECT_EQ(*NormalizeDecimal("001.500"), "1.5");
  EXPECT_EQ(*NormalizeDecimal("-0.000"), "0");
  EXPECT_EQ(*NormalizeDecimal("+12"), "12");
  EXPECT_EQ(*NormalizeDecimal(".5"), "0.5");
  EXPECT_EQ(*NormalizeDecimal("5."), "5");
  EXPECT_EQ(*NormalizeDecimal("1.5e3"), "1500");
  EXPECT_EQ(*NormalizeDecimal("1.5E-3"), "0.0015");
  EXPECT_EQ(*NormalizeDecimal("12345678901234567890123456789012345678.123456789"),
            "12345678901234567890123456789012345678.123456789");
  EXPECT_EQ(*NormalizeDecimal("NaN"), "NaN");
  EXPECT_EQ(*NormalizeDecimal("-Infinity"), "-Infinity");
  EXPECT_FALSE(NormalizeDecimal("1.2.3"));
  EXPECT_FALSE(NormalizeDecimal("abc"));
  EXPECT_FALSE(NormalizeDecimal("1e"));
  EXPECT_FALSE(NormalizeDecimal("1e999999999"));
  int i, f;
  DecimalDigits("-123.45", &i, &f);
  EXPECT_EQ(i, 3);
  EXPECT_EQ(f, 2);
  DecimalDigits("0.001", &i, &f);
  EXPECT_EQ(i, 0);
  EXPECT_EQ(f, 3);
}

TEST(RowHash, SameValuesSameHashWhateverTheEngineKind) {
  DmsType a[] = {{DmsKind::kBoolean}, {DmsKind::kInt4}};
  DmsType b[] = {{DmsKind::kInt1}, {DmsKind::kInt8}};
  Batch x(2), y(2);
  x.AppendInt(1);
  x.AppendInt(42);
  y.AppendInt(1);
  y.AppendInt(42);
  EXPECT_EQ(CanonicalRowHash(x, 0, a), CanonicalRowHash(y, 0, b));
  Batch n(2);
  n.AppendNull();
  n.AppendInt(42);
  EXPECT_NE(CanonicalRowHash(x, 0, a), CanonicalRowHash(n, 0, a));
  Batch e(2), z(2);
  DmsType t[] = {{DmsKind::kString}, {DmsKind::kString}};
  e.AppendBytes("");
  e.AppendNull();
  z.AppendNull();
  z.AppendBytes("");
  EXPECT_NE(CanonicalRowHash(e, 0, t), CanonicalRowHash(z, 0, t));
}

}  // namespace
}  // namespace ferry
