// Change data capture honours the source filters of the selection rules (issue 10, case 4):
// the target holds exactly the source rows that satisfy the filter at every moment. An insert
// outside is skipped, an update into the filter inserts, an update out of it deletes, a change
// of a row that was never on the target is no apply error. On all three targets, transactional
// and batch apply, a filter on a column that is not the key (updates carry no old image).
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "cdc_test_env.h"
#include "mapping/mapping_apply.h"

namespace ferry {
namespace {

class CdcFilter : public ::testing::TestWithParam<std::tuple<Engine, bool>>,
                  protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    const Engine target = std::get<0>(GetParam());
    if (target == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    SetUpCdc(target,
             fmt::format("cdc-filter-{}-{}", EngineName(target),
                         std::get<1>(GetParam()) ? "batch" : "txn"),
             "cdc_filter_dst");
    admin_->Execute("DROP SCHEMA IF EXISTS cdc_filter CASCADE; CREATE SCHEMA cdc_filter");
    admin_->Execute("CREATE TABLE cdc_filter.t (id integer PRIMARY KEY, grp integer, v text)");
    admin_->Execute("INSERT INTO cdc_filter.t SELECT g, g, 'v' || g FROM generate_series(1, 20) g");
  }
  void TearDown() override {
    TearDownCdc();
    if (admin_) admin_->Execute("DROP SCHEMA IF EXISTS cdc_filter CASCADE");
  }
  // Rows as "id|grp|v" lines, ordered by id.
  static std::string Rows(SqlSession& s, const std::string& table, const std::string& where) {
    std::string out;
    for (const auto& row : s.Query("SELECT id, grp, v FROM " + table + where + " ORDER BY id")) {
      for (const auto& cell : row) out += cell.value_or("NULL") + "|";
      out += "\n";
    }
    return out;
  }
};

TEST_P(CdcFilter, TargetHoldsExactlyTheRowsInTheFilter) {
  std::vector<TablePlan> plans = PlansFor("cdc_filter");
  ASSERT_EQ(plans.size(), 1u);
  SourceFilter f;
  f.column = "grp";
  f.rule_id = "1";
  FilterCondition between;
  between.op = FilterOperator::kBetween;
  between.start_value = "1";
  between.end_value = "10";
  f.conditions.push_back(between);
  plans[0].filters = {f};
  plans[0].where = FilterToSql(
      plans[0].filters,
      [](std::string_view v) { return DialectFor(Engine::kPostgres).QuoteLiteral(v); },
      [](std::string_view n) { return "\"" + std::string(n) + "\""; });
  CdcTaskOptions o = BaseOptions();
  o.settings.target_metadata.batch_apply_enabled = std::get<1>(GetParam());
  auto task = std::make_unique<CdcTask>(*source_, *target_, plans, o);
  std::thread runner([&] { task->Run(); });
  const std::string expect_where = " WHERE grp BETWEEN 1 AND 10";
  auto target_session = target_->OpenSession();
  const std::string target_table =
      target_schema_ == "main" ? "t" : target_schema_ + ".t";
  auto wait_equal = [&] {
    std::string want, got;
    for (int i = 0; i < 300; ++i) {
      want = Rows(*admin_, "cdc_filter.t", expect_where);
      try {
        got = Rows(*target_session, target_table, "");
      } catch (const std::exception& e) {
        got = e.what();
      }
      if (want == got) return std::string();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "source (filtered):\n" + want + "target:\n" + got;
  };
  EXPECT_EQ(wait_equal(), "") << "after the full load";
  admin_->Execute("INSERT INTO cdc_filter.t VALUES (100, 100, 'outside')");
  admin_->Execute("INSERT INTO cdc_filter.t VALUES (101, 5, 'inside')");
  admin_->Execute("UPDATE cdc_filter.t SET grp = 3 WHERE id = 15");      // enters
  admin_->Execute("UPDATE cdc_filter.t SET grp = 50 WHERE id = 2");      // leaves
  admin_->Execute("UPDATE cdc_filter.t SET grp = 17 WHERE id = 16");     // stays outside
  admin_->Execute("UPDATE cdc_filter.t SET v = 'changed' WHERE id = 3");  // stays inside
  admin_->Execute("DELETE FROM cdc_filter.t WHERE id = 18");             // outside
  admin_->Execute("DELETE FROM cdc_filter.t WHERE id = 4");              // inside
  admin_->Execute("BEGIN; UPDATE cdc_filter.t SET grp = 60 WHERE id = 5; "
                  "UPDATE cdc_filter.t SET grp = 6, v = 'back' WHERE id = 5; COMMIT");
  admin_->Execute("UPDATE cdc_filter.t SET grp = NULL WHERE id = 6");    // NULL is outside
  admin_->Execute("UPDATE cdc_filter.t SET id = 200 WHERE id = 7");      // key change inside
  admin_->Execute("UPDATE cdc_filter.t SET id = 300, grp = 70 WHERE id = 8");  // key, leaves
  EXPECT_EQ(wait_equal(), "") << "after the changes";
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  const TableStats& st = *task->stats()[0];
  EXPECT_EQ(st.cdc_apply_errors.load(), 0);
  MutexLock lock(const_cast<TableStats&>(st).mu);
  EXPECT_EQ(st.state, kStateCompleted) << st.error;
}

INSTANTIATE_TEST_SUITE_P(
    Targets, CdcFilter,
    ::testing::Combine(::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                       ::testing::Bool()),
    [](const auto& info) {
      return std::string(EngineName(std::get<0>(info.param))) +
             (std::get<1>(info.param) ? "_batch" : "_transactional");
    });

}  // namespace
}  // namespace ferry
