// Change data capture from the MariaDB test server (binlog, issue 13) end to end: full-load-
// and-cdc into PostgreSQL, MariaDB and SQLite targets under a concurrent writer, checked by
// canonical row hash of every table on both sides. Every column type, changes of every kind
// (insert, update, update of the key, delete, truncate, a table without a key), an ALTER TABLE
// mid-stream, changes while the task is stopped, a resume; a purged binlog on resume.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "cdc_test_env.h"
#include "change/change.h"
#include "engine/cdc_task.h"
#include "task/task_store.h"

namespace ferry {
namespace {

using testing::Open;

constexpr const char* kSrc = "cdc_my";

void CreateSource(SqlSession& s) {
  s.Execute(std::string("DROP DATABASE IF EXISTS ") + kSrc + "; CREATE DATABASE " + kSrc);
  s.Execute(R"(CREATE TABLE cdc_my.alltypes (
      id int PRIMARY KEY, ti tinyint, si smallint unsigned, mi mediumint, i4 int NOT NULL,
      bi bigint, ubi bigint unsigned, dc decimal(20,4), dbl double, vc varchar(100),
      ch char(5), tx text, bl blob, vb varbinary(16), bn binary(4), d date, dt datetime(6),
      ts timestamp(3) NULL, tm time(2), y year, e enum('x','y','z'), st set('a','b','c'),
      j json, bt bit(10)) CHARACTER SET utf8mb4)");
  s.Execute(R"(INSERT INTO cdc_my.alltypes
      SELECT g, g % 128 - 64, g % 65536, g * 3 - 8000000, g, g * 1000003,
             18446744073709551615 - g, g * 1.5, g / 7.0, concat('row ', g),
             left(md5(g), 5), repeat('t', g % 50), unhex(md5(g)), unhex(left(md5(g), 8)),
             unhex(left(md5(g), 8)), date '2000-01-01' + interval g day,
             timestamp '2020-01-01 00:00:00.123456' + interval g minute,
             timestamp '2020-01-01 00:00:00.5' + interval g hour,
             sec_to_time(g % 86400) + interval 0.25 second, 1901 + g % 255,
             elt(1 + g % 3, 'x', 'y', 'z'), elt(1 + g % 3, 'a', 'a,b', 'b,c'),
             json_object('g', g), g % 1024
      FROM (SELECT CAST(seq AS SIGNED) AS g FROM seq_1_to_20000) x)");
  // No primary key: updates and deletes are matched on every column.
  s.Execute("CREATE TABLE cdc_my.nokey (a int, b varchar(50))");
  s.Execute("INSERT INTO cdc_my.nokey VALUES (1, 'one'), (1, 'one'), (2, 'two')");
}

// Every kind of change, once.
void ChangeEverything(SqlSession& s, int round) {
  const std::string r = std::to_string(round);
  s.Execute("INSERT INTO cdc_my.alltypes (id, i4, vc, tx, dc, ts, ubi, e, st, j, bt) VALUES (" +
            std::to_string(100000 + round) + ", " + r + ", 'new " + r +
            "', 'emoji \xF0\x9F\x98\x80', 12345678901234.5678, now(), 18446744073709551615, "
            "'z', 'a,c', '{\"x\": [1, 2.5]}', b'1010101010')");
  s.Execute("UPDATE cdc_my.alltypes SET vc = 'upd " + r +
            "', dbl = dbl * 2, ti = -ti "
            "WHERE id % 97 = " +
            std::to_string(round % 97));
  s.Execute("UPDATE cdc_my.alltypes SET id = id + 500000 WHERE id = " +
            std::to_string(1000 + round));  // the key changes
  s.Execute("DELETE FROM cdc_my.alltypes WHERE id = " + std::to_string(2000 + round));
  s.Execute(
      "BEGIN; UPDATE cdc_my.alltypes SET bi = NULL, j = '[]', d = '2024-02-29' "
      "WHERE id = " +
      std::to_string(3000 + round) + "; INSERT INTO cdc_my.nokey (a, b) VALUES (" + r + ", 'n" + r +
      "'); COMMIT");
  s.Execute("UPDATE cdc_my.nokey SET b = concat(left(b, 40), '!', " + r + ") WHERE a = 1 LIMIT 1");
}

class MyCdcTest : public ::testing::TestWithParam<Engine>, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_MYSQL();
    if (GetParam() == Engine::kPostgres) FERRY_REQUIRE_POSTGRES();
    SetUpCdc(GetParam(), fmt::format("cdc-my-{}", EngineName(GetParam())), "cdc_my_dst",
             Engine::kMysql);
    CreateSource(*admin_);
  }
  void TearDown() override { TearDownCdc(); }
  std::string Converge(std::chrono::seconds timeout) { return ConvergeFrom(kSrc, timeout); }
};

TEST_P(MyCdcTest, FullLoadWhileWritingThenChangesAlterAndResume) {
  // 1. Full load while a writer changes the source: what changed during each table's load is
  //    cached from that table's own binlog point and applied after it.
  auto task = std::make_unique<CdcTask>(*source_, *target_, PlansFor(kSrc), BaseOptions(false));
  testing::SourceWriter writer(*source_, ChangeEverything, std::chrono::milliseconds(10));
  std::thread runner([&] { task->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int rounds = writer.Stop();
  // 2. Streaming: more changes, a truncate, a new column used at once.
  ChangeEverything(*admin_, 1000);
  admin_->Execute("TRUNCATE cdc_my.nokey");
  admin_->Execute("INSERT INTO cdc_my.nokey VALUES (7, 'after truncate'), (7, NULL)");
  admin_->Execute("ALTER TABLE cdc_my.alltypes ADD COLUMN added varchar(20) DEFAULT 'dflt'");
  admin_->Execute("UPDATE cdc_my.alltypes SET added = 'set' WHERE id % 50 = 0");
  ChangeEverything(*admin_, 1001);
  std::string diff = Converge(std::chrono::seconds(90));
  task->Stop();
  runner.join();
  // Stops here when it differs: the tables stay as they are for a look.
  ASSERT_EQ(diff, "") << "after " << rounds << " rounds of changes during the load";
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  EXPECT_GT(ExpectTablesCompleted(*task).applied, 0);
  task.reset();

  // 3. Changes while the task is stopped, before and after another ALTER, then a resume: they
  //    arrive, each decoded with the columns it was written with, nothing twice.
  for (int i = 0; i < 3; ++i) ChangeEverything(*admin_, 2000 + i);
  admin_->Execute("ALTER TABLE cdc_my.nokey ADD COLUMN c int");
  admin_->Execute("INSERT INTO cdc_my.nokey VALUES (8, 'with c', 88)");
  for (int i = 3; i < 5; ++i) ChangeEverything(*admin_, 2000 + i);
  CdcTask resumed(*source_, *target_, PlansFor(kSrc), ResumeOptions(kSrc));
  EXPECT_EQ(RunUntilConverged(resumed, kSrc, std::chrono::seconds(90)), "") << "after resume";
}

INSTANTIATE_TEST_SUITE_P(Targets, MyCdcTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

// `ferry migrate` from the MariaDB source into PostgreSQL, killed with SIGKILL at seeded random
// moments (during the full load, while cached changes apply, while streaming) under a
// continuous writer, each time started again with --resume; then the writer stops and a last
// run goes until the target equals the source, by canonical row hash. Nothing lost, nothing
// applied twice: a table without a key, whose duplicate rows make any change applied twice
// visible, is part of it.
class MyCdcCli : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_MYSQL();
    FERRY_REQUIRE_POSTGRES();
    source_ = Open(testing::MysqlUri());
    admin_ = source_->OpenSession();
    dir_ = std::filesystem::temp_directory_path() / fmt::format("ferry-mycli-{}", ::getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    if (ferry_.pid > 0) testing::KillFerry(ferry_);
    std::filesystem::remove_all(dir_);
  }
  std::vector<std::string> Args(const std::string& db, const std::string& type, bool resume) {
    std::vector<std::string> a = {"migrate",
                                  "--source",
                                  testing::WithDatabase(testing::MysqlUri(), db),
                                  "--target",
                                  testing::PostgresUri(),
                                  "--target-schema",
                                  db + "_dst",
                                  "--migration-type",
                                  type,
                                  "--data-dir",
                                  (dir_ / "data").string(),
                                  "--task-name",
                                  "mycli",
                                  "--no-progress"};
    if (resume) a.push_back("--resume");
    return a;
  }
  template <typename F>
  bool WaitFor(F ready, std::chrono::seconds timeout) {
    const auto until = testing::Clock::now() + timeout;
    while (testing::Clock::now() < until) {
      if (ready()) return true;
      if (!testing::Running(ferry_)) return ready();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string Log() const { return testing::ReadText(ferry_.err_file); }

  std::unique_ptr<SqlConnector> source_;
  std::unique_ptr<SqlSession> admin_;
  std::filesystem::path dir_;
  testing::FerryProcess ferry_;
};

TEST_F(MyCdcCli, KilledAtRandomMomentsLosesNothing) {
  admin_->Execute("DROP DATABASE IF EXISTS cdc_mykill; CREATE DATABASE cdc_mykill");
  admin_->Execute(
      "CREATE TABLE cdc_mykill.big (id int PRIMARY KEY, v int NOT NULL, "
      "s varchar(60))");
  admin_->Execute(
      "INSERT INTO cdc_mykill.big SELECT seq, seq, concat('big row ', seq) "
      "FROM seq_1_to_300000");
  admin_->Execute("CREATE TABLE cdc_mykill.nk (a int, b varchar(40))");
  admin_->Execute("INSERT INTO cdc_mykill.nk SELECT seq % 100, 'dup' FROM seq_1_to_2000");
  auto pg = Open(testing::PostgresUri())->OpenSession();
  pg->Execute("DROP SCHEMA IF EXISTS cdc_mykill_dst CASCADE");

  const uint32_t seed = 20261207u;
  std::mt19937 rng(seed);
  std::atomic<bool> writing{true};
  std::atomic<int64_t> writes{0};
  std::thread writer([&] {
    std::mt19937 wr(seed + 1);
    auto s = source_->OpenSession();
    int64_t next = 1000000;
    while (writing) {
      const int64_t id = 1 + static_cast<int64_t>(wr() % 300000);
      switch (wr() % 6) {
        case 0:
          s->Execute(fmt::format("INSERT INTO cdc_mykill.big VALUES ({}, 1, 'new')", next++));
          break;
        case 1:
          s->Execute(fmt::format("UPDATE cdc_mykill.big SET v = v + 1 WHERE id = {}", id));
          break;
        case 2:
          s->Execute(fmt::format("DELETE FROM cdc_mykill.big WHERE id = {}", id));
          break;
        case 3:
          s->Execute(fmt::format("UPDATE cdc_mykill.big SET id = {} WHERE id = {}", next++, id));
          break;
        case 4:
          s->Execute(
              fmt::format("BEGIN; UPDATE cdc_mykill.nk SET b = 'dup{}' WHERE a = {} "
                          "LIMIT 1; INSERT INTO cdc_mykill.nk VALUES ({}, 'dup'); "
                          "UPDATE cdc_mykill.big SET s = 'txn' WHERE id BETWEEN {} AND {};"
                          " COMMIT",
                          wr() % 3, id % 100, id % 100, id, id + 50));
          break;
        default:
          s->Execute(fmt::format("DELETE FROM cdc_mykill.nk WHERE a = {} LIMIT 1", id % 100));
          break;
      }
      ++writes;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  bool stored = false;
  int kills = 0;
  for (int k = 0; k < 6; ++k) {
    ferry_ = testing::StartFerry(Args("cdc_mykill", "full-load-and-cdc", stored));
    if (k % 2 == 1) {  // once streaming
      WaitFor(
          [&] { return Log().find("every table is in change processing") != std::string::npos; },
          std::chrono::seconds(60));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 2500));
    const bool was_running = testing::Running(ferry_);
    testing::CliRun run = testing::KillFerry(ferry_);
    ASSERT_TRUE(was_running) << "ferry ended on its own, exit " << run.exit_code << ":\n"
                             << run.err;
    ++kills;
    if (!stored) {
      try {
        stored = TaskStore::Open(dir_ / "data", /*read_only=*/true)->GetTask("mycli").has_value();
      } catch (const Error&) {
      }
    }
  }
  writing = false;
  writer.join();
  ferry_ = testing::StartFerry(Args("cdc_mykill", "full-load-and-cdc", true));
  auto target = Open(testing::PostgresUri());
  const auto want = testing::UserTableDigests(*source_, "cdc_mykill");
  std::string diff = "not compared";
  const auto until = testing::Clock::now() + std::chrono::seconds(120);
  while (testing::Clock::now() < until && testing::Running(ferry_)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    diff = testing::DigestDiff(want, testing::UserTableDigests(*target, "cdc_mykill_dst"));
    if (diff.empty()) break;
  }
  if (testing::Running(ferry_)) ::kill(ferry_.pid, SIGINT);
  WaitFor([] { return false; }, std::chrono::seconds(30));
  testing::CliRun last = testing::KillFerry(ferry_);
  std::cout << fmt::format("[ my-kill  ] {} kills, {} writes\n", kills, writes.load());
  EXPECT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(want.size(), 2u);
  EXPECT_EQ(diff, "") << last.err;
}

// --cdc-start-position in DMS's form (file:offset) starts there; a resume after the server
// purged the binlog file of its checkpoint stops with an error naming the file, never a gap.
TEST_F(MyCdcCli, StartPositionThenPurgedBinlogOnResume) {
  admin_->Execute("DROP DATABASE IF EXISTS cdc_mypurge; CREATE DATABASE cdc_mypurge");
  admin_->Execute("CREATE TABLE cdc_mypurge.t (id int PRIMARY KEY, v varchar(20))");
  auto pg = Open(testing::PostgresUri())->OpenSession();
  pg->Execute(
      "DROP SCHEMA IF EXISTS cdc_mypurge_dst CASCADE; CREATE SCHEMA cdc_mypurge_dst; "
      "CREATE TABLE cdc_mypurge_dst.t (id integer PRIMARY KEY, v varchar(20))");
  const auto status = admin_->Query("SHOW MASTER STATUS");
  ASSERT_FALSE(status.empty());
  const std::string start = *status[0][0] + ":" + *status[0][1];
  admin_->Execute("INSERT INTO cdc_mypurge.t VALUES (1, 'before start'), (2, 'two')");

  std::vector<std::string> args = Args("cdc_mypurge", "cdc", false);
  args.insert(args.end(), {"--cdc-start-position", start});
  ferry_ = testing::StartFerry(args);
  auto target = Open(testing::PostgresUri());
  ASSERT_TRUE(WaitFor(
      [&] {
        return testing::DigestDiff(testing::UserTableDigests(*source_, "cdc_mypurge"),
                                   testing::UserTableDigests(*target, "cdc_mypurge_dst"))
            .empty();
      },
      std::chrono::seconds(60)))
      << Log();
  ::kill(ferry_.pid, SIGINT);
  testing::CliRun first = testing::WaitFerry(ferry_);
  ASSERT_EQ(first.exit_code, 0) << first.err;

  // Changes while stopped, then the binlog moves on and the files before the current one go.
  admin_->Execute("INSERT INTO cdc_mypurge.t VALUES (3, 'while stopped')");
  admin_->Execute("FLUSH BINARY LOGS");
  const std::string current = *admin_->Query("SHOW MASTER STATUS")[0][0];
  // MariaDB keeps a file until its binlog checkpoint has moved on (InnoDB flushed its
  // transactions): PURGE leaves it there meanwhile, silently.
  const std::string start_file = start.substr(0, start.find(':'));
  bool purged = false;
  for (int i = 0; i < 100 && !purged; ++i) {
    admin_->Execute("PURGE BINARY LOGS TO '" + current + "'");
    purged = true;
    for (const auto& row : admin_->Query("SHOW BINARY LOGS"))
      purged = purged && *row[0] != start_file;
    if (!purged) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(purged) << "the server kept " << start_file << " after PURGE BINARY LOGS";
  ferry_ = testing::StartFerry(Args("cdc_mypurge", "cdc", true));
  WaitFor([] { return false; }, std::chrono::seconds(60));  // until it ends
  const bool hung = testing::Running(ferry_);
  testing::CliRun resumed = testing::KillFerry(ferry_);
  EXPECT_FALSE(hung) << "the resumed task did not stop:\n" << resumed.err;
  EXPECT_NE(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("binlog file " + start_file + " of "), std::string::npos)
      << resumed.err;
  EXPECT_NE(resumed.err.find("without --resume to reload the tables"), std::string::npos)
      << resumed.err;

  // Nothing of the task is on the source: no slot or publication to show or drop.
  testing::CliRun shown =
      testing::RunFerry({"status", "--data-dir", (dir_ / "data").string(), "--task-name", "mycli"});
  EXPECT_EQ(shown.out.find("Replication slot"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("CDC start position   " + start), std::string::npos) << shown.out;
  testing::CliRun deleted = testing::RunFerry(
      {"delete-task", "--data-dir", (dir_ / "data").string(), "--task-name", "mycli", "--source",
       testing::WithDatabase(testing::MysqlUri(), "cdc_mypurge")});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(deleted.out.find("keeps no objects on the source"), std::string::npos) << deleted.out;
}

// --cdc-start-position as a MariaDB GTID position (what @@gtid_binlog_pos prints): the task
// applies the transactions after it and none before.
TEST_F(MyCdcCli, MariadbGtidStartPosition) {
  admin_->Execute("DROP DATABASE IF EXISTS cdc_mygtid; CREATE DATABASE cdc_mygtid");
  admin_->Execute("CREATE TABLE cdc_mygtid.t (id int PRIMARY KEY, v varchar(20))");
  admin_->Execute("INSERT INTO cdc_mygtid.t VALUES (1, 'before the start')");
  const auto gtid = admin_->Query("SELECT @@gtid_binlog_pos");
  ASSERT_TRUE(!gtid.empty() && gtid[0][0] && !gtid[0][0]->empty());
  admin_->Execute("INSERT INTO cdc_mygtid.t VALUES (2, 'after'), (3, 'after')");
  admin_->Execute("UPDATE cdc_mygtid.t SET v = 'updated' WHERE id = 1");
  auto pg = Open(testing::PostgresUri())->OpenSession();
  pg->Execute(
      "DROP SCHEMA IF EXISTS cdc_mygtid_dst CASCADE; CREATE SCHEMA cdc_mygtid_dst; "
      "CREATE TABLE cdc_mygtid_dst.t (id integer PRIMARY KEY, v varchar(20))");
  std::vector<std::string> args = Args("cdc_mygtid", "cdc", false);
  args.insert(args.end(), {"--cdc-start-position", *gtid[0][0]});
  ferry_ = testing::StartFerry(args);
  auto rows = [&] {
    const auto r = pg->Query(
        "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM "
        "cdc_mygtid_dst.t");
    return r.empty() || !r[0][0] ? std::string() : *r[0][0];
  };
  // The update of row 1 finds no row on the target (its insert came before the start).
  const std::string want = "2:after,3:after";
  EXPECT_TRUE(WaitFor([&] { return rows() == want; }, std::chrono::seconds(60))) << rows() << "\n"
                                                                                 << Log();
  ::kill(ferry_.pid, SIGINT);
  testing::CliRun run = testing::WaitFerry(ferry_);
  EXPECT_EQ(rows(), want);
  EXPECT_NE(run.err.find("from " + *gtid[0][0]), std::string::npos) << run.err;
}

}  // namespace
}  // namespace ferry
