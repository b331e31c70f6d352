// ConvertCell / AppendFromText: every family of DMS type pairs, with data errors and
// truncation kept apart and their messages asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "test_types.h"
#include "transform/value_convert.h"
#include "types/utf8.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

using ::ferry::testing::T;

struct Out {
  ConvertStatus status = ConvertStatus::kOk;
  std::string text;  // canonical text of the result
  std::string message;
};

Out Run(const Batch& in, const DmsType& from, const DmsType& to) {
  Batch out(1);
  Out o;
  std::string scratch;
  o.status = ConvertCell(in, 0, 0, from, to, &out, &o.message, &scratch);
  if (o.status == ConvertStatus::kOk) {
    EXPECT_EQ(out.rows(), 1u);
    if (out.IsNull(0, 0)) {
      o.text = "<null>";
    } else {
      AppendCanonical(out, 0, 0, to, &o.text);
    }
  } else {
    EXPECT_EQ(out.cell_count(), 0u) << "nothing appended on failure";
  }
  return o;
}
Out FromInt(DmsKind kind, int64_t v, const DmsType& to) {
  Batch in(1);
  in.AppendInt(v);
  return Run(in, T(kind), to);
}
Out FromUint(DmsKind kind, uint64_t v, const DmsType& to) {
  Batch in(1);
  in.AppendUint(v);
  return Run(in, T(kind), to);
}
Out FromDouble(DmsKind kind, double v, const DmsType& to) {
  Batch in(1);
  in.AppendDouble(v);
  return Run(in, T(kind), to);
}
Out FromBytes(const DmsType& from, std::string_view v, const DmsType& to) {
  Batch in(1);
  in.AppendBytes(v);
  return Run(in, from, to);
}
Out FromText(std::string_view v, const DmsType& to) { return FromBytes(T(DmsKind::kNclob), v, to); }

constexpr auto kOk = ConvertStatus::kOk;
constexpr auto kData = ConvertStatus::kDataError;
constexpr auto kTrunc = ConvertStatus::kTruncation;

TEST(TransformConvert, IntegersToText) {
  Out o = FromInt(DmsKind::kInt4, 12345, T(DmsKind::kString, 10));
  EXPECT_EQ(o.status, kOk);
  EXPECT_EQ(o.text, "12345");
  o = FromInt(DmsKind::kInt4, -1234567890, T(DmsKind::kString, 10));
  EXPECT_EQ(o.status, kTrunc);
  EXPECT_EQ(o.message, "value of 11 characters does not fit STRING(10): '-1234567890'");
  o = FromUint(DmsKind::kUint8, UINT64_MAX, T(DmsKind::kWstring, 20));
  EXPECT_EQ(o.text, "18446744073709551615");
  o = FromInt(DmsKind::kBoolean, 1, T(DmsKind::kString, 5));
  EXPECT_EQ(o.text, "1");
}

TEST(TransformConvert, TextToIntegers) {
  EXPECT_EQ(FromText(" 42 ", T(DmsKind::kInt8)).text, "42");
  EXPECT_EQ(FromText("-9223372036854775808", T(DmsKind::kInt8)).text, "-9223372036854775808");
  EXPECT_EQ(FromText("12.5", T(DmsKind::kInt8)).text, "13");   // rounded half away from zero
  EXPECT_EQ(FromText("-12.5", T(DmsKind::kInt8)).text, "-13");
  EXPECT_EQ(FromText("1e3", T(DmsKind::kInt4)).text, "1000");
  Out o = FromText("abc", T(DmsKind::kInt8));
  EXPECT_EQ(o.status, kData);
  EXPECT_EQ(o.message, "value 'abc' is not a number");
  o = FromText("9223372036854775808", T(DmsKind::kInt8));
  EXPECT_EQ(o.status, kData);
  EXPECT_EQ(o.message, "value '9223372036854775808' is out of range for INT8");
  o = FromText("40000", T(DmsKind::kInt2));
  EXPECT_EQ(o.message, "value '40000' is out of range for INT2");
  o = FromText("-1", T(DmsKind::kUint4));
  EXPECT_EQ(o.message, "value '-1' is out of range for UINT4");
  EXPECT_EQ(FromText("18446744073709551615", T(DmsKind::kUint8)).text, "18446744073709551615");
  EXPECT_EQ(FromText("18446744073709551616", T(DmsKind::kUint8)).status, kData);
  EXPECT_EQ(FromText("NaN", T(DmsKind::kInt4)).message, "value NaN is out of range for INT4");
  EXPECT_EQ(FromText("", T(DmsKind::kInt4)).message, "value '' is not a number");
}

TEST(TransformConvert, IntegerRanges) {
  EXPECT_EQ(FromInt(DmsKind::kInt8, 32767, T(DmsKind::kInt2)).text, "32767");
  Out o = FromInt(DmsKind::kInt8, 40000, T(DmsKind::kInt2));
  EXPECT_EQ(o.status, kData);
  EXPECT_EQ(o.message, "value 40000 is out of range for INT2");
  EXPECT_EQ(FromInt(DmsKind::kInt8, -128, T(DmsKind::kInt1)).text, "-128");
  EXPECT_EQ(FromInt(DmsKind::kInt8, -129, T(DmsKind::kInt1)).status, kData);
  EXPECT_EQ(FromInt(DmsKind::kInt8, INT64_MIN, T(DmsKind::kInt8)).text, "-9223372036854775808");
  EXPECT_EQ(FromInt(DmsKind::kInt4, -1, T(DmsKind::kUint1)).message,
            "value -1 is out of range for UINT1");
  EXPECT_EQ(FromInt(DmsKind::kInt4, 255, T(DmsKind::kUint1)).text, "255");
  Out u = FromUint(DmsKind::kUint8, UINT64_MAX, T(DmsKind::kInt8));
  EXPECT_EQ(u.message, "value 18446744073709551615 is out of range for INT8");
  EXPECT_EQ(FromUint(DmsKind::kUint8, 1ull << 62, T(DmsKind::kInt8)).text, "4611686018427387904");
  EXPECT_EQ(FromInt(DmsKind::kInt4, 5, T(DmsKind::kBoolean)).text, "1");
  EXPECT_EQ(FromInt(DmsKind::kInt4, 0, T(DmsKind::kBoolean)).text, "0");
  EXPECT_EQ(FromInt(DmsKind::kBoolean, 1, T(DmsKind::kInt4)).text, "1");
}

TEST(TransformConvert, Reals) {
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 2.5, T(DmsKind::kInt4)).text, "3");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, -2.5, T(DmsKind::kInt4)).text, "-3");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, NAN, T(DmsKind::kInt4)).message,
            "value NaN is out of range for INT4");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 1e20, T(DmsKind::kInt8)).message,
            "value 1e+20 is out of range for INT8");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 1e300, T(DmsKind::kReal4)).message,
            "value 1e+300 is out of range for REAL4");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 0.1, T(DmsKind::kReal4)).text, "0.1");
  EXPECT_EQ(FromDouble(DmsKind::kReal4, static_cast<float>(0.1), T(DmsKind::kString, 10)).text,
            "0.1");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 0.1, T(DmsKind::kNumeric, 10, 10, 3)).text, "0.1");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 1.0 / 3, T(DmsKind::kNumeric, 0, 10, 3)).text, "0.333");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, INFINITY, T(DmsKind::kNumeric, 0, 10, 2)).message,
            "value Infinity does not fit NUMERIC(10,2)");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, INFINITY, T(DmsKind::kNumeric)).text, "Infinity");
  EXPECT_EQ(FromInt(DmsKind::kInt8, 1 << 20, T(DmsKind::kReal8)).text, "1048576");
  EXPECT_EQ(FromText("1e400", T(DmsKind::kReal8)).message,
            "value '1e400' is out of range for REAL8");
  EXPECT_EQ(FromText("inf", T(DmsKind::kReal8)).text, "Infinity");
  EXPECT_EQ(FromText("x1", T(DmsKind::kReal8)).message, "value 'x1' is not a number");
}

TEST(TransformConvert, Numerics) {
  const DmsType num = T(DmsKind::kNumeric, 0, 10, 2);
  EXPECT_EQ(FromBytes(num, "3.25", T(DmsKind::kReal8)).text, "3.25");
  EXPECT_EQ(FromBytes(num, "2.5", T(DmsKind::kInt4)).text, "3");
  EXPECT_EQ(FromBytes(num, "-2.5", T(DmsKind::kInt4)).text, "-3");
  EXPECT_EQ(FromBytes(num, "123.45", T(DmsKind::kNumeric, 0, 5, 1)).text, "123.5");
  EXPECT_EQ(FromBytes(num, "-123.44", T(DmsKind::kNumeric, 0, 5, 1)).text, "-123.4");
  Out o = FromBytes(num, "12345.6", T(DmsKind::kNumeric, 0, 5, 1));
  EXPECT_EQ(o.status, kData);
  EXPECT_EQ(o.message,
            "value 12345.6 is out of range for NUMERIC(5,1) (at most 4 digits before the "
            "decimal point)");
  // Rounding may carry into a new integer digit.
  EXPECT_EQ(FromBytes(num, "99.95", T(DmsKind::kNumeric, 0, 3, 1)).status, kData);
  EXPECT_EQ(FromBytes(num, "9.95", T(DmsKind::kNumeric, 0, 3, 1)).text, "10");
  EXPECT_EQ(FromBytes(num, "0.004", T(DmsKind::kNumeric, 0, 3, 2)).text, "0");
  EXPECT_EQ(FromBytes(num, "-0.005", T(DmsKind::kNumeric, 0, 3, 2)).text, "-0.01");
  EXPECT_EQ(FromBytes(num, "1250", T(DmsKind::kNumeric, 0, 5, -2)).text, "1300");
  EXPECT_EQ(FromBytes(num, "NaN", T(DmsKind::kNumeric, 0, 5, 2)).message,
            "value NaN does not fit NUMERIC(5,2)");
  EXPECT_EQ(FromBytes(num, "NaN", T(DmsKind::kNumeric)).text, "NaN");
  EXPECT_TRUE(std::isnan(*ParseDouble(FromBytes(num, "NaN", T(DmsKind::kReal8)).text)));
  EXPECT_EQ(FromBytes(num, "12345678901234567890.5", T(DmsKind::kString, 30)).text,
            "12345678901234567890.50");
  EXPECT_EQ(FromText(" -1.50e2 ", T(DmsKind::kNumeric, 0, 6, 2)).text, "-150");
  EXPECT_EQ(FromText("1.2.3", T(DmsKind::kNumeric)).message, "value '1.2.3' is not a number");
  EXPECT_EQ(FromUint(DmsKind::kUint8, UINT64_MAX, T(DmsKind::kNumeric, 0, 20, 0)).text,
            "18446744073709551615");
  EXPECT_EQ(FromUint(DmsKind::kUint8, UINT64_MAX, T(DmsKind::kNumeric, 0, 19, 0)).status, kData);
}

TEST(TransformConvert, DatesAndTimes) {
  const int64_t dt = *ParseDatetime("2024-01-31 23:59:59.5");
  EXPECT_EQ(FromInt(DmsKind::kDatetime, dt, T(DmsKind::kDate)).text, "2024-01-31");
  EXPECT_EQ(FromInt(DmsKind::kDatetime, *ParseDatetime("1969-12-31 12:00:00"), T(DmsKind::kDate))
                .text,
            "1969-12-31");
  EXPECT_EQ(FromInt(DmsKind::kDatetime, dt, T(DmsKind::kTime)).text, "23:59:59.5");
  EXPECT_EQ(FromInt(DmsKind::kDate, *ParseDate("2024-02-29"), T(DmsKind::kDatetime)).text,
            "2024-02-29 00:00:00");
  EXPECT_EQ(FromInt(DmsKind::kDate, kDateInfinity, T(DmsKind::kDatetime)).text, "infinity");
  EXPECT_EQ(FromInt(DmsKind::kDatetime, kDatetimeMinusInfinity, T(DmsKind::kDate)).text,
            "-infinity");
  EXPECT_EQ(FromInt(DmsKind::kDatetime, kDatetimeInfinity, T(DmsKind::kTime)).message,
            "an infinite datetime has no time of day");
  EXPECT_EQ(FromInt(DmsKind::kDate, *ParseDate("2024-02-29"), T(DmsKind::kString, 20)).text,
            "2024-02-29");
  EXPECT_EQ(FromInt(DmsKind::kDatetime, dt, T(DmsKind::kString, 10)).status, kTrunc);
  EXPECT_EQ(FromText("2024-02-30", T(DmsKind::kDate)).message,
            "value '2024-02-30' is not a valid date");
  EXPECT_EQ(FromText("2024-02-29 10:00:00", T(DmsKind::kDate)).text, "2024-02-29");
  EXPECT_EQ(FromText("2024-01-31T12:00:00+02", T(DmsKind::kDatetime)).text,
            "2024-01-31 10:00:00");
  EXPECT_EQ(FromText("2024-01-31", T(DmsKind::kDatetime)).text, "2024-01-31 00:00:00");
  EXPECT_EQ(FromText("yesterday", T(DmsKind::kDatetime)).message,
            "value 'yesterday' is not a valid datetime");
  EXPECT_EQ(FromText("-838:59:59", T(DmsKind::kTime)).text, "-838:59:59");
  EXPECT_EQ(FromText("2024-01-31 08:30:00", T(DmsKind::kTime)).text, "08:30:00");
  EXPECT_EQ(FromText("25:61:00", T(DmsKind::kTime)).message,
            "value '25:61:00' is not a valid time");
  EXPECT_EQ(FromText("infinity", T(DmsKind::kDate)).text, "infinity");
}

TEST(TransformConvert, Booleans) {
  EXPECT_EQ(FromText("true", T(DmsKind::kBoolean)).text, "1");
  EXPECT_EQ(FromText(" OFF", T(DmsKind::kBoolean)).text, "0");
  EXPECT_EQ(FromText("f", T(DmsKind::kBoolean)).text, "0");
  EXPECT_EQ(FromText("2", T(DmsKind::kBoolean)).text, "1");
  EXPECT_EQ(FromText("maybe", T(DmsKind::kBoolean)).message, "value 'maybe' is not a boolean");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 0.0, T(DmsKind::kBoolean)).text, "0");
  EXPECT_EQ(FromDouble(DmsKind::kReal8, 0.4, T(DmsKind::kBoolean)).text, "1");
  EXPECT_EQ(FromBytes(T(DmsKind::kNumeric, 0, 5, 2), "0.4", T(DmsKind::kBoolean)).text, "1");
  EXPECT_EQ(FromBytes(T(DmsKind::kNumeric, 0, 5, 2), "0", T(DmsKind::kBoolean)).text, "0");
}

TEST(TransformConvert, TextAndBinaryLengths) {
  EXPECT_EQ(FromText("héllo", T(DmsKind::kWstring, 5)).text, "héllo");  // characters, not bytes
  Out o = FromText("héllo!", T(DmsKind::kWstring, 5));
  EXPECT_EQ(o.status, kTrunc);
  EXPECT_EQ(o.message, "value of 6 characters does not fit WSTRING(5): 'héllo!'");
  o = FromText("abcd", T(DmsKind::kBytes, 3));
  EXPECT_EQ(o.status, kTrunc);
  EXPECT_EQ(o.message, "value of 4 bytes does not fit BYTES(3)");
  EXPECT_EQ(FromBytes(T(DmsKind::kBlob), "ok", T(DmsKind::kString, 5)).text, "ok");
  o = FromBytes(T(DmsKind::kBlob), "\xff\xfe", T(DmsKind::kClob));
  EXPECT_EQ(o.status, kData);
  EXPECT_EQ(o.message, "binary value of 2 bytes is not valid UTF-8 text for CLOB");
  EXPECT_EQ(FromInt(DmsKind::kInt4, 7, T(DmsKind::kBlob)).text, "7");
  const std::string long_text(100, 'x');
  o = FromText(long_text, T(DmsKind::kString, 10));
  EXPECT_EQ(o.message, "value of 100 characters does not fit STRING(10): '" +
                           std::string(64, 'x') + "...'");
}

TEST(TransformConvert, RefusedPairs) {
  std::string why;
  EXPECT_FALSE(CanConvert(T(DmsKind::kBlob), T(DmsKind::kInt4), &why));
  EXPECT_EQ(why, "a BLOB value cannot be converted to INT4");
  EXPECT_FALSE(CanConvert(T(DmsKind::kTime), T(DmsKind::kDate), &why));
  EXPECT_FALSE(CanConvert(T(DmsKind::kDate), T(DmsKind::kInt4), &why));
  EXPECT_FALSE(CanConvert(T(DmsKind::kInt4), T(DmsKind::kDatetime), &why));
  EXPECT_FALSE(CanConvert(T(DmsKind::kBoolean), T(DmsKind::kDate), &why));
  EXPECT_TRUE(CanConvert(T(DmsKind::kDate), T(DmsKind::kBlob), &why));
  EXPECT_TRUE(CanConvert(T(DmsKind::kString), T(DmsKind::kTime), &why));
  Out o = FromBytes(T(DmsKind::kBlob), "x", T(DmsKind::kInt4));
  EXPECT_EQ(o.status, kData);
  EXPECT_EQ(o.message, "a BLOB value cannot be converted to INT4");
}

TEST(TransformConvert, LosslessCopies) {
  EXPECT_TRUE(IsLosslessCopy(T(DmsKind::kInt2), T(DmsKind::kInt4)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kInt4), T(DmsKind::kInt2)));
  EXPECT_TRUE(IsLosslessCopy(T(DmsKind::kUint4), T(DmsKind::kInt8)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kUint8), T(DmsKind::kInt8)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kInt1), T(DmsKind::kUint8)));
  EXPECT_TRUE(IsLosslessCopy(T(DmsKind::kString, 10), T(DmsKind::kWstring, 20)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kString, 20), T(DmsKind::kString, 10)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kNclob), T(DmsKind::kString, 10)));
  EXPECT_TRUE(IsLosslessCopy(T(DmsKind::kNumeric, 0, 10, 2), T(DmsKind::kNumeric, 0, 12, 2)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kNumeric, 0, 10, 2), T(DmsKind::kNumeric, 0, 10, 1)));
  EXPECT_TRUE(IsLosslessCopy(T(DmsKind::kReal4), T(DmsKind::kReal8)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kReal8), T(DmsKind::kReal4)));
  EXPECT_FALSE(IsLosslessCopy(T(DmsKind::kDate), T(DmsKind::kDatetime)));
}

TEST(TransformConvert, Utf8Prefix) {
  EXPECT_EQ(Utf8PrefixBytes("aéé", 4), "aé");
  EXPECT_EQ(Utf8PrefixBytes("aéé", 5), "aéé");
  EXPECT_EQ(Utf8PrefixBytes("€", 2), "");
  EXPECT_EQ(Utf8PrefixBytes("a😀b", 4), "a");
  EXPECT_EQ(Utf8PrefixBytes("a😀b", 5), "a😀");
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST(TransformConvertNumericText, KeepsTheSourceScale) {
  const DmsType num{DmsKind::kNumeric, 0, 10, 2};
  const DmsType str{DmsKind::kString, 20};
  for (auto [in, want] : std::vector<std::pair<std::string, std::string>>{
           {"5000.5", "5000.50"}, {"12", "12.00"}, {"-0.5", "-0.50"}, {"1.25", "1.25"},
           {"NaN", "NaN"}}) {
    Batch in_batch(1), out(1);
    in_batch.AppendBytes(in);
    std::string message, scratch;
    ASSERT_EQ(ConvertCell(in_batch, 0, 0, num, str, &out, &message, &scratch), ConvertStatus::kOk)
        << in << ": " << message;
    EXPECT_EQ(out.Bytes(0, 0), want) << in;
  }
}

}  // namespace
}  // namespace ferry
