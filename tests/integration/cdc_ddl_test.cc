// Source table changes (ALTER TABLE) carried to the target during change processing
// (cdc/ddl_sync.h, ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered): a PostgreSQL
// source under ADD COLUMN, DROP COLUMN, RENAME COLUMN and ALTER COLUMN TYPE between inserts and
// updates, full-load-and-cdc into PostgreSQL, MariaDB and SQLite, checked by canonical row hash
// of every table on both sides after each step.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <filesystem>
#include <thread>

#include "cdc_test_env.h"
#include "engine/cdc_task.h"
#include "sqlite_api/sqlite_connection.h"
#include "task/data_dir.h"
#include "task/task_store.h"

namespace ferry {
namespace {

using testing::Open;
using testing::PostgresUri;

constexpr const char* kSrc = "ddl_src";
constexpr const char* kDst = "ddl_dst";

class CdcDdlTest : public ::testing::TestWithParam<Engine>, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    SetUpCdc(GetParam(), fmt::format("ddl-test-{}", EngineName(GetParam())), kDst);
    src_ = std::string(kSrc);
    admin_->Execute("DROP SCHEMA IF EXISTS " + src_ + " CASCADE; CREATE SCHEMA " + src_);
    admin_->Execute("CREATE TABLE " + src_ +
                    ".t (id integer PRIMARY KEY, name varchar(20), n integer, gone text)");
    admin_->Execute("INSERT INTO " + src_ +
                    ".t SELECT g, 'name ' || g, g * 10, 'gone ' || g FROM generate_series(1, 300) g");
    admin_->Execute("CREATE TABLE " + src_ + ".other (id integer PRIMARY KEY, v text)");
    admin_->Execute("INSERT INTO " + src_ + ".other VALUES (1, 'a'), (2, 'b')");
  }
  void TearDown() override { TearDownCdc(); }
  CdcTaskOptions Options() const { return BaseOptions(); }
  CdcTaskOptions Resume() { return ResumeOptions(src_); }
  static void WaitAllLive(CdcTask& task, std::chrono::seconds timeout) {
    const auto until = testing::Clock::now() + timeout;
    while (task.progress().live_tables < task.stats().size() && testing::Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // Runs the task (resumed: planned as `ferry migrate --resume` plans it) until the target
  // holds the source; returns what differs ("" = converged) after stopping it.
  std::string RunUntilConverged(bool resume, std::vector<std::string>* suspended) {
    auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(),
                                          resume ? Resume() : Options());
    std::thread runner([&] { task->Run(); });
    std::string diff = Converge(std::chrono::seconds(60));
    // Stopped once every table is in change processing (loaded rows can match the source
    // before their table goes live; a table stopped before that is reloaded on resume).
    WaitAllLive(*task, std::chrono::seconds(30));
    task->Stop();
    runner.join();
    if (task->failed()) diff += " task failed: " + task->stop_reason();
    for (const auto& st : task->stats()) {
      MutexLock lock(st->mu);
      if (st->state == "Suspended") suspended->push_back(st->SourceName() + ": " + st->error);
    }
    return diff;
  }
  // The task's shape history entries of table `name` (kind + pending), oldest first.
  std::vector<TableShapeRecord> Shapes(const std::string& name) {
    std::unique_ptr<TaskStore> store = TaskStore::Open(data_dir_, /*read_only=*/true);
    int index = -1;
    for (const TableRecord& r : store->GetTables(task_)) {
      if (r.source_table == name) index = r.index;
    }
    std::vector<TableShapeRecord> out;
    for (const TableShapeRecord& r : store->GetShapes(task_)) {
      if (r.table_index == index) out.push_back(r);
    }
    return out;
  }
  std::vector<TablePlan> Plans() { return PlansFor(src_); }
  std::string Converge(std::chrono::seconds timeout) { return ConvergeFrom(src_, timeout); }
  void Run(const std::string& sql) { admin_->Execute(sql); }
  std::string T() const { return src_ + ".t"; }

  std::string src_;
};

TEST_P(CdcDdlTest, AlterTableBetweenChanges) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options());
  std::thread runner([&] { task->Run(); });
  const std::string loaded = Converge(std::chrono::seconds(60));
  if (!loaded.empty()) {
    task->Stop();
    runner.join();
    FAIL() << "after the full load: " << loaded << (task->failed() ? task->stop_reason() : "");
  }

  // ADD COLUMN, then rows that fill it and rows that do not.
  Run("ALTER TABLE " + T() + " ADD COLUMN extra text");
  Run("INSERT INTO " + T() + " VALUES (1001, 'new', 1, 'g', 'extra 1001'), (1002, 'new2', 2, "
      "'g', NULL)");
  Run("UPDATE " + T() + " SET extra = 'set ' || id WHERE id % 7 = 0");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after ADD COLUMN";

  // DROP COLUMN.
  Run("ALTER TABLE " + T() + " DROP COLUMN gone");
  Run("INSERT INTO " + T() + " VALUES (1003, 'after drop', 3, 'x')");
  Run("UPDATE " + T() + " SET n = n + 1 WHERE id % 5 = 0");
  Run("DELETE FROM " + T() + " WHERE id % 11 = 0");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after DROP COLUMN";

  // RENAME COLUMN: rows already on the target keep their values.
  Run("ALTER TABLE " + T() + " RENAME COLUMN name TO title");
  Run("INSERT INTO " + T() + " (id, title, n) VALUES (1004, 'renamed', 4)");
  Run("UPDATE " + T() + " SET title = 'upd ' || id WHERE id % 13 = 0");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after RENAME COLUMN";

  // ALTER COLUMN TYPE: values that only fit the new type. SQLite keeps the column declared
  // INT (its reader, and so the digest, refuses 64-bit values there): small values only.
  const bool sqlite = GetParam() == Engine::kSqlite;
  Run("ALTER TABLE " + T() + " ALTER COLUMN n TYPE bigint");
  Run("INSERT INTO " + T() + " (id, title, n) VALUES (1005, 'big', " +
      (sqlite ? "50000" : "5000000000") + ")");
  Run("UPDATE " + T() + " SET n = n * " + (sqlite ? "10" : "100000000") + " WHERE id % 17 = 0");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after ALTER COLUMN TYPE bigint";

  // Several at once, in one transaction with changes before (of another table) and after.
  // (Between the table's own changes, see SeveralAltersInARow.)
  Run("BEGIN; UPDATE " + src_ + ".other SET v = 'before' WHERE id = 1; ALTER TABLE " + T() +
      " ADD COLUMN d date; ALTER TABLE " + T() + " DROP COLUMN extra; INSERT INTO " + T() +
      " (id, title, n, d) VALUES (1006, 'both', 6, date '2024-02-29'); COMMIT");
  Run("UPDATE " + T() + " SET d = date '2000-01-01' + id WHERE id % 3 = 0");
  Run("INSERT INTO " + src_ + ".other VALUES (3, 'c')");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after ADD and DROP in one transaction";

  // DROP TABLE (HandleSourceTableDropped, default true): its last changes arrive, then the
  // target table goes; the other table carries on.
  Run("INSERT INTO " + src_ + ".other VALUES (4, 'd')");
  Run("DROP TABLE " + src_ + ".other");
  Run("INSERT INTO " + T() + " (id, title, n) VALUES (1007, 'after the drop', 7)");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after DROP TABLE other";

  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_NE(st->state, "Suspended") << st->SourceName() << ": " << st->error;
    if (st->SourceName() == src_ + ".other") {
      EXPECT_EQ(st->state, kStateTableDropped);
      EXPECT_EQ(st->applied_inserts, 2);
      EXPECT_EQ(st->applied_ddls, 1);
    }
  }
  task.reset();
}

// Several ALTER TABLEs in a row with changes between them (issue 10, case 3): each change
// decodes with the columns in force at its own WAL position, and each ALTER reaches the target
// between the changes it separates. First the two sequences that corrupted data, then a
// seeded random interleaving of ADD / DROP / RENAME / ALTER TYPE with inserts, updates and
// deletes, compared by hash after it.
TEST_P(CdcDdlTest, SeveralAltersInARow) {
  Run("CREATE TABLE " + src_ + ".rb (id integer PRIMARY KEY, v2 text)");
  Run("INSERT INTO " + src_ + ".rb SELECT g, 'v' || g FROM generate_series(1, 20) g");
  Run("CREATE TABLE " + src_ + ".ra (id integer PRIMARY KEY, v text)");
  Run("INSERT INTO " + src_ + ".ra SELECT g, 'v' || g FROM generate_series(1, 20) g");
  Run("CREATE TABLE " + src_ + ".rnd (id integer PRIMARY KEY, c0 integer)");
  Run("INSERT INTO " + src_ + ".rnd SELECT g, g FROM generate_series(1, 50) g");
  Run("CREATE TABLE " + src_ + ".mid (id integer PRIMARY KEY, a integer, b integer)");
  Run("INSERT INTO " + src_ + ".mid VALUES (1, 10, 100), (2, 20, 200)");
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options());
  std::thread runner([&] { task->Run(); });
  ASSERT_EQ(Converge(std::chrono::seconds(60)), "") << "after the full load";

  // The reproductions: the renamed column must keep the updated rows' values, and a numeric
  // retyped to text must arrive as its text.
  Run("ALTER TABLE " + src_ + ".rb ADD COLUMN x integer");
  Run("UPDATE " + src_ + ".rb SET x = id * 10");
  Run("ALTER TABLE " + src_ + ".rb RENAME COLUMN v2 TO v3");
  Run("INSERT INTO " + src_ + ".rb VALUES (100, 'new', 1000)");
  Run("ALTER TABLE " + src_ + ".ra ADD COLUMN x numeric(10,2)");
  Run("UPDATE " + src_ + ".ra SET x = id / 2.0");
  Run("ALTER TABLE " + src_ + ".ra ALTER COLUMN x TYPE text");
  Run("INSERT INTO " + src_ + ".ra VALUES (100, 'new', 'text now')");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after the two sequences";
  // An ALTER inside a transaction before changes of the table (as migration tools run
  // them) is fine; one between the transaction's own changes of the table cannot be replayed
  // exactly yet: that table is suspended with the reason, never written with misread values.
  Run("BEGIN; ALTER TABLE " + src_ + ".rb ADD COLUMN y integer; UPDATE " + src_ +
      ".rb SET y = id WHERE id > 5; INSERT INTO " + src_ + ".rb VALUES (101, 'in txn', 1, 2); "
      "COMMIT");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after an ALTER first in a transaction";
  // Columns only added between a transaction's own changes: its earlier changes read the same.
  Run("BEGIN; UPDATE " + src_ + ".rb SET x = x + 1 WHERE id <= 10; ALTER TABLE " + src_ +
      ".rb ADD COLUMN z text; UPDATE " + src_ + ".rb SET z = 'z' || id WHERE id > 5; COMMIT");
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after an ADD between changes";

  // Random interleavings (seeded: a failure names its seed and can be replayed).
  const unsigned seed = static_cast<unsigned>(::getpid());
  std::mt19937 rng(seed);
  struct Col {
    std::string name, type;
  };
  std::vector<Col> cols = {{"c0", "integer"}};
  int next_col = 1, next_id = 1000;
  const std::string t = src_ + ".rnd";
  auto value_for = [&](const Col& c) -> std::string {
    const int v = static_cast<int>(rng() % 1000);
    if (c.type == "integer" || c.type == "bigint") return std::to_string(v);
    if (c.type == "numeric(10,2)") return fmt::format("{}.{:02}", v, v % 100);
    return fmt::format("'s{}'", v);
  };
  // A new row with a value in every current column.
  auto insert_row = [&] {
    std::string names = "id", values = std::to_string(next_id++);
    for (const Col& c : cols) {
      names += ", " + c.name;
      values += ", " + value_for(c);
    }
    return fmt::format("INSERT INTO {} ({}) VALUES ({})", t, names, values);
  };
  std::string log;
  for (int step = 0; step < 40; ++step) {
    const unsigned op = rng() % 8;
    std::string sql;
    if (op == 0 || cols.empty()) {
      static const char* kTypes[] = {"integer", "text", "numeric(10,2)", "varchar(30)"};
      Col c{fmt::format("c{}", next_col++), kTypes[rng() % 4]};
      sql = fmt::format("ALTER TABLE {} ADD COLUMN {} {}", t, c.name, c.type);
      cols.push_back(c);
    } else if (op == 1 && cols.size() > 1) {
      const size_t i = rng() % cols.size();
      sql = fmt::format("ALTER TABLE {} DROP COLUMN {}", t, cols[i].name);
      cols.erase(cols.begin() + static_cast<long>(i));
    } else if (op == 2) {
      const size_t i = rng() % cols.size();
      const std::string to = fmt::format("r{}", next_col++);
      sql = fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", t, cols[i].name, to);
      cols[i].name = to;
    } else if (op == 3) {
      const size_t i = rng() % cols.size();
      const std::string to = cols[i].type == "integer" ? (rng() % 2 ? "bigint" : "text")
                             : cols[i].type == "numeric(10,2)" ? "text"
                             : cols[i].type == "varchar(30)"   ? "text"
                                                               : "";
      if (to.empty()) continue;
      sql = fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}", t, cols[i].name,
                        to, cols[i].name, to);
      cols[i].type = to;
    } else if (op <= 5) {
      sql = insert_row();
    } else if (op == 6) {
      const Col& c = cols[rng() % cols.size()];
      sql = fmt::format("UPDATE {} SET {} = {} WHERE id % 3 = {}", t, c.name, value_for(c),
                        rng() % 3);
    } else {
      sql = fmt::format("DELETE FROM {} WHERE id = {}", t, 1 + rng() % 60);
    }
    log += sql + ";\n";
    Run(sql);
    if (sql.rfind("ALTER", 0) == 0) {
      // A change after each ALTER: pgoutput describes a table's columns only with its next
      // change, and two ALTERs seen at once can be ambiguous (a DROP next to a RENAME or ADD of
      // the same type reads like a rename; see the user guide).
      const std::string ins = insert_row();
      log += ins + ";\n";
      Run(ins);
    }
  }
  // pgoutput describes a table's new columns with its next change: one after the last ALTER.
  {
    const std::string sql = insert_row();
    log += sql + ";\n";
    Run(sql);
  }
  EXPECT_EQ(Converge(std::chrono::seconds(90)), "")
      << "after a random interleaving (seed " << seed << "):\n" << log;

  // An ALTER between a transaction's own changes of a table (a dropped middle column would
  // shift b's values into a if read with one shape). PostgreSQL and SQLite targets alter the
  // table inside the same target transaction, between the changes it separates; a MySQL
  // target commits every ALTER at once, so there the table is suspended, never misapplied.
  const bool transactional_ddl = GetParam() != Engine::kMysql;
  Run("BEGIN; UPDATE " + src_ + ".mid SET b = 101 WHERE id = 1; ALTER TABLE " + src_ +
      ".mid DROP COLUMN a; UPDATE " + src_ + ".mid SET b = 202 WHERE id = 2; COMMIT");
  Run("INSERT INTO " + src_ + ".rb VALUES (102, 'after', 1, 2)");  // the others go on
  const std::string mid_target =
      (GetParam() == Engine::kSqlite ? "" : kDst + std::string(".")) + std::string("mid");
  if (transactional_ddl) {
    EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after an ALTER between changes";
    auto rows = target_->OpenSession()->Query("SELECT * FROM " + mid_target + " ORDER BY id");
    EXPECT_EQ(rows.size(), 2u);
    if (rows.size() == 2u) {
      EXPECT_EQ(rows[0].size(), 2u) << "column a is gone";
      EXPECT_EQ(rows[0].back().value_or("NULL") + "," + rows[1].back().value_or("NULL"),
                "101,202");
    }
    // A migration tool's transaction: add, backfill, retype, rename, drop, with changes of
    // the table between every two, and of another table around them.
    Run("BEGIN; UPDATE " + src_ + ".ra SET v = 'pre' WHERE id = 1; UPDATE " + src_ +
        ".rb SET v3 = 'other' WHERE id = 3; ALTER TABLE " + src_ +
        ".ra ADD COLUMN cents integer; UPDATE " + src_ + ".ra SET cents = id * 100; ALTER TABLE " +
        src_ + ".ra ALTER COLUMN cents TYPE text USING cents::text; UPDATE " + src_ +
        ".ra SET cents = cents || ' cents', x = 'x' WHERE id < 5; ALTER TABLE " + src_ + ".ra RENAME COLUMN v TO label; "
        "INSERT INTO " + src_ + ".ra VALUES (300, 'in txn', '7', '700'); ALTER TABLE " + src_ +
        ".ra DROP COLUMN x; DELETE FROM " + src_ + ".ra WHERE id = 2; UPDATE " + src_ +
        ".ra SET label = label || '!' WHERE id % 3 = 0; COMMIT");
    EXPECT_EQ(Converge(std::chrono::seconds(60)), "") << "after a migration's transaction";
    const std::vector<TableShapeRecord> shapes = Shapes("ra");
    EXPECT_GE(shapes.size(), 4u);
    if (!shapes.empty()) {
      EXPECT_EQ(shapes.back().kind, "txn");
      EXPECT_FALSE(shapes.back().pending);
    }
  } else {
    const auto until = testing::Clock::now() + std::chrono::seconds(60);
    std::string mid_state, mid_error;
    while (testing::Clock::now() < until && mid_state != "Suspended") {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      for (const auto& st : task->stats()) {
        MutexLock lock(st->mu);
        if (st->SourceName() == src_ + ".mid") {
          mid_state = st->state;
          mid_error = st->error;
        }
      }
    }
    EXPECT_EQ(mid_state, "Suspended");
    EXPECT_NE(mid_error.find("a mysql target commits each ALTER TABLE at once, so that "
                             "transaction cannot be applied with the ALTER between its changes"),
              std::string::npos)
        << mid_error;
    auto target_rows =
        target_->OpenSession()->Query("SELECT a, b FROM " + mid_target + " ORDER BY id");
    ASSERT_EQ(target_rows.size(), 2u);
    EXPECT_EQ(target_rows[0][0].value_or("NULL") + "," + target_rows[0][1].value_or("NULL"),
              "10,100");
    EXPECT_EQ(target_rows[1][0].value_or("NULL") + "," + target_rows[1][1].value_or("NULL"),
              "20,200");
  }

  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    if (!transactional_ddl && st->SourceName() == src_ + ".mid") continue;
    EXPECT_NE(st->state, "Suspended") << st->SourceName() << ": " << st->error;
    EXPECT_EQ(st->cdc_apply_errors, 0) << st->SourceName();
  }
}

// ALTERs the source ran while the task was stopped (issue 10): the resumed task restarts at its
// checkpoint, where the table still has its old columns, so it must plan and decode the table
// as it was then (its recorded shape history), not as the catalog has it now, and replay each
// ALTER between the changes it separates. Planning from the catalog suspended the table (or
// misread its changes).
TEST_P(CdcDdlTest, AltersWhileStoppedAreReplayedOnResume) {
  std::vector<std::string> suspended;
  ASSERT_EQ(RunUntilConverged(false, &suspended), "") << "the first run";
  // One change of the table's columns while it runs: the history has it when it stops.
  Run("ALTER TABLE " + T() + " ADD COLUMN early integer");
  Run("UPDATE " + T() + " SET early = id WHERE id % 4 = 0");
  ASSERT_EQ(RunUntilConverged(true, &suspended), "") << "the second run";
  EXPECT_GE(Shapes("t").size(), 2u);

  // Stopped: rows, then ALTERs with changes between them, of every kind.
  Run("INSERT INTO " + T() + " (id, name, n, gone, early) VALUES (2001, 'old shape', 1, 'g', 5)");
  Run("ALTER TABLE " + T() + " ADD COLUMN x integer");
  Run("UPDATE " + T() + " SET x = id * 10 WHERE id % 3 = 0");
  Run("ALTER TABLE " + T() + " RENAME COLUMN name TO title");
  Run("UPDATE " + T() + " SET title = 'renamed ' || id WHERE id % 5 = 0");
  Run("ALTER TABLE " + T() + " DROP COLUMN gone");
  Run("INSERT INTO " + T() + " (id, title, n, early, x) VALUES (2002, 'after drop', 2, 6, 7)");
  Run("ALTER TABLE " + T() + " ALTER COLUMN n TYPE text USING n::text");
  Run("UPDATE " + T() + " SET n = 'text ' || id WHERE id % 7 = 0");
  Run("ALTER TABLE " + src_ + ".other ADD COLUMN w numeric(8,2)");
  Run("INSERT INTO " + src_ + ".other VALUES (10, 'x', 1.25)");
  suspended.clear();
  EXPECT_EQ(RunUntilConverged(true, &suspended), "") << "after resuming";
  EXPECT_TRUE(suspended.empty()) << fmt::format("{}", fmt::join(suspended, "; "));
  // And once more, with nothing new: the history replays to the same plans.
  Run("INSERT INTO " + T() + " (id, title, n, early, x) VALUES (2003, 'last', 'n', 8, 9)");
  suspended.clear();
  EXPECT_EQ(RunUntilConverged(true, &suspended), "") << "after resuming again";
  EXPECT_TRUE(suspended.empty()) << fmt::format("{}", fmt::join(suspended, "; "));
}

// An ALTER of a table that waits for its full load (another table loads first): its changes
// before and after the ALTER are cached in two shapes, and when the table goes live the
// target follows the ALTER between them. Before, the cached changes were all read with the
// table's last shape (misread, or "unknown value tag") and the target never got the column.
TEST_P(CdcDdlTest, AlterWhileTableWaitsForItsLoad) {
  Run("CREATE TABLE " + src_ + ".big (id integer PRIMARY KEY, v text)");
  Run("INSERT INTO " + src_ + ".big SELECT g, 'row ' || g FROM generate_series(1, 600000) g");
  Run("CREATE TABLE " + src_ + ".late (id integer PRIMARY KEY, a integer, b text)");
  Run("INSERT INTO " + src_ + ".late SELECT g, g, 'b' || g FROM generate_series(1, 100) g");
  std::vector<TablePlan> plans = Plans();
  for (TablePlan& p : plans) {
    if (p.source.name == "big") p.load_order = 10;  // loads first
  }
  CdcTaskOptions o = Options();
  o.full_load.parallel = 1;
  auto task = std::make_unique<CdcTask>(*source_, *target_, plans, o);
  std::thread runner([&] { task->Run(); });
  const auto until = testing::Clock::now() + std::chrono::seconds(60);
  while (task->progress().phase != "FULL LOAD" && testing::Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string late = src_ + ".late";
  Run("INSERT INTO " + late + " VALUES (101, 101, 'before the alter')");
  Run("UPDATE " + late + " SET a = a + 1 WHERE id % 3 = 0");
  Run("ALTER TABLE " + late + " ADD COLUMN extra text");
  Run("UPDATE " + late + " SET extra = 'e' || id, a = a * 2 WHERE id % 2 = 0");
  Run("INSERT INTO " + late + " VALUES (102, 102, 'after the alter', 'x')");
  Run("DELETE FROM " + late + " WHERE id % 5 = 0");
  bool big_loading = false;
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    if (st->source_table == "big") big_loading = st->state != kStateCompleted;
  }
  // Compared once every table is live: MariaDB 10.11 was seen to hang a SELECT of a table
  // while LOAD DATA filled it (empty, just created) and the LOAD with it, on the server.
  WaitAllLive(*task, std::chrono::seconds(120));
  EXPECT_EQ(Converge(std::chrono::seconds(120)), "")
      << (big_loading ? "" : "(big had loaded before the changes: not the case under test)");
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_NE(st->state, "Suspended") << st->SourceName() << ": " << st->error;
    EXPECT_EQ(st->cdc_apply_errors, 0) << st->SourceName();
    if (st->source_table == "late") {
      EXPECT_EQ(st->applied_ddls, 1);
    }
  }
}

// The task stopped after recording a change of the table's columns and before confirming the
// target's ALTER (a crash between them leaves the entry pending): the resumed task finds out
// from the target table whether the ALTER ran, and runs it when it did not.
TEST_P(CdcDdlTest, InterruptedTargetAlterIsSettledOnResume) {
  std::vector<std::string> suspended;
  ASSERT_EQ(RunUntilConverged(false, &suspended), "") << "the first run";
  const std::string target_t =
      GetParam() == Engine::kSqlite ? std::string("t") : std::string(kDst) + ".t";
  auto make_last_pending = [&] {
    sqlite::Connection store((data_dir_ / kStoreFileName).string(),
                             sqlite::Connection::Mode::kReadWrite);
    store.Exec("UPDATE table_shapes SET pending = 1 WHERE (table_index, seq) = (SELECT "
               "table_index, max(seq) FROM table_shapes WHERE kind = 'ddl')");
    ASSERT_EQ(store.QueryInt("SELECT count(*) FROM table_shapes WHERE pending = 1"), 1);
  };

  // 1. The ALTER did not reach the target: its column is missing there.
  Run("ALTER TABLE " + T() + " ADD COLUMN c1 text");
  Run("UPDATE " + T() + " SET n = n WHERE id = 1");  // the stream says the new columns
  ASSERT_EQ(RunUntilConverged(true, &suspended), "") << "the ALTER, applied";
  ASSERT_EQ(Shapes("t").back().kind, "ddl");
  make_last_pending();
  target_->OpenSession()->Execute("ALTER TABLE " + target_t + " DROP COLUMN c1");
  Run("UPDATE " + T() + " SET c1 = 'one ' || id WHERE id % 2 = 0");
  EXPECT_EQ(RunUntilConverged(true, &suspended), "") << "after resuming with the ALTER not run";
  EXPECT_TRUE(suspended.empty()) << fmt::format("{}", fmt::join(suspended, "; "));
  EXPECT_FALSE(Shapes("t").back().pending);

  // 2. The ALTER ran on the target: nothing runs twice.
  Run("ALTER TABLE " + T() + " ADD COLUMN c2 integer");
  Run("UPDATE " + T() + " SET n = n WHERE id = 1");
  ASSERT_EQ(RunUntilConverged(true, &suspended), "") << "the second ALTER, applied";
  make_last_pending();
  Run("UPDATE " + T() + " SET c2 = id WHERE id % 3 = 0");
  EXPECT_EQ(RunUntilConverged(true, &suspended), "") << "after resuming with the ALTER run";
  EXPECT_TRUE(suspended.empty()) << fmt::format("{}", fmt::join(suspended, "; "));

  // 3. Half of it ran (the target has neither shape): the table is suspended, with why.
  Run("ALTER TABLE " + T() + " ADD COLUMN c3 integer, ADD COLUMN c4 integer");
  Run("UPDATE " + T() + " SET n = n WHERE id = 1");
  ASSERT_EQ(RunUntilConverged(true, &suspended), "") << "the third ALTER, applied";
  make_last_pending();
  target_->OpenSession()->Execute("ALTER TABLE " + target_t + " DROP COLUMN c4");
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Resume());
  std::thread runner([&] { task->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  task->Stop();
  runner.join();
  std::string state, error;
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    if (st->SourceName() == T()) {
      state = st->state;
      error = st->error;
    }
  }
  EXPECT_EQ(state, "Suspended");
  EXPECT_NE(error.find("neither the ones before the change"), std::string::npos) << error;
}

// An ALTER between `ferry migrate` planning the tables and the task reading them for the
// capture (the soak found it): the task plans them again from what it read. Before, the task
// stopped at its start ("column gone is not in the captured table").
TEST_P(CdcDdlTest, AlterBetweenPlanningAndStart) {
  const std::vector<TablePlan> planned = Plans();
  Run("ALTER TABLE " + T() + " DROP COLUMN gone");
  Run("ALTER TABLE " + T() + " ADD COLUMN fresh integer");
  Run("UPDATE " + T() + " SET fresh = id WHERE id % 2 = 0");
  CdcTaskOptions o = Resume();  // planned as `ferry migrate` plans, but a fresh start
  o.resume = false;
  auto task = std::make_unique<CdcTask>(*source_, *target_, planned, o);
  std::thread runner([&] {
    try {
      task->Run();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the task did not start: " << e.what();
    }
  });
  EXPECT_EQ(Converge(std::chrono::seconds(60)), "");
  task->Stop();
  runner.join();
}

// A task table renamed on the source mid-stream (same OID): its changes keep going to its
// target table. Before, the capture stopped the task ("not one of task's tables").
TEST_P(CdcDdlTest, TableRenamedOnTheSourceKeepsReplicating) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options());
  std::thread runner([&] { task->Run(); });
  ASSERT_EQ(Converge(std::chrono::seconds(60)), "") << "after the full load";
  Run("ALTER TABLE " + src_ + ".other RENAME TO other_renamed");
  Run("INSERT INTO " + src_ + ".other_renamed VALUES (3, 'after the rename')");
  Run("UPDATE " + src_ + ".other_renamed SET v = 'updated' WHERE id = 1");
  Run("INSERT INTO " + T() + " (id, name, n, gone) VALUES (5000, 'x', 1, 'g')");
  // The target table keeps its name: compare it with the renamed source table.
  const std::string other = GetParam() == Engine::kSqlite ? "other" : std::string(kDst) + ".other";
  const auto until = testing::Clock::now() + std::chrono::seconds(60);
  std::string rows;
  while (testing::Clock::now() < until && rows != "1:updated,2:b,3:after the rename,") {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rows.clear();
    for (const auto& r : target_->OpenSession()->Query("SELECT id, v FROM " + other +
                                                       " ORDER BY id")) {
      rows += r[0].value_or("NULL") + ":" + r[1].value_or("NULL") + ",";
    }
  }
  EXPECT_EQ(rows, "1:updated,2:b,3:after the rename,");
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
}

// HandleSourceTableDropped false: the source table goes, the target table and its rows stay.
class CdcDropKept : public ::testing::Test, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    SetUpCdc(Engine::kSqlite, "ddl-drop-kept", "main");
    admin_->Execute("DROP SCHEMA IF EXISTS ddl_keep CASCADE; CREATE SCHEMA ddl_keep");
    admin_->Execute("CREATE TABLE ddl_keep.goes (id integer PRIMARY KEY, v text)");
    admin_->Execute("CREATE TABLE ddl_keep.stays (id integer PRIMARY KEY)");
    admin_->Execute("INSERT INTO ddl_keep.goes VALUES (1, 'a'), (2, 'b')");
  }
  void TearDown() override {
    if (admin_) admin_->Execute("DROP SCHEMA IF EXISTS ddl_keep CASCADE");
    TearDownCdc();
  }
};

TEST_F(CdcDropKept, TargetTableStays) {
  CdcTaskOptions o = BaseOptions();
  o.settings.change_processing_ddl_handling_policy.handle_source_table_dropped = false;
  auto task = std::make_unique<CdcTask>(*source_, *target_, PlansFor("ddl_keep"), o);
  std::thread runner([&] { task->Run(); });
  EXPECT_EQ(ConvergeFrom("ddl_keep", std::chrono::seconds(60)), "");
  admin_->Execute("INSERT INTO ddl_keep.goes VALUES (3, 'c')");
  admin_->Execute("DROP TABLE ddl_keep.goes");
  // The drop is seen within a heartbeat or two; the target keeps the table with its 3 rows.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string state;
  while (state != kStateTableDropped && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (const auto& st : task->stats()) {
      MutexLock lock(st->mu);
      if (st->source_table == "goes") state = st->state;
    }
  }
  task->Stop();
  runner.join();
  EXPECT_EQ(state, kStateTableDropped);
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  EXPECT_EQ(testing::UserTableDigests(*target_, "main")["goes"].rows, 3);
}

// A column added with a constant default: the source writes the default into every row it
// has, and no change of those rows reaches the stream; the target's rows get it too (they
// were left NULL before: equal row counts, different rows, and nothing said).
TEST_P(CdcDdlTest, AddedColumnWithAConstantDefaultFillsTheExistingRows) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options());
  std::thread runner([&] { task->Run(); });
  std::string diff = Converge(std::chrono::seconds(60));
  if (diff.empty()) {
    Run("ALTER TABLE " + T() +
        " ADD COLUMN flag integer DEFAULT 7, ADD COLUMN label "
        "varchar(10) DEFAULT 'it''s', ADD COLUMN plain text");
    Run("INSERT INTO " + T() + " (id, name, flag) VALUES (2001, 'after', 8)");
    diff = Converge(std::chrono::seconds(60));
  }
  task->Stop();
  runner.join();
  EXPECT_EQ(diff, "");
  EXPECT_FALSE(task->failed()) << task->stop_reason();
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcDdlTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
