// `ferry reload-tables` (DMS ReloadTables) on the real servers: a table of a running CDC task
// reloaded while a writer keeps changing it (its changes cached during the reload and applied
// after), into every target; a stopped task that reloads the table when it resumes; a
// full-load task; and every refusal of the command, read word for word.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cdc_test_env.h"
#include "engine/cdc_task.h"

namespace ferry {
namespace {

using testing::RunFerry;

constexpr const char* kSrc = "reload_src";

void CreateSource(SqlSession& s) {
  s.Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE; CREATE SCHEMA " + kSrc);
  s.Execute(
      "CREATE TABLE reload_src.big (id integer PRIMARY KEY, n integer, v text, "
      "ts timestamp(6))");
  s.Execute(
      "INSERT INTO reload_src.big SELECT g, g, md5(g::text), "
      "timestamp '2020-01-01' + g * interval '1 second' FROM generate_series(1, 30000) g");
  s.Execute("CREATE TABLE reload_src.small (id integer PRIMARY KEY, v text)");
  s.Execute("INSERT INTO reload_src.small SELECT g, 's' || g FROM generate_series(1, 100) g");
}

// One round of changes to both tables.
void Change(SqlSession& s, int round) {
  const std::string r = std::to_string(round);
  s.Execute("BEGIN; INSERT INTO reload_src.big VALUES (" + std::to_string(100000 + round) + ", " +
            r + ", 'new', now()); UPDATE reload_src.big SET n = n + 1, v = 'u" + r +
            "' WHERE id <= 20000 AND id % 211 = " + std::to_string(round % 211) +
            "; DELETE FROM reload_src.big WHERE id = " + std::to_string(5000 + round) +
            "; UPDATE reload_src.small SET v = v || '.' WHERE id = " +
            std::to_string(1 + round % 100) + "; COMMIT");
}

// What a drifted target looks like: rows gone and values changed behind the task's back (rows
// Change never touches, so that no change fails to apply before the reload).
void Drift(SqlConnector& target, const std::string& schema) {
  const Dialect& d = target.dialect();
  const std::string big = d.QuoteIdentifier(schema) + "." + d.QuoteIdentifier("big");
  auto s = target.OpenSession();
  s->Execute("DELETE FROM " + big + " WHERE id BETWEEN 20001 AND 21000");
  s->Execute("UPDATE " + big + " SET v = 'drifted' WHERE id BETWEEN 22000 AND 22100");
}

class CdcReload : public ::testing::TestWithParam<Engine>, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    SetUpCdc(GetParam(), fmt::format("cdc-reload-{}", EngineName(GetParam())), "reload_dst");
    CreateSource(*admin_);
  }
  void TearDown() override {
    TearDownCdc();
    if (admin_) admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE");
  }
  std::vector<TablePlan> Plans() { return PlansFor(kSrc); }
};

// A running task reloads a table while a writer keeps changing it: the target's drift is
// gone, the changes made during the reload are there, nothing is applied twice, and the other
// table never stopped.
TEST_P(CdcReload, RunningTaskReloadsATableUnderAWriter) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), BaseOptions());
  std::thread runner([&] { task->Run(); });
  ASSERT_EQ(ConvergeFrom(kSrc, std::chrono::seconds(90)), "");
  Drift(*target_, target_schema_);
  ASSERT_NE(ConvergeFrom(kSrc, std::chrono::seconds(1)), "");

  std::atomic<bool> writing{true};
  std::atomic<int> rounds{0};
  std::thread writer([&] {
    auto s = source_->OpenSession();
    while (writing) {
      Change(*s, rounds++);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const testing::CliRun run = RunFerry({"reload-tables", "--task-name", task_, "--tables", "big",
                                        "--data-dir", data_dir_.string(), "--wait", "120"});
  const int during = rounds.load();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  writing = false;
  writer.join();
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("Task '" + task_ + "' is running"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("their changes are cached while they load and applied after"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("Reloaded: reload_src.big"), std::string::npos) << run.out;
  EXPECT_GT(during, 0);

  EXPECT_EQ(ConvergeFrom(kSrc, std::chrono::seconds(90)), "")
      << "after " << rounds << " rounds of changes around the reload";
  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_EQ(st->state, kStateCompleted) << st->SourceName() << ": " << st->error;
    EXPECT_EQ(st->cdc_apply_errors, 0) << st->SourceName();
  }
  auto store = TaskStore::Open(data_dir_, /*read_only=*/true);
  EXPECT_TRUE(store->GetReloadRequests(task_).empty());
  for (const TableRecord& t : store->GetTables(task_)) {
    EXPECT_TRUE(t.cdc_live) << t.source_table;
    if (t.source_table == "big") {
      EXPECT_GE(t.full_load_rows, 30000 - during) << t.state;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcReload,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

class CdcReloadStopped : public ::testing::Test, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    SetUpCdc(Engine::kSqlite, "cdc-reload-stopped", "main");
    CreateSource(*admin_);
  }
  void TearDown() override {
    TearDownCdc();
    if (admin_) admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE");
  }
};

// A stopped task takes the request and reloads the table when it resumes; changes made while
// it was stopped arrive too. Then every refusal of the command, with its words.
TEST_F(CdcReloadStopped, ReloadsWhenItResumesAndRefusesWhatItCannotDo) {
  {
    CdcTask task(*source_, *target_, PlansFor(kSrc), BaseOptions());
    std::thread runner([&] { task.Run(); });
    EXPECT_EQ(ConvergeFrom(kSrc, std::chrono::seconds(90)), "");
    task.Stop();
    runner.join();
    ASSERT_FALSE(task.failed()) << task.stop_reason();
  }
  Drift(*target_, target_schema_);
  for (int i = 0; i < 20; ++i) Change(*admin_, i);
  const std::string dir = data_dir_.string();
  testing::CliRun run = RunFerry({"reload-tables", "--task-name", task_, "--tables",
                                  "reload_src.big", "--data-dir", dir, "--wait", "5"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "Task '" + task_ +
                         "' is not running: it reloads reload_src.big when it "
                         "resumes (ferry migrate ... --task-name " +
                         task_ + " --resume).\n");
  {
    CdcTask resumed(*source_, *target_, PlansFor(kSrc), ResumeOptions(kSrc));
    std::thread runner([&] { resumed.Run(); });
    EXPECT_EQ(ConvergeFrom(kSrc, std::chrono::seconds(90)), "");
    resumed.Stop();
    runner.join();
    EXPECT_FALSE(resumed.failed()) << resumed.stop_reason();
  }
  EXPECT_TRUE(TaskStore::Open(data_dir_, true)->GetReloadRequests(task_).empty());

  // Refusals: each names what is wrong and what there is.
  run = RunFerry({"reload-tables", "--task-name", "no-such", "--tables", "big", "--data-dir", dir});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no task 'no-such' in task store '" + dir +
                         "/ferry.db' (tasks there: " + task_ + ")"),
            std::string::npos)
      << run.err;
  run = RunFerry(
      {"reload-tables", "--task-name", task_, "--tables", "reload_src.nope", "--data-dir", dir});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--tables reload_src.nope: not a table of task '" + task_ +
                         "' (its tables, by source name: reload_src.big, reload_src.small)"),
            std::string::npos)
      << run.err;
  run = RunFerry({"reload-tables", "--task-name", task_, "--tables", "big", "--reload-option",
                  "reload", "--data-dir", dir});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--reload-option 'reload': expected data-reload or validate-only"),
            std::string::npos)
      << run.err;
  run = RunFerry({"reload-tables", "--task-name", task_, "--tables", "big", "--reload-option",
                  "validate-only", "--data-dir", dir});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--reload-option validate-only: task '" + task_ +
                         "' does not validate (its task settings have no "
                         "ValidationSettings.EnableValidation); use data-reload, or ferry "
                         "validate"),
            std::string::npos)
      << run.err;
  const std::string empty_dir = dir + "-empty";
  run =
      RunFerry({"reload-tables", "--task-name", task_, "--tables", "big", "--data-dir", empty_dir});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no task store in " + empty_dir +
                         " (no ferry.db): give the --data-dir the task ran with"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(empty_dir));
  // Two tables of one name in different schemas: the bare name is ambiguous.
  {
    auto store = TaskStore::Open(data_dir_);
    std::vector<TableRecord> tables = store->GetTables(task_);
    TableRecord other = tables[0];
    other.index = static_cast<int>(tables.size());
    other.source_schema = "elsewhere";
    store->PutTable(task_, other);
  }
  run = RunFerry({"reload-tables", "--task-name", task_, "--tables", "big", "--data-dir", dir});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--tables big: task '" + task_ +
                         "' has several tables of that name (reload_src.big, elsewhere.big); "
                         "give schema.table"),
            std::string::npos)
      << run.err;
  EXPECT_TRUE(TaskStore::Open(data_dir_, true)->GetReloadRequests(task_).empty());
}

// A full-load task: a table reloaded when the finished task is resumed (the others kept).
TEST(FullLoadReload, StoppedFullLoadTaskReloadsTheTablesAskedFor) {
  FERRY_REQUIRE_POSTGRES();
  auto source = testing::Open(testing::PostgresUri());
  auto admin = source->OpenSession();
  CreateSource(*admin);
  const auto base =
      std::filesystem::temp_directory_path() / fmt::format("ferry-fl-reload-{}", ::getpid());
  std::filesystem::remove_all(base);
  const std::string dir = base.string();
  const std::string db = dir + ".db";
  std::filesystem::remove(db);
  const std::vector<std::string> migrate = {"migrate",     "--source",       testing::PostgresUri(),
                                            "--target",    "sqlite://" + db, "--schema",
                                            kSrc,          "--data-dir",     dir,
                                            "--task-name", "fl-reload",      "--no-progress"};
  testing::CliRun run = RunFerry(migrate);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto target = testing::Open("sqlite://" + db);
  Drift(*target, "main");
  target->OpenSession()->Execute("DELETE FROM small WHERE id = 1");  // not asked: stays so
  run =
      RunFerry({"reload-tables", "--task-name", "fl-reload", "--tables", "big", "--data-dir", dir});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> resume = migrate;
  resume.push_back("--resume");
  run = RunFerry(resume);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("reloading reload_src.big (ferry reload-tables)"), std::string::npos)
      << run.err;
  EXPECT_EQ(testing::UserTableDigests(*source, kSrc)["big"].HashHex(),
            testing::UserTableDigests(*target, "main")["big"].HashHex());
  EXPECT_EQ(target->OpenSession()->Query("SELECT count(*) FROM small")[0][0], "99");
  EXPECT_TRUE(TaskStore::Open(base, true)->GetReloadRequests("fl-reload").empty());
  admin->Execute(std::string("DROP SCHEMA ") + kSrc + " CASCADE");
  std::filesystem::remove_all(base);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
}

}  // namespace
}  // namespace ferry
