// Source positions (change/position.h) and the PostgreSQL codec (connectors/postgres/
// pg_position.h): LSN text both ways, the byte order contract (bytes order = stream order,
// the empty position first), round trips through the codec, foreign bytes refused, and a
// Position shared between threads (SharedValue).
#include "change/position.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/shared_value.h"
#include "connectors/postgres/pg_position.h"

namespace ferry::postgres {
namespace {

TEST(PgPosition, FormatAndParseLsn) {
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(FormatLsn((uint64_t{0x16} << 32) | 0xB374D848), "16/B374D848");
  EXPECT_EQ(FormatLsn(~uint64_t{0}), "FFFFFFFF/FFFFFFFF");
  for (uint64_t lsn : {uint64_t{0}, uint64_t{1}, uint64_t{0x16B374D848}, ~uint64_t{0},
                       uint64_t{0xFFFFFFFF}, uint64_t{1} << 32}) {
    EXPECT_EQ(ParseLsn(FormatLsn(lsn)), lsn) << FormatLsn(lsn);
  }
  EXPECT_EQ(ParseLsn("16/b374d848"), (uint64_t{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(ParseLsn("00000000/00000001"), uint64_t{1});
  for (const char* bad : {"", "/", "1/", "/1", "1", "G/1", "1/G", "123456789/1", "1/123456789",
                          "1/2/3", " 1/2", "1/2 ", "-1/2", "+1/2", "0x1/2", "1//2", "1/-2"}) {
    EXPECT_EQ(ParseLsn(bad), std::nullopt) << "'" << bad << "'";
  }
  EXPECT_EQ(ParseLsn(std::string_view("1/2\0", 4)), std::nullopt);
}

TEST(PgPosition, BytesOrderAsTheStreamDoes) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> lsns = {
      0,           1, 0xFF, 0x100, 0xFFFFFFFF, uint64_t{1} << 32, 0x16B374D848, ~uint64_t{0} - 1,
      ~uint64_t{0}};
  for (int i = 0; i < 2000; ++i) lsns.push_back(rng() >> (rng() % 64));
  for (uint64_t a : lsns) {
    const cdc::Position pa = LsnPosition(a);
    for (int k = 0; k < 8; ++k) {
      const uint64_t b = lsns[rng() % lsns.size()];
      const cdc::Position pb = LsnPosition(b);
      EXPECT_EQ(pa < pb, a < b) << FormatLsn(a) << " vs " << FormatLsn(b);
      EXPECT_EQ(pa == pb, a == b) << FormatLsn(a) << " vs " << FormatLsn(b);
    }
  }
  // LSN 0 is "none": the empty position, before every real one.
  EXPECT_TRUE(LsnPosition(0).empty());
  EXPECT_EQ(LsnPosition(0), cdc::Position());
  EXPECT_LT(cdc::Position(), LsnPosition(1));
}

TEST(PgPosition, CodecRoundTrips) {
  const cdc::PositionCodec& codec = LsnCodec();
  for (uint64_t lsn : {uint64_t{0}, uint64_t{1}, uint64_t{0x16B374D848}, ~uint64_t{0}}) {
    const cdc::Position p = LsnPosition(lsn);
    EXPECT_EQ(PositionLsn(p), lsn);
    EXPECT_EQ(codec.Format(p), FormatLsn(lsn));
    ASSERT_TRUE(codec.Parse(codec.Format(p)).has_value());
    EXPECT_EQ(*codec.Parse(codec.Format(p)), p) << codec.Format(p);
  }
  EXPECT_EQ(codec.Format(cdc::Position()), "0/0");
  EXPECT_EQ(codec.Parse("16/b374d848"), LsnPosition(0x16B374D848));
  EXPECT_EQ(codec.Parse("mysql-bin.000024:373"), std::nullopt);
  EXPECT_EQ(codec.Describe(), "a PostgreSQL LSN such as 16/B374D848");
}

TEST(PgPosition, BytesOfAnotherEngineAreRefused) {
  try {
    PositionLsn(cdc::Position(std::string("\x01\x02\x03", 3)));
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_STREQ(e.what(),
                 "a PostgreSQL source was given a position of 3 bytes, not an LSN: it "
                 "belongs to another engine's stream");
  }
}

TEST(SharedPosition, ReadersSeeWholeValues) {
  SharedValue<cdc::Position> shared = LsnPosition(1);
  std::thread writer([&] {
    for (uint64_t i = 2; i < 20000; ++i) shared = LsnPosition(i);
  });
  uint64_t last = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t now = PositionLsn(shared.load());  // throws on a torn value
    EXPECT_GE(now, last);
    last = now;
  }
  writer.join();
  EXPECT_EQ(PositionLsn(shared), 19999u);
}

}  // namespace
}  // namespace ferry::postgres
