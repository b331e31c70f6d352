// The PostgreSQL ChangeApplier on the real server: changes built from Batches (no capture),
// applied in pipelined transactions, and the target tables compared value by value.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "change/change.h"
#include "change/change_applier.h"
#include "connectors/postgres/pg_position.h"
#include "test_env.h"
#include "types/value_codec.h"

namespace ferry::testing {
namespace {

using cdc::ApplyIssue;
using cdc::ApplyOutcome;
using cdc::ChangeOp;
using cdc::ChangeView;
using cdc::OldImage;
using Value = std::optional<std::string>;
using Rows = std::vector<std::vector<Value>>;

constexpr const char* kSchema = "applypg_t";
constexpr const char* kControl = "applypg_ctl";
constexpr const char* kTask = "applypg_task";

const char* const kUnchanged = "\x01unchanged";

// Appends `value` (text as PostgreSQL prints it; raw bytes for binary columns) to `b` in the
// cell encoding of `type`.
void AppendValue(Batch* b, const DmsType& type, const Value& value) {
  if (!value) {
    b->AppendNull();
    return;
  }
  if (*value == kUnchanged) {
    b->AppendUnchanged();
    return;
  }
  const std::string& v = *value;
  switch (StorageOf(type.kind)) {
    case Storage::kInt:
      switch (type.kind) {
        case DmsKind::kBoolean:
          b->AppendInt(v == "t" ? 1 : 0);
          break;
        case DmsKind::kDate:
          b->AppendInt(*ParseDate(v));
          break;
        case DmsKind::kTime:
          b->AppendInt(*ParseTime(v));
          break;
        case DmsKind::kDatetime:
          b->AppendInt(*ParseDatetime(v));
          break;
        default:
          b->AppendInt(std::stoll(v));
      }
      break;
    case Storage::kUint:
      b->AppendUint(std::stoull(v));
      break;
    case Storage::kDouble:
      b->AppendDouble(std::stod(v));
      break;
    case Storage::kBytes:
      b->AppendBytes(v);
      break;
  }
}

void AppendRow(Batch* b, const TableDef& t, const std::vector<Value>& row) {
  ASSERT_EQ(row.size(), t.columns.size());
  for (size_t i = 0; i < row.size(); ++i) AppendValue(b, t.columns[i].type, row[i]);
}

class PgApplier : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    pg_ = Open(PostgresUri());
    s_ = pg_->OpenSession();
    Cleanup();
    s_->Execute(std::string("CREATE SCHEMA ") + kSchema);
    s_->Execute(R"(CREATE TABLE applypg_t.alltypes (
        id integer PRIMARY KEY, b boolean, i2 smallint, i8 bigint, n_small numeric(10,2),
        n_big numeric(38,10), r4 real, r8 double precision, s varchar(100), t text, bin bytea,
        d date, tm time(6), ts timestamp(6), tz timestamptz(6), u uuid, j jsonb, iv interval,
        v5 varchar(5));
      CREATE TABLE applypg_t.nokey (a integer, b text);
      CREATE TABLE applypg_t.bench (id integer PRIMARY KEY, v integer, s text))");
    auto catalog = pg_->OpenCatalog();
    all_ = catalog->GetTable(kSchema, "alltypes");
    nokey_ = catalog->GetTable(kSchema, "nokey");
    bench_ = catalog->GetTable(kSchema, "bench");
    applier_ = pg_->OpenChangeApplier();
    applier_->Prepare(kControl);
    applier_->ClearCheckpoint(kTask);
  }
  void TearDown() override {
    applier_.reset();
    if (s_) Cleanup();
  }
  void Cleanup() {
    s_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSchema +
                " CASCADE; DROP SCHEMA IF EXISTS " + kControl + " CASCADE");
  }

  // A full row of alltypes with `id` and small variations from `seed`.
  std::vector<Value> AllRow(int id, int seed) {
    const std::string n = std::to_string(seed);
    return {std::to_string(id),
            seed % 2 ? "t" : "f",
            std::to_string(-seed),
            "9223372036854775807",
            n + ".25",
            "-123456789012345678901234567.0123456789",
            "1.5",
            "0.1",
            "plain " + n,
            "tab\there\nnewline\\backslash \xF0\x9F\x98\x80 'quote'",
            std::string("\x00\xff\\x", 4),
            "2024-02-29",
            "12:34:56.789",
            "2024-02-29 12:34:56.123456",
            "1999-12-31 23:59:59.5",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1" + std::to_string(seed % 10),
            R"({"a": [1, 2], "b": "x"})",
            "1 day 02:03:04",
            "ab"};
  }

  // One change over rows of a fresh batch: `old_row`/`new_row` as given (nullopt = none).
  struct Change {
    Batch batch;
    ChangeView view;
  };
  std::unique_ptr<Change> Make(const TableDef& t, ChangeOp op, OldImage old_kind,
                               const std::optional<std::vector<Value>>& old_row,
                               const std::optional<std::vector<Value>>& new_row) {
    auto c = std::make_unique<Change>();
    c->batch = Batch(static_cast<int>(t.columns.size()));
    c->view.op = op;
    c->view.old_kind = old_kind;
    c->view.rows = &c->batch;
    int row = 0;
    if (old_row) {
      AppendRow(&c->batch, t, *old_row);
      c->view.old_row = row++;
    }
    if (new_row) {
      AppendRow(&c->batch, t, *new_row);
      c->view.new_row = row++;
    }
    return c;
  }
  void Insert(const TableDef& t, const std::vector<Value>& row, bool upsert = false,
              uint64_t tag = 0) {
    auto c = Make(t, ChangeOp::kInsert, OldImage::kNone, std::nullopt, row);
    applier_->Apply(t, c->view, upsert, tag);
  }

  Rows Select(const std::string& sql) { return s_->Query(sql); }
  // alltypes as text, in column order, by id.
  Rows AllTypes() {
    return Select(
        "SELECT id, b, i2, i8, n_small, n_big, r4, r8, s, t, encode(bin, 'hex'), d, tm, ts, tz, "
        "u, j, iv, v5 FROM applypg_t.alltypes ORDER BY id");
  }
  // The row as AllTypes() prints it.
  static std::vector<Value> Printed(std::vector<Value> row) {
    if (row[10]) {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string hex;
      for (unsigned char c : *row[10]) {
        hex.push_back(kHex[c >> 4]);
        hex.push_back(kHex[c & 15]);
      }
      row[10] = hex;
    }
    if (row[14]) row[14] = *row[14] + "+00";
    if (row[4] && row[4]->find('.') == std::string::npos) row[4] = *row[4] + ".00";
    return row;
  }

  std::unique_ptr<SqlConnector> pg_;
  std::unique_ptr<SqlSession> s_;
  std::unique_ptr<cdc::ChangeApplier> applier_;
  TableDef all_, nokey_, bench_;
};

TEST_F(PgApplier, EveryChangeTypeOnEveryType) {
  const std::vector<Value> r1 = AllRow(1, 1), r2 = AllRow(2, 2);
  std::vector<Value> nulls(all_.columns.size());
  nulls[0] = "3";
  applier_->Begin();
  Insert(all_, r1);
  Insert(all_, r2);
  Insert(all_, nulls);
  EXPECT_TRUE(applier_->Flush().empty());
  {
    Rows rows = AllTypes();  // another session: nothing committed yet
    EXPECT_TRUE(rows.empty());
  }
  applier_->Commit(kTask, {"0/10", 1000});
  Rows rows = AllTypes();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], Printed(r1));
  EXPECT_EQ(rows[1], Printed(r2));
  EXPECT_EQ(rows[2], nulls);

  // Update without key change, with unchanged cells (t and j left as they are).
  std::vector<Value> u1 = AllRow(1, 7);
  u1[9] = kUnchanged;
  u1[16] = kUnchanged;
  // Update with a key change (old key image), and a delete.
  std::vector<Value> old_key(all_.columns.size());
  old_key[0] = "2";
  std::vector<Value> u2 = AllRow(20, 2);
  applier_->Begin();
  auto c1 = Make(all_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, u1);
  applier_->Apply(all_, c1->view, false, 1);
  auto c2 = Make(all_, ChangeOp::kUpdate, OldImage::kKey, old_key, u2);
  applier_->Apply(all_, c2->view, false, 2);
  std::vector<Value> del_key(all_.columns.size());
  del_key[0] = "3";
  auto c3 = Make(all_, ChangeOp::kDelete, OldImage::kKey, del_key, std::nullopt);
  applier_->Apply(all_, c3->view, false, 3);
  // An update whose every non-key column is unchanged: a no-op that counts as applied.
  std::vector<Value> noop(all_.columns.size(), std::optional<std::string>(kUnchanged));
  noop[0] = "1";
  auto c4 = Make(all_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, noop);
  applier_->Apply(all_, c4->view, false, 4);
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit(kTask, {"0/20", 2000});
  rows = AllTypes();
  ASSERT_EQ(rows.size(), 2u);
  std::vector<Value> want1 = Printed(AllRow(1, 7));
  want1[9] = r1[9];
  want1[16] = r1[16];
  EXPECT_EQ(rows[0], want1);
  EXPECT_EQ(rows[1], Printed(u2));

  applier_->Begin();
  auto tr = Make(all_, ChangeOp::kTruncate, OldImage::kNone, std::nullopt, std::nullopt);
  applier_->Apply(all_, tr->view, false, 5);
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit(kTask, {"0/30", 3000});
  EXPECT_TRUE(AllTypes().empty());
}

TEST_F(PgApplier, DuplicatesAndMissingRowsAreReportedInOrder) {
  const std::vector<Value> r1 = AllRow(1, 1);
  applier_->Begin();
  Insert(all_, r1);
  applier_->Commit(kTask, {"0/10", 0});

  applier_->Begin();
  Insert(all_, AllRow(1, 5), false, 10);  // duplicate
  std::vector<Value> missing = AllRow(99, 1);
  auto up = Make(all_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, missing);
  applier_->Apply(all_, up->view, false, 11);
  Insert(all_, AllRow(2, 2), false, 12);  // applies: the transaction went on
  auto del = Make(all_, ChangeOp::kDelete, OldImage::kFull, missing, std::nullopt);
  applier_->Apply(all_, del->view, false, 13);
  EXPECT_EQ(testing::IssuesText(applier_->Flush()), "10 duplicate, 11 no row, 13 no row");
  applier_->Commit(kTask, {"0/20", 0});
  const Rows rows = AllTypes();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], Printed(r1));  // the duplicate changed nothing
  EXPECT_EQ(rows[1], Printed(AllRow(2, 2)));
}

TEST_F(PgApplier, UpsertVariants) {
  applier_->Begin();
  Insert(all_, AllRow(1, 1));
  Insert(all_, AllRow(2, 2));
  applier_->Commit(kTask, {"0/10", 0});

  applier_->Begin();
  Insert(all_, AllRow(1, 5), true, 1);  // overwrites
  auto up = Make(all_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, AllRow(50, 3));
  applier_->Apply(all_, up->view, true, 2);  // no row: inserted
  auto up2 = Make(all_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, AllRow(2, 4));
  applier_->Apply(all_, up2->view, true, 3);  // row exists: updated
  // Key change onto a key that exists while the old one is missing: nothing can be done.
  std::vector<Value> old_key(all_.columns.size());
  old_key[0] = "77";
  auto up3 = Make(all_, ChangeOp::kUpdate, OldImage::kKey, old_key, AllRow(1, 9));
  applier_->Apply(all_, up3->view, true, 4);
  const std::vector<ApplyIssue> issues = applier_->Flush();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].tag, 4u);
  EXPECT_EQ(issues[0].outcome, ApplyOutcome::kDuplicate);
  applier_->Commit(kTask, {"0/20", 0});
  const Rows rows = AllTypes();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], Printed(AllRow(1, 5)));
  EXPECT_EQ(rows[1], Printed(AllRow(2, 4)));
  EXPECT_EQ(rows[2], Printed(AllRow(50, 3)));
}

TEST_F(PgApplier, TableWithoutKeyChangesExactlyOneRow) {
  s_->Execute("INSERT INTO applypg_t.nokey VALUES (1, 'a'), (1, 'a'), (2, NULL), (3, 'c')");
  applier_->Begin();
  auto del =
      Make(nokey_, ChangeOp::kDelete, OldImage::kFull, std::vector<Value>{"1", "a"}, std::nullopt);
  applier_->Apply(nokey_, del->view, false, 1);
  auto up = Make(nokey_, ChangeOp::kUpdate, OldImage::kFull, std::vector<Value>{"2", std::nullopt},
                 std::vector<Value>{"2", "z"});
  applier_->Apply(nokey_, up->view, false, 2);
  auto miss =
      Make(nokey_, ChangeOp::kDelete, OldImage::kFull, std::vector<Value>{"9", "q"}, std::nullopt);
  applier_->Apply(nokey_, miss->view, false, 3);
  const std::vector<ApplyIssue> issues = applier_->Flush();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].tag, 3u);
  EXPECT_EQ(issues[0].outcome, ApplyOutcome::kNoRow);
  // Only the key in the old image: the source table needs REPLICA IDENTITY FULL.
  auto bad = Make(nokey_, ChangeOp::kDelete, OldImage::kKey, std::vector<Value>{"3", std::nullopt},
                  std::nullopt);
  try {
    applier_->Apply(nokey_, bad->view, false, 4);
    FAIL() << "expected Error(kData)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("REPLICA IDENTITY FULL"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("applypg_t.nokey"), std::string::npos) << e.what();
  }
  applier_->Commit(kTask, {"0/10", 0});
  const Rows rows = Select("SELECT a, b FROM applypg_t.nokey ORDER BY a, b");
  const Rows want = {{"1", "a"}, {"2", "z"}, {"3", "c"}};
  EXPECT_EQ(rows, want);
}

TEST_F(PgApplier, CheckpointCommitsWithTheDataAndRollbackDiscardsBoth) {
  EXPECT_FALSE(applier_->ReadCheckpoint(kTask).has_value());
  const int64_t t1 = 1700000000123456;
  applier_->Begin();
  Insert(all_, AllRow(1, 1));
  applier_->Commit(kTask, {"0/16B3748", t1});
  std::optional<cdc::Checkpoint> cp = applier_->ReadCheckpoint(kTask);
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->position, "0/16B3748");
  EXPECT_EQ(cp->commit_time_us, t1);
  const Rows state = Select(
      "SELECT task_name, checkpoint FROM applypg_ctl.awsdms_txn_state WHERE task_name = "
      "'applypg_task'");
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0][1], "0/16B3748");

  applier_->Begin();
  Insert(all_, AllRow(2, 2));
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Rollback();
  EXPECT_EQ(AllTypes().size(), 1u);
  cp = applier_->ReadCheckpoint(kTask);
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->position, "0/16B3748");

  // Usable again after the rollback; a later checkpoint replaces the row.
  applier_->Begin();
  Insert(all_, AllRow(3, 3));
  applier_->Commit(kTask, {"1/0", t1 + 1});
  EXPECT_EQ(AllTypes().size(), 2u);
  EXPECT_EQ(applier_->ReadCheckpoint(kTask)->position, "1/0");
  applier_->ClearCheckpoint(kTask);
  EXPECT_FALSE(applier_->ReadCheckpoint(kTask).has_value());
}

TEST_F(PgApplier, ValueTooLongIsARowErrorAndSendsNothing) {
  applier_->Begin();
  std::vector<Value> bad = AllRow(1, 1);
  bad[18] = "toolong";
  try {
    Insert(all_, bad);
    FAIL() << "expected RowError";
  } catch (const RowError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("v5"), std::string::npos) << m;
    EXPECT_NE(m.find("applypg_t.alltypes"), std::string::npos) << m;
    EXPECT_EQ(e.row_key, "(id=1)");
    EXPECT_EQ(e.column, 18);
  }
  Insert(all_, AllRow(2, 2));  // the transaction goes on
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit(kTask, {"0/10", 0});
  const Rows rows = AllTypes();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "2");
}

TEST_F(PgApplier, FailedStatementNamesTableAndRollbackRecovers) {
  applier_->Begin();
  Insert(all_, AllRow(1, 1));
  Insert(all_, AllRow(2, 2));
  applier_->Commit(kTask, {"0/10", 0});

  applier_->Begin();
  std::vector<Value> old_key(all_.columns.size());
  old_key[0] = "1";
  auto up = Make(all_, ChangeOp::kUpdate, OldImage::kKey, old_key, AllRow(2, 9));  // key clash
  applier_->Apply(all_, up->view, false, 1);
  Insert(all_, AllRow(3, 3));
  try {
    applier_->Flush();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kData) << m;
    EXPECT_NE(m.find("UPDATE"), std::string::npos) << m;
    EXPECT_NE(m.find("applypg_t.alltypes"), std::string::npos) << m;
    EXPECT_NE(m.find("duplicate key"), std::string::npos) << m;
    EXPECT_EQ(m.find("ferry:ferry@"), std::string::npos) << m;
  }
  EXPECT_EQ(applier_->Statement(all_, up->view).substr(0, 40),
            R"(UPDATE "applypg_t"."alltypes" SET "id"=2)");
  applier_->Rollback();
  // The connection is usable; the prepared statements survived.
  applier_->Begin();
  Insert(all_, AllRow(4, 4));
  applier_->Apply(all_, up->view, false, 2);  // still a clash
  EXPECT_THROW(applier_->Commit(kTask, {"0/20", 0}), Error);
  applier_->Rollback();
  applier_->Begin();
  Insert(all_, AllRow(4, 4));
  applier_->Commit(kTask, {"0/20", 0});
  const Rows rows = AllTypes();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2][0], "4");
  EXPECT_EQ(applier_->ReadCheckpoint(kTask)->position, "0/20");
}

TEST_F(PgApplier, StatementText) {
  std::vector<Value> row = AllRow(1, 1);
  row[9] = std::string(300, 'x');
  auto ins = Make(all_, ChangeOp::kInsert, OldImage::kNone, std::nullopt, row);
  const std::string sql = applier_->Statement(all_, ins->view);
  EXPECT_EQ(sql.rfind(R"(INSERT INTO "applypg_t"."alltypes" ("id", "b", "i2", )", 0), 0u) << sql;
  EXPECT_NE(sql.find("'" + std::string(200, 'x') + "...'"), std::string::npos) << sql;
  EXPECT_NE(sql.find(R"(VALUES (1, 't', -1, 9223372036854775807, 1.25, )"), std::string::npos)
      << sql;
  EXPECT_NE(sql.find(R"(E'\\x00ff5c78')"), std::string::npos) << sql;
  EXPECT_NE(sql.find("'2024-02-29 12:34:56.123456'"), std::string::npos) << sql;
  EXPECT_NE(sql.find("'1999-12-31 23:59:59.5+00'"), std::string::npos) << sql;
  EXPECT_NE(sql.find("'1 day 02:03:04'"), std::string::npos) << sql;
  // The literal statement runs as it is.
  s_->Execute(sql);
  EXPECT_EQ(AllTypes().size(), 1u);
  auto del =
      Make(nokey_, ChangeOp::kDelete, OldImage::kFull, std::vector<Value>{"1", "a"}, std::nullopt);
  EXPECT_EQ(applier_->Statement(nokey_, del->view),
            R"(DELETE FROM "applypg_t"."nokey" WHERE ctid = (SELECT ctid FROM "applypg_t"."nokey" )"
            R"(WHERE "a" IS NOT DISTINCT FROM 1 AND "b" IS NOT DISTINCT FROM 'a' LIMIT 1))");
}

TEST_F(PgApplier, ThroughputOfSingleRowUpdates) {
  constexpr int kRows = 100000, kGroup = 1000;
  s_->Execute("INSERT INTO applypg_t.bench SELECT g, 0, 'row ' || g FROM generate_series(1, " +
              std::to_string(kRows) + ") g");
  s_->Execute("ANALYZE applypg_t.bench");
  Batch b(3);
  for (int i = 1; i <= kRows; ++i) {
    b.AppendInt(i);
    b.AppendInt(int64_t{i} * 7);
    b.AppendBytes("updated row " + std::to_string(i));
  }
  const auto start = std::chrono::steady_clock::now();
  for (int g = 0; g < kRows / kGroup; ++g) {
    applier_->Begin();
    for (int i = g * kGroup; i < (g + 1) * kGroup; ++i) {
      ChangeView v;
      v.op = ChangeOp::kUpdate;
      v.rows = &b;
      v.new_row = i;
      applier_->Apply(bench_, v, false, static_cast<uint64_t>(i));
    }
    ASSERT_TRUE(applier_->Flush().empty());
    applier_->Commit(kTask, {postgres::FormatLsn(static_cast<postgres::Lsn>(g) + 1), 0});
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format(
      "[applypg] {} single-row updates in groups of {}: {:.2f} s, {:.0f} "
      "rows/s\n",
      kRows, kGroup, secs, kRows / secs);
  RecordProperty("rows_per_second", static_cast<int>(kRows / secs));
  const Rows check =
      Select("SELECT count(*) FROM applypg_t.bench WHERE v = id * 7 AND s = 'updated row ' || id");
  EXPECT_EQ(check[0][0], std::to_string(kRows));
}

}  // namespace
}  // namespace ferry::testing
