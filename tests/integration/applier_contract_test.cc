// The ChangeApplier contract (change/change_applier.h) for the MySQL/MariaDB and the SQLite
// appliers, one suite over both: changes built from Batches directly, applied to a real target
// (the MariaDB test server's database applymy_t with control schema applymy_ctl; a SQLite file
// in a temporary directory), and read back. The MariaDB case skips when FERRY_TEST_MYSQL_URI is
// unset. The PostgreSQL applier has its own suite (pg_applier_test.cc): it pipelines binary
// parameters and its statements read differently.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "change/change.h"
#include "change/change_applier.h"
#include "connectors/connector.h"
#include "connectors/mysql/my_applier.h"
#include "connectors/mysql/my_writer.h"
#include "test_env.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

using cdc::ApplyIssue;
using cdc::ApplyOutcome;
using cdc::ChangeOp;
using cdc::ChangeView;
using cdc::OldImage;

using Val = std::optional<std::string>;
using Row = std::vector<Val>;
const Val kUnchanged = std::string("\x01unchanged");

// Appends `v` (canonical text; nullopt = NULL; kUnchanged) as a cell of type `t`.
void AppendValue(Batch* b, const DmsType& t, const Val& v) {
  if (!v) return b->AppendNull();
  if (v == kUnchanged) return b->AppendUnchanged();
  switch (StorageOf(t.kind)) {
    case Storage::kInt:
      if (t.kind == DmsKind::kDate) return b->AppendInt(*ParseDate(*v));
      if (t.kind == DmsKind::kTime) return b->AppendInt(*ParseTime(*v));
      if (t.kind == DmsKind::kDatetime) return b->AppendInt(*ParseDatetime(*v));
      return b->AppendInt(std::stoll(*v));
    case Storage::kUint:
      return b->AppendUint(std::stoull(*v));
    case Storage::kDouble:
      if (t.kind == DmsKind::kReal4) {
        return b->AppendDouble(static_cast<double>(static_cast<float>(*ParseDouble(*v))));
      }
      return b->AppendDouble(*ParseDouble(*v));
    case Storage::kBytes:
      return b->AppendBytes(*v);
  }
}

// A change of `table` holding its images in `batch`.
ChangeView MakeChange(Batch* batch, const TableDef& table, ChangeOp op, OldImage old_kind,
                      const std::optional<Row>& old_row, const std::optional<Row>& new_row) {
  *batch = Batch(static_cast<int>(table.columns.size()));
  ChangeView v;
  v.op = op;
  v.old_kind = old_kind;
  v.rows = batch;
  int n = 0;
  for (const auto* r : {&old_row, &new_row}) {
    if (!*r) continue;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      AppendValue(batch, table.columns[c].type, (**r)[c]);
    }
    (r == &old_row ? v.old_row : v.new_row) = n++;
  }
  return v;
}

// What differs between the engines: DDL and the text the appliers produce.
struct Dialect {
  Engine engine;
  std::string schema;          // where the test tables live
  std::string control_schema;  // ControlSchema given to Prepare
  std::string items_ddl, nopk_ddl, alltypes_ddl;
  std::string checkpoint_query;
  std::string too_long;  // the RowError message of a value too long for varchar(10)
  std::string update_statement, insert_statement_head, nopk_delete_statement,
      truncate_statement;
  std::string name;  // for the throughput line
};

Dialect MysqlDialect() {
  Dialect d;
  d.engine = Engine::kMysql;
  d.name = "MySQL";
  d.schema = "applymy_t";
  d.control_schema = "applymy_ctl";
  d.items_ddl =
      "CREATE TABLE items (id int PRIMARY KEY, name varchar(10), qty int NOT NULL, note text) "
      "ENGINE=InnoDB";
  d.nopk_ddl = "CREATE TABLE nopk (a int, b text) ENGINE=InnoDB";
  d.alltypes_ddl = R"(CREATE TABLE alltypes (
      id int PRIMARY KEY, b boolean, i2 smallint, i4 int NOT NULL, i8 bigint,
      n_small decimal(10,2), n_big decimal(38,10), r4 float, r8 double,
      s varchar(100), t longtext, bin longblob, d date, tm time(6), ts datetime(6)))";
  d.checkpoint_query =
      "SELECT TASK_NAME, `CHECKPOINT`, CHECKPOINT_TIME FROM applymy_ctl.awsdms_txn_state";
  d.too_long =
      "INSERT of MySQL table applymy_t.items, row (id=4): column `name` (WSTRING value "
      "'eleven char') cannot be written to MySQL varchar(10): 11 characters exceed the limit of "
      "10";
  d.update_statement =
      "UPDATE `applymy_t`.`items` SET `id` = 20, `name` = 'it''s', `qty` = 5 WHERE `id` = 2";
  d.insert_statement_head = "INSERT INTO `applymy_t`.`items` (`id`, `name`, `qty`, `note`)";
  d.nopk_delete_statement =
      "DELETE FROM `applymy_t`.`nopk` WHERE `a` <=> NULL AND `b` <=> 'q' LIMIT 1";
  d.truncate_statement = "DELETE FROM `applymy_t`.`nopk`";
  return d;
}

Dialect SqliteDialect() {
  Dialect d;
  d.engine = Engine::kSqlite;
  d.name = "SQLite";
  d.schema = "main";
  d.items_ddl =
      "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(10), qty INT NOT NULL, note "
      "TEXT)";
  d.nopk_ddl = "CREATE TABLE nopk (a INT, b TEXT)";
  d.alltypes_ddl = R"(CREATE TABLE alltypes (
      id INT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT NOT NULL, i8 BIGINT,
      n_small NUMERIC(10,2), n_big DECIMAL_TEXT(38,10), r4 FLOAT, r8 DOUBLE,
      s VARCHAR(100), t TEXT, bin BLOB, d DATE, tm TIME, ts DATETIME))";
  d.checkpoint_query = "SELECT TASK_NAME, CHECKPOINT, CHECKPOINT_TIME FROM awsdms_txn_state";
  d.too_long =
      "INSERT of SQLite table main.items, row (id=4): column \"name\" (WSTRING into SQLite "
      "'VARCHAR(10)'): value 'eleven char' is longer than 10";
  d.update_statement =
      "UPDATE main.\"items\" SET \"id\" = 20, \"name\" = 'it''s', \"qty\" = 5 WHERE \"id\" = 2";
  d.insert_statement_head = "INSERT INTO main.\"items\" (\"id\", \"name\", \"qty\", \"note\")";
  d.nopk_delete_statement =
      "DELETE FROM main.\"nopk\" WHERE rowid = (SELECT rowid FROM main.\"nopk\" WHERE \"a\" IS "
      "NULL AND \"b\" IS 'q' LIMIT 1)";
  d.truncate_statement = "DELETE FROM main.\"nopk\"";
  return d;
}

class ApplierContractTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kMysql) {
      FERRY_REQUIRE_MYSQL();
      d_ = MysqlDialect();
      auto admin = testing::Open(testing::MysqlUri());
      admin->OpenSession()->Execute(
          "DROP DATABASE IF EXISTS applymy_t; DROP DATABASE IF EXISTS applymy_ctl; "
          "CREATE DATABASE applymy_t CHARACTER SET utf8mb4");
      connector_ = testing::Open(testing::WithDatabase(testing::MysqlUri(), "applymy_t"));
    } else {
      d_ = SqliteDialect();
      std::string tmpl =
          (std::filesystem::temp_directory_path() / "ferry_applier_XXXXXX").string();
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      dir_ = tmpl;
      connector_ = testing::Open("sqlite://" + (dir_ / "target.db").string());
    }
    session_ = connector_->OpenSession();
    session_->Execute(d_.items_ddl);
    session_->Execute(d_.nopk_ddl);
    applier_ = connector_->OpenChangeApplier();
    applier_->Prepare(d_.control_schema);
    auto catalog = connector_->OpenCatalog();
    items_ = catalog->GetTable(d_.schema, "items");
    nopk_ = catalog->GetTable(d_.schema, "nopk");
  }
  void TearDown() override {
    applier_.reset();
    if (session_ && GetParam() == Engine::kMysql) {
      session_->Execute("DROP DATABASE IF EXISTS applymy_ctl");
    }
    session_.reset();
    connector_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::vector<Row> Rows(const std::string& sql) { return session_->Query(sql); }

  // Applies one change built from rows.
  void Apply(const TableDef& t, ChangeOp op, OldImage old_kind, const std::optional<Row>& old_row,
             const std::optional<Row>& new_row, bool upsert = false, uint64_t tag = 0) {
    Batch b;
    ChangeView v = MakeChange(&b, t, op, old_kind, old_row, new_row);
    // A TRUNCATE comes without rows from the apply stage (ChangeMapper::Map): an applier must
    // not touch them (UBSan found SQLite's binding a reference to the null batch).
    if (op == ChangeOp::kTruncate) v.rows = nullptr;
    applier_->Apply(t, v, upsert, tag);
  }
  void Insert(const Row& row, uint64_t tag = 0, bool upsert = false) {
    Apply(items_, ChangeOp::kInsert, OldImage::kNone, std::nullopt, row, upsert, tag);
  }

  Dialect d_;
  std::filesystem::path dir_;
  std::unique_ptr<SqlConnector> connector_;
  std::unique_ptr<SqlSession> session_;
  std::unique_ptr<cdc::ChangeApplier> applier_;
  TableDef items_, nopk_;
  const cdc::Checkpoint cp_{"0/16B3748", 1732579200123456};
};

TEST_P(ApplierContractTest, InsertUpdateDeleteTruncate) {
  applier_->Begin();
  Insert({"1", "one", "10", "n1"});
  Insert({"2", "two", "20", "n2"});
  Insert({"3", "three", "30", std::nullopt});
  // Update without old image, 'note' unchanged (left as it is).
  Apply(items_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt,
        Row{"1", "uno", "11", kUnchanged});
  // Key change: the old key comes from the 'K' image.
  Apply(items_, ChangeOp::kUpdate, OldImage::kKey,
        Row{"2", std::nullopt, std::nullopt, std::nullopt}, Row{"20", "twenty", "21", "n20"});
  Apply(items_, ChangeOp::kDelete, OldImage::kKey,
        Row{"3", std::nullopt, std::nullopt, std::nullopt}, std::nullopt);
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit("task", cp_);
  EXPECT_EQ(Rows("SELECT id, name, qty, note FROM items ORDER BY id"),
            (std::vector<Row>{{"1", "uno", "11", "n1"}, {"20", "twenty", "21", "n20"}}));

  applier_->Begin();
  Apply(items_, ChangeOp::kTruncate, OldImage::kNone, std::nullopt, std::nullopt);
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit("task", cp_);
  EXPECT_EQ(Rows("SELECT count(*) FROM items"), (std::vector<Row>{{"0"}}));
}

TEST_P(ApplierContractTest, DuplicateInsertAndMissingRowsAreIssuesTheTransactionGoesOn) {
  applier_->Begin();
  Insert({"1", "one", "10", std::nullopt}, 1);
  Insert({"1", "again", "11", std::nullopt}, 2);
  Insert({"2", "two", "20", std::nullopt}, 3);
  Apply(items_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, Row{"99", "x", "1", std::nullopt},
        false, 4);
  Apply(items_, ChangeOp::kDelete, OldImage::kKey,
        Row{"98", std::nullopt, std::nullopt, std::nullopt}, std::nullopt, false, 5);
  // An update that changes nothing still matched its row.
  Apply(items_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt,
        Row{"2", "two", "20", std::nullopt}, false, 6);
  EXPECT_EQ(testing::IssuesText(applier_->Flush()), "2 duplicate, 4 no row, 5 no row");
  applier_->Commit("task", cp_);
  EXPECT_EQ(Rows("SELECT id, name FROM items ORDER BY id"),
            (std::vector<Row>{{"1", "one"}, {"2", "two"}}));
}

TEST_P(ApplierContractTest, CommitWithUnflushedIssueThrows) {
  applier_->Begin();
  Apply(items_, ChangeOp::kDelete, OldImage::kKey,
        Row{"98", std::nullopt, std::nullopt, std::nullopt}, std::nullopt, false, 5);
  try {
    applier_->Commit("task", cp_);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
  }
  applier_->Rollback();
}

TEST_P(ApplierContractTest, Upserts) {
  applier_->Begin();
  Insert({"1", "one", "10", "n"});
  Insert({"1", "uno", "11", "m"}, 1, /*upsert=*/true);
  // Missing row: the new image is inserted ('note' unchanged -> left out, NULL).
  Apply(items_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt,
        Row{"5", "five", "50", kUnchanged}, true, 2);
  // Present row: a plain update.
  Apply(items_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt,
        Row{"1", "eins", "12", kUnchanged}, true, 3);
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit("task", cp_);
  EXPECT_EQ(Rows("SELECT id, name, qty, note FROM items ORDER BY id"),
            (std::vector<Row>{{"1", "eins", "12", "m"}, {"5", "five", "50", std::nullopt}}));
}

TEST_P(ApplierContractTest, TableWithoutKeyTouchesOneRow) {
  session_->Execute("INSERT INTO nopk VALUES (1, 'x'), (1, 'x'), (NULL, 'y'), (NULL, 'y')");
  applier_->Begin();
  Apply(nopk_, ChangeOp::kDelete, OldImage::kFull, Row{"1", "x"}, std::nullopt);
  Apply(nopk_, ChangeOp::kUpdate, OldImage::kFull, Row{std::nullopt, "y"}, Row{"2", "z"});
  Apply(nopk_, ChangeOp::kDelete, OldImage::kFull, Row{"7", "x"}, std::nullopt, false, 9);
  const auto issues = applier_->Flush();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].tag, 9u);
  try {
    Apply(nopk_, ChangeOp::kDelete, OldImage::kKey, Row{"1", "x"}, std::nullopt);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("REPLICA IDENTITY FULL"), std::string::npos) << e.what();
  }
  applier_->Commit("task", cp_);
  EXPECT_EQ(Rows("SELECT a, b FROM nopk ORDER BY a, b"),
            (std::vector<Row>{{std::nullopt, "y"}, {"1", "x"}, {"2", "z"}}));
}

TEST_P(ApplierContractTest, CheckpointCommitsWithTheChangesAndRollbackDiscardsBoth) {
  EXPECT_FALSE(applier_->ReadCheckpoint("task").has_value());
  applier_->Begin();
  Insert({"1", "one", "10", std::nullopt});
  applier_->Commit("task", cp_);
  auto cp = applier_->ReadCheckpoint("task");
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->position, "0/16B3748");
  EXPECT_EQ(cp->commit_time_us, 1732579200123456);
  EXPECT_EQ(Rows(d_.checkpoint_query),
            (std::vector<Row>{{"task", "0/16B3748", "2024-11-26 00:00:00.123456"}}));

  applier_->Begin();
  Insert({"2", "two", "20", std::nullopt});
  applier_->Rollback();
  EXPECT_EQ(Rows("SELECT count(*) FROM items"), (std::vector<Row>{{"1"}}));
  EXPECT_EQ(applier_->ReadCheckpoint("task")->position, "0/16B3748");

  // The connection is usable after Rollback.
  applier_->Begin();
  Insert({"3", "three", "30", std::nullopt});
  applier_->Commit("task", {"0/16B3800", -1});
  EXPECT_EQ(applier_->ReadCheckpoint("task")->position, "0/16B3800");
  EXPECT_EQ(applier_->ReadCheckpoint("task")->commit_time_us, -1);
  applier_->ClearCheckpoint("task");
  EXPECT_FALSE(applier_->ReadCheckpoint("task").has_value());
}

TEST_P(ApplierContractTest, ValueTooLongIsARowErrorAndNothingIsWritten) {
  // The incoming column is unbounded text (a longer source column): the value is checked.
  TableDef t = items_;
  t.columns[1].type.length = 0;
  applier_->Begin();
  try {
    Apply(t, ChangeOp::kInsert, OldImage::kNone, std::nullopt,
          Row{"4", "eleven char", "1", std::nullopt});
    FAIL() << "expected RowError";
  } catch (const RowError& e) {
    EXPECT_EQ(e.column, 1);
    EXPECT_EQ(e.row_key, "(id=4)");
    EXPECT_EQ(std::string(e.what()), d_.too_long);
  }
  applier_->Rollback();
  EXPECT_EQ(Rows("SELECT count(*) FROM items"), (std::vector<Row>{{"0"}}));
}

TEST_P(ApplierContractTest, StatementText) {
  Batch b;
  std::string long_text(300, 'x');
  auto v = MakeChange(&b, items_, ChangeOp::kUpdate, OldImage::kKey,
                      Row{"2", std::nullopt, std::nullopt, std::nullopt},
                      Row{"20", "it's", "5", kUnchanged});
  EXPECT_EQ(applier_->Statement(items_, v), d_.update_statement);
  v = MakeChange(&b, items_, ChangeOp::kInsert, OldImage::kNone, std::nullopt,
                 Row{"1", std::nullopt, "5", long_text});
  EXPECT_EQ(applier_->Statement(items_, v),
            d_.insert_statement_head + " VALUES (1, NULL, 5, '" + std::string(200, 'x') + "...')");
  v = MakeChange(&b, nopk_, ChangeOp::kDelete, OldImage::kFull, Row{std::nullopt, "q"},
                 std::nullopt);
  EXPECT_EQ(applier_->Statement(nopk_, v), d_.nopk_delete_statement);
  v = MakeChange(&b, nopk_, ChangeOp::kTruncate, OldImage::kNone, std::nullopt, std::nullopt);
  v.rows = nullptr;  // as the apply stage sends a TRUNCATE
  EXPECT_EQ(applier_->Statement(nopk_, v), d_.truncate_statement);
}

// The all-types table of the pairing tests: every value goes in by INSERT, changes by UPDATE,
// and reads back canonically identical.
TEST_P(ApplierContractTest, AllTypesRoundTrip) {
  session_->Execute(d_.alltypes_ddl);
  const TableDef t = connector_->OpenCatalog()->GetTable(d_.schema, "alltypes");
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  const std::vector<Row> rows = {
      {"1", "1", "12", "34", "56", "12345678.91", "1234567890123456789012345678.123456789", "1.5",
       "0.1", "plain", "text", std::string("\x00\xff", 2), "2024-02-29", "12:34:56.789",
       "2024-02-29 12:34:56.123456"},
      {"2", std::nullopt, std::nullopt, "0", std::nullopt, std::nullopt, std::nullopt, std::nullopt,
       std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
       std::nullopt},
      {"3", "0", "-32768", "-2147483648", "9223372036854775807", "-99999999.99",
       "-9999999999999999999999999999.9999999999", "3.40282e+38", "1.7976931348623157e+308", "",
       "tab\there\nnewline\\backslash \x01 \xF0\x9F\x98\x80 \xC3\xA9", all_bytes, "0001-01-01",
       "23:59:59.999999", "9999-12-31 23:59:59.999999"},
      {"4", "1", "32767", "2147483647", "-9223372036854775808", "0.01", "0.0000000001", "-0.25",
       "-2.2250738585072014e-308", "x y", "", "", "9999-12-31", "00:00:00", "0001-01-01 00:00:00"},
  };
  applier_->Begin();
  for (const Row& r : rows) {
    Apply(t, ChangeOp::kInsert, OldImage::kNone, std::nullopt, r);
  }
  // Row 2 takes row 4's values (but keeps its id) through an UPDATE.
  Row r2 = rows[3];
  r2[0] = "2";
  Apply(t, ChangeOp::kUpdate, OldImage::kNone, std::nullopt, r2);
  EXPECT_TRUE(applier_->Flush().empty());
  applier_->Commit("task", cp_);

  std::vector<Row> got = testing::ScanCanonical(*connector_, t);
  std::sort(got.begin(), got.end());
  std::vector<Row> want = {rows[0], r2, rows[2], rows[3]};
  ASSERT_EQ(got.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r) {
    for (size_t c = 0; c < want[r].size(); ++c) {
      EXPECT_EQ(got[r][c], want[r][c]) << "row " << r << " column " << t.columns[c].name;
    }
  }
}

// 100,000 single-row updates in transactions of 1,000 (logged, not asserted).
TEST_P(ApplierContractTest, UpdateThroughput) {
  applier_->Begin();
  for (int i = 0; i < 1000; ++i) Insert({std::to_string(i), "n", "0", std::nullopt});
  applier_->Commit("task", cp_);
  Batch b;
  const auto start = std::chrono::steady_clock::now();
  for (int txn = 0; txn < 100; ++txn) {
    applier_->Begin();
    for (int i = 0; i < 1000; ++i) {
      ChangeView v = MakeChange(&b, items_, ChangeOp::kUpdate, OldImage::kNone, std::nullopt,
                                Row{std::to_string(i), "n", std::to_string(txn), kUnchanged});
      applier_->Apply(items_, v, false, static_cast<uint64_t>(i));
    }
    ASSERT_TRUE(applier_->Flush().empty());
    applier_->Commit("task", cp_);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("{} applier: 100000 single-row updates in {:.2f} s = {:.0f} rows/s", d_.name,
               secs, 100000 / secs);
  std::printf("%s applier: 100000 single-row updates in %.2f s = %.0f rows/s\n",
              d_.name.c_str(), secs, 100000 / secs);
  EXPECT_EQ(Rows("SELECT min(qty), max(qty) FROM items"), (std::vector<Row>{{"99", "99"}}));
}

INSTANTIATE_TEST_SUITE_P(Targets, ApplierContractTest,
                         ::testing::Values(Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

// Issue 11, case 16: a changed row MariaDB's redo log cannot hold (it would stall the server
// for good) is refused before it is sent, naming the row and the setting, as the full load
// does. The test pretends the log is 2 MiB and sends every statement through LOAD DATA.
TEST(MysqlApplierRowLimit, ARowLargerThanTheRedoLogIsRefusedBeforeItIsSent) {
  FERRY_REQUIRE_MYSQL();
  auto connector = testing::Open(testing::WithDatabase(testing::MysqlUri(), "applymy_limit"));
  auto admin = testing::Open(testing::MysqlUri())->OpenSession();
  admin->Execute("DROP DATABASE IF EXISTS applymy_limit; DROP DATABASE IF EXISTS applymy_lctl; "
                 "CREATE DATABASE applymy_limit; "
                 "CREATE TABLE applymy_limit.docs (id int PRIMARY KEY, body longtext)");
  if (admin->Query("SELECT VERSION() LIKE '%MariaDB%'")[0][0].value_or("0") != "1") {
    GTEST_SKIP() << "the target is not MariaDB";
  }
  mysql::MyChangeApplier::SetStatementLimitForTesting(1024);
  mysql::MyTableWriter::SetRedoLogBytesForTesting(2 << 20);
  struct Reset {
    ~Reset() {
      mysql::MyChangeApplier::SetStatementLimitForTesting(0);
      mysql::MyTableWriter::SetRedoLogBytesForTesting(0);
    }
  } reset;
  const TableDef docs = connector->OpenCatalog()->GetTable("applymy_limit", "docs");
  auto applier = connector->OpenChangeApplier();
  applier->Prepare("applymy_lctl");
  applier->Begin();
  auto insert = [&](int id, size_t bytes) {
    Batch b;
    ChangeView v = MakeChange(&b, docs, ChangeOp::kInsert, OldImage::kNone, std::nullopt,
                              Row{std::to_string(id), std::string(bytes, 'x')});
    applier->Apply(docs, v, false, 0);
  };
  insert(1, 1 << 20);  // through LOAD DATA, under 90% of the log
  try {
    insert(2, 2 << 20);
    FAIL() << "a 2 MiB row was sent to a server with a 2 MiB redo log";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_EQ(std::string(e.what()),
              "loading one changed row into MySQL table applymy_limit.docs (its statement would "
              "be too long), row (id=2): a row of 2097155 bytes (column \"body\" holds 2097152) "
              "is larger than this MariaDB server can write: InnoDB keeps a row's redo in its "
              "log, innodb_log_file_size is 2097152 bytes, and a larger row stalls the server "
              "for good; raise innodb_log_file_size on the target to at least 69206016 bytes "
              "(SET GLOBAL on MariaDB 10.9 and later, else in its configuration and a restart), "
              "or cut LOBs (limited LOB mode with LobMaxSize)");
  }
  applier->Rollback();
  applier.reset();
  admin->Execute("DROP DATABASE applymy_limit; DROP DATABASE IF EXISTS applymy_lctl");
}

}  // namespace
}  // namespace ferry
