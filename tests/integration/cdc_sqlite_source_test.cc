// Change data capture from a SQLite source (issue 13): the `ferry` binary runs
// full-load-and-cdc from a SQLite file whose changes its triggers record, into a PostgreSQL,
// MariaDB and SQLite target; every check compares source and target by canonical row hash.
//   - every column type through inserts, updates (also of the key) and deletes, a table
//     without a primary key, then delete-task removes the triggers and the change tables;
//   - a writer committing all through the load, kill -9 during the load and while streaming,
//     resume, then equal;
//   - ALTER TABLE ADD COLUMN while streaming.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "cdc_test_env.h"

namespace ferry {
namespace {

using testing::Clock;
using testing::ReadText;

constexpr const char* kAllLive = "every table is in change processing";

// Waits until `done` holds or `p` ended or the timeout passed; returns `done`'s last value.
template <typename F>
bool WaitWhileRunning(testing::FerryProcess& p, F done, std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until && testing::Running(p)) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Ctrl-C, then waits (at most `timeout`, then kill -9) for the process to end.
testing::CliRun Interrupt(testing::FerryProcess& p, std::chrono::seconds timeout) {
  if (testing::Running(p)) ::kill(p.pid, SIGINT);
  WaitWhileRunning(
      p, [] { return false; }, timeout);
  return testing::KillFerry(p);
}

// The names of `file`'s tables and triggers that start with "ferry_".
std::vector<std::string> FerryObjects(SqlConnector& source) {
  std::vector<std::string> out;
  for (const auto& row : source.OpenSession()->Query(
           "SELECT type || ' ' || name FROM sqlite_master WHERE name LIKE 'ferry\\_%' ESCAPE "
           "'\\' ORDER BY 1")) {
    out.push_back(row[0].value_or(""));
  }
  return out;
}

class SqliteSourceCdc : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    kind_ = GetParam();
    if (kind_ == "pg") FERRY_REQUIRE_POSTGRES();
    if (kind_ == "mysql") FERRY_REQUIRE_MYSQL();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("ferry-sqlite-cdc-{}-{}", ::getpid(), kind_);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    source_file_ = (dir_ / "source.db").string();
    source_uri_ = "sqlite://" + source_file_;
    ns_ = fmt::format("sqlite_cdc_{}_dst", kind_);
    if (kind_ == "pg") {
      target_uri_ = testing::PostgresUri();
      target_schema_ = ns_;
      testing::Open(target_uri_)
          ->OpenSession()
          ->Execute("DROP SCHEMA IF EXISTS " + ns_ + " CASCADE");
    } else if (kind_ == "mysql") {
      testing::Open(testing::MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS " + ns_);
      target_uri_ = testing::WithDatabase(testing::MysqlUri(), ns_);
      target_schema_ = ns_;
    } else {
      target_uri_ = "sqlite://" + (dir_ / "target.db").string();
      target_schema_ = "main";
    }
    settings_file_ = dir_ / "settings.json";
    std::ofstream(settings_file_)
        << R"({"ChangeProcessingTuning": {"CommitTimeout": 1},)"
        << R"( "TargetMetadata": {"SupportLobs": true, "FullLobMode": true},)"
        << R"( "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE"}})";
  }
  void TearDown() override {
    writing_ = false;
    if (writer_.joinable()) writer_.join();
    if (ferry_.pid > 0) testing::KillFerry(ferry_);
    try {
      if (target_uri_.empty()) {
        // skipped before the target was set
      } else if (kind_ == "pg") {
        testing::Open(target_uri_)
            ->OpenSession()
            ->Execute("DROP SCHEMA IF EXISTS " + ns_ + " CASCADE");
      } else if (kind_ == "mysql") {
        testing::Open(testing::MysqlUri())
            ->OpenSession()
            ->Execute("DROP DATABASE IF EXISTS " + ns_);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SqlConnector> Source() { return testing::Open(source_uri_); }
  std::unique_ptr<SqlConnector> Target() { return testing::Open(target_uri_); }

  std::vector<std::string> Args(bool resume, const std::string& type = "full-load-and-cdc") const {
    std::vector<std::string> a{"migrate",
                               "--source",
                               source_uri_,
                               "--target",
                               target_uri_,
                               "--schema",
                               "main",
                               "--migration-type",
                               type,
                               "--data-dir",
                               (dir_ / "data").string(),
                               "--task-name",
                               task_,
                               "--task-settings",
                               settings_file_.string(),
                               "--target-table-prep-mode",
                               "DROP_AND_CREATE",
                               "--no-progress"};
    if (kind_ == "pg") {
      a.push_back("--target-schema");
      a.push_back(target_schema_);
    }
    if (resume) a.push_back("--resume");
    a.insert(a.end(), extra_args_.begin(), extra_args_.end());
    return a;
  }

  bool WaitLive(std::chrono::seconds timeout = std::chrono::seconds(90)) {
    return WaitWhileRunning(
        ferry_, [&] { return ReadText(ferry_.err_file).find(kAllLive) != std::string::npos; },
        timeout);
  }

  // "" once the target equals the source; else the difference, with the rows of `table` that
  // differ (canonical text).
  std::string Converge(std::chrono::seconds timeout = std::chrono::seconds(60),
                       const std::string& table = "alltypes") {
    auto source = Source();
    auto target = Target();
    std::string diff = testing::Converge(*source, "main", *target, target_schema_, timeout);
    if (diff.empty()) return diff;
    try {
      auto rows = [](SqlConnector& c, const std::string& schema, const std::string& name) {
        std::set<std::string> out;
        for (const testing::CanonicalRow& r :
             testing::ScanCanonical(c, c.OpenCatalog()->GetTable(schema, name))) {
          std::string line;
          for (const auto& v : r) {
            const std::string t = v ? *v : "NULL";
            line += t.size() <= 80 ? t
                                   : fmt::format("{}... ({} bytes, hash {:x})", t.substr(0, 20),
                                                 t.size(), std::hash<std::string>{}(t));
            line += " | ";
          }
          out.insert(line);
        }
        return out;
      };
      const auto a = rows(*source, "main", table);
      const auto b = rows(*target, target_schema_, table);
      for (const std::string& r : a) {
        if (!b.count(r)) diff += "only on the source: " + r + "\n";
      }
      for (const std::string& r : b) {
        if (!a.count(r)) diff += "only on the target: " + r + "\n";
      }
    } catch (const std::exception& e) {
      diff += e.what();
    }
    return diff;
  }

  // The type table of the pairing tests and a table without a primary key.
  void CreateSource() {
    auto s = Source()->OpenSession();
    s->Execute("PRAGMA journal_mode=WAL");
    s->Execute(R"(CREATE TABLE alltypes (
        id INT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT NOT NULL, i8 BIGINT,
        n_small NUMERIC(10,2), n_big DECIMAL_TEXT(38,10), r4 FLOAT, r8 DOUBLE,
        s VARCHAR(100), t TEXT, bin BLOB, d DATE, tm TIME, ts DATETIME))");
    s->Execute(R"(INSERT INTO alltypes VALUES
        (1, 1, 12, 34, 56, 12345678.91, '1234567890123456789012345678.123456789', 1.5,
         0.1, 'plain', 'text', X'00ff', '2024-02-29', '12:34:56.789', '2024-02-29 12:34:56.123456'),
        (2, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))");
    s->Execute("CREATE TABLE nokey (a INTEGER, b TEXT, c REAL)");
    s->Execute("INSERT INTO nokey VALUES (1, 'one', 1.0), (1, 'one', 1.0), (2, 'two', NULL)");
  }

  std::string kind_;
  std::vector<std::string> extra_args_;
  std::string task_ = "sqlite-cdc";
  std::filesystem::path dir_, settings_file_;
  std::string source_file_, source_uri_, target_uri_, target_schema_, ns_;
  testing::FerryProcess ferry_;
  // The writer thread's; members, so an ASSERT returning early (the thread joined in
  // TearDown) leaves them alive.
  std::thread writer_;
  std::atomic<bool> writing_{false};
  std::atomic<int64_t> writes_{0};
  std::string writer_error_;
};

TEST_P(SqliteSourceCdc, EveryTypeInsertUpdateDeleteThenDeleteTask) {
  CreateSource();
  ferry_ = testing::StartFerry(Args(false));
  ASSERT_TRUE(WaitLive()) << ReadText(ferry_.err_file);
  ASSERT_EQ(Converge(), "");
  std::string hex;  // all 256 byte values
  for (int i = 0; i < 256; ++i) {
    hex += "0123456789ABCDEF"[i >> 4];
    hex += "0123456789ABCDEF"[i & 15];
  }
  {
    auto s = Source()->OpenSession();
    s->Execute(R"(INSERT INTO alltypes VALUES
        (3, 0, -32768, -2147483648, 9223372036854775807, -99999999.99,
         '-9999999999999999999999999999.9999999999', 3.40282e38, 1.7976931348623157e308,
         '', 'tab' || char(9) || 'here' || char(10) || 'newline\backslash ' || char(1) || ' ' ||
         char(128512) || ' ' || char(233), X')" +
               hex + R"(', '0001-01-01', '23:59:59.999999',
         '9999-12-31 23:59:59.999999'),
        (4, 1, 32767, 2147483647, -9223372036854775808, 0.01, '0.0000000001', -0.25,
         -2.2250738585072014e-308, 'x y', '', X'', '9999-12-31', '00:00:00', '0001-01-01 00:00:00'))");
    s->Execute(
        "INSERT INTO alltypes (id, i4, t, bin) VALUES (5, 5, printf('%.*c', 300000, 'x'), "
        "zeroblob(300000))");
    // Several statements in one transaction, the key changed, NULLs set and cleared.
    s->Execute(
        "BEGIN; UPDATE alltypes SET t = 'updated', r8 = -0.5, bin = NULL WHERE id = 1; "
        "UPDATE alltypes SET id = 20, s = 'moved' WHERE id = 2; "
        "UPDATE alltypes SET b = 0, i8 = -1, d = '2000-01-01', ts = NULL WHERE id = 3; "
        "COMMIT");
    s->Execute("DELETE FROM alltypes WHERE id = 4");
    s->Execute("INSERT INTO alltypes (id, i4, n_small, tm) VALUES (6, 6, -0.01, '01:00:00')");
    // No key: the whole old row finds the row, one of two equal rows at a time.
    s->Execute("UPDATE nokey SET b = 'uno' WHERE rowid = (SELECT min(rowid) FROM nokey)");
    s->Execute("DELETE FROM nokey WHERE a = 2");
    s->Execute("INSERT INTO nokey VALUES (3, NULL, -2.5)");
    s->Execute("UPDATE nokey SET c = 9.25 WHERE a = 3");
  }
  EXPECT_EQ(Converge(), "");

  // The target committed everything: the change table is emptied behind it.
  auto source = Source();
  const std::string slot = testing::TaskSlot(dir_ / "data", task_);
  ASSERT_FALSE(slot.empty());
  const auto until = Clock::now() + std::chrono::seconds(30);
  int64_t left = -1;
  while (Clock::now() < until) {
    left = std::stoll(source->OpenSession()
                          ->Query("SELECT count(*) FROM \"" + slot + "_changes\"")[0][0]
                          .value_or("-1"));
    if (left == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(left, 0) << "changes the target committed are not deleted from the change table";
  EXPECT_EQ(FerryObjects(*source).size(), 9u);  // 3 tables, 3 triggers on each of 2 tables

  testing::CliRun stopped = Interrupt(ferry_, std::chrono::seconds(30));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  testing::CliRun del = testing::RunFerry({"delete-task", "--task-name", task_, "--data-dir",
                                           (dir_ / "data").string(), "--source", source_uri_});
  EXPECT_EQ(del.exit_code, 0) << del.err << del.out;
  EXPECT_TRUE(FerryObjects(*source).empty())
      << "left on the source: " << fmt::format("{}", fmt::join(FerryObjects(*source), ", "));
  // The application's writes go on without the triggers.
  source->OpenSession()->Execute("INSERT INTO alltypes (id, i4) VALUES (100, 100)");
}

// A writer commits all through the load and the stream; ferry is killed with -9 during the
// load and while streaming, resumed each time; in the end the target equals the source. The
// big table is read by three readers (key-range segments), all joined to its one snapshot.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int64_t kBigRows = 300000;  // the sanitizer CI jobs: the same paths, in their budget
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr int64_t kBigRows = 300000;
#else
constexpr int64_t kBigRows = 2000000;
#endif
#else
constexpr int64_t kBigRows = 2000000;
#endif

TEST_P(SqliteSourceCdc, ConcurrentWriterKillNineResumeConverges) {
  extra_args_ = {"--auto-segments", "3", "--auto-segment-min-rows", "100000"};
  {
    auto s = Source()->OpenSession();
    s->Execute("PRAGMA journal_mode=WAL");
    s->Execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, s TEXT)");
    s->Execute("WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < " +
               std::to_string(kBigRows) +
               ") "
               "INSERT INTO big SELECT x, x, 'row ' || x FROM g");
    s->Execute("CREATE TABLE small (k TEXT PRIMARY KEY, n REAL, b BLOB)");
    s->Execute("INSERT INTO small VALUES ('a', 1.5, x'01'), ('b', NULL, NULL)");
  }
  writing_ = true;
  writer_ = std::thread([&] {
    std::mt19937 rng(13);
    auto s = Source()->OpenSession();
    // REPLACE deletes the row it replaces without firing delete triggers unless recursive
    // triggers are on (the user guide says so): the writer turns them on.
    s->Execute("PRAGMA recursive_triggers = ON");
    int64_t next = 1000000;
    while (writing_) {
      try {
        const int64_t id = 1 + static_cast<int64_t>(rng() % kBigRows);
        switch (rng() % 6) {
          case 0:
            s->Execute(fmt::format("INSERT INTO big VALUES ({}, {}, 'new')", next++, id));
            break;
          case 1:
            s->Execute(fmt::format("UPDATE big SET v = v + 1, s = 'upd' WHERE id = {}", id));
            break;
          case 2:
            s->Execute(fmt::format("DELETE FROM big WHERE id = {}", id));
            break;
          case 3:
            s->Execute(fmt::format(
                "BEGIN; INSERT OR REPLACE INTO small VALUES ('k{}', {}.25, randomblob(8)); "
                "UPDATE big SET v = -v WHERE id = {}; COMMIT",
                id % 50, id, id));
            break;
          case 4:
            if (id % 2) {
              s->Execute(fmt::format("DELETE FROM small WHERE k = 'k{}'", id % 50));
            } else {
              s->Execute(
                  fmt::format("INSERT INTO small VALUES ('k{}', 1, NULL) ON CONFLICT (k) "
                              "DO UPDATE SET n = n + 1",
                              id % 50));
            }
            break;
          default:
            s->Execute(fmt::format("UPDATE big SET id = {} WHERE id = {}", next++, id));
            break;
        }
        ++writes_;
      } catch (const std::exception& e) {
        writer_error_ = e.what();  // busy while ferry holds the lock a moment: go on
        try {
          s->Execute("ROLLBACK");
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  // Killed during the load, once the writer is writing.
  ferry_ = testing::StartFerry(Args(false));
  WaitWhileRunning(
      ferry_,
      [&] { return ReadText(ferry_.err_file).find("(full-load-and-cdc)") != std::string::npos; },
      std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string first_run = ReadText(ferry_.err_file);
  testing::KillFerry(ferry_);
  EXPECT_EQ(first_run.find(kAllLive), std::string::npos) << "not killed during the load:\n"
                                                         << first_run;
  // Resumed: the interrupted table loads again; killed once streaming.
  ferry_ = testing::StartFerry(Args(true));
  ASSERT_TRUE(WaitLive()) << ReadText(ferry_.err_file);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  testing::KillFerry(ferry_);
  ferry_ = testing::StartFerry(Args(true));
  ASSERT_TRUE(WaitLive()) << ReadText(ferry_.err_file);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  writing_ = false;
  writer_.join();
  EXPECT_GT(writes_.load(), 100);
  EXPECT_EQ(Converge(std::chrono::seconds(120)), "") << "writes " << writes_.load();
  testing::CliRun stopped = Interrupt(ferry_, std::chrono::seconds(30));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

// ALTER TABLE ADD COLUMN on a captured table while streaming: the triggers are recreated with
// the new column and the target follows (DDL handling policy: the default applies it).
TEST_P(SqliteSourceCdc, AddColumnMidStream) {
  CreateSource();
  ferry_ = testing::StartFerry(Args(false));
  ASSERT_TRUE(WaitLive()) << ReadText(ferry_.err_file);
  {
    auto s = Source()->OpenSession();
    s->Execute("INSERT INTO alltypes (id, i4, t) VALUES (10, 10, 'before')");
    s->Execute("ALTER TABLE alltypes ADD COLUMN extra TEXT DEFAULT 'dflt'");
  }
  // Ferry follows the new shape at its next poll; writes to the new column come after.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  {
    auto s = Source()->OpenSession();
    s->Execute("INSERT INTO alltypes (id, i4, t, extra) VALUES (11, 11, 'after', 'given')");
    s->Execute("UPDATE alltypes SET extra = 'changed' WHERE id = 1");
    s->Execute("UPDATE alltypes SET t = 'other column' WHERE id = 10");
    s->Execute("DELETE FROM alltypes WHERE id = 2");
  }
  EXPECT_EQ(Converge(), "") << ReadText(ferry_.err_file);
  testing::CliRun stopped = Interrupt(ferry_, std::chrono::seconds(30));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

// --migration-type cdc: the objects are made when the task starts and changes from then on
// reach the target; `ferry cleanup` names them with their task.
TEST_P(SqliteSourceCdc, CdcOnlyThenCleanupListsTheTask) {
  {
    auto s = Source()->OpenSession();
    s->Execute("PRAGMA journal_mode=WAL");
    s->Execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, v TEXT, r REAL, b BLOB)");
  }
  ferry_ = testing::StartFerry(Args(false, "cdc"));
  auto source = Source();
  ASSERT_TRUE(WaitWhileRunning(
      ferry_, [&] { return FerryObjects(*source).size() == 6; }, std::chrono::seconds(60)))
      << ReadText(ferry_.err_file);
  {
    auto s = source->OpenSession();
    for (int i = 1; i <= 50; ++i) {
      s->Execute(
          fmt::format("INSERT INTO ev VALUES ({}, 'v{}', {}.5, randomblob({}))", i, i, i, i));
    }
    s->Execute("UPDATE ev SET v = NULL, r = -r WHERE id % 3 = 0");
    s->Execute("DELETE FROM ev WHERE id % 7 = 0");
  }
  EXPECT_EQ(Converge(std::chrono::seconds(60), "ev"), "");
  testing::CliRun cleanup = testing::RunFerry(
      {"cleanup", "--source", source_uri_, "--data-dir", (dir_ / "data").string()});
  EXPECT_EQ(cleanup.exit_code, 0) << cleanup.err;
  const std::string slot = testing::TaskSlot(dir_ / "data", task_);
  EXPECT_NE(cleanup.out.find("slot " + slot), std::string::npos) << cleanup.out;
  EXPECT_NE(cleanup.out.find("task '" + task_ + "'"), std::string::npos) << cleanup.out;
  testing::CliRun stopped = Interrupt(ferry_, std::chrono::seconds(30));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  testing::CliRun del = testing::RunFerry({"delete-task", "--task-name", task_, "--data-dir",
                                           (dir_ / "data").string(), "--source", source_uri_});
  EXPECT_EQ(del.exit_code, 0) << del.err << del.out;
  EXPECT_TRUE(FerryObjects(*source).empty());
}

INSTANTIATE_TEST_SUITE_P(Targets, SqliteSourceCdc, ::testing::Values("sqlite", "pg", "mysql"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace ferry
