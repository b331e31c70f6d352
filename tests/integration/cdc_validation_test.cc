// Data validation in CDC tasks (issue 10; validation/change_validator.h): with EnableValidation a
// full-load-and-cdc task validates each table whole once it is live, then every row its changes
// touch, by key on both sides. Changes in flight (a writer busy the whole time) give no false
// failures; a row changed on the target behind the task's back is found: one the task then
// cannot apply (deleted on the target) by its next change, one edited while the task was
// stopped by the whole-table pass of the resumed task. Failures reach
// awsdms_validation_failures_v1, the table statistics and the task store (`ferry status`).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cdc_test_env.h"
#include "control/control_tables.h"
#include "engine/cdc_task.h"
#include "engine/full_load.h"
#include "task/task_store.h"
#include "validation/validator.h"

namespace ferry {
namespace {

constexpr const char* kSrc = "cdcval_src";
constexpr const char* kDst = "cdcval_dst";

class CdcValidationTest : public ::testing::TestWithParam<Engine>,
                          protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    SetUpCdc(GetParam(), fmt::format("cdcval-{}", EngineName(GetParam())), kDst);
    admin_->Execute(fmt::format("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", kSrc));
    admin_->Execute(fmt::format(
        "CREATE TABLE {}.vt (id integer PRIMARY KEY, v text, n numeric(10,2), d timestamp)",
        kSrc));
    admin_->Execute(fmt::format(
        "INSERT INTO {}.vt SELECT g, 'v' || g, g / 4.0, timestamp '2024-01-01' + g * "
        "interval '1 minute' FROM generate_series(1, 2000) g",
        kSrc));
    admin_->Execute(fmt::format(
        "CREATE TABLE {}.vk (a integer, b varchar(20), v integer, PRIMARY KEY (a, b))", kSrc));
    admin_->Execute(fmt::format(
        "INSERT INTO {}.vk SELECT g % 50, 'k''' || g, g FROM generate_series(1, 500) g", kSrc));
  }
  void TearDown() override { TearDownCdc(); }

  CdcTaskOptions Options(bool resume) {
    CdcTaskOptions o = resume ? ResumeOptions(kSrc) : BaseOptions();
    ValidationSettings& v = o.settings.validation_settings;
    v.enable_validation = true;
    v.record_failure_delay_in_minutes = 0;  // a row that still differs on its second look fails
    v.validation_query_cdc_delay_seconds = 0;
    control_schema_ = GetParam() == Engine::kSqlite ? "" : "cdcval_ctl";
    o.settings.control_tables_settings.control_schema = control_schema_;
    return o;
  }
  std::vector<TablePlan> Plans() { return PlansFor(kSrc); }
  std::string Converge() { return ConvergeFrom(kSrc, std::chrono::seconds(90)); }
  std::string Dst(const std::string& table) const {
    return GetParam() == Engine::kSqlite ? table : std::string(kDst) + "." + table;
  }

  // Waits until every table's validation settles (nothing pending); returns "" or what is not.
  static std::string WaitValidated(CdcTask& task, std::chrono::seconds timeout) {
    const auto until = testing::Clock::now() + timeout;
    std::string last;
    while (testing::Clock::now() < until) {
      last.clear();
      for (const auto& st : task.stats()) {
        MutexLock lock(st->mu);
        if (st->validation_state != kValidationValidated &&
            st->validation_state != kValidationMismatched) {
          last += fmt::format("{}: {} ({} pending) {}; ", st->SourceName(), st->validation_state,
                              st->validation_pending_records, st->validation_message);
        } else if (st->validation_pending_records > 0) {
          last += fmt::format("{}: {} pending; ", st->SourceName(),
                              st->validation_pending_records);
        }
      }
      if (last.empty()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return last;
  }

  // Waits until table `name` has a validation failure; returns its failed records.
  static int64_t WaitFailed(CdcTask& task, const std::string& name,
                            std::chrono::seconds timeout) {
    const auto until = testing::Clock::now() + timeout;
    int64_t failed = 0;
    while (testing::Clock::now() < until && failed == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      for (const auto& st : task.stats()) {
        MutexLock lock(st->mu);
        if (st->source_table == name) failed = st->validation_failed_records;
      }
    }
    return failed;
  }

  std::string control_schema_;
};

TEST_P(CdcValidationTest, ChangesValidatedAndTargetEditsFound) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options(false));
  std::thread runner([&] { task->Run(); });
  // A writer busy all along: rows are compared while newer changes of them are on their way.
  std::atomic<bool> writing{true};
  std::atomic<int> rounds{0};
  std::thread writer([&] {
    auto s = source_->OpenSession();
    while (writing) {
      const int r = rounds++;
      s->Execute(fmt::format("BEGIN; UPDATE {0}.vt SET v = v || '+', n = n + 1 WHERE id % 97 = "
                             "{1}; INSERT INTO {0}.vt VALUES ({2}, 'new', {1}.5, now()); "
                             "UPDATE {0}.vk SET v = v + 1 WHERE a = {3}; DELETE FROM {0}.vt "
                             "WHERE id = {4}; COMMIT",
                             kSrc, r % 97, 10000 + r, r % 50, 100 + r));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(6));
  writing = false;
  writer.join();
  EXPECT_EQ(Converge(), "");
  EXPECT_EQ(WaitValidated(*task, std::chrono::seconds(60)), "");
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_EQ(st->validation_state, kValidationValidated) << st->SourceName();
    EXPECT_EQ(st->validation_failed_records, 0) << st->SourceName() << " after " << rounds
                                                << " writer rounds";
  }

  // A row deleted on the target behind the task's back, then changed on the source: the update
  // finds no row (an apply conflict, logged) and validation finds the row missing.
  target_->OpenSession()->Execute(fmt::format("DELETE FROM {} WHERE id = 6", Dst("vt")));
  admin_->Execute(fmt::format("UPDATE {}.vt SET v = 'changed' WHERE id = 6", kSrc));
  EXPECT_EQ(WaitFailed(*task, "vt", std::chrono::seconds(60)), 1);
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  task.reset();

  // A row edited on the target while the task is stopped: the resumed task's whole-table pass
  // finds it (and compares it again before it counts).
  target_->OpenSession()->Execute(
      fmt::format("UPDATE {} SET v = 'edited behind the task' WHERE id = 5", Dst("vt")));
  auto resumed = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options(true));
  std::atomic<bool> running{false};
  resumed->on_running = [&] { running = true; };
  std::thread runner2([&] { resumed->Run(); });
  while (!running) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(WaitValidated(*resumed, std::chrono::seconds(60)), "");
  resumed->Stop();
  runner2.join();
  for (const auto& st : resumed->stats()) {
    MutexLock lock(st->mu);
    if (st->source_table == "vt") {
      EXPECT_EQ(st->validation_state, kValidationMismatched);
      // This run's: the edited row, and the deleted one again (a table validated anew starts
      // a new list of failures).
      EXPECT_EQ(st->validation_failed_records, 2);
    } else {
      EXPECT_EQ(st->validation_state, kValidationValidated) << st->SourceName();
    }
  }
  resumed.reset();

  // Both failures on the target, as DMS records them; the statistics in the task store.
  ControlTablesSettings cs;
  cs.control_schema = control_schema_;
  ControlTables control(*target_, cs, task_);
  auto rows = target_->OpenSession()->Query(fmt::format(
      "SELECT {}, {}, {} FROM {} WHERE {} = '{}' ORDER BY 2", control.Column("FAILURE_TYPE"),
      control.Column("KEY"), control.Column("TABLE_NAME"),
      control.QualifiedName(kValidationFailuresTable), control.Column("TASK_NAME"), task_));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(*rows[0][0], "RECORD_DIFF");
  EXPECT_EQ(*rows[0][1], R"({"key":["5"]})");
  EXPECT_EQ(*rows[0][2], "vt");
  EXPECT_EQ(*rows[1][0], "MISSING_TARGET");
  EXPECT_EQ(*rows[1][1], R"({"key":["6"]})");
  std::unique_ptr<TaskStore> store = TaskStore::Open(data_dir_, /*read_only=*/true);
  for (const TableRecord& r : store->GetTables(task_)) {
    EXPECT_EQ(r.validation_state,
              r.source_table == "vt" ? kValidationMismatched : kValidationValidated)
        << r.source_table;
  }
}

// ValidationOnly with a CDC migration type: the task applies nothing; it validates the rows the
// source's changes touch on a target something else keeps up to date (here: the test, which
// repeats each change on the target itself, all but one).
TEST_P(CdcValidationTest, ValidationOnlyValidatesChangesAndAppliesNothing) {
  // The target: a copy of the source made beforehand (by a plain full load).
  {
    FullLoadOptions fo;
    fo.prep_mode = TablePrepMode::kDropAndCreate;
    FullLoad load(*source_, *target_, Plans(), fo);
    load.Run();
  }
  CdcTaskOptions o = Options(false);
  o.type = MigrationType::kCdc;
  o.validation_only = true;
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), o);
  std::atomic<bool> running{false};
  task->on_running = [&] { running = true; };
  std::thread runner([&] { task->Run(); });
  while (!running) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(WaitValidated(*task, std::chrono::seconds(60)), "") << "the copy";

  auto target = target_->OpenSession();
  for (int id = 20; id < 30; ++id) {
    admin_->Execute(fmt::format("UPDATE {}.vt SET v = 'upd {}' WHERE id = {}", kSrc, id, id));
    // Kept up to date on the target by "someone else", except row 25.
    if (id != 25) {
      target->Execute(fmt::format("UPDATE {} SET v = 'upd {}' WHERE id = {}", Dst("vt"), id, id));
    }
  }
  admin_->Execute(fmt::format("INSERT INTO {}.vk VALUES (99, 'x', 1)", kSrc));
  target->Execute(fmt::format("INSERT INTO {} VALUES (99, 'x', 1)", Dst("vk")));
  WaitFailed(*task, "vt", std::chrono::seconds(60));
  EXPECT_EQ(WaitValidated(*task, std::chrono::seconds(60)), "");
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_EQ(st->applied_inserts + st->applied_updates + st->applied_deletes, 0)
        << st->SourceName();
    if (st->source_table == "vt") {
      EXPECT_EQ(st->validation_failed_records, 1);
      EXPECT_EQ(st->validation_state, kValidationMismatched);
    } else {
      EXPECT_EQ(st->validation_state, kValidationValidated) << st->SourceName();
    }
  }
  // Ferry applied nothing: row 25 still holds its old value on the target.
  auto rows = target->Query(fmt::format("SELECT v FROM {} WHERE id = 25", Dst("vt")));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or("NULL"), "v25");
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcValidationTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
