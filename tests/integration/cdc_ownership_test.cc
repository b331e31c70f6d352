// A CDC task's identity and ownership (issue 10, cases 1, 2, 5, 6, 7, 8), through the binary as
// a user runs it: a resume against another target, or past a gap, is refused; two tasks never
// share a slot; one process owns a task at a time; a data directory deleted under a running
// task is noticed and its source objects can still be removed; a slot Ferry did not create is
// never dropped, and a user's slot is used as a native start point; counters and messages say
// what happened.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "cdc_test_env.h"
#include "test_env.h"

namespace ferry {
namespace {

using testing::CliRun;
using testing::FerryProcess;
using testing::ReadText;

constexpr const char* kAllLive = "every table is in change processing";

class CdcOwnership : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    source_ = testing::Open(testing::PostgresUri());
    s_ = source_->OpenSession();
    base_ = std::filesystem::temp_directory_path() / fmt::format("ferry-own-{}", ::getpid());
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
    Cleanup();
    s_->Execute("CREATE SCHEMA own_src");
    s_->Execute("CREATE TABLE own_src.t (id integer PRIMARY KEY, v text)");
    s_->Execute("INSERT INTO own_src.t SELECT g, 'v' || g FROM generate_series(1, 100) g");
  }
  void TearDown() override {
    for (FerryProcess* p : running_) testing::KillFerry(*p);
    if (s_) Cleanup();
    std::filesystem::remove_all(base_);
  }
  void Cleanup() {
    for (const char* task : {"own-a", "own-b", "MyTask", "mytask", "ferry", "own-gone",
                             "own-user", "own-new"}) {
      testing::DropSlot(*s_, cdc::CaptureObjectName(task, ""));
    }
    s_->Execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = 'own_user_slot' AND NOT active");
    s_->Execute("DROP PUBLICATION IF EXISTS own_user_pub");
    s_->Execute("DROP SCHEMA IF EXISTS own_src CASCADE");
  }

  std::string Db(const std::string& name) const { return (base_ / (name + ".db")).string(); }
  std::string Dir(const std::string& name) const { return (base_ / name).string(); }

  std::vector<std::string> Args(const std::string& task, const std::string& target_db,
                                const std::string& dir, const std::string& type =
                                                             "full-load-and-cdc") const {
    return {"migrate",     "--source",  testing::PostgresUri(), "--target",
            "sqlite://" + target_db, "--schema", "own_src", "--migration-type", type,
            "--data-dir",  dir,  "--task-name", task, "--heartbeat", "1", "--no-progress"};
  }
  static std::vector<std::string> With(std::vector<std::string> a,
                                       std::initializer_list<std::string> more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }

  // Starts a task and waits until its tables are live (full-load-and-cdc) or it streams.
  FerryProcess StartLive(const std::vector<std::string>& args, const char* marker = kAllLive) {
    FerryProcess p = testing::StartFerry(args);
    for (int i = 0; i < 600 && testing::Running(p) &&
                    ReadText(p.err_file).find(marker) == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(testing::Running(p)) << ReadText(p.err_file);
    return p;
  }
  static CliRun StopFerry(FerryProcess& p) {
    ::kill(p.pid, SIGINT);
    return testing::WaitFerry(p);
  }
  std::string SlotConfirmed(const std::string& slot) {
    auto rows = s_->Query("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE "
                          "slot_name = '" + slot + "'");
    return rows.empty() ? "" : rows[0][0].value_or("");
  }
  bool SlotExists(const std::string& slot) {
    return !s_->Query("SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + slot + "'")
                .empty();
  }
  // Runs a resumed task until everything written so far is applied, then stops it.
  CliRun ResumeUntilNow(const std::vector<std::string>& args) {
    const std::string stop = *s_->Query("SELECT pg_current_wal_lsn()::text")[0][0];
    return testing::RunFerry(With(args, {"--resume", "--cdc-stop-position", stop}));
  }
  int64_t TargetRows(const std::string& db) {
    auto target = testing::Open("sqlite://" + db);
    return testing::UserTableDigests(*target, "main")["t"].rows;
  }

  std::unique_ptr<SqlConnector> source_;
  std::unique_ptr<SqlSession> s_;
  std::filesystem::path base_;
  std::vector<FerryProcess*> running_;
};

// Case 1: --resume against another target is refused, naming both, and the real target
// then receives every change; a slot confirmed past the target's checkpoint is a gap.
TEST_F(CdcOwnership, ResumeAgainstAnotherTargetIsRefused) {
  const std::string real = Db("real"), wrong = Db("wrong"), dir = Dir("d");
  const auto args = Args("own-a", real, dir);
  FerryProcess p = StartLive(With(args, {}));
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  s_->Execute("INSERT INTO own_src.t SELECT g, 'middle' FROM generate_series(101, 110) g");

  auto wrong_args = Args("own-a", wrong, dir);
  CliRun bad = testing::RunFerry(With(wrong_args, {"--resume"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("task 'own-a' was created with target sqlite file " +
                         std::filesystem::weakly_canonical(real).string()),
            std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("but --target is sqlite file " +
                         std::filesystem::weakly_canonical(wrong).string()),
            std::string::npos)
      << bad.err;
  EXPECT_EQ(bad.err.find("ferry:ferry@"), std::string::npos) << "a password in: " << bad.err;

  s_->Execute("INSERT INTO own_src.t SELECT g, 'late' FROM generate_series(111, 120) g");
  CliRun ok = ResumeUntilNow(args);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(TargetRows(real), 120) << "the middle rows were lost";
  auto target = testing::Open("sqlite://" + real);
  EXPECT_EQ(testing::UserTableDigests(*source_, "own_src")["t"].HashHex(),
            testing::UserTableDigests(*target, "main")["t"].HashHex());

  // The slot moved past the target's checkpoint behind Ferry's back: a gap, refused.
  const std::string slot = testing::TaskSlot(dir, "own-a");
  s_->Execute("INSERT INTO own_src.t VALUES (121, 'skipped')");
  s_->Execute("SELECT pg_replication_slot_advance('" + slot + "', pg_current_wal_lsn())");
  bad = testing::RunFerry(With(args, {"--resume"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("past"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("This is a gap: run the task again without --resume"),
            std::string::npos)
      << bad.err;

  // A target that lost its checkpoint row is refused too.
  target->OpenSession()->Execute("DELETE FROM awsdms_txn_state");
  bad = testing::RunFerry(With(args, {"--resume"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("holds no checkpoint of task 'own-a'"), std::string::npos) << bad.err;
}

// Case 2: tasks whose names fold together, and two installations using the default task
// name, get slots of their own; starting one never touches the other's.
TEST_F(CdcOwnership, TasksNeverShareASlot) {
  const std::string dir = Dir("d");
  FerryProcess p = StartLive(With(Args("MyTask", Db("a"), dir), {}));
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  const std::string first = testing::TaskSlot(dir, "MyTask");
  const std::string first_confirmed = SlotConfirmed(first);
  p = StartLive(With(Args("mytask", Db("b"), dir), {}));
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  const std::string second = testing::TaskSlot(dir, "mytask");
  EXPECT_NE(first, second);
  EXPECT_TRUE(SlotExists(first)) << "starting 'mytask' dropped 'MyTask''s slot " << first;
  EXPECT_EQ(SlotConfirmed(first), first_confirmed);
  s_->Execute("INSERT INTO own_src.t VALUES (500, 'after')");
  CliRun r = ResumeUntilNow(Args("MyTask", Db("a"), dir));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(TargetRows(Db("a")), 101);

  // Two data directories, both with the default task name.
  p = StartLive(With(Args("ferry", Db("c"), Dir("x")), {}));
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  p = StartLive(With(Args("ferry", Db("d"), Dir("y")), {}));
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  EXPECT_NE(testing::TaskSlot(Dir("x"), "ferry"), testing::TaskSlot(Dir("y"), "ferry"));
  EXPECT_TRUE(SlotExists(testing::TaskSlot(Dir("x"), "ferry")));
  EXPECT_TRUE(SlotExists(testing::TaskSlot(Dir("y"), "ferry")));
  // The publication carries its owner.
  auto comment = s_->Query("SELECT obj_description(oid, 'pg_publication') FROM pg_publication "
                           "WHERE pubname = '" + first + "'");
  ASSERT_FALSE(comment.empty());
  EXPECT_NE(comment[0][0].value_or("").find("\"ferry_task\":\"MyTask\""), std::string::npos);
}

// Two installations using the same task name on one target keep a checkpoint each (the
// awsdms_txn_state key holds the task id): a resume never starts from the other task's
// position. Before, the second task overwrote the first one's row and the first, resumed,
// skipped the changes in between.
TEST_F(CdcOwnership, SameNamedTasksKeepTheirOwnCheckpoint) {
  s_->Execute("CREATE TABLE own_src.u (id integer PRIMARY KEY, v text)");
  s_->Execute("INSERT INTO own_src.u VALUES (1, 'u')");
  const std::string db = Db("shared");
  const auto x = With(Args("ferry", db, Dir("x")), {"--tables", "t"});
  const auto y = With(Args("ferry", db, Dir("y")), {"--tables", "u"});
  FerryProcess p = StartLive(x);
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  s_->Execute("INSERT INTO own_src.t SELECT g, 'between' FROM generate_series(101, 110) g");
  p = StartLive(y);
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  auto target = testing::Open("sqlite://" + db);
  EXPECT_EQ(target->OpenSession()->Query("SELECT TASK_NAME FROM awsdms_txn_state").size(), 2u);
  CliRun r = ResumeUntilNow(x);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(TargetRows(db), 110) << "task x resumed from task y's checkpoint";
}

// Case 5: one owner per task. While it runs, a second resume, a second fresh start and a
// delete-task are refused at once, naming the holder; the running task is untouched.
TEST_F(CdcOwnership, SecondProcessIsRefused) {
  const std::string dir = Dir("d"), db = Db("a");
  const auto args = Args("own-a", db, dir);
  FerryProcess p = StartLive(With(args, {}));
  running_.push_back(&p);
  const std::string slot = testing::TaskSlot(dir, "own-a");
  const auto t0 = testing::Clock::now();
  CliRun second = testing::RunFerry(With(args, {"--resume"}));
  EXPECT_LT(testing::Seconds(t0), 20.0) << "not refused at once";
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(second.err.find(fmt::format("task 'own-a' is already running: process {} on host",
                                        p.pid)),
            std::string::npos)
      << second.err;
  second = testing::RunFerry(With(args, {}));
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(second.err.find("is already running"), std::string::npos) << second.err;
  CliRun del = testing::RunFerry({"delete-task", "--task-name", "own-a", "--data-dir", dir,
                                  "--source", testing::PostgresUri()});
  EXPECT_EQ(del.exit_code, 2) << del.err;
  EXPECT_NE(del.err.find("is already running"), std::string::npos) << del.err;
  EXPECT_TRUE(SlotExists(slot));

  // A copy of the data directory elsewhere: the source's lock refuses it.
  std::filesystem::copy(dir, Dir("copy"), std::filesystem::copy_options::recursive);
  std::filesystem::remove(std::filesystem::path(Dir("copy")) / "tasks" / "own-a" / "task.lock");
  second = testing::RunFerry(With(Args("own-a", db, Dir("copy")), {"--resume"}));
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(second.err.find("is already running against"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(fmt::format("ferry task own-a pid {}", p.pid)), std::string::npos)
      << second.err;

  s_->Execute("INSERT INTO own_src.t VALUES (500, 'still applied')");
  EXPECT_EQ(testing::Converge(*source_, "own_src", *testing::Open("sqlite://" + db), "main",
                              std::chrono::seconds(30)),
            "");
  running_.clear();
  CliRun stopped = StopFerry(p);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  testing::CliRun status = testing::RunFerry({"status", "--data-dir", dir, "--json"});
  EXPECT_NE(status.out.find("\"stopped\""), std::string::npos) << status.out;
}

// Case 6: the data directory deleted under a running task stops it; delete-task without the
// data directory and cleanup remove what it left on the source.
TEST_F(CdcOwnership, DeletedDataDirectoryIsNoticedAndCleanedUp) {
  const std::string dir = Dir("gone"), db = Db("a");
  FerryProcess p = StartLive(With(Args("own-gone", db, dir), {}));
  const std::string slot = testing::TaskSlot(dir, "own-gone");
  std::filesystem::remove_all(dir);
  for (int i = 0; i < 200 && testing::Running(p); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(testing::Running(p)) << "still running without its data directory";
  CliRun run = testing::WaitFerry(p);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("was deleted or replaced while it ran"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("replication slot " + slot), std::string::npos) << run.out;

  // cleanup lists it as orphaned; delete-task finds it by its owner mark.
  CliRun list = testing::RunFerry({"cleanup", "--source", testing::PostgresUri(), "--data-dir",
                                   Dir("other")});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("slot " + slot), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("task 'own-gone'"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("the task no longer exists -> orphaned (--drop removes it)"),
            std::string::npos)
      << list.out;
  CliRun del = testing::RunFerry({"delete-task", "--task-name", "own-gone", "--data-dir",
                                  Dir("other"), "--source", testing::PostgresUri()});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_NE(del.out.find("replication slot " + slot + " dropped, publication " + slot +
                         " dropped"),
            std::string::npos)
      << del.out;
  EXPECT_FALSE(SlotExists(slot));

  // cleanup --drop: another task whose directory went away while it was stopped.
  FerryProcess q = StartLive(With(Args("own-gone", Db("b"), dir), {}));
  ASSERT_EQ(StopFerry(q).exit_code, 0);
  const std::string slot2 = testing::TaskSlot(dir, "own-gone");
  // Still in its data directory: cleanup leaves it.
  list = testing::RunFerry({"cleanup", "--source", testing::PostgresUri(), "--drop"});
  EXPECT_TRUE(SlotExists(slot2)) << list.out;
  std::filesystem::remove_all(dir);
  list = testing::RunFerry({"cleanup", "--source", testing::PostgresUri(), "--drop"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("slot " + slot2), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("-> dropped"), std::string::npos) << list.out;
  EXPECT_FALSE(SlotExists(slot2));
  EXPECT_TRUE(s_->Query("SELECT 1 FROM pg_publication WHERE pubname = '" + slot2 + "'").empty());
  // And delete-task says what it found: nothing left.
  del = testing::RunFerry({"delete-task", "--task-name", "own-gone", "--data-dir", Dir("other"),
                           "--source", testing::PostgresUri()});
  EXPECT_EQ(del.exit_code, 2);
  EXPECT_NE(del.err.find("no source object of it"), std::string::npos) << del.err;
}

// Case 7: a slot Ferry did not create is never dropped. --slot-name of an existing slot is the
// DMS native start point (cdc); a start position the slot cannot serve is refused, as is one
// before a new slot's start (the server would silently start later).
TEST_F(CdcOwnership, UserSlotIsANativeStartPoint) {
  const std::string dir = Dir("d"), db = Db("a");
  // The target has the table and its first 100 rows (a full load done earlier).
  FerryProcess load = StartLive(With(Args("own-new", db, Dir("load")), {}));
  ASSERT_EQ(StopFerry(load).exit_code, 0);
  // The user's publication and slot (a publication must exist before the slot's position).
  s_->Execute("CREATE PUBLICATION own_user_pub FOR TABLE own_src.t");
  s_->Execute("SELECT pg_create_logical_replication_slot('own_user_slot', 'pgoutput')");
  s_->Execute("INSERT INTO own_src.t VALUES (200, 'after the slot')");
  const std::string after = *s_->Query("SELECT pg_current_wal_lsn()::text")[0][0];

  // A full load cannot use an existing slot.
  CliRun bad = testing::RunFerry(With(Args("own-user", db, dir), {"--slot-name", "own_user_slot"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--slot-name own_user_slot: the slot exists"), std::string::npos)
      << bad.err;
  // A position before the slot's: refused.
  bad = testing::RunFerry(With(Args("own-user", db, dir, "cdc"),
                               {"--slot-name", "own_user_slot", "--cdc-start-position", "0/1"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("is before"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("the confirmed position of replication slot own_user_slot"),
            std::string::npos)
      << bad.err;
  // From the slot as it is: the insert made after it was created arrives.
  CliRun run = testing::RunFerry(With(Args("own-user", db, dir, "cdc"),
                                      {"--slot-name", "own_user_slot", "--publication",
                                       "own_user_pub", "--cdc-stop-position", after}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(TargetRows(db), 101);
  CliRun del = testing::RunFerry({"delete-task", "--task-name", "own-user", "--data-dir", dir,
                                  "--source", testing::PostgresUri()});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_NE(del.out.find("replication slot own_user_slot kept (not created by Ferry), "
                         "publication own_user_pub kept (not created by Ferry)"),
            std::string::npos)
      << del.out;
  EXPECT_TRUE(SlotExists("own_user_slot"));
  EXPECT_FALSE(s_->Query("SELECT 1 FROM pg_publication WHERE pubname = 'own_user_pub'").empty());

  // A new slot cannot start in the past.
  bad = testing::RunFerry(
      With(Args("own-new", db, Dir("d2"), "cdc"), {"--cdc-start-position", "0/1"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("a new slot cannot return older changes"), std::string::npos)
      << bad.err;
  EXPECT_TRUE(s_->Query("SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE "
                        "'ferry_own_new_%' AND slot_name <> '" +
                        testing::TaskSlot(Dir("load"), "own-new") + "'")
                  .empty())
      << "the refused task left its new slot behind";
}

// Case 8: counters count what the target committed. A target table dropped behind Ferry's
// back: the change is not counted as applied, the table is suspended with the reason, and the
// task's exit code says so (transactional and batch apply).
TEST_F(CdcOwnership, AppliedCountsOnlyWhatTheTargetCommitted) {
  for (const bool batch : {false, true}) {
    SCOPED_TRACE(batch ? "batch apply" : "transactional apply");
    const std::string dir = Dir(batch ? "batch" : "txn"), db = Db(batch ? "batch" : "txn");
    std::vector<std::string> args = Args("own-b", db, dir);
    if (batch) {
      const std::string settings = (base_ / "settings.json").string();
      // (With task settings DMS's default DataErrorPolicy is LOG_ERROR: the change would be
      // skipped and counted under Errors, the table kept.)
      std::ofstream(settings) << R"({"TargetMetadata": {"BatchApplyEnabled": true},)"
                              << R"( "ErrorBehavior": {"DataErrorPolicy": "SUSPEND_TABLE"},)"
                              << R"( "ChangeProcessingTuning": {"BatchApplyTimeoutMin": 1}})";
      args.push_back("--task-settings");
      args.push_back(settings);
    }
    FerryProcess p = StartLive(args);
    testing::Open("sqlite://" + db)->OpenSession()->Execute("DROP TABLE t");
    s_->Execute("INSERT INTO own_src.t VALUES (700, 'lost target')");
    std::string status;
    for (int i = 0; i < 100; ++i) {
      status = testing::RunFerry({"status", "--data-dir", dir, "--json"}).out;
      if (status.find("\"Suspended\"") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    CliRun run = StopFerry(p);
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_NE(run.out.find("1 table(s) are not applied"), std::string::npos) << run.out;
    const nlohmann::json st =
        nlohmann::json::parse(testing::RunFerry({"status", "--data-dir", dir, "--json"}).out);
    const nlohmann::json& t = st["ReplicationTasks"][0]["TableStatistics"][0];
    EXPECT_EQ(t["TableState"], "Suspended") << t.dump();
    EXPECT_EQ(t["Inserts"], 1) << t.dump();
    EXPECT_EQ(t["AppliedInserts"], 0) << "counted as applied: " << t.dump();
    testing::RunFerry({"delete-task", "--task-name", "own-b", "--data-dir", dir, "--source",
                       testing::PostgresUri()});
    s_->Execute("DELETE FROM own_src.t WHERE id = 700");
  }
}

// Case 8: delete-task says what it found.
TEST_F(CdcOwnership, DeleteTaskSaysWhatItFound) {
  const std::string dir = Dir("d"), db = Db("a");
  FerryProcess p = StartLive(With(Args("own-b", db, dir), {}));
  ASSERT_EQ(StopFerry(p).exit_code, 0);
  const std::string slot = testing::TaskSlot(dir, "own-b");
  s_->Execute("SELECT pg_drop_replication_slot('" + slot + "')");
  CliRun del = testing::RunFerry({"delete-task", "--task-name", "own-b", "--data-dir", dir,
                                  "--source", testing::PostgresUri()});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_NE(del.out.find("replication slot " + slot + " was not there, publication " + slot +
                         " dropped"),
            std::string::npos)
      << del.out;
}

}  // namespace
}  // namespace ferry
