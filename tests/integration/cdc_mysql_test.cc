// Change data capture from the MariaDB test server (binlog, issue 13) end to end: full-load-
// and-cdc into PostgreSQL, MariaDB and SQLite targets under a concurrent writer, checked by
// canonical row hash of every table on both sides. Every column type, changes of every kind
// (insert, update, update of the key, delete, truncate, a table without a key), an ALTER TABLE
// mid-stream, changes while the task is stopped, a resume; a purged binlog on resume.
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
  std::atomic<bool> writing{true};
  std::atomic<int> rounds{0};
  std::thread writer([&] {
    auto s = source_->OpenSession();
    while (writing) {
      ChangeEverything(*s, rounds++);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::thread runner([&] { task->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  writing = false;
  writer.join();
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
  int64_t applied = 0;
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_EQ(st->state, kStateCompleted) << st->SourceName() << ": " << st->error;
    EXPECT_EQ(st->cdc_apply_errors, 0) << st->SourceName();
    applied += st->applied_inserts + st->applied_updates + st->applied_deletes;
  }
  EXPECT_GT(applied, 0);
  task.reset();

  // 3. Changes while the task is stopped, before and after another ALTER, then a resume: they
  //    arrive, each decoded with the columns it was written with, nothing twice.
  for (int i = 0; i < 3; ++i) ChangeEverything(*admin_, 2000 + i);
  admin_->Execute("ALTER TABLE cdc_my.nokey ADD COLUMN c int");
  admin_->Execute("INSERT INTO cdc_my.nokey VALUES (8, 'with c', 88)");
  for (int i = 3; i < 5; ++i) ChangeEverything(*admin_, 2000 + i);
  auto resumed = std::make_unique<CdcTask>(*source_, *target_, PlansFor(kSrc), ResumeOptions(kSrc));
  std::thread runner2([&] { resumed->Run(); });
  diff = Converge(std::chrono::seconds(90));
  EXPECT_EQ(diff, "") << "after resume";
  resumed->Stop();
  runner2.join();
  EXPECT_FALSE(resumed->failed()) << resumed->stop_reason();
}

INSTANTIATE_TEST_SUITE_P(Targets, MyCdcTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
