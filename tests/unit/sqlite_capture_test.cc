// The SQLite change capture on a file of its own (no server): positions, the objects it
// creates and drops, what its triggers record and how Poll delivers it, a schema change.
#include "connectors/sqlite/sqlite_capture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "change/change.h"
#include "connectors/sqlite/sqlite_catalog.h"
#include "connectors/sqlite/sqlite_position.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {
namespace {

TEST(SqlitePosition, TextAndOrder) {
  const cdc::PositionCodec& codec = SeqCodec();
  EXPECT_TRUE(SeqPosition(0).empty());
  EXPECT_EQ(codec.Format(cdc::Position()), "0");
  EXPECT_EQ(codec.Format(SeqPosition(1234)), "1234");
  for (int64_t v :
       {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{256}, int64_t{1} << 40, INT64_MAX}) {
    const cdc::Position p = SeqPosition(v);
    EXPECT_EQ(PositionSeq(p), v);
    EXPECT_EQ(codec.Parse(codec.Format(p)), p);
  }
  EXPECT_LT(SeqPosition(255), SeqPosition(256));
  EXPECT_LT(SeqPosition(1), SeqPosition(int64_t{1} << 40));
  EXPECT_LT(cdc::Position(), SeqPosition(1));
  for (const char* bad : {"", "-1", "abc", "12a", "9223372036854775808", "1/2"}) {
    EXPECT_FALSE(codec.Parse(bad)) << bad;
  }
  EXPECT_THROW(PositionSeq(cdc::Position("abc")), Error);
}

TEST(SqliteCaptureNames, CaptureTablesAreRecognisedOnlyAsATriple) {
  const std::vector<std::string> all{
      "ferry_t_1_changes", "ferry_t_1_values", "ferry_t_1_meta", "orders", "x_changes", "x_meta"};
  EXPECT_TRUE(IsCaptureTable("ferry_t_1_changes", all));
  EXPECT_TRUE(IsCaptureTable("ferry_t_1_values", all));
  EXPECT_TRUE(IsCaptureTable("ferry_t_1_meta", all));
  EXPECT_FALSE(IsCaptureTable("orders", all));
  EXPECT_FALSE(IsCaptureTable("x_changes", all));  // no x_values: the user's own table
}

struct Delivered {
  std::vector<std::string> records;
  std::vector<cdc::TransactionInfo> commits;
  std::vector<std::pair<uint32_t, TableDef>> changed;
  std::vector<uint32_t> dropped;
  int idle = 0;
};

class Sink : public cdc::CaptureSink {
 public:
  explicit Sink(Delivered& d) : d_(d) {}
  void OnBegin(uint32_t) override {}
  void OnChange(uint32_t, std::string_view record) override { d_.records.emplace_back(record); }
  void OnCommit(const cdc::TransactionInfo& txn) override { d_.commits.push_back(txn); }
  void OnTableChanged(uint32_t table, const TableDef& def, const cdc::Position&) override {
    d_.changed.emplace_back(table, def);
  }
  void OnTableDropped(uint32_t table) override { d_.dropped.push_back(table); }
  void OnIdle(const cdc::Position&) override { ++d_.idle; }

 private:
  Delivered& d_;
};

class SqliteCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("ferry-sqlite-capture-" + std::to_string(::getpid()) + ".db"))
                .string();
    Remove();
    app_ = std::make_unique<Connection>(path_, Connection::Mode::kReadWrite);
    app_->Exec(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n BIGINT, r DOUBLE, s TEXT, b BLOB, "
        "any_value);"
        "CREATE TABLE nokey (a INTEGER, b TEXT)");
    SqliteCatalogReader catalog(path_);
    options_.task = "t";
    options_.task_id = "1a2b3c4d";
    options_.slot = options_.publication = "ferry_t_1a2b3c4d";
    options_.owner = R"({"ferry_task": "t", "task_id": "1a2b3c4d"})";
    options_.tables = catalog.ListTables("main");
    ASSERT_EQ(options_.tables.size(), 2u);
    ASSERT_EQ(options_.tables[1].name, "t");
  }
  void TearDown() override {
    app_.reset();
    Remove();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(path_ + suffix);
    }
  }
  int64_t Count(const std::string& sql) { return app_->QueryInt(sql, -1); }

  std::string path_;
  std::unique_ptr<Connection> app_;
  cdc::CaptureOptions options_;
};

TEST_F(SqliteCaptureTest, RecordsDeliversConfirmsAndDrops) {
  cdc::CaptureOptions o = options_;
  o.new_slot = true;
  o.export_snapshot = true;
  auto capture = OpenSqliteCapture(path_, DatetimeNumbers::kAuto, o);
  capture->CheckPrerequisites();
  EXPECT_FALSE(capture->SlotExists());
  const cdc::PrepareResult pr = capture->Prepare();
  EXPECT_TRUE(pr.slot_created);
  EXPECT_TRUE(pr.start.empty());
  ASSERT_TRUE(pr.snapshot);
  EXPECT_TRUE(capture->SlotExists());
  EXPECT_EQ(Count("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 6);
  // The catalog never lists the capture's own tables.
  EXPECT_EQ(SqliteCatalogReader(path_).ListTables("main").size(), 2u);
  // A second task of the same name is refused.
  EXPECT_THROW(OpenSqliteCapture(path_, DatetimeNumbers::kAuto, o)->Prepare(), Error);

  app_->Exec("INSERT INTO t VALUES (1, 9223372036854775807, 1e999, 'a', x'00ff', 7)");
  {
    // Text with a NUL byte keeps its bytes.
    Statement st(*app_, "INSERT INTO t (id, s) VALUES (2, ?1)");
    st.BindText(1, std::string("x\0y", 3));
    st.Step();
  }
  // A table snapshot taken now stands after those two changes.
  {
    std::unique_ptr<SourceSnapshot> table = pr.snapshot->ForTable(o.tables[1]);
    table->ReadersJoined();
    EXPECT_EQ(PositionSeq(table->position()), 2);
  }
  app_->Exec(
      "BEGIN; UPDATE t SET id = 3, r = -0.5 WHERE id = 1; DELETE FROM t WHERE id = 2;"
      "INSERT INTO nokey VALUES (5, 'five'); UPDATE nokey SET b = 'V'; COMMIT");

  capture->Start(pr.start);
  Delivered d;
  Sink sink(d);
  capture->Poll(sink, std::chrono::milliseconds(100));
  // Two transactions: none spans the table snapshot's position, so the engine can tell the
  // changes its rows hold (ending at or before it) from the ones after.
  ASSERT_EQ(d.commits.size(), 2u);
  EXPECT_EQ(PositionSeq(d.commits[0].end_position), 2);
  EXPECT_EQ(PositionSeq(d.commits[1].end_position), 6);
  ASSERT_EQ(d.records.size(), 6u);

  cdc::ChangeView v;
  {
    cdc::ChangeReader r(d.records[0]);
    ASSERT_TRUE(r.Next(&v));
    EXPECT_EQ(v.op, cdc::ChangeOp::kInsert);
    EXPECT_EQ(v.table, 1u);
    EXPECT_EQ(v.rows->at(v.new_row, 0).i, 1);
    EXPECT_EQ(v.rows->at(v.new_row, 1).i, INT64_MAX);
    EXPECT_TRUE(std::isinf(v.rows->at(v.new_row, 2).d));
    EXPECT_EQ(v.rows->Bytes(v.new_row, 3), "a");
    EXPECT_EQ(v.rows->Bytes(v.new_row, 4), std::string("\0\xff", 2));
  }
  {
    cdc::ChangeReader r(d.records[1]);
    ASSERT_TRUE(r.Next(&v));
    EXPECT_EQ(v.rows->Bytes(v.new_row, 3), std::string("x\0y", 3));
    EXPECT_TRUE(v.rows->at(v.new_row, 1).null);
  }
  {
    cdc::ChangeReader r(d.records[2]);
    ASSERT_TRUE(r.Next(&v));
    EXPECT_EQ(v.op, cdc::ChangeOp::kUpdate);
    EXPECT_EQ(v.old_kind, cdc::OldImage::kKey);
    EXPECT_EQ(v.rows->at(v.old_row, 0).i, 1);
    EXPECT_TRUE(v.rows->at(v.old_row, 3).null);  // outside the key
    EXPECT_EQ(v.rows->at(v.new_row, 0).i, 3);
    EXPECT_EQ(v.rows->at(v.new_row, 2).d, -0.5);
  }
  {
    cdc::ChangeReader r(d.records[3]);
    ASSERT_TRUE(r.Next(&v));
    EXPECT_EQ(v.op, cdc::ChangeOp::kDelete);
    EXPECT_EQ(v.rows->at(v.old_row, 0).i, 2);
  }
  {
    cdc::ChangeReader r(d.records[5]);
    ASSERT_TRUE(r.Next(&v));
    EXPECT_EQ(v.op, cdc::ChangeOp::kUpdate);
    EXPECT_EQ(v.table, 0u);
    EXPECT_EQ(v.old_kind, cdc::OldImage::kFull);  // no primary key: the whole old row
    EXPECT_EQ(v.rows->Bytes(v.old_row, 1), "five");
    EXPECT_EQ(v.rows->Bytes(v.new_row, 1), "V");
  }

  // Nothing new: idle within the wait.
  capture->Poll(sink, std::chrono::milliseconds(50));
  EXPECT_EQ(d.commits.size(), 2u);
  EXPECT_EQ(d.idle, 1);

  capture->Confirm(SeqPosition(4));
  EXPECT_EQ(Count("SELECT count(*) FROM ferry_t_1a2b3c4d_changes"), 2);
  EXPECT_EQ(Count("SELECT min(seq) FROM ferry_t_1a2b3c4d_values"), 5);
  EXPECT_EQ(Count("SELECT confirmed FROM ferry_t_1a2b3c4d_meta"), 4);

  // Resumed: the objects are there, the start is the confirmed position.
  o.new_slot = false;
  auto resumed = OpenSqliteCapture(path_, DatetimeNumbers::kAuto, o);
  EXPECT_EQ(PositionSeq(resumed->Prepare().start), 4);
  const std::vector<cdc::CaptureObject> objects = resumed->ListObjects();
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0].name, "ferry_t_1a2b3c4d");
  ASSERT_TRUE(objects[0].owner);
  EXPECT_EQ(objects[0].owner->task_id, "1a2b3c4d");

  const cdc::DropResult dropped = resumed->DropObjects();
  EXPECT_TRUE(dropped.slot_found && dropped.slot_dropped);
  EXPECT_TRUE(dropped.publication_found && dropped.publication_dropped);
  EXPECT_EQ(Count("SELECT count(*) FROM sqlite_master WHERE name LIKE 'ferry%'"), 0);
  app_->Exec("INSERT INTO t (id) VALUES (50)");  // the application writes on
}

TEST_F(SqliteCaptureTest, AddColumnRecreatesTriggersAndReportsTheNewShape) {
  cdc::CaptureOptions o = options_;
  o.new_slot = true;
  auto capture = OpenSqliteCapture(path_, DatetimeNumbers::kAuto, o);
  const cdc::PrepareResult pr = capture->Prepare();
  capture->Start(pr.start);
  Delivered d;
  Sink sink(d);
  app_->Exec("INSERT INTO t (id, s) VALUES (1, 'before')");
  app_->Exec("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'd'");
  app_->Exec("INSERT INTO t (id, s, extra) VALUES (2, 'between', 'lost')");
  capture->Poll(sink, std::chrono::milliseconds(100));
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].first, 1u);
  EXPECT_EQ(d.changed[0].second.columns.size(), 7u);
  ASSERT_EQ(d.records.size(), 2u);
  cdc::ChangeView v;
  cdc::ChangeReader r1(d.records[1]);
  ASSERT_TRUE(r1.Next(&v));
  // Recorded by the old trigger: the new column is "unchanged" (the target's default).
  EXPECT_TRUE(v.rows->at(v.new_row, 6).unchanged);

  app_->Exec("INSERT INTO t (id, s, extra) VALUES (3, 'after', 'kept')");
  capture->Poll(sink, std::chrono::milliseconds(100));
  ASSERT_EQ(d.records.size(), 3u);
  cdc::ChangeReader r2(d.records[2]);
  ASSERT_TRUE(r2.Next(&v));
  EXPECT_EQ(v.rows->Bytes(v.new_row, 6), "kept");

  app_->Exec("DROP TABLE nokey");
  capture->Poll(sink, std::chrono::milliseconds(100));
  ASSERT_EQ(d.dropped.size(), 1u);
  EXPECT_EQ(d.dropped[0], 0u);
}

}  // namespace
}  // namespace ferry::sqlite
