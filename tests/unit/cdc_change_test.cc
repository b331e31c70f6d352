// The change record codec (change/change.h): round trips of every storage kind, NULL, unchanged,
// empty and 20 MB byte values, every operation and old-image kind; malformed and truncated
// records. (LSN text: position_test.cc.)
#include "change/change.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"

namespace ferry::cdc {
namespace {

const std::vector<Storage> kStorage = {Storage::kInt, Storage::kUint, Storage::kDouble,
                                       Storage::kBytes};

// One row of the four storage kinds; `variant` varies the values.
void AppendRow(Batch* b, int variant) {
  b->AppendInt(variant == 0 ? std::numeric_limits<int64_t>::min() : int64_t{-7} * variant);
  b->AppendUint(variant == 0 ? std::numeric_limits<uint64_t>::max() : uint64_t{11} * static_cast<uint64_t>(variant));
  b->AppendDouble(variant == 0 ? -0.0 : 1.5 * variant);
  b->AppendBytes(variant == 0 ? std::string_view() : std::string_view("h\0llo", 5));
}

uint64_t Bits(double d) {
  uint64_t v;
  std::memcpy(&v, &d, 8);
  return v;
}

// Compares row `ra` of `a` with row `rb` of `b` cell by cell, bit for bit.
void ExpectSameRow(const Batch& a, int ra, const Batch& b, int rb,
                   const std::vector<Storage>& storage) {
  ASSERT_EQ(a.columns(), b.columns());
  for (int c = 0; c < a.columns(); ++c) {
    SCOPED_TRACE(c);
    const Cell& x = a.at(ra, c);
    const Cell& y = b.at(rb, c);
    ASSERT_EQ(x.null, y.null);
    ASSERT_EQ(x.unchanged, y.unchanged);
    if (x.null) continue;
    switch (storage[c]) {
      case Storage::kInt: EXPECT_EQ(x.i, y.i); break;
      case Storage::kUint: EXPECT_EQ(x.u, y.u); break;
      case Storage::kDouble: EXPECT_EQ(Bits(x.d), Bits(y.d)); break;
      case Storage::kBytes: EXPECT_EQ(a.Bytes(ra, c), b.Bytes(rb, c)); break;
    }
  }
}

struct Case {
  ChangeOp op;
  OldImage old_kind;
};

TEST(CdcChange, RoundTripEveryOpAndOldImage) {
  const std::vector<Case> cases = {
      {ChangeOp::kInsert, OldImage::kNone},   {ChangeOp::kUpdate, OldImage::kNone},
      {ChangeOp::kUpdate, OldImage::kKey},    {ChangeOp::kUpdate, OldImage::kFull},
      {ChangeOp::kDelete, OldImage::kKey},    {ChangeOp::kDelete, OldImage::kFull},
      {ChangeOp::kTruncate, OldImage::kNone},
  };
  Batch rows(4);
  AppendRow(&rows, 0);  // row 0: extremes, empty bytes
  AppendRow(&rows, 3);  // row 1
  std::string bytes;
  uint32_t table = 0;
  for (const Case& k : cases) {
    ChangeView v;
    v.op = k.op;
    v.table = table++ * 0x01010101u;
    v.old_kind = k.old_kind;
    v.rows = &rows;
    v.old_row = k.old_kind == OldImage::kNone ? -1 : 0;
    v.new_row = (k.op == ChangeOp::kInsert || k.op == ChangeOp::kUpdate) ? 1 : -1;
    EncodeChange(v, kStorage, &bytes);
  }
  ChangeReader reader(bytes);
  ChangeView out;
  table = 0;
  for (const Case& k : cases) {
    SCOPED_TRACE(ChangeOpName(k.op));
    ASSERT_TRUE(reader.Next(&out));
    EXPECT_EQ(out.op, k.op);
    EXPECT_EQ(out.table, table++ * 0x01010101u);
    EXPECT_EQ(out.old_kind, k.old_kind);
    ASSERT_NE(out.rows, nullptr);
    if (k.old_kind == OldImage::kNone) {
      EXPECT_EQ(out.old_row, -1);
    } else {
      ASSERT_GE(out.old_row, 0);
      ExpectSameRow(rows, 0, *out.rows, out.old_row, kStorage);
    }
    if (k.op == ChangeOp::kInsert || k.op == ChangeOp::kUpdate) {
      ASSERT_GE(out.new_row, 0);
      ExpectSameRow(rows, 1, *out.rows, out.new_row, kStorage);
    } else {
      EXPECT_EQ(out.new_row, -1);
    }
  }
  EXPECT_FALSE(reader.Next(&out));
  EXPECT_EQ(reader.offset(), bytes.size());
}

TEST(CdcChange, NullUnchangedAndNaN) {
  Batch rows(5);
  rows.AppendNull();
  rows.AppendUnchanged();
  rows.AppendDouble(std::numeric_limits<double>::quiet_NaN());
  rows.AppendDouble(-std::numeric_limits<double>::infinity());
  rows.AppendNull();
  const std::vector<Storage> storage = {Storage::kInt, Storage::kBytes, Storage::kDouble,
                                        Storage::kDouble, Storage::kUint};
  ChangeView v{ChangeOp::kInsert, 9, OldImage::kNone, &rows, -1, 0, {}};
  std::string bytes;
  EncodeChange(v, storage, &bytes);
  ChangeReader reader(bytes);
  ChangeView out;
  ASSERT_TRUE(reader.Next(&out));
  ExpectSameRow(rows, 0, *out.rows, out.new_row, storage);
  EXPECT_TRUE(out.rows->at(0, 0).null);
  EXPECT_FALSE(out.rows->at(0, 0).unchanged);
  EXPECT_TRUE(out.rows->at(0, 1).null);
  EXPECT_TRUE(out.rows->at(0, 1).unchanged);
  EXPECT_TRUE(std::isnan(out.rows->at(0, 2).d));
}

TEST(CdcChange, ZeroColumnsAndOldRowMissing) {
  Batch rows(0);
  ChangeView t{ChangeOp::kTruncate, 5, OldImage::kNone, &rows, -1, -1, {}};
  std::string bytes;
  EncodeChange(t, {}, &bytes);
  EXPECT_EQ(bytes.size(), 8u);
  // An old kind without an old row is written as "no old image".
  Batch one(1);
  one.AppendInt(4);
  ChangeView u{ChangeOp::kUpdate, 1, OldImage::kFull, &one, -1, 0, {}};
  EncodeChange(u, {Storage::kInt}, &bytes);
  ChangeReader reader(bytes);
  ChangeView out;
  ASSERT_TRUE(reader.Next(&out));
  EXPECT_EQ(out.op, ChangeOp::kTruncate);
  EXPECT_EQ(out.table, 5u);
  ASSERT_TRUE(reader.Next(&out));
  EXPECT_EQ(out.old_kind, OldImage::kNone);
  EXPECT_EQ(out.old_row, -1);
  EXPECT_EQ(out.rows->at(out.new_row, 0).i, 4);
  EXPECT_FALSE(reader.Next(&out));
}

TEST(CdcChange, BytesOfZeroAnd20MB) {
  std::string big(20u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + (i >> 12));
  Batch rows(2);
  rows.AppendBytes("");
  rows.AppendBytes(big);
  ChangeView v{ChangeOp::kInsert, 2, OldImage::kNone, &rows, -1, 0, {}};
  std::string bytes;
  EncodeChange(v, {Storage::kBytes, Storage::kBytes}, &bytes);
  EXPECT_EQ(bytes.size(), 8 + 5 + 5 + big.size());
  ChangeReader reader(bytes);
  ChangeView out;
  ASSERT_TRUE(reader.Next(&out));
  EXPECT_FALSE(out.rows->IsNull(0, 0));
  EXPECT_EQ(out.rows->Bytes(0, 0).size(), 0u);
  EXPECT_TRUE(out.rows->Bytes(0, 1) == big);
  EXPECT_FALSE(reader.Next(&out));
}

// A shape record between row changes: read back with its table and definition, the rows
// around it unchanged; a malformed one is refused naming its byte.
TEST(CdcChange, ShapeRecordBetweenChanges) {
  Batch b(1);
  b.AppendInt(7);
  std::string bytes;
  EncodeChange({ChangeOp::kInsert, 2, OldImage::kNone, &b, -1, 0, {}}, {Storage::kInt}, &bytes);
  const std::string def = R"({"schema":"s","name":"t","columns":[]})";
  EncodeShapeChange(2, def, &bytes);
  EncodeChange({ChangeOp::kInsert, 2, OldImage::kNone, &b, -1, 0, {}}, {Storage::kInt}, &bytes);
  ChangeReader reader(bytes);
  ChangeView v;
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_EQ(v.op, ChangeOp::kInsert);
  EXPECT_TRUE(v.shape.empty());
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_EQ(v.op, ChangeOp::kShape);
  EXPECT_EQ(v.table, 2u);
  EXPECT_EQ(v.shape, def);
  EXPECT_EQ(v.rows->columns(), 0);
  EXPECT_STREQ(ChangeOpName(v.op), "ALTER TABLE");
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_EQ(v.op, ChangeOp::kInsert);
  EXPECT_EQ(v.rows->at(static_cast<size_t>(v.new_row), 0).i, 7);
  EXPECT_FALSE(reader.Next(&v));

  std::string cut;
  EncodeShapeChange(1, def, &cut);
  cut.resize(cut.size() - 3);
  ChangeReader truncated(cut);
  try {
    truncated.Next(&v);
    FAIL() << "a truncated shape record was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("shape record at byte 0 is truncated"), std::string::npos)
        << e.what();
  }
}

TEST(CdcChange, ReaderReusedAcrossColumnCounts) {
  Batch a(1), b(3);
  a.AppendInt(1);
  b.AppendInt(1);
  b.AppendInt(2);
  b.AppendBytes("x");
  std::string bytes;
  EncodeChange({ChangeOp::kInsert, 0, OldImage::kNone, &b, -1, 0, {}},
               {Storage::kInt, Storage::kInt, Storage::kBytes}, &bytes);
  EncodeChange({ChangeOp::kInsert, 1, OldImage::kNone, &a, -1, 0, {}}, {Storage::kInt}, &bytes);
  EncodeChange({ChangeOp::kInsert, 0, OldImage::kNone, &b, -1, 0, {}},
               {Storage::kInt, Storage::kInt, Storage::kBytes}, &bytes);
  ChangeReader reader(bytes);
  ChangeView out;
  for (int columns : {3, 1, 3}) {
    ASSERT_TRUE(reader.Next(&out));
    EXPECT_EQ(out.rows->columns(), columns);
    EXPECT_EQ(out.rows->rows(), 1u);
  }
}

TEST(CdcChange, OpNames) {
  EXPECT_STREQ(ChangeOpName(ChangeOp::kInsert), "INSERT");
  EXPECT_STREQ(ChangeOpName(ChangeOp::kUpdate), "UPDATE");
  EXPECT_STREQ(ChangeOpName(ChangeOp::kDelete), "DELETE");
  EXPECT_STREQ(ChangeOpName(ChangeOp::kTruncate), "TRUNCATE");
}

TEST(CdcChange, StorageOfColumns) {
  DmsType i4, u8, r8, s;
  i4.kind = DmsKind::kInt4;
  u8.kind = DmsKind::kUint8;
  r8.kind = DmsKind::kReal8;
  s.kind = DmsKind::kString;
  EXPECT_EQ(StorageOfColumns({i4, u8, r8, s}),
            (std::vector<Storage>{Storage::kInt, Storage::kUint, Storage::kDouble,
                                  Storage::kBytes}));
}

// Throws and returns the message, or fails.
std::string DataError(std::string_view bytes) {
  ChangeReader reader(bytes);
  ChangeView out;
  try {
    while (reader.Next(&out)) {
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for " << bytes.size() << " bytes";
  return "";
}

TEST(CdcChange, TruncatedAtEveryByte) {
  Batch rows(4);
  AppendRow(&rows, 0);
  AppendRow(&rows, 2);
  std::string first;
  EncodeChange({ChangeOp::kInsert, 1, OldImage::kNone, &rows, -1, 1, {}}, kStorage, &first);
  std::string second;
  EncodeChange({ChangeOp::kUpdate, 7, OldImage::kFull, &rows, 0, 1, {}}, kStorage, &second);
  const std::string whole = first + second;
  {
    ChangeReader ok(whole);
    ChangeView out;
    ASSERT_TRUE(ok.Next(&out));
    ASSERT_TRUE(ok.Next(&out));
    ASSERT_FALSE(ok.Next(&out));
  }
  const std::string at = "at byte " + std::to_string(first.size());
  for (size_t cut = first.size() + 1; cut < whole.size(); ++cut) {
    SCOPED_TRACE(cut);
    const std::string msg = DataError(std::string_view(whole).substr(0, cut));
    EXPECT_NE(msg.find(at), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
  // The first record alone, cut anywhere: the offset is 0.
  for (size_t cut = 1; cut < first.size(); ++cut) {
    const std::string msg = DataError(std::string_view(first).substr(0, cut));
    EXPECT_NE(msg.find("at byte 0"), std::string::npos) << msg;
  }
}

TEST(CdcChange, MalformedRecords) {
  Batch rows(1);
  rows.AppendInt(5);
  std::string good;
  EncodeChange({ChangeOp::kInsert, 1, OldImage::kNone, &rows, -1, 0, {}}, {Storage::kInt}, &good);

  std::string bad = good;
  bad[0] = 'X';
  EXPECT_NE(DataError(bad).find("unknown operation byte 0x58"), std::string::npos);
  bad = good;
  bad[5] = 'Z';
  EXPECT_NE(DataError(bad).find("old-image kind 0x5a"), std::string::npos);
  bad = good;
  bad[8] = 9;  // value tag
  EXPECT_NE(DataError(bad).find("unknown value tag 9 in column 0"), std::string::npos);
  // A DELETE without an old image.
  std::string del("D\1\0\0\0\0\1\0", 8);
  EXPECT_NE(DataError(del).find("DELETE without an old image"), std::string::npos);
  // A byte value whose length runs past the end.
  std::string len("I\0\0\0\0\0\1\0\5\xff\xff\xff\x7f", 13);
  EXPECT_NE(DataError(len).find("truncated in column 0"), std::string::npos);
  // A good record followed by garbage names the garbage's offset.
  std::string tail = good + "Q";
  EXPECT_NE(DataError(tail).find("at byte " + std::to_string(good.size())), std::string::npos);
}

}  // namespace
}  // namespace ferry::cdc
