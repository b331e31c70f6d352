// Source table changes (ALTER TABLE) carried to the target during change processing
// (cdc/ddl_sync.h, ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered): a PostgreSQL
// source under ADD COLUMN, DROP COLUMN, RENAME COLUMN and ALTER COLUMN TYPE between inserts and
// updates, full-load-and-cdc into PostgreSQL, MariaDB and SQLite, checked by canonical row hash
// of every table on both sides after each step.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/cdc_task.h"
#include "cdc_test_env.h"

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

  // Several at once, in one transaction with changes before and after.
  Run("BEGIN; UPDATE " + T() + " SET n = 1 WHERE id = 1; ALTER TABLE " + T() +
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
    std::lock_guard lock(st->mu);
    EXPECT_NE(st->state, "Suspended") << st->SourceName() << ": " << st->error;
    if (st->SourceName() == src_ + ".other") {
      EXPECT_EQ(st->state, kStateTableDropped);
      EXPECT_EQ(st->applied_inserts, 2);
      EXPECT_EQ(st->applied_ddls, 1);
    }
  }
  task.reset();
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
      std::lock_guard lock(st->mu);
      if (st->source_table == "goes") state = st->state;
    }
  }
  task->Stop();
  runner.join();
  EXPECT_EQ(state, kStateTableDropped);
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  EXPECT_EQ(testing::UserTableDigests(*target_, "main")["goes"].rows, 3);
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcDdlTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
