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

#include "cdc/change.h"
#include "engine/cdc_task.h"
#include "test_env.h"

namespace ferry {
namespace {

using testing::DigestAll;
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

std::map<std::string, TableDigest> Digests(Connector& c, const std::string& schema) {
  std::map<std::string, TableDigest> all = DigestAll(c, schema);
  for (auto it = all.begin(); it != all.end();) {
    it = it->first.rfind("awsdms_", 0) == 0 ? all.erase(it) : std::next(it);
  }
  return all;
}

std::string Diff(const std::map<std::string, TableDigest>& a,
                 const std::map<std::string, TableDigest>& b) {
  std::string out;
  for (const auto& [name, d] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      out += name + ": missing on the target\n";
    } else if (it->second.rows != d.rows || it->second.hash != d.hash) {
      out += fmt::format("{}: source {} rows {}, target {} rows {}\n", name, d.rows, d.HashHex(),
                         it->second.rows, it->second.HashHex());
    }
  }
  if (a.size() != b.size()) out += "table count differs\n";
  return out;
}

class BatchApplyTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    source_ = Open(PostgresUri());
    admin_ = source_->OpenSession();
    data_dir_ = std::filesystem::temp_directory_path() /
                fmt::format("ferry-batch-test-{}-{}", ::getpid(), EngineName(GetParam()));
    std::filesystem::remove_all(data_dir_);
    task_ = fmt::format("batch-apply-{}", EngineName(GetParam()));
    DropSlot();
    CreateSource(*admin_);
    switch (GetParam()) {
      case Engine::kPostgres:
        target_ = Open(PostgresUri());
        target_schema_ = "batch_dst";
        target_->OpenSession()->Execute("DROP SCHEMA IF EXISTS batch_dst CASCADE");
        break;
      case Engine::kMysql:
        target_ = Open(testing::MysqlUri());
        target_schema_ = "batch_dst";
        target_->OpenSession()->Execute("DROP DATABASE IF EXISTS batch_dst");
        break;
      case Engine::kSqlite:
        sqlite_file_ = data_dir_.string() + ".db";
        std::filesystem::remove(sqlite_file_);
        target_ = Open("sqlite://" + sqlite_file_);
        target_schema_ = "main";
        break;
    }
  }
  void TearDown() override {
    if (source_) {
      try {
        DropSlot();
      } catch (const std::exception&) {
      }
    }
    std::filesystem::remove_all(data_dir_);
    if (!sqlite_file_.empty()) std::filesystem::remove(sqlite_file_);
  }
  void DropSlot() {
    std::string slot = "ferry_" + task_;
    for (char& c : slot) c = c == '-' ? '_' : c;
    admin_->Execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = '" + slot + "' AND NOT active");
  }
  CdcTaskOptions Options(bool resume) const {
    CdcTaskOptions o;
    o.task = task_;
    o.type = MigrationType::kFullLoadAndCdc;
    o.data_dir = data_dir_;
    o.resume = resume;
    o.full_load.prep_mode = TablePrepMode::kDropAndCreate;
    o.settings.target_metadata.batch_apply_enabled = true;
    o.settings.change_processing_tuning.batch_apply_timeout_min = 1;
    o.settings.change_processing_tuning.batch_apply_timeout_max = 3;
    o.settings.change_processing_tuning.batch_split_size = 5000;
    o.heartbeat = std::chrono::seconds(1);
    return o;
  }
  std::vector<TablePlan> Plans() {
    std::vector<TableDef> defs = source_->OpenCatalog()->ListTables(kSrc);
    return PlanTables(defs, Engine::kPostgres, *target_, target_schema_, {});
  }
  std::string Converge(std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string diff;
    while (std::chrono::steady_clock::now() < until) {
      diff = Diff(Digests(*source_, kSrc), Digests(*target_, target_schema_));
      if (diff.empty()) return diff;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return diff;
  }

  std::unique_ptr<Connector> source_, target_;
  std::unique_ptr<SqlSession> admin_;
  std::filesystem::path data_dir_;
  std::string sqlite_file_;
  std::string task_;
  std::string target_schema_;
};

TEST_P(BatchApplyTest, ChangesUnderAWriterConverge) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options(false));
  std::atomic<bool> writing{true};
  std::atomic<int> rounds{0};
  std::thread writer([&] {
    auto s = source_->OpenSession();
    while (writing) {
      ChangeRound(*s, rounds++);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::thread runner([&] { task->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(5));
  // A truncate in the middle of the stream (not netted), then more changes.
  admin_->Execute("TRUNCATE batch_src.pair");
  admin_->Execute("INSERT INTO batch_src.pair VALUES ('after', 1, 'truncate')");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  writing = false;
  writer.join();
  std::string diff = Converge(std::chrono::seconds(90));
  EXPECT_EQ(diff, "") << "after " << rounds << " rounds of changes";
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  int64_t applied = 0, received = 0;
  for (const auto& st : task->stats()) {
    std::lock_guard lock(st->mu);
    EXPECT_EQ(st->state, kStateCompleted) << st->SourceName() << ": " << st->error;
    applied += st->applied_inserts + st->applied_updates + st->applied_deletes;
    received += st->cdc_inserts + st->cdc_updates + st->cdc_deletes;
  }
  EXPECT_GT(applied, 0);
  EXPECT_LE(applied, received);
  task.reset();

  // Changes while stopped, then resume: applied once.
  for (int i = 0; i < 5; ++i) ChangeRound(*admin_, 5000 + i);
  auto resumed = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options(true));
  std::thread runner2([&] { resumed->Run(); });
  diff = Converge(std::chrono::seconds(90));
  EXPECT_EQ(diff, "") << "after resume";
  resumed->Stop();
  runner2.join();
  EXPECT_FALSE(resumed->failed()) << resumed->stop_reason();
}

INSTANTIATE_TEST_SUITE_P(Targets, BatchApplyTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
