// Batch apply (TargetMetadata.BatchApplyEnabled) end to end, on the real servers: a PostgreSQL
// source under a writer thread (inserts, updates of the same rows many times per batch, updates
// of the key, deletes, unchanged TOAST values, a truncate, a table without a primary key that
// stays on transactional apply), full-load-and-cdc into PostgreSQL, MariaDB and SQLite, checked
// by canonical row hash of every table on both sides.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cdc_test_env.h"
#include "change/change.h"
#include "engine/cdc_task.h"

namespace ferry {
namespace {

using testing::Open;
using testing::PostgresUri;

constexpr const char* kSrc = "batch_src";

void CreateSource(SqlSession& s) {
  s.Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE; CREATE SCHEMA " + kSrc);
  s.Execute(R"(CREATE TABLE batch_src.acc (
      id integer PRIMARY KEY, bal bigint NOT NULL, n numeric(12,2), s varchar(50), d date,
      ts timestamp(6), u uuid, bin bytea, j jsonb))");
  s.Execute(R"(INSERT INTO batch_src.acc
      SELECT g, g * 10, g / 4.0, 'acc ' || g, date '2001-01-01' + g,
             timestamp '2020-01-01' + g * interval '1 second', md5(g::text)::uuid,
             decode(md5(g::text), 'hex'), jsonb_build_object('g', g)
      FROM generate_series(1, 5000) g)");
  // A composite text key.
  s.Execute("CREATE TABLE batch_src.pair (a varchar(20), b integer, v text, PRIMARY KEY (a, b))");
  s.Execute("INSERT INTO batch_src.pair SELECT 'k' || (g % 10), g, 'v' || g "
            "FROM generate_series(1, 500) g");
  s.Execute("CREATE TABLE batch_src.toasty (id integer PRIMARY KEY, n integer, big text)");
  s.Execute("INSERT INTO batch_src.toasty SELECT g, g, repeat(md5(g::text), 5000) "
            "FROM generate_series(1, 20) g");
  s.Execute("CREATE TABLE batch_src.nokey (a integer, b text)");
  s.Execute("ALTER TABLE batch_src.nokey REPLICA IDENTITY FULL");
  s.Execute("INSERT INTO batch_src.nokey VALUES (1, 'one'), (1, 'one'), (2, 'two')");
}

void ChangeRound(SqlSession& s, int round) {
  const std::string r = std::to_string(round);
  const int base = 100000 + round * 10;
  // One transaction touching the same rows again and again.
  s.Execute("BEGIN; INSERT INTO batch_src.acc (id, bal, s) VALUES (" + std::to_string(base) +
            ", 1, 'new " + r + "'); UPDATE batch_src.acc SET bal = bal + 1 WHERE id = " +
            std::to_string(base) + "; UPDATE batch_src.acc SET bal = bal - 1, s = NULL WHERE id "
            "BETWEEN " + std::to_string(1 + round % 50 * 100) + " AND " +
            std::to_string(50 + round % 50 * 100) + "; COMMIT");
  s.Execute("UPDATE batch_src.acc SET bal = bal * 2, j = '{\"r\": " + r + "}' WHERE id % 101 = " +
            std::to_string(round % 101));
  s.Execute("UPDATE batch_src.acc SET id = id + 1000000 WHERE id = " +
            std::to_string(1000 + round));  // the key changes
  s.Execute("DELETE FROM batch_src.acc WHERE id = " + std::to_string(2000 + round));
  // Insert then delete within the batch: nets to nothing.
  s.Execute("INSERT INTO batch_src.acc (id, bal) VALUES (" + std::to_string(base + 1) +
            ", 7); DELETE FROM batch_src.acc WHERE id = " + std::to_string(base + 1));
  s.Execute("UPDATE batch_src.pair SET v = v || '+', b = b + 10000 WHERE b = " +
            std::to_string(1 + round % 500));
  s.Execute("UPDATE batch_src.toasty SET n = n + 1 WHERE id = " + std::to_string(1 + round % 20));
  s.Execute("INSERT INTO batch_src.nokey VALUES (" + r + ", 'n" + r + "')");
  s.Execute("UPDATE batch_src.nokey SET b = b || '!' WHERE ctid = (SELECT ctid FROM "
            "batch_src.nokey WHERE a = 1 LIMIT 1)");
}

class BatchApplyTest : public ::testing::TestWithParam<Engine>, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    SetUpCdc(GetParam(), fmt::format("batch-apply-{}", EngineName(GetParam())), "batch_dst");
    CreateSource(*admin_);
  }
  void TearDown() override { TearDownCdc(); }
  CdcTaskOptions Options(bool resume) const {
    CdcTaskOptions o = BaseOptions(resume);
    o.settings.target_metadata.batch_apply_enabled = true;
    o.settings.change_processing_tuning.batch_apply_timeout_min = 1;
    o.settings.change_processing_tuning.batch_apply_timeout_max = 3;
    o.settings.change_processing_tuning.batch_split_size = 5000;
    return o;
  }
  std::vector<TablePlan> Plans() { return PlansFor(kSrc); }
  std::string Converge(std::chrono::seconds timeout) { return ConvergeFrom(kSrc, timeout); }
};

TEST_P(BatchApplyTest, ChangesUnderAWriterConverge) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options(false));
  testing::SourceWriter writer(*source_, ChangeRound, std::chrono::milliseconds(10));
  std::thread runner([&] { task->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(5));
  // A truncate in the middle of the stream (not netted), then more changes.
  admin_->Execute("TRUNCATE batch_src.pair");
  admin_->Execute("INSERT INTO batch_src.pair VALUES ('after', 1, 'truncate')");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int rounds = writer.Stop();
  std::string diff = Converge(std::chrono::seconds(90));
  EXPECT_EQ(diff, "") << "after " << rounds << " rounds of changes";
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  const ChangeCounts n = ExpectTablesCompleted(*task);
  EXPECT_GT(n.applied, 0);
  EXPECT_LE(n.applied, n.received);
  task.reset();

  // Changes while stopped, then resume: applied once.
  for (int i = 0; i < 5; ++i) ChangeRound(*admin_, 5000 + i);
  CdcTask resumed(*source_, *target_, Plans(), Options(true));
  EXPECT_EQ(RunUntilConverged(resumed, kSrc, std::chrono::seconds(90)), "") << "after resume";
}

INSTANTIATE_TEST_SUITE_P(Targets, BatchApplyTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
