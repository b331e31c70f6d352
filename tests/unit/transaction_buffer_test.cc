// TransactionBuffer: transactions held in memory until commit, spilled to disk by the memory
// limit and the keep time, streamed back in order; accounting of memory and spill files.
#include "cdc/transaction_buffer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cdc/change_spool.h"
#include "common/error.h"

namespace ferry::cdc {
namespace {

namespace fs = std::filesystem;

const std::vector<Storage> kStorage = {Storage::kInt, Storage::kBytes};

// An insert of (i, "value-<i>") into table `table`; `pad` extra bytes make it larger.
std::string Record(int64_t i, uint32_t table = 1, size_t pad = 0) {
  Batch rows(2);
  rows.AppendInt(i);
  std::string text = "value-" + std::to_string(i);
  text.append(pad, 'p');
  rows.AppendBytes(text);
  std::string out;
  EncodeChange({ChangeOp::kInsert, table, OldImage::kNone, &rows, -1, 0, {}}, kStorage, &out);
  return out;
}

// Checks that `v` is Record(i, table, pad).
void ExpectRecord(const ChangeView& v, int64_t i, uint32_t table = 1, size_t pad = 0) {
  ASSERT_EQ(v.op, ChangeOp::kInsert);
  ASSERT_EQ(v.table, table);
  ASSERT_EQ(v.rows->at(v.new_row, 0).i, i);
  std::string text = "value-" + std::to_string(i);
  text.append(pad, 'p');
  ASSERT_EQ(v.rows->Bytes(v.new_row, 1), text);
}

// A fresh directory per test, removed at the end.
class TransactionBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test) c = c == '/' ? '_' : c;  // parameterised tests: "Name/0"
    dir_ = fs::temp_directory_path() /
           ("ferry-buffer-txn-" + std::to_string(::getpid()) + "-" + test);
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  int SpillFiles() const {
    int n = 0;
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) return 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.path().extension() == ".spill";
    return n;
  }

  BufferLimits Limits(size_t memory, std::chrono::seconds keep = std::chrono::seconds(60)) {
    BufferLimits l;
    l.memory_limit_bytes = memory;
    l.keep_time = keep;
    l.spill_dir = dir_;
    return l;
  }

  fs::path dir_;
};

TransactionInfo Info(uint32_t xid) {
  TransactionInfo t;
  t.xid = xid;
  t.commit_position = Position("c" + std::to_string(1000 + xid));
  t.end_position = Position("e" + std::to_string(2000 + xid));
  t.commit_time_us = 3000 + xid;
  return t;
}

TEST_F(TransactionBufferTest, SmallTransactionStaysInMemory) {
  TransactionBuffer buffer(Limits(1 << 20));
  buffer.Begin(7);
  size_t bytes = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string r = Record(i);
    bytes += r.size();
    buffer.Add(7, r);
  }
  EXPECT_EQ(buffer.stats().open_transactions, 1u);
  EXPECT_GT(buffer.stats().memory_bytes, 0u);
  auto txn = buffer.Commit(Info(7));
  EXPECT_EQ(buffer.stats().open_transactions, 0u);
  EXPECT_GT(buffer.stats().memory_bytes, 0u);  // held by the committed transaction
  EXPECT_FALSE(txn->spilled());
  EXPECT_EQ(txn->changes(), 3);
  EXPECT_EQ(txn->bytes(), bytes);
  EXPECT_EQ(txn->info().commit_position, Position("c1007"));
  EXPECT_EQ(txn->info().end_position, Position("e2007"));
  for (int pass = 0; pass < 2; ++pass) {
    ChangeView v;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(txn->Next(&v));
      ExpectRecord(v, i);
    }
    EXPECT_FALSE(txn->Next(&v));
    EXPECT_FALSE(txn->Next(&v));
    txn->Rewind();
  }
  txn.reset();
  EXPECT_EQ(buffer.stats().memory_bytes, 0u);
  EXPECT_EQ(SpillFiles(), 0);
  EXPECT_EQ(buffer.stats().spilled_transactions_total, 0);
}

TEST_F(TransactionBufferTest, TwoMillionRecordsSpillWithBoundedMemory) {
  const size_t limit = size_t{16} << 20;
  TransactionBuffer buffer(Limits(limit));
  const int64_t n = 2'000'000;
  buffer.Begin(42);
  size_t peak = 0;
  for (int64_t i = 0; i < n; ++i) {
    buffer.Add(42, Record(i, 3));
    const size_t m = buffer.stats().memory_bytes;
    if (m > peak) peak = m;
  }
  EXPECT_LE(peak, limit + kFrameChunkBytes);
  EXPECT_GT(peak, limit / 2);
  BufferStats s = buffer.stats();
  EXPECT_EQ(s.spill_files_now, 1);
  EXPECT_EQ(s.spilled_transactions_total, 1);
  EXPECT_GT(s.spilled_bytes_now, int64_t{40} << 20);
  EXPECT_LE(s.memory_bytes, kFrameChunkBytes);
  EXPECT_EQ(SpillFiles(), 1);
  EXPECT_TRUE(fs::exists(dir_ / "txn-42-0.spill"));

  auto txn = buffer.Commit(Info(42));
  EXPECT_TRUE(txn->spilled());
  EXPECT_EQ(txn->changes(), n);
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(dir_ / "txn-42-0.spill")),
            buffer.stats().spilled_bytes_now);
  ChangeView v;
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(txn->Next(&v)) << i;
      ExpectRecord(v, i, 3);
      if (i % 4096 == 0) {
        ASSERT_LE(buffer.stats().memory_bytes, 2 * kFrameChunkBytes);
      }
    }
    EXPECT_FALSE(txn->Next(&v));
    txn->Rewind();
    if (pass == 0) {  // a retry reads the first records again
      ASSERT_TRUE(txn->Next(&v));
      ExpectRecord(v, 0, 3);
      txn->Rewind();
    }
  }
  txn.reset();
  EXPECT_EQ(SpillFiles(), 0);
  s = buffer.stats();
  EXPECT_EQ(s.memory_bytes, 0u);
  EXPECT_EQ(s.spill_files_now, 0);
  EXPECT_EQ(s.spilled_bytes_now, 0);
  EXPECT_EQ(s.spilled_transactions_total, 1);
}

TEST_F(TransactionBufferTest, KeepTimeSpillsWithFakeClock) {
  auto now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  BufferLimits limits = Limits(size_t{1} << 30, std::chrono::seconds(60));
  limits.clock = [&now] { return now; };
  TransactionBuffer buffer(limits);
  buffer.Begin(1);
  buffer.Add(1, Record(0));
  now += std::chrono::seconds(10);
  buffer.Begin(2);
  buffer.Add(2, Record(100));
  now += std::chrono::seconds(49);
  buffer.Add(1, Record(1));
  EXPECT_EQ(buffer.stats().spill_files_now, 0);
  now += std::chrono::seconds(1);  // transaction 1 is 60 s old
  buffer.Add(1, Record(2));
  EXPECT_EQ(buffer.stats().spill_files_now, 1);
  EXPECT_TRUE(fs::exists(dir_ / "txn-1-0.spill"));
  // Transaction 2 ages while idle: the next Add of any transaction sweeps it out.
  now += std::chrono::seconds(20);
  buffer.Begin(3);
  buffer.Add(3, Record(200));
  EXPECT_EQ(buffer.stats().spill_files_now, 2);
  EXPECT_TRUE(fs::exists(dir_ / "txn-2-1.spill"));

  auto t1 = buffer.Commit(Info(1));
  auto t2 = buffer.Commit(Info(2));
  auto t3 = buffer.Commit(Info(3));
  EXPECT_TRUE(t1->spilled());
  EXPECT_TRUE(t2->spilled());
  EXPECT_FALSE(t3->spilled());
  ChangeView v;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t1->Next(&v));
    ExpectRecord(v, i);
  }
  EXPECT_FALSE(t1->Next(&v));
  ASSERT_TRUE(t2->Next(&v));
  ExpectRecord(v, 100);
  EXPECT_FALSE(t2->Next(&v));
}

TEST_F(TransactionBufferTest, ZeroKeepTimeSpillsEveryTransaction) {
  TransactionBuffer buffer(Limits(size_t{1} << 30, std::chrono::seconds(0)));
  buffer.Begin(5);
  EXPECT_EQ(SpillFiles(), 0);  // nothing to spill before the first record
  buffer.Add(5, Record(1));
  buffer.Add(5, Record(2));
  EXPECT_EQ(SpillFiles(), 1);
  auto t = buffer.Commit(Info(5));
  EXPECT_TRUE(t->spilled());
  ChangeView v;
  ASSERT_TRUE(t->Next(&v));
  ExpectRecord(v, 1);
  ASSERT_TRUE(t->Next(&v));
  ExpectRecord(v, 2);
  EXPECT_FALSE(t->Next(&v));
}

TEST_F(TransactionBufferTest, InterleavedTransactionsLargestSpillsFirst) {
  const size_t limit = 4 * kFrameChunkBytes;
  TransactionBuffer buffer(Limits(limit));
  // Transaction 10 takes large records, 11 and 12 small ones, interleaved.
  buffer.Begin(10);
  buffer.Begin(11);
  buffer.Begin(12);
  const size_t pad = 1000;
  int n10 = 0, n11 = 0, n12 = 0;
  for (int i = 0; i < 6000; ++i) {
    buffer.Add(10, Record(n10++, 10, pad));
    if (i % 2 == 0) buffer.Add(11, Record(n11++, 11));
    if (i % 3 == 0) buffer.Add(12, Record(n12++, 12));
    ASSERT_LE(buffer.stats().memory_bytes, limit + kFrameChunkBytes);
  }
  EXPECT_TRUE(fs::exists(dir_ / "txn-10-0.spill"));
  EXPECT_EQ(buffer.stats().open_transactions, 3u);
  // Commit in another order than begun; each transaction has exactly its own records.
  auto t12 = buffer.Commit(Info(12));
  auto t10 = buffer.Commit(Info(10));
  auto t11 = buffer.Commit(Info(11));
  EXPECT_TRUE(t10->spilled());
  EXPECT_FALSE(t12->spilled());
  struct Expect {
    CommittedTransaction* t;
    uint32_t table;
    int n;
    size_t pad;
  };
  for (const Expect& e : {Expect{t10.get(), 10, n10, pad}, Expect{t11.get(), 11, n11, 0},
                          Expect{t12.get(), 12, n12, 0}}) {
    SCOPED_TRACE(e.table);
    EXPECT_EQ(e.t->changes(), e.n);
    ChangeView v;
    for (int i = 0; i < e.n; ++i) {
      ASSERT_TRUE(e.t->Next(&v));
      ExpectRecord(v, i, e.table, e.pad);
    }
    EXPECT_FALSE(e.t->Next(&v));
  }
  t10.reset();
  t11.reset();
  t12.reset();
  EXPECT_EQ(SpillFiles(), 0);
  EXPECT_EQ(buffer.stats().memory_bytes, 0u);
}

TEST_F(TransactionBufferTest, CommittedTransactionsCountAndOutliveTheBuffer) {
  std::unique_ptr<CommittedTransaction> kept;
  {
    TransactionBuffer buffer(Limits(2 * kFrameChunkBytes));
    buffer.Begin(1);
    for (int i = 0; i < 10000; ++i) buffer.Add(1, Record(i, 1, 100));  // ~1.2 MB
    kept = buffer.Commit(Info(1));
    EXPECT_FALSE(kept->spilled());
    const size_t held = buffer.stats().memory_bytes;
    EXPECT_GT(held, kFrameChunkBytes);
    // A second transaction cannot fit next to the committed one: it spills, not the other.
    buffer.Begin(2);
    for (int i = 0; i < 10000; ++i) buffer.Add(2, Record(i, 2, 100));
    EXPECT_EQ(buffer.stats().spill_files_now, 1);
    auto second = buffer.Commit(Info(2));
    EXPECT_TRUE(second->spilled());
    EXPECT_FALSE(kept->spilled());
    // Moving keeps the accounting with the transaction.
    CommittedTransaction moved(std::move(*second));
    EXPECT_EQ(moved.changes(), 10000);
    second.reset();
    EXPECT_EQ(SpillFiles(), 1);
  }
  EXPECT_EQ(SpillFiles(), 0);
  ChangeView v;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(kept->Next(&v));
    ExpectRecord(v, i, 1, 100);
  }
  EXPECT_FALSE(kept->Next(&v));
}

TEST_F(TransactionBufferTest, ClearDropsOpenTransactionsAndFiles) {
  TransactionBuffer buffer(Limits(2 * kFrameChunkBytes));
  buffer.Begin(1);
  buffer.Begin(2);
  for (int i = 0; i < 80000; ++i) buffer.Add(1, Record(i));
  buffer.Add(2, Record(1));
  EXPECT_EQ(SpillFiles(), 1);
  EXPECT_EQ(buffer.stats().open_transactions, 2u);
  buffer.Clear();
  BufferStats s = buffer.stats();
  EXPECT_EQ(s.open_transactions, 0u);
  EXPECT_EQ(s.memory_bytes, 0u);
  EXPECT_EQ(s.spill_files_now, 0);
  EXPECT_EQ(s.spilled_bytes_now, 0);
  EXPECT_EQ(SpillFiles(), 0);
  // The same xids can begin again after a reconnect.
  buffer.Begin(1);
  buffer.Add(1, Record(5));
  auto t = buffer.Commit(Info(1));
  ChangeView v;
  ASSERT_TRUE(t->Next(&v));
  ExpectRecord(v, 5);
  EXPECT_FALSE(t->Next(&v));
}

TEST_F(TransactionBufferTest, AbortAndMisuse) {
  TransactionBuffer buffer(Limits(kFrameChunkBytes));
  buffer.Begin(1);
  for (int i = 0; i < 40000; ++i) buffer.Add(1, Record(i));
  EXPECT_EQ(SpillFiles(), 1);
  buffer.Abort(1, 2);  // a subtransaction that added nothing: nothing changes
  EXPECT_EQ(SpillFiles(), 1);
  buffer.Abort(1, 1);
  EXPECT_EQ(SpillFiles(), 0);
  EXPECT_EQ(buffer.stats().open_transactions, 0u);
  buffer.Abort(99, 99);  // not open: nothing

  buffer.Begin(3);
  try {
    buffer.Begin(3);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
  }
  // Add without Begin opens the transaction; Commit of an unknown one is empty.
  buffer.Add(4, Record(1));
  EXPECT_EQ(buffer.stats().open_transactions, 2u);
  auto empty = buffer.Commit(Info(77));
  EXPECT_EQ(empty->changes(), 0);
  ChangeView v;
  EXPECT_FALSE(empty->Next(&v));
  auto four = buffer.Commit(Info(4));
  EXPECT_EQ(four->changes(), 1);
}

TEST_F(TransactionBufferTest, LeftoverSpillFilesDeletedAtStart) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "txn-1-0.spill") << "old";
  std::ofstream(dir_ / "keep.txt") << "mine";
  TransactionBuffer buffer(Limits(kFrameChunkBytes));
  EXPECT_FALSE(fs::exists(dir_ / "txn-1-0.spill"));
  EXPECT_TRUE(fs::exists(dir_ / "keep.txt"));
}

TEST_F(TransactionBufferTest, RecordsLargerThanAChunk) {
  const size_t big = 3 * kFrameChunkBytes + 17;
  for (bool spill : {false, true}) {
    SCOPED_TRACE(spill);
    TransactionBuffer buffer(Limits(spill ? 2 * kFrameChunkBytes : 64 * kFrameChunkBytes));
    buffer.Begin(1);
    buffer.Add(1, Record(0));
    buffer.Add(1, Record(1, 1, big));
    buffer.Add(1, Record(2));
    buffer.Add(1, Record(3, 1, big));
    auto t = buffer.Commit(Info(1));
    EXPECT_EQ(t->spilled(), spill);
    ChangeView v;
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(t->Next(&v));
      ExpectRecord(v, i, 1, i % 2 ? big : 0);
    }
    EXPECT_FALSE(t->Next(&v));
  }
}

TEST_F(TransactionBufferTest, NoSpillDirectory) {
  BufferLimits limits;
  limits.memory_limit_bytes = 1000;
  TransactionBuffer buffer(limits);
  buffer.Begin(1);
  try {
    for (int i = 0; i < 100; ++i) buffer.Add(1, Record(i));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("transaction 1"), std::string::npos) << e.what();
  }
}

// Spill file bytes changed under the transaction: kData naming the file and the offset.
TEST_F(TransactionBufferTest, MalformedSpillFile) {
  auto make = [&](TransactionBuffer& buffer) {
    buffer.Begin(8);
    for (int i = 0; i < 40000; ++i) buffer.Add(8, Record(i));
    return buffer.Commit(Info(8));
  };
  const fs::path file = dir_ / "txn-8-0.spill";
  {
    TransactionBuffer buffer(Limits(kFrameChunkBytes));
    auto t = make(buffer);
    ASSERT_TRUE(t->spilled());
    const size_t one = 4 + Record(0).size();
    {  // corrupt the op byte of the second record
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(one + 4));
      f.put('Z');
    }
    ChangeView v;
    ASSERT_TRUE(t->Next(&v));
    try {
      t->Next(&v);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData);
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find("frame at byte " + std::to_string(one)), std::string::npos) << msg;
    }
  }
  {
    TransactionBuffer buffer(Limits(kFrameChunkBytes));
    auto t = make(buffer);
    const auto size = fs::file_size(file);
    fs::resize_file(file, size - 3);  // cut: the reader expects `size` bytes
    ChangeView v;
    try {
      while (t->Next(&v)) {
      }
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData);
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  }
  {
    TransactionBuffer buffer(Limits(kFrameChunkBytes));
    auto t = make(buffer);
    {  // a frame length that runs past the end
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(0);
      f.write("\xff\xff\xff\x7f", 4);
    }
    ChangeView v;
    try {
      t->Next(&v);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData);
      EXPECT_NE(std::string(e.what()).find("frame at byte 0 declares 2147483647 bytes"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace ferry::cdc

namespace ferry::cdc {
namespace {

// ROLLBACK TO SAVEPOINT in a streamed transaction: the subtransaction's records, and those of
// the subtransactions inside it, go; the others stay. In memory and spilled alike.
class SubtransactionAbort : public TransactionBufferTest,
                            public ::testing::WithParamInterface<bool> {};

TEST_P(SubtransactionAbort, DropsTheSubtransactionAndItsChildren) {
  const bool spill = GetParam();
  TransactionBuffer buffer(Limits(spill ? kFrameChunkBytes : size_t{1} << 30));
  buffer.Begin(10);
  int n = 0;
  std::vector<int> want;
  auto add = [&](uint32_t subxid, int count, bool kept) {
    for (int i = 0; i < count; ++i, ++n) {
      buffer.Add(10, Record(n), subxid);
      if (kept) want.push_back(n);
    }
  };
  add(10, 100, true);      // the transaction itself
  add(11, 20000, false);   // SAVEPOINT a ... later rolled back
  add(12, 20000, false);   //   SAVEPOINT b inside a
  buffer.Abort(10, 12);    //   ROLLBACK TO b
  add(11, 50, false);      // a goes on
  buffer.Abort(10, 11);    // ROLLBACK TO a
  add(13, 30, true);       // SAVEPOINT c, released
  add(10, 10, true);
  buffer.Abort(10, 99);    // a subtransaction that added nothing
  EXPECT_EQ(SpillFiles(), spill ? 1 : 0);
  auto t = buffer.Commit(Info(10));
  EXPECT_EQ(t->changes(), static_cast<int64_t>(want.size()));
  ChangeView v;
  for (int expected : want) {
    ASSERT_TRUE(t->Next(&v)) << "missing record " << expected;
    ExpectRecord(v, expected);
  }
  EXPECT_FALSE(t->Next(&v));
}

INSTANTIATE_TEST_SUITE_P(InMemoryAndSpilled, SubtransactionAbort, ::testing::Bool());

}  // namespace
}  // namespace ferry::cdc
