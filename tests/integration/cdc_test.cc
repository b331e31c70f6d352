// Change data capture end to end, on the real servers: a PostgreSQL source under changes,
// full-load-and-cdc into PostgreSQL, MariaDB and SQLite targets, checked by canonical row hash
// of every table on both sides. Changes made while the tables load (cached changes), after
// (streaming), while the task is stopped (resume), of every kind: insert, update, update of
// the key, delete, truncate, unchanged TOAST values, a table without a primary key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cdc_test_env.h"
#include "change/change.h"
#include "engine/cdc_task.h"

namespace ferry {
namespace {

using testing::Open;
using testing::PostgresUri;
using testing::UserTableDigests;

constexpr const char* kSrc = "cdc_src";

void CreateSource(SqlSession& s) {
  s.Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE; CREATE SCHEMA " + kSrc);
  s.Execute(R"(CREATE TABLE cdc_src.alltypes (
      id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer NOT NULL, i8 bigint,
      n numeric(20,4), r4 real, r8 double precision, s varchar(100), t text, bin bytea,
      d date, tm time(6), ts timestamp(6), tz timestamptz, u uuid, j jsonb))");
  s.Execute(R"(INSERT INTO cdc_src.alltypes
      SELECT g, g % 2 = 0, g % 1000, g, g::bigint * 1000003, g * 1.5, g / 7.0, g / 3.0,
             'row ' || g, repeat('t', g % 50), decode(md5(g::text), 'hex'),
             date '2000-01-01' + g, time '00:00:01' + g * interval '1 second',
             timestamp '2020-01-01' + g * interval '1 minute',
             timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour',
             md5(g::text)::uuid, jsonb_build_object('g', g)
      FROM generate_series(1, 20000) g)");
  // No primary key: updates and deletes need the whole old row.
  s.Execute("CREATE TABLE cdc_src.nokey (a integer, b text)");
  s.Execute("ALTER TABLE cdc_src.nokey REPLICA IDENTITY FULL");
  s.Execute("INSERT INTO cdc_src.nokey VALUES (1, 'one'), (1, 'one'), (2, 'two')");
  // Large values stay TOASTed and unchanged when another column is updated.
  s.Execute("CREATE TABLE cdc_src.toasty (id integer PRIMARY KEY, n integer, big text)");
  s.Execute("INSERT INTO cdc_src.toasty SELECT g, g, repeat(md5(g::text), 5000) "
            "FROM generate_series(1, 20) g");
}

// Every kind of change, once.
void ChangeEverything(SqlSession& s, int round) {
  const std::string r = std::to_string(round);
  s.Execute("INSERT INTO cdc_src.alltypes (id, i4, s, t, n, tz) VALUES (" +
            std::to_string(100000 + round) + ", " + r + ", 'new " + r +
            "', E'emoji \\U0001F600', 12345678901234.5678, now())");
  s.Execute("UPDATE cdc_src.alltypes SET s = 'upd " + r + "', r8 = r8 * 2, b = NOT b "
            "WHERE id % 97 = " + std::to_string(round % 97));
  s.Execute("UPDATE cdc_src.alltypes SET id = id + 500000 WHERE id = " +
            std::to_string(1000 + round));  // the key changes
  s.Execute("DELETE FROM cdc_src.alltypes WHERE id = " + std::to_string(2000 + round));
  s.Execute("BEGIN; UPDATE cdc_src.alltypes SET i8 = NULL, j = '{\"x\": [1,2]}' WHERE id = " +
            std::to_string(3000 + round) + "; INSERT INTO cdc_src.nokey VALUES (" + r +
            ", 'n" + r + "'); COMMIT");
  s.Execute("UPDATE cdc_src.nokey SET b = b || '!' WHERE ctid = (SELECT ctid FROM cdc_src.nokey "
            "WHERE a = 1 LIMIT 1)");
  s.Execute("UPDATE cdc_src.toasty SET n = n + 1 WHERE id = " + std::to_string(1 + round % 20));
}

class CdcTest : public ::testing::TestWithParam<Engine>, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    SetUpCdc(GetParam(), fmt::format("cdc-test-{}", EngineName(GetParam())), "cdc_dst");
    CreateSource(*admin_);
  }
  void TearDown() override { TearDownCdc(); }
  CdcTaskOptions Options(bool resume) const { return BaseOptions(resume); }
  std::vector<TablePlan> Plans() { return PlansFor(kSrc); }
  std::string Converge(std::chrono::seconds timeout) { return ConvergeFrom(kSrc, timeout); }
};

TEST_P(CdcTest, FullLoadThenChangesThenResume) {
  // 1. Full load while a writer changes the source: the changes made during the load are
  //    cached and applied after each table's load.
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options(false));
  testing::SourceWriter writer(*source_, ChangeEverything, std::chrono::milliseconds(20));
  std::thread runner([&] { task->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int rounds = writer.Stop();
  // 2. More changes while streaming, including a truncate.
  ChangeEverything(*admin_, 1000);
  admin_->Execute("TRUNCATE cdc_src.nokey");
  admin_->Execute("INSERT INTO cdc_src.nokey VALUES (7, 'after truncate'), (7, NULL)");
  std::string diff = Converge(std::chrono::seconds(90));
  EXPECT_EQ(diff, "") << "after " << rounds << " rounds of changes during the load";
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  EXPECT_GT(ExpectTablesCompleted(*task).applied, 0);
  task.reset();

  // 3. Changes while the task is stopped, then --resume: they arrive, nothing twice.
  for (int i = 0; i < 5; ++i) ChangeEverything(*admin_, 2000 + i);
  {
    CdcTask resumed(*source_, *target_, Plans(), Options(true));
    EXPECT_EQ(RunUntilConverged(resumed, kSrc, std::chrono::seconds(90)), "") << "after resume";
  }

  // The checkpoint is on the target; the task store knows the task.
  auto store = TaskStore::Open(data_dir_, /*read_only=*/true);
  std::optional<TaskRecord> rec = store->GetTask(task_);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, "stopped");
  EXPECT_FALSE(rec->recovery_checkpoint.empty());
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// The binary: full-load-and-cdc until --cdc-stop-position, then `ferry status`.
// Creating a slot waits for the transactions open on the cluster to end. While it waits, the
// task is recorded as starting, `ferry status` and the log say which transaction holds it up,
// and TransactionConsistencyTimeout ends the wait with an error naming it; the task is then
// recorded failed. Once the transaction ends, the task starts.
TEST(CdcCli, SlotCreationSaysWhatItWaitsForAndGivesUpAtTheTimeout) {
  FERRY_REQUIRE_POSTGRES();
  auto source = testing::Open(testing::PostgresUri());
  auto s = source->OpenSession();
  testing::DropSlot(*s, "ferry_cdc_wait");
  s->Execute("DROP SCHEMA IF EXISTS cdc_wait CASCADE; CREATE SCHEMA cdc_wait");
  s->Execute("CREATE TABLE cdc_wait.t (id integer PRIMARY KEY)");
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("ferry-cdc-wait-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string settings = (dir / "settings.json").string();
  {
    std::ofstream f(settings);
    f << R"({"FullLoadSettings": {"TransactionConsistencyTimeout": 4}})";
  }
  // A writing transaction left open by someone else.
  auto holder = testing::Open(testing::PostgresUri())->OpenSession();
  holder->Execute("BEGIN");
  holder->Execute("INSERT INTO cdc_wait.t VALUES (1)");
  const std::string holder_pid = *holder->Query("SELECT pg_backend_pid()")[0][0];
  const std::vector<std::string> args = {
      "migrate", "--source", testing::PostgresUri(), "--target",
      "sqlite://" + (dir / "t.db").string(), "--schema", "cdc_wait", "--migration-type",
      "full-load-and-cdc", "--data-dir", (dir / "data").string(), "--task-name", "cdc-wait",
      "--task-settings", settings, "--no-progress"};
  testing::FerryProcess p = testing::StartFerry(args);
  std::string waiting_for;
  while (testing::Running(p) && waiting_for.empty()) {
    testing::CliRun st = testing::RunFerry(
        {"status", "--data-dir", (dir / "data").string(), "--task-name", "cdc-wait", "--json"});
    if (st.exit_code == 0) {
      const nlohmann::json j = nlohmann::json::parse(st.out)["ReplicationTasks"][0];
      if (j.value("Status", "") == "starting") waiting_for = j["Ferry"].value("WaitingFor", "");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(waiting_for.find("waiting"), std::string::npos) << waiting_for;
  EXPECT_NE(waiting_for.find("pid " + holder_pid + " (database ferry"), std::string::npos)
      << waiting_for;
  EXPECT_NE(waiting_for.find("idle in transaction): SELECT pg_backend_pid()"), std::string::npos)
      << waiting_for;  // its state and last statement
  testing::CliRun run = testing::WaitFerry(p);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("waited 4 s (FullLoadSettings.TransactionConsistencyTimeout) for the "
                         "transactions open on the source cluster when it began to end, and "
                         "these have not: pid " + holder_pid),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("waiting 1 s so far for transactions open on the source cluster"),
            std::string::npos)
      << run.err;
  testing::CliRun st = testing::RunFerry(
      {"status", "--data-dir", (dir / "data").string(), "--task-name", "cdc-wait", "--json"});
  const nlohmann::json j = nlohmann::json::parse(st.out)["ReplicationTasks"][0];
  EXPECT_EQ(j.value("Status", ""), "failed");
  EXPECT_NE(j.value("LastFailureMessage", "").find("TransactionConsistencyTimeout"),
            std::string::npos)
      << st.out;
  EXPECT_FALSE(j["Ferry"].contains("WaitingFor")) << st.out;

  // Once the transaction ends, the task starts (a --resume of a task that never ran starts it
  // over) and loads the row it wrote.
  holder->Execute("COMMIT");
  std::vector<std::string> again = args;
  again.push_back("--resume");
  again.push_back("--cdc-stop-position");
  again.push_back(*s->Query("SELECT pg_current_wal_lsn()")[0][0]);
  testing::CliRun ok = testing::RunFerry(again);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("was stopped before it finished starting: starting it from the beginning"),
            std::string::npos)
      << ok.err;
  testing::RunFerry({"delete-task", "--task-name", "cdc-wait", "--source", testing::PostgresUri(),
                     "--data-dir", (dir / "data").string()});
}

// --cdc-start-time (DMS CdcStartTime): its forms are checked before anything connects, it
// excludes --cdc-start-position, and a PostgreSQL source says it cannot map a time to a WAL
// position and what to give instead.
TEST(CdcCli, CdcStartTimeIsCheckedAndPostgresSaysWhatToGiveInstead) {
  FERRY_REQUIRE_POSTGRES();
  const std::string dir =
      (std::filesystem::temp_directory_path() / fmt::format("ferry-cdc-time-{}", ::getpid()))
          .string();
  testing::Open(testing::PostgresUri())
      ->OpenSession()
      ->Execute("DROP SCHEMA IF EXISTS cdc_time CASCADE; CREATE SCHEMA cdc_time; "
                "CREATE TABLE cdc_time.t (id integer PRIMARY KEY)");
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"migrate", "--source", testing::PostgresUri(), "--schema",
                                  "cdc_time", "--target", "sqlite://" + dir + ".db", "--data-dir", dir,
                                  "--task-name", "cdc-time", "--no-progress"};
    a.insert(a.end(), extra.begin(), extra.end());
    return testing::RunFerry(a);
  };
  testing::CliRun bad = run({"--migration-type", "cdc", "--cdc-start-time", "yesterday"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cdc-start-time 'yesterday': expected a date and time such as "
                         "2026-12-07T10:00:00Z (UTC unless it has a zone offset) or seconds "
                         "since 1970"),
            std::string::npos)
      << bad.err;
  bad = run({"--migration-type", "cdc", "--cdc-start-time", "1796630400", "--cdc-start-position",
             "0/1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cdc-start-time and --cdc-start-position both say where to start: "
                         "give one"),
            std::string::npos)
      << bad.err;
  bad = run({"--migration-type", "full-load-and-cdc", "--cdc-start-time", "2026-12-07 10:00:00"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cdc-start-time applies to --migration-type cdc only"),
            std::string::npos)
      << bad.err;
  bad = run({"--migration-type", "cdc", "--cdc-start-time", "2026-12-07T10:00:00+02:00"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cdc-start-time: a PostgreSQL source cannot start change data "
                         "capture at a time"),
            std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("Give --cdc-start-position with an LSN"), std::string::npos) << bad.err;
}

TEST(CdcCli, MigrateUntilStopPositionThenStatus) {
  FERRY_REQUIRE_POSTGRES();
  auto source = testing::Open(testing::PostgresUri());
  auto s = source->OpenSession();
  testing::DropSlot(*s, "ferry_cdc_cli");
  s->Execute("DROP SCHEMA IF EXISTS cdc_cli CASCADE; CREATE SCHEMA cdc_cli");
  s->Execute("CREATE TABLE cdc_cli.t (id integer PRIMARY KEY, v text)");
  s->Execute("INSERT INTO cdc_cli.t SELECT g, 'v' || g FROM generate_series(1, 5000) g");
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("ferry-cdc-cli-{}", ::getpid());
  std::filesystem::remove_all(dir);
  const std::string db = dir.string() + ".db";
  std::filesystem::remove(db);
  // Far enough ahead that the changes below come before it; WAL written afterwards moves the
  // server past it, and Ferry stops once it has applied everything before.
  auto rows = s->Query("SELECT pg_current_wal_lsn() + 8000000");
  const std::string stop = *rows[0][0];
  testing::CliRun run;
  std::thread ferry([&] {
    run = testing::RunFerry({"migrate", "--source", testing::PostgresUri(), "--target",
                             "sqlite://" + db, "--schema", "cdc_cli", "--migration-type",
                             "full-load-and-cdc", "--data-dir", dir.string(), "--task-name",
                             "cdc-cli", "--cdc-stop-position", stop, "--heartbeat", "1",
                             "--no-progress", "--json"});
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  s->Execute("UPDATE cdc_cli.t SET v = 'changed' WHERE id <= 100");
  s->Execute("DELETE FROM cdc_cli.t WHERE id > 4900");
  s->Execute("INSERT INTO cdc_cli.t VALUES (6000, 'new')");
  s->Execute("SELECT pg_logical_emit_message(false, 'ferry_test_padding', repeat('x', 9000000))");
  ferry.join();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json summary = nlohmann::json::parse(run.out);
  const nlohmann::json& t = summary["TableStatistics"][0];
  EXPECT_EQ(t["Updates"], 100);
  EXPECT_EQ(t["Deletes"], 100);
  EXPECT_EQ(t["Inserts"], 1);
  EXPECT_EQ(t["AppliedUpdates"], 100);
  EXPECT_EQ(t["AppliedDeletes"], 100);
  EXPECT_EQ(t["AppliedInserts"], 1);
  auto target = testing::Open("sqlite://" + db);
  EXPECT_EQ(UserTableDigests(*source, "cdc_cli")["t"].HashHex(),
            UserTableDigests(*target, "main")["t"].HashHex());

  testing::CliRun status = testing::RunFerry({"status", "--data-dir", dir.string(), "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const nlohmann::json st = nlohmann::json::parse(status.out);
  EXPECT_EQ(st["ReplicationTasks"][0]["ReplicationTaskIdentifier"], "cdc-cli") << status.out;
  EXPECT_EQ(st["ReplicationTasks"][0]["Status"], "stopped") << status.out;
  EXPECT_EQ(status.out.find("ferry:ferry@"), std::string::npos) << "password in the store";

  // Resuming needs a task; a start position belongs to cdc-only tasks.
  testing::CliRun bad = testing::RunFerry(
      {"migrate", "--source", testing::PostgresUri(), "--target", "sqlite://" + db, "--schema",
       "cdc_cli", "--migration-type", "full-load-and-cdc", "--data-dir", dir.string(),
       "--task-name", "no-such-task", "--resume", "--no-progress"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("there is no task 'no-such-task'"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("cdc-cli"), std::string::npos) << bad.err;
  bad = testing::RunFerry({"migrate", "--source", testing::PostgresUri(), "--target",
                           "sqlite://" + db, "--migration-type", "full-load-and-cdc",
                           "--cdc-start-position", "0/1", "--data-dir", dir.string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cdc-start-position applies to --migration-type cdc only"),
            std::string::npos)
      << bad.err;
  bad = testing::RunFerry({"migrate", "--source", testing::PostgresUri(), "--target",
                           "sqlite://" + db, "--migration-type", "cdc", "--cdc-start-position",
                           "16-B3", "--data-dir", dir.string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cdc-start-position '16-B3': expected a PostgreSQL LSN"),
            std::string::npos)
      << bad.err;

  // A table without a primary key or REPLICA IDENTITY FULL is named, with the fix.
  s->Execute("CREATE TABLE cdc_cli.nokey (a integer)");
  bad = testing::RunFerry({"migrate", "--source", testing::PostgresUri(), "--target",
                           "sqlite://" + db, "--schema", "cdc_cli", "--migration-type",
                           "full-load-and-cdc", "--data-dir", dir.string(), "--task-name",
                           "cdc-cli-nokey", "--no-progress"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("cdc_cli.nokey"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("REPLICA IDENTITY FULL"), std::string::npos) << bad.err;

  // Deleting the task drops its slot and publication, its state and its checkpoint.
  const std::string slot = testing::TaskSlot(dir, "cdc-cli");
  ASSERT_EQ(slot.rfind("ferry_cdc_cli_", 0), 0u) << slot;
  testing::CliRun del = testing::RunFerry({"delete-task", "--task-name", "cdc-cli", "--data-dir",
                                           dir.string(), "--source", testing::PostgresUri(),
                                           "--target", "sqlite://" + db});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_NE(del.out.find("replication slot " + slot + " dropped, publication " + slot +
                         " dropped"),
            std::string::npos)
      << del.out;
  EXPECT_TRUE(
      s->Query("SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + slot + "'").empty());
  EXPECT_TRUE(s->Query("SELECT 1 FROM pg_publication WHERE pubname = '" + slot + "'").empty());
  EXPECT_TRUE(target->OpenSession()
                  ->Query("SELECT 1 FROM awsdms_txn_state WHERE TASK_NAME = 'cdc-cli'")
                  .empty());
  status = testing::RunFerry({"status", "--data-dir", dir.string(), "--task-name", "cdc-cli"});
  EXPECT_EQ(status.exit_code, 1);
  del = testing::RunFerry({"delete-task", "--task-name", "cdc-cli", "--data-dir", dir.string(),
                           "--source", testing::PostgresUri()});
  EXPECT_EQ(del.exit_code, 2);
  EXPECT_NE(del.err.find("there is no task 'cdc-cli'"), std::string::npos) << del.err;

  s->Execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
             "WHERE slot_name LIKE 'ferry_cdc_cli%' AND NOT active");
  s->Execute("DROP SCHEMA cdc_cli CASCADE");
  std::filesystem::remove_all(dir);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// Transactions larger than the source's logical_decoding_work_mem (64kB here) are streamed
// while they run; savepoints rolled back inside them and whole transactions rolled back must
// leave no trace on the target, nested savepoints included, while a writer keeps committing
// small transactions in between.
class CdcStreaming : public ::testing::Test, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    ::setenv("PGOPTIONS", "-c logical_decoding_work_mem=64kB", 1);
    SetUpCdc(Engine::kSqlite, "cdc-streaming", "main");
    admin_->Execute("DROP SCHEMA IF EXISTS cdc_stream CASCADE; CREATE SCHEMA cdc_stream");
    admin_->Execute("CREATE TABLE cdc_stream.t (id integer PRIMARY KEY, v text, n integer)");
    admin_->Execute("INSERT INTO cdc_stream.t SELECT g, 'row ' || g, 0 "
                    "FROM generate_series(1, 1000) g");
  }
  void TearDown() override {
    if (admin_) admin_->Execute("DROP SCHEMA IF EXISTS cdc_stream CASCADE");
    TearDownCdc();
    ::unsetenv("PGOPTIONS");
  }
};

TEST_F(CdcStreaming, SavepointsAndRollbacksInStreamedTransactions) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, PlansFor("cdc_stream"),
                                        BaseOptions());
  std::thread runner([&] { task->Run(); });
  ASSERT_EQ(ConvergeFrom("cdc_stream", std::chrono::seconds(60)), "") << "after the load";
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto s = source_->OpenSession();
    for (int i = 0; writing; ++i) {
      s->Execute(fmt::format("UPDATE cdc_stream.t SET n = n + 1 WHERE id = {}", 1 + i % 1000));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const auto big = [](int from, int to) {
    return fmt::format("INSERT INTO cdc_stream.t SELECT g, repeat('s', 300), g FROM "
                       "generate_series({}, {}) g",
                       from, to);
  };
  // Kept, rolled back to a savepoint (with one nested inside), kept again, updated.
  admin_->Execute("BEGIN; " + big(10001, 13000) + "; SAVEPOINT a; " + big(20001, 23000) +
                  "; SAVEPOINT b; " + big(30001, 33000) + "; ROLLBACK TO SAVEPOINT a; " +
                  big(40001, 41000) + "; SAVEPOINT c; UPDATE cdc_stream.t SET v = 'c' "
                  "WHERE id BETWEEN 10001 AND 10500; RELEASE SAVEPOINT c; COMMIT");
  // Rolled back as a whole after streaming.
  admin_->Execute("BEGIN; " + big(50001, 54000) + "; ROLLBACK");
  // A savepoint rolled back after its parent's own changes, then a delete.
  admin_->Execute("BEGIN; SAVEPOINT x; " + big(60001, 63000) + "; ROLLBACK TO SAVEPOINT x; "
                  "DELETE FROM cdc_stream.t WHERE id BETWEEN 12001 AND 13000; COMMIT");
  writing = false;
  writer.join();
  EXPECT_EQ(ConvergeFrom("cdc_stream", std::chrono::seconds(90)), "");
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  auto rows = admin_->Query("SELECT count(*) FROM cdc_stream.t");
  EXPECT_EQ(*rows[0][0], "4000");  // 1000 + 3000 + 1000 - 1000
  // The server's statistics say the slot streamed them (flushed when the walsender ends).
  int64_t streamed = 0;
  for (int i = 0; i < 50 && streamed < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = admin_->Query("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '" +
                            testing::TaskSlot(data_dir_, task_) + "'");
    streamed = st.empty() || !st[0][0] ? 0 : std::stoll(*st[0][0]);
  }
  EXPECT_GE(streamed, 2) << "the large transactions were not streamed";
}

// ALTERs between a streamed transaction's own changes of the table: each one is a shape
// record in its subtransaction's changes, applied inside the same target transaction; one in
// a savepoint rolled back goes with that savepoint's changes.
TEST_F(CdcStreaming, AltersBetweenAStreamedTransactionsChanges) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, PlansFor("cdc_stream"),
                                        BaseOptions());
  std::thread runner([&] { task->Run(); });
  ASSERT_EQ(ConvergeFrom("cdc_stream", std::chrono::seconds(60)), "") << "after the load";
  const auto big = [](int from, int to) {
    return fmt::format("INSERT INTO cdc_stream.t SELECT g, repeat('s', 300), g FROM "
                       "generate_series({}, {}) g",
                       from, to);
  };
  // Streamed, renamed and retyped between its changes; a DROP inside a savepoint rolled back.
  admin_->Execute("BEGIN; " + big(10001, 13000) +
                  "; ALTER TABLE cdc_stream.t RENAME COLUMN v TO label; UPDATE cdc_stream.t SET "
                  "label = 'renamed' WHERE id BETWEEN 10001 AND 10100; SAVEPOINT a; ALTER TABLE "
                  "cdc_stream.t DROP COLUMN n; UPDATE cdc_stream.t SET label = 'gone' WHERE id < "
                  "50; ROLLBACK TO SAVEPOINT a; UPDATE cdc_stream.t SET n = -n WHERE id BETWEEN "
                  "10001 AND 10200; ALTER TABLE cdc_stream.t ALTER COLUMN n TYPE text USING "
                  "n::text; " + big(20001, 22000) + "; UPDATE cdc_stream.t SET n = n || '!' WHERE "
                  "id % 7 = 0; COMMIT");
  EXPECT_EQ(ConvergeFrom("cdc_stream", std::chrono::seconds(90)), "");
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_NE(st->state, "Suspended") << st->SourceName() << ": " << st->error;
  }
  int64_t streamed = 0;
  for (int i = 0; i < 50 && streamed < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = admin_->Query("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '" +
                            testing::TaskSlot(data_dir_, task_) + "'");
    streamed = st.empty() || !st[0][0] ? 0 : std::stoll(*st[0][0]);
  }
  EXPECT_GE(streamed, 1) << "the transaction was not streamed";
}

}  // namespace
}  // namespace ferry
