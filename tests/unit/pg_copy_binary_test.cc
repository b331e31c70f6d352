#include "connectors/postgres/pg_copy_binary.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "common/error.h"
#include "types/value_codec.h"

namespace ferry::postgres {
namespace {

std::string RoundTripNumeric(const std::string& text) {
  std::string bin;
  EXPECT_TRUE(EncodeNumeric(text, &bin)) << text;
  std::string out;
  EXPECT_TRUE(DecodeNumeric(bin.data(), bin.size(), &out)) << text;
  return out;
}

// Binary numeric as PostgreSQL's numeric_send produces it.
std::string Numeric(int16_t weight, uint16_t sign, uint16_t dscale,
                    std::initializer_list<uint16_t> digits) {
  std::string s;
  PutU16(static_cast<uint16_t>(digits.size()), &s);
  PutU16(static_cast<uint16_t>(weight), &s);
  PutU16(sign, &s);
  PutU16(dscale, &s);
  for (uint16_t d : digits) PutU16(d, &s);
  return s;
}

std::string Decode(const std::string& bin) {
  std::string out;
  EXPECT_TRUE(DecodeNumeric(bin.data(), bin.size(), &out));
  return out;
}

TEST(PgNumeric, DecodesServerForms) {
  EXPECT_EQ(Decode(Numeric(0, 0, 0, {})), "0");
  EXPECT_EQ(Decode(Numeric(0, 0, 2, {})), "0");  // 0.00
  EXPECT_EQ(Decode(Numeric(-1, 0x4000, 1, {5000})), "-0.5");
  EXPECT_EQ(Decode(Numeric(-5, 0, 20, {1})), "0.00000000000000000001");  // 1e-20
  EXPECT_EQ(Decode(Numeric(1, 0, 0, {1, 0})), "10000");
  EXPECT_EQ(Decode(Numeric(0, 0, 4, {12, 3400})), "12.34");
  EXPECT_EQ(Decode(Numeric(2, 0x4000, 0, {1})), "-100000000");
  EXPECT_EQ(Decode(Numeric(0, 0xC000, 0, {})), "NaN");
  EXPECT_EQ(Decode(Numeric(0, 0xD000, 0, {})), "Infinity");
  EXPECT_EQ(Decode(Numeric(0, 0xF000, 0, {})), "-Infinity");
  // Huge dscale: 1.0 with 16383 fraction digits prints as "1".
  EXPECT_EQ(Decode(Numeric(0, 0, 16383, {1})), "1");
}

TEST(PgNumeric, RejectsMalformed) {
  std::string out;
  const std::string short_header = "\x00\x01\x00";
  EXPECT_FALSE(DecodeNumeric(short_header.data(), short_header.size(), &out));
  std::string bad_digit = Numeric(0, 0, 0, {10000});
  EXPECT_FALSE(DecodeNumeric(bad_digit.data(), bad_digit.size(), &out));
  std::string bad_sign = Numeric(0, 0x1234, 0, {1});
  EXPECT_FALSE(DecodeNumeric(bad_sign.data(), bad_sign.size(), &out));
  std::string truncated = Numeric(0, 0, 0, {1, 2});
  truncated.pop_back();
  EXPECT_FALSE(DecodeNumeric(truncated.data(), truncated.size(), &out));
  EXPECT_FALSE(EncodeNumeric("1e5", &out));
  EXPECT_FALSE(EncodeNumeric("", &out));
  EXPECT_FALSE(EncodeNumeric("-", &out));
  EXPECT_FALSE(EncodeNumeric("1.2.3", &out));
}

TEST(PgNumeric, EncodesLikeTheServer) {
  std::string bin;
  ASSERT_TRUE(EncodeNumeric("-0.5", &bin));
  EXPECT_EQ(bin, Numeric(-1, 0x4000, 1, {5000}));
  bin.clear();
  ASSERT_TRUE(EncodeNumeric("0", &bin));
  EXPECT_EQ(bin, Numeric(0, 0, 0, {}));
  bin.clear();
  ASSERT_TRUE(EncodeNumeric("10000", &bin));
  EXPECT_EQ(bin, Numeric(1, 0, 0, {1}));
  bin.clear();
  ASSERT_TRUE(EncodeNumeric("12.34", &bin));
  EXPECT_EQ(bin, Numeric(0, 0, 2, {12, 3400}));
}

TEST(PgNumeric, RoundTrips) {
  for (const char* v :
       {"0", "-0.5", "0.5", "1", "-1", "0.00000000000000000001", "123456789012345678901234567890",
        "1234567890123456789012345678901234567890", "-99999999999999999999999999999999999999.9999",
        "0.0001", "0.001", "10000.0001", "NaN", "Infinity", "-Infinity", "3.14159265358979",
        "100000000000000000000000000000000000000000000"}) {
    EXPECT_EQ(RoundTripNumeric(v), v);
  }
  EXPECT_EQ(RoundTripNumeric("-0"), "0");
  EXPECT_EQ(RoundTripNumeric("007.500"), "7.5");
  std::string big_fraction = "0." + std::string(16382, '0') + "1";
  EXPECT_EQ(RoundTripNumeric(big_fraction), big_fraction);
  std::string out;
  EXPECT_FALSE(EncodeNumeric("0." + std::string(16384, '1'), &out));  // dscale > 16383
}

TEST(PgNumeric, RandomTextRoundTripsAndRandomBytesNeverCrash) {
  uint32_t seed = 42;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
  };
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    if (next() % 2) text.push_back('-');
    const int int_digits = static_cast<int>(next() % 45);
    for (int i = 0; i < int_digits; ++i) text.push_back(static_cast<char>('0' + next() % 10));
    if (int_digits == 0 || next() % 2) {
      text.push_back('.');
      const int frac_digits = 1 + static_cast<int>(next() % 45);
      for (int i = 0; i < frac_digits; ++i) {
        text.push_back(static_cast<char>('0' + next() % 10));
      }
    }
    const std::string expected = *NormalizeDecimal(text);
    EXPECT_EQ(RoundTripNumeric(text), expected) << text;
  }
  for (int round = 0; round < 20000; ++round) {
    std::string bytes;
    const int n = static_cast<int>(next() % 24);
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>(next()));
    std::string out;
    DecodeNumeric(bytes.data(), bytes.size(), &out);  // must not crash or overread
  }
}

TEST(PgDates, EpochsInfinityAndBc) {
  EXPECT_EQ(DateCellFromPg(0), *ParseDate("2000-01-01"));
  EXPECT_EQ(DateCellFromPg(std::numeric_limits<int32_t>::max()),
            std::numeric_limits<int32_t>::max());
  EXPECT_EQ(DateCellFromPg(std::numeric_limits<int32_t>::min()),
            std::numeric_limits<int32_t>::min());
  int32_t pg;
  ASSERT_TRUE(PgDateFromCell(*ParseDate("0001-01-01"), &pg));
  EXPECT_EQ(DateCellFromPg(pg), *ParseDate("0001-01-01"));
  ASSERT_TRUE(PgDateFromCell(*ParseDate("0044-03-15 BC"), &pg));
  EXPECT_EQ(FormatDate(DateCellFromPg(pg)), "0044-03-15 BC");
  ASSERT_TRUE(PgDateFromCell(*ParseDate("4713-11-24 BC"), &pg));
  EXPECT_FALSE(PgDateFromCell(*ParseDate("4714-11-23 BC"), &pg));
  ASSERT_TRUE(PgDateFromCell(*ParseDate("9999-12-31"), &pg));
  EXPECT_FALSE(PgDateFromCell(int64_t{1} << 40, &pg));

  int64_t cell, pg_ts;
  ASSERT_TRUE(DatetimeCellFromPg(0, &cell));
  EXPECT_EQ(FormatDatetime(cell), "2000-01-01 00:00:00");
  ASSERT_TRUE(DatetimeCellFromPg(std::numeric_limits<int64_t>::max(), &cell));
  EXPECT_EQ(cell, std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(PgTimestampFromCell(cell, &pg_ts));
  EXPECT_EQ(pg_ts, std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(DatetimeCellFromPg(std::numeric_limits<int64_t>::min(), &cell));
  EXPECT_EQ(cell, std::numeric_limits<int64_t>::min());
  // PostgreSQL's last timestamp (294276 AD) does not fit a 1970-based int64.
  EXPECT_FALSE(DatetimeCellFromPg(9223371331199999999LL, &cell));
  const int64_t bc = *ParseDatetime("0100-02-03 04:05:06.000007 BC");
  ASSERT_TRUE(PgTimestampFromCell(bc, &pg_ts));
  ASSERT_TRUE(DatetimeCellFromPg(pg_ts, &cell));
  EXPECT_EQ(FormatDatetime(cell), "0100-02-03 04:05:06.000007 BC");
  EXPECT_FALSE(PgTimestampFromCell(*ParseDatetime("4714-11-23 00:00:00 BC"), &pg_ts));
}

TEST(PgUuid, FormatsAndParses) {
  char b[16];
  ASSERT_TRUE(ParseUuidText("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", b));
  std::string s;
  AppendUuidText(b, &s);
  EXPECT_EQ(s, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_TRUE(ParseUuidText("{a0eebc999c0b4ef8bb6d6bb9bd380a11}", b));
  EXPECT_FALSE(ParseUuidText("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", b));
  EXPECT_FALSE(ParseUuidText("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11ff", b));
  EXPECT_FALSE(ParseUuidText("g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", b));
}

// A stream with one tuple of (int4 7, NULL, text "hi").
std::string SampleStream() {
  std::string s;
  AppendCopyHeader(&s);
  PutU16(3, &s);
  PutU32(4, &s);
  PutU32(7, &s);
  PutU32(0xFFFFFFFF, &s);
  PutU32(2, &s);
  s += "hi";
  AppendCopyTrailer(&s);
  return s;
}

TEST(PgCopyParser, ParsesAnyChunking) {
  const std::string s = SampleStream();
  for (size_t chunk = 1; chunk <= s.size(); ++chunk) {
    CopyBinaryParser p(3);
    int tuples = 0;
    bool ended = false;
    for (size_t off = 0; off < s.size(); off += chunk) {
      p.Feed(s.data() + off, std::min(chunk, s.size() - off));
      for (;;) {
        auto st = p.Next();
        if (st == CopyBinaryParser::Status::kNeedMore) break;
        if (st == CopyBinaryParser::Status::kEnd) {
          ended = true;
          break;
        }
        ++tuples;
        EXPECT_EQ(p.fields()[0].length, 4);
        EXPECT_EQ(LoadU32(p.fields()[0].data), 7u);
        EXPECT_EQ(p.fields()[1].length, -1);
        EXPECT_EQ(std::string(p.fields()[2].data, 2), "hi");
      }
    }
    EXPECT_EQ(tuples, 1) << chunk;
    EXPECT_TRUE(ended) << chunk;
    EXPECT_NO_THROW(p.Finish());
  }
}

// Runs the parser over `s` to the end; returns the error text or "" when it parsed.
std::string ParseAll(const std::string& s, int fields) {
  try {
    CopyBinaryParser p(fields);
    p.Feed(s.data(), s.size());
    while (p.Next() == CopyBinaryParser::Status::kTuple) {
    }
    p.Finish();
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    return e.what();
  }
}

TEST(PgCopyParser, MalformedStreamsAreErrorsNotCrashes) {
  const std::string good = SampleStream();
  EXPECT_EQ(ParseAll(good, 3), "");
  std::string bad_header = good;
  bad_header[0] = 'X';
  EXPECT_NE(ParseAll(bad_header, 3).find("signature"), std::string::npos);
  // Wrong field count.
  EXPECT_NE(ParseAll(good, 2).find("3 fields, expected 2"), std::string::npos);
  // Negative length other than -1 (field 3's length at offset 19 + 2 + 8 + 4).
  std::string negative = good;
  const size_t len3 = 19 + 2 + 8 + 4;
  negative[len3] = '\xff';
  negative[len3 + 1] = '\xff';
  negative[len3 + 2] = '\xff';
  negative[len3 + 3] = '\xfe';
  EXPECT_NE(ParseAll(negative, 3).find("negative length -2"), std::string::npos);
  // Every truncation of the stream is an error, never a read past the end.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_NE(ParseAll(good.substr(0, n), 3), "") << n;
  }
  // A field length pointing far past the data.
  std::string huge = good;
  huge[len3] = '\x7f';
  EXPECT_NE(ParseAll(huge, 3), "");
  // Bytes after the trailer.
  EXPECT_NE(ParseAll(good + "x", 3), "");
  // Garbage after a valid header.
  std::string garbage;
  AppendCopyHeader(&garbage);
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string s = garbage;
    const int n = static_cast<int>(seed % 64);
    for (int i = 0; i < n; ++i) {
      seed = seed * 1103515245u + 12345u;
      s.push_back(static_cast<char>(seed >> 16));
    }
    seed = seed * 1103515245u + 12345u;
    ParseAll(s, 1 + static_cast<int>(seed % 4));  // must not crash
  }
}

}  // namespace
}  // namespace ferry::postgres
