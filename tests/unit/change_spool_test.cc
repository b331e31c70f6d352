// ChangeSpool (cached changes of a loading table) and the framed file format under it:
// round trips incl. records over 16 MB, readers that see only what was appended before them,
// and malformed files.
#include "cdc/change_spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace ferry::cdc {
namespace {

namespace fs = std::filesystem;

std::string Record(int64_t i, size_t pad = 0, ChangeOp op = ChangeOp::kInsert) {
  Batch rows(2);
  rows.AppendInt(i);
  std::string text = "v" + std::to_string(i);
  text.append(pad, static_cast<char>('a' + i % 26));
  rows.AppendBytes(text);
  if (op == ChangeOp::kUpdate) {
    rows.AppendInt(i - 1);
    rows.AppendUnchanged();
  }
  std::string out;
  ChangeView v{op, static_cast<uint32_t>(i % 5), OldImage::kNone, &rows, -1, 0, {}};
  if (op == ChangeOp::kUpdate) {
    v.old_kind = OldImage::kKey;
    v.old_row = 1;
  }
  EncodeChange(v, {Storage::kInt, Storage::kBytes}, &out);
  return out;
}

// A position of `v` as 8 big-endian bytes; every third xid's end position carries 4 more
// bytes, as an engine with variable-length positions would.
Position Pos(uint64_t v, bool longer = false) {
  std::string b(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  if (longer) b += "gtid";
  return Position(b);
}

TransactionInfo Txn(uint32_t xid) {
  return TransactionInfo{xid, Pos(uint64_t{xid} << 20),
                         Pos((uint64_t{xid} << 20) + 64, xid % 3 == 0),
                         1'700'000'000'000'000 + xid};
}

class ChangeSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-buffer-spool-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

void ExpectChange(const TransactionInfo& txn, const ChangeView& v, uint32_t xid, int64_t i,
                  size_t pad = 0) {
  EXPECT_EQ(txn.xid, xid);
  EXPECT_EQ(txn.commit_position, Pos(uint64_t{xid} << 20));
  EXPECT_EQ(txn.end_position, Pos((uint64_t{xid} << 20) + 64, xid % 3 == 0));
  EXPECT_EQ(txn.commit_time_us, 1'700'000'000'000'000 + xid);
  ASSERT_EQ(v.table, static_cast<uint32_t>(i % 5));
  ASSERT_EQ(v.rows->at(v.new_row, 0).i, i);
  std::string text = "v" + std::to_string(i);
  text.append(pad, static_cast<char>('a' + i % 26));
  ASSERT_TRUE(v.rows->Bytes(v.new_row, 1) == text) << i;
}

TEST_F(ChangeSpoolTest, RoundTripInOrderWithTransactions) {
  ChangeSpool spool(dir_ / "cache" / "t1.cache");  // parent directories are created
  for (int64_t i = 0; i < 50000; ++i) spool.Append(Txn(static_cast<uint32_t>(i / 7)), Record(i));
  spool.Append(Txn(1), Record(-1, 0, ChangeOp::kUpdate));
  EXPECT_EQ(spool.changes(), 50001);
  auto reader = spool.Read();
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(spool.file())), spool.bytes());
  TransactionInfo txn;
  ChangeView v;
  for (int64_t i = 0; i < 50000; ++i) {
    ASSERT_TRUE(reader.Next(&txn, &v));
    ExpectChange(txn, v, static_cast<uint32_t>(i / 7), i);
  }
  ASSERT_TRUE(reader.Next(&txn, &v));
  EXPECT_EQ(v.op, ChangeOp::kUpdate);
  EXPECT_EQ(v.old_kind, OldImage::kKey);
  EXPECT_TRUE(v.rows->at(v.old_row, 1).unchanged);
  EXPECT_FALSE(reader.Next(&txn, &v));
  spool.Remove();
  EXPECT_FALSE(fs::exists(dir_ / "cache" / "t1.cache"));
}

TEST_F(ChangeSpoolTest, RecordsLargerThan16MB) {
  ChangeSpool spool(dir_ / "big.cache");
  const size_t big = (size_t{17} << 20) + 3;
  spool.Append(Txn(1), Record(0));
  spool.Append(Txn(2), Record(1, big));
  spool.Append(Txn(2), Record(2));
  spool.Append(Txn(3), Record(3, big * 2));
  spool.Append(Txn(3), Record(4));
  auto reader = spool.Read();
  TransactionInfo txn;
  ChangeView v;
  const std::vector<std::pair<uint32_t, size_t>> want = {
      {1, 0}, {2, big}, {2, 0}, {3, big * 2}, {3, 0}};
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(reader.Next(&txn, &v));
    ExpectChange(txn, v, want[i].first, static_cast<int64_t>(i), want[i].second);
  }
  EXPECT_FALSE(reader.Next(&txn, &v));
}

TEST_F(ChangeSpoolTest, ReaderSeesWhatWasAppendedBeforeIt) {
  ChangeSpool spool(dir_ / "t.cache");
  auto empty = spool.Read();
  TransactionInfo txn;
  ChangeView v;
  EXPECT_FALSE(empty.Next(&txn, &v));
  spool.Append(Txn(1), Record(0));
  spool.Append(Txn(1), Record(1));
  auto first = spool.Read();
  spool.Append(Txn(2), Record(2));
  ASSERT_TRUE(first.Next(&txn, &v));
  ExpectChange(txn, v, 1, 0);
  spool.Append(Txn(2), Record(3, 2u << 20));  // written through while `first` reads
  ASSERT_TRUE(first.Next(&txn, &v));
  ExpectChange(txn, v, 1, 1);
  EXPECT_FALSE(first.Next(&txn, &v));
  auto second = spool.Read();
  for (int64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(second.Next(&txn, &v));
    ExpectChange(txn, v, i < 2 ? 1 : 2, i, i == 3 ? 2u << 20 : 0);
  }
  EXPECT_FALSE(second.Next(&txn, &v));
  // A reader can be moved.
  ChangeSpool::Reader moved = spool.Read();
  ChangeSpool::Reader target = std::move(moved);
  ASSERT_TRUE(target.Next(&txn, &v));
  ExpectChange(txn, v, 1, 0);
}

TEST_F(ChangeSpoolTest, TruncatesAnExistingFile) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "t.cache") << "garbage that is not frames";
  ChangeSpool spool(dir_ / "t.cache");
  EXPECT_EQ(spool.bytes(), 0);
  auto reader = spool.Read();
  TransactionInfo txn;
  ChangeView v;
  EXPECT_FALSE(reader.Next(&txn, &v));
}

TEST_F(ChangeSpoolTest, RemoveThenUse) {
  ChangeSpool spool(dir_ / "t.cache");
  spool.Append(Txn(1), Record(0));
  spool.Remove();
  EXPECT_FALSE(fs::exists(dir_ / "t.cache"));
  try {
    spool.Append(Txn(1), Record(0));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
  }
}

// Every way the bytes of a cache file can be wrong: kData with the file and the frame offset.
TEST_F(ChangeSpoolTest, MalformedFile) {
  const fs::path file = dir_ / "t.cache";
  auto build = [&](ChangeSpool& spool) {
    spool.Append(Txn(1), Record(0));
    spool.Append(Txn(1), Record(1));
    spool.Append(Txn(1), Record(2));
  };
  // The transaction header of Txn(1): xid, time, two lengths, two 8-byte positions.
  const size_t header = 4 + 8 + 2 + 2 + 8 + 8;
  const size_t frame = 4 + header + Record(0).size();
  auto expect_data_error = [&](ChangeSpool& spool, const std::string& fragment) {
    auto reader = spool.Read();
    TransactionInfo txn;
    ChangeView v;
    try {
      while (reader.Next(&txn, &v)) {
      }
      ADD_FAILURE() << "no error, wanted " << fragment;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  auto patch = [&](size_t offset, std::string_view bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  {  // bad operation byte in the second record
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    patch(frame + 4 + header, "Z");
    expect_data_error(spool, "frame at byte " + std::to_string(frame));
  }
  {  // a frame shorter than the transaction header
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    patch(frame, std::string("\x05\0\0\0", 4));
    expect_data_error(spool, "frame at byte " + std::to_string(frame) + ": 5 bytes, shorter");
  }
  {  // position lengths that run past the frame
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    patch(frame + 4 + 14, std::string("\xff\xff", 2));
    expect_data_error(spool, "frame at byte " + std::to_string(frame) + ": " +
                                 std::to_string(frame - 4) +
                                 " bytes, shorter than its 65559-byte transaction header");
  }
  {  // a frame longer than the file
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    patch(2 * frame, std::string("\x00\x00\x00\x10", 4));
    expect_data_error(spool, "frame at byte " + std::to_string(2 * frame) + " declares");
  }
  {  // a frame one byte too short: its record is cut
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    const auto n = static_cast<uint32_t>(frame - 4 - 1);
    patch(0, std::string(reinterpret_cast<const char*>(&n), 4));
    expect_data_error(spool, "frame at byte 0: change record at byte 0 is truncated");
  }
  {  // a frame one byte too long: a byte follows its record
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    const auto n = static_cast<uint32_t>(frame - 4 + 1);
    patch(0, std::string(reinterpret_cast<const char*>(&n), 4));
    expect_data_error(spool, "frame at byte 0: 1 bytes follow the change record");
  }
  {  // the file shrank under the reader
    ChangeSpool spool(file);
    build(spool);
    spool.Read();
    fs::resize_file(file, frame + 2);
    expect_data_error(spool, "");
  }
}

// FrameReader straight on bytes (fmemopen), small chunks: frames that cross chunk borders.
TEST(FrameReader, SmallChunksAndTruncatedLength) {
  std::string bytes;
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) {
    payloads.push_back(std::string(static_cast<size_t>(i * 7), static_cast<char>('a' + i % 26)));
    const auto n = static_cast<uint32_t>(payloads.back().size());
    bytes.append(reinterpret_cast<const char*>(&n), 4);
    bytes.append(payloads.back());
  }
  for (size_t chunk : {size_t{1}, size_t{8}, size_t{13}, size_t{4096}}) {
    std::FILE* f = fmemopen(bytes.data(), bytes.size(), "rb");
    ASSERT_NE(f, nullptr);
    FrameReader reader(f, bytes.size(), "mem", chunk);
    std::string_view p;
    for (const std::string& want : payloads) {
      ASSERT_TRUE(reader.Next(&p));
      ASSERT_EQ(p, want);
    }
    EXPECT_FALSE(reader.Next(&p));
    reader.Rewind();
    ASSERT_TRUE(reader.Next(&p));
    EXPECT_EQ(p, payloads[0]);
  }
  std::string cut = bytes.substr(0, 4 + 0 + 2);  // frame 0 (empty) then 2 bytes of a length
  std::FILE* f = fmemopen(cut.data(), cut.size(), "rb");
  FrameReader reader(f, cut.size(), "mem");
  std::string_view p;
  ASSERT_TRUE(reader.Next(&p));
  EXPECT_TRUE(p.empty());
  try {
    reader.Next(&p);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("frame at byte 4 has 2 of the 4 bytes"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ferry::cdc
