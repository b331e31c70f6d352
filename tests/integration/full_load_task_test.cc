// Full-load tasks in the task store (engine/full_load_task.h): `ferry status` shows one while it
// runs and after, with the DMS fields; a load killed with kill -9 at random moments resumes
// with --resume, keeping the tables it completed, until the target equals the source; and the
// refusals a resume or a name clash get.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

#include "engine/full_load_task.h"
#include "task/task_store.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("ferry-it-{}-{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A SQLite file with table `big` (`rows` rows with some text) and a small table `small`.
std::string MakeSqliteSource(const fs::path& dir, int64_t rows) {
  std::string uri = "sqlite://" + (dir / "src.db").string();
  Open(uri)->OpenSession()->Execute(fmt::format(
      "CREATE TABLE big (id INTEGER PRIMARY KEY, v INTEGER, t TEXT);"
      "INSERT INTO big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
      "WHERE i < {}) SELECT i, i * 7, printf('row %d of the big table', i) FROM n;"
      "CREATE TABLE small (id INTEGER PRIMARY KEY, name TEXT);"
      "INSERT INTO small VALUES (1, 'one'), (2, 'two');",
      rows));
  return uri;
}

nlohmann::json StatusJson(const fs::path& data_dir, const std::string& task) {
  CliRun s = RunFerry({"status", "--data-dir", data_dir.string(), "--task-name", task, "--json"});
  if (s.exit_code != 0) return nlohmann::json();
  try {
    nlohmann::json j = nlohmann::json::parse(s.out);  // {"ReplicationTasks": [task]}
    const nlohmann::json& tasks = j.at("ReplicationTasks");
    return tasks.empty() ? nlohmann::json() : tasks[0];
  } catch (const std::exception&) {
    return nlohmann::json();
  }
}

TEST(FullLoadTask, AppearsInStatusWhileItRunsAndAfterWithTheDmsFields) {
  const fs::path dir = FreshDir("fl-status");
  const std::string source = MakeSqliteSource(dir, 1'500'000);
  const std::string target = "sqlite://" + (dir / "dst.db").string();
  FerryProcess p = StartFerry({"migrate", "--source", source, "--target", target, "--data-dir",
                               (dir / "data").string(), "--task-name", "fl-status",
                               "--no-progress", "--parallel", "1"});
  // While it runs: the task is there, running, with the big table in "Full load".
  bool seen_running = false;
  while (Running(p) && !seen_running) {
    nlohmann::json j = StatusJson(dir / "data", "fl-status");
    if (j.is_object() && j.value("Status", "") == "running") {
      for (const auto& t : j["TableStatistics"]) {
        if (t.value("TableName", "") == "big" && t.value("TableState", "") == "Full load") {
          seen_running = true;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CliRun run = WaitFerry(p);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(seen_running) << "ferry status never showed the running task loading table big";

  nlohmann::json j = StatusJson(dir / "data", "fl-status");
  ASSERT_TRUE(j.is_object()) << "no status for the finished task";
  EXPECT_EQ(j.value("ReplicationTaskIdentifier", ""), "fl-status");
  EXPECT_EQ(j.value("MigrationType", ""), "full-load");
  EXPECT_EQ(j.value("Status", ""), "stopped");
  EXPECT_EQ(j.value("StopReason", ""), "Stop Reason FULL_LOAD_ONLY_FINISHED");
  EXPECT_EQ(j["ReplicationTaskStats"].value("FullLoadProgressPercent", -1), 100);
  EXPECT_EQ(j["ReplicationTaskStats"].value("TablesLoaded", -1), 2);
  EXPECT_EQ(j["ReplicationTaskStats"].value("TablesErrored", -1), 0);
  EXPECT_TRUE(j["ReplicationTaskStats"].contains("StopDate"));
  ASSERT_EQ(j["TableStatistics"].size(), 2u);
  for (const auto& t : j["TableStatistics"]) {
    EXPECT_EQ(t.value("TableState", ""), "Table completed") << t.dump();
    EXPECT_EQ(t.value("FullLoadRows", int64_t{-1}), t.value("TableName", "") == "big" ? 1'500'000 : 2)
        << t.dump();
    EXPECT_TRUE(t.contains("FullLoadStartTime") && t.contains("FullLoadEndTime")) << t.dump();
  }
  // The endpoints are kept without secrets; the text form says the same.
  EXPECT_EQ(j["Ferry"].value("SourceEndpoint", ""), source);
  CliRun text = RunFerry({"status", "--data-dir", (dir / "data").string(), "--task-name",
                          "fl-status"});
  EXPECT_NE(text.out.find("Task fl-status (full-load): stopped"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Stop Reason FULL_LOAD_ONLY_FINISHED"), std::string::npos) << text.out;
}

// Six PostgreSQL tables into MariaDB (whose writer commits as it goes, so an interrupted table
// holds rows the resume must clear), two at a time, killed at random moments five times: each
// --resume keeps the tables completed before and loads the others again; at the end every
// table equals its source by digest and the task says FULL_LOAD_ONLY_FINISHED.
TEST(FullLoadTask, KilledAtRandomMomentsResumesKeepingCompletedTables) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  const fs::path dir = FreshDir("fl-kill");
  {
    auto pg = Open(PostgresUri())->OpenSession();
    pg->Execute("DROP SCHEMA IF EXISTS fl_kill CASCADE; CREATE SCHEMA fl_kill");
    for (int t = 0; t < 6; ++t) {
      pg->Execute(fmt::format(
          "CREATE TABLE fl_kill.t{0} (id integer PRIMARY KEY, v bigint, s text);"
          "INSERT INTO fl_kill.t{0} SELECT g, g * {1}, 'value ' || g || ' of table {0}' "
          "FROM generate_series(1, {2}) g",
          t, t + 3, 150'000 + t * 20'000));
    }
    auto my = Open(MysqlUri())->OpenSession();
    my->Execute("DROP DATABASE IF EXISTS fl_kill; CREATE DATABASE fl_kill");
  }
  const std::vector<std::string> args = {
      "migrate", "--source", PostgresUri(), "--schema", "fl_kill", "--target",
      WithDatabase(MysqlUri(), "fl_kill"), "--data-dir", (dir / "data").string(),
      "--task-name", "fl-kill", "--no-progress", "--parallel", "2"};
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  auto tables_loaded = [&] {
    nlohmann::json j = StatusJson(dir / "data", "fl-kill");
    return j.is_object() ? j["ReplicationTaskStats"].value("TablesLoaded", 0) : 0;
  };
  int kills = 0, kept_seen = 0;
  std::string log;  // every round's stderr, shown when something fails
  bool finished = false;
  for (int round = 0; round < 6 && !finished; ++round) {
    std::vector<std::string> a = args;
    if (round > 0) a.push_back("--resume");
    const int loaded_before = tables_loaded();
    FerryProcess p = StartFerry(a);
    // Even rounds are killed at any moment (often inside the first tables); odd rounds a
    // moment after this run completed a table, so the next one has something to keep. The
    // last round runs to the end.
    int ms = 0;
    if (round == 5) {
      ms = 600'000;
    } else if (round % 2 == 0) {
      ms = std::uniform_int_distribution<int>(200, 1200)(rng);
    } else {
      while (Running(p) && tables_loaded() <= loaded_before) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ms = std::uniform_int_distribution<int>(0, 600)(rng);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (Running(p) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CliRun run = Running(p) ? (++kills, KillFerry(p)) : WaitFerry(p);
    std::smatch m;
    if (std::regex_search(run.err, m, std::regex(R"((\d+) table\(s\) completed before are kept)")) &&
        std::stoi(m[1]) > 0) {
      ++kept_seen;
    }
    log += fmt::format("--- round {} ({} ms, exit {}):\n{}", round, ms, run.exit_code, run.err);
    if (run.exit_code == 0) finished = true;
    ASSERT_TRUE(run.exit_code == 0 || run.exit_code == -1)
        << "round " << round << " ended with " << run.exit_code << ":\n" << log;
  }
  ASSERT_TRUE(finished) << "the task never completed:\n" << log;
  EXPECT_GT(kills, 0) << "no run was killed: the test proves nothing";
  if (kills >= 2) {
    EXPECT_GT(kept_seen, 0) << "no resume kept a completed table:\n" << log;
  }

  auto source = Open(PostgresUri());
  auto target = Open(WithDatabase(MysqlUri(), "fl_kill"));
  const auto want = DigestAll(*source, "fl_kill");
  const auto got = DigestAll(*target, "fl_kill");
  ASSERT_EQ(want.size(), 6u);
  for (const auto& [name, d] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_EQ(got.at(name).rows, d.rows) << name;
    EXPECT_EQ(got.at(name).hash, d.hash) << name;
  }
  nlohmann::json j = StatusJson(dir / "data", "fl-kill");
  EXPECT_EQ(j.value("Status", ""), "stopped");
  EXPECT_EQ(j.value("StopReason", ""), "Stop Reason FULL_LOAD_ONLY_FINISHED");
}

// Targets a table loaded in segments commits to one segment per transaction, with the
// segment's mark (each test runs with a PostgreSQL source).
class FullLoadTaskSegmentTargets : public EnginePairTest {};

INSTANTIATE_TEST_SUITE_P(Targets, FullLoadTaskSegmentTargets,
                         ::testing::Values(std::make_tuple(Engine::kPostgres, Engine::kPostgres),
                                           std::make_tuple(Engine::kPostgres, Engine::kMysql),
                                           std::make_tuple(Engine::kPostgres, Engine::kSqlite)),
                         [](const auto& info) {
                           return std::string(EngineTag(std::get<1>(info.param)));
                         });

// A 2M-row keyless PostgreSQL table read by four readers in 16 segments (ctid ranges) into
// each target, where each segment commits on its own: killed five times at random moments,
// each --resume keeps the segments committed before (the log says how many) and loads the
// others; the target ends equal to the source, no row twice.
TEST_P(FullLoadTaskSegmentTargets, KilledAtRandomMomentsKeepsCommittedSegments) {
  PrepareDirectory("fl-seg");
  if (IsSkipped()) return;
  const fs::path dir = tmp_;
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute(
      "DROP SCHEMA IF EXISTS fl_seg CASCADE; CREATE SCHEMA fl_seg;"
      "CREATE TABLE fl_seg.big (id integer, v bigint, s text);"
      "INSERT INTO fl_seg.big SELECT g, g * 7, 'row ' || g || repeat('x', 60) "
      "FROM generate_series(1, 2000000) g;"
      "ANALYZE fl_seg.big");
  DropNamespace(dst(), "fl_seg_dst");
  const std::string target_uri = UriFor(dst(), "fl_seg_dst");
  const std::string target_schema = dst() == Engine::kSqlite ? "main" : "fl_seg_dst";
  std::vector<std::string> args = {"migrate",         "--source",   PostgresUri(),
                                   "--schema",        "fl_seg",     "--target",
                                   target_uri,        "--data-dir", (dir / "data").string(),
                                   "--task-name",     "fl-seg",     "--no-progress",
                                   "--auto-segments", "4"};
  if (dst() == Engine::kPostgres) args.insert(args.end(), {"--target-schema", "fl_seg_dst"});
  std::mt19937 rng(static_cast<std::mt19937::result_type>(::getpid()) * 7u);
  // Segments the task store says are committed.
  auto segments_done = [&]() -> size_t {
    try {
      auto store = TaskStore::Open(dir / "data", /*read_only=*/true);
      const std::vector<TableRecord> tables = store->GetTables("fl-seg");
      if (tables.empty() || tables[0].segments_done.empty()) return 0;
      return static_cast<size_t>(
          std::count(tables[0].segments_done.begin(), tables[0].segments_done.end(), ',') + 1);
    } catch (const Error&) {
      return 0;
    }
  };
  std::string log;
  int kills = 0, kept_seen = 0;
  bool finished = false;
  for (int round = 0; round < 6 && !finished; ++round) {
    std::vector<std::string> a = args;
    if (round > 0) a.push_back("--resume");
    const size_t done_before = segments_done();
    FerryProcess p = StartFerry(a);
    // Even rounds are killed at any moment; odd ones just after this run committed a segment
    // (segments of one size commit close together, so a random moment often misses them).
    // The windows are short: on a fast machine the whole PostgreSQL load takes about a second
    // (CI once saw round 0 finish in under 1,023 ms, so nothing was killed).
    int ms = 0;
    if (round == 5) {
      ms = 600'000;
    } else if (round % 2 == 0) {
      ms = std::uniform_int_distribution<int>(100, 400)(rng);
    } else {
      while (Running(p) && segments_done() <= done_before) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ms = std::uniform_int_distribution<int>(0, 40)(rng);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (Running(p) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CliRun run = Running(p) ? (++kills, KillFerry(p)) : WaitFerry(p);
    std::smatch m;
    if (std::regex_search(run.err, m,
                          std::regex(R"(committed (\d+) of its (\d+) segments \((\d+) rows\))")) &&
        std::stoi(m[1]) > 0) {
      ++kept_seen;
    }
    log += fmt::format("--- round {} ({} ms, exit {}):\n{}", round, ms, run.exit_code, run.err);
    if (run.exit_code == 0) finished = true;
    ASSERT_TRUE(run.exit_code == 0 || run.exit_code == -1) << log;
  }
  ASSERT_TRUE(finished) << log;
  EXPECT_GT(kills, 0) << "no run was killed: the test proves nothing";
  auto source = Open(PostgresUri());
  auto target = Open(target_uri);
  const auto want = DigestAll(*source, "fl_seg");
  const auto got = DigestAll(*target, target_schema);
  ASSERT_TRUE(got.count("big")) << log;
  EXPECT_EQ(got.at("big").rows, 2'000'000) << log;
  EXPECT_EQ(got.at("big").hash, want.at("big").hash) << log;
  nlohmann::json j = StatusJson(dir / "data", "fl-seg");
  EXPECT_EQ(j.value("StopReason", ""), "Stop Reason FULL_LOAD_ONLY_FINISHED");
  EXPECT_EQ(j["TableStatistics"][0].value("FullLoadRows", int64_t{0}), 2'000'000);
  EXPECT_GT(kept_seen, 0) << "no resume kept a committed segment:\n" << log;
  DropNamespace(dst(), "fl_seg_dst");
}

// A keyless PostgreSQL table read in 16 automatic segments (ctid ranges), each committed on
// its own into the target, where the process dies right after one segment committed and
// before the task store recorded it (the caller's on_segment_done throws there: the task
// records segments after it). The resume must keep exactly the segments the target holds: it
// loads the others (16 minus those committed) and the target ends equal to the source, with
// no row twice. Per target engine: each commits a segment in one transaction with its mark.
TEST_P(FullLoadTaskSegmentTargets, DeathBetweenSegmentCommitAndItsRecordLoadsNothingTwice) {
  PrepareDirectory("fl-mark");
  if (IsSkipped()) return;
  constexpr int64_t kRows = 300'000;
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute(fmt::format(
      "DROP SCHEMA IF EXISTS fl_mark CASCADE; CREATE SCHEMA fl_mark;"
      "CREATE TABLE fl_mark.t (id integer, v bigint, s text);"  // no key: a duplicate is silent
      "INSERT INTO fl_mark.t SELECT g, g * 7, 'row ' || g FROM generate_series(1, {}) g;"
      "ANALYZE fl_mark.t",
      kRows));
  DropNamespace(dst(), "fl_mark_dst");
  auto source = Open(PostgresUri());
  auto target = Open(UriFor(dst(), "fl_mark_dst"));
  const std::string target_schema = dst() == Engine::kSqlite ? "main" : "fl_mark_dst";
  const std::vector<TablePlan> plans = PlanTables(source->OpenCatalog()->ListTables("fl_mark"),
                                                  Engine::kPostgres, *target, target_schema, {});
  ASSERT_EQ(plans.size(), 1u);

  std::mutex mu;
  std::set<size_t> committed;  // segments whose on_segment_done ran, by run
  bool die = true;
  auto run = [&](bool resume) {
    FullLoadTaskOptions o;
    o.task = "fl-mark";
    o.data_dir = tmp_ / "data";
    o.resume = resume;
    o.source_uri = PostgresUri();
    o.target_uri = UriFor(dst(), "fl_mark_dst");
    o.full_load.prep_mode = TablePrepMode::kDropAndCreate;
    o.full_load.parallel = 1;
    o.full_load.auto_segments = 4;  // 16 segments, four loading at once
    o.full_load.auto_segment_min_rows = 1000;
    o.full_load.scan.batch_rows = 5000;
    o.full_load.on_segment_done = [&](size_t, size_t segment, int64_t) {
      std::lock_guard lock(mu);
      committed.insert(segment);
      if (committed.size() == 3 && die) {
        throw std::runtime_error("killed after the segment's commit");
      }
    };
    auto task = std::make_unique<FullLoadTask>(*source, *target, plans, std::move(o));
    task->Run();
    return task;
  };
  std::unique_ptr<FullLoadTask> first = run(false);
  const std::set<size_t> first_committed = committed;
  ASSERT_GE(first_committed.size(), 3u) << "the load never committed a segment on its own";
  ASSERT_NE(LoadFailures(first->load()), "") << "the table completed in spite of the death";
  first.reset();

  die = false;
  committed.clear();
  std::unique_ptr<FullLoadTask> second = run(true);
  EXPECT_EQ(LoadFailures(second->load()), "");
  // Every segment is committed once the resume is over; those of the first run may be
  // reported again (the segment the task store missed is), the others are loaded now.
  size_t loaded_now = 0;
  for (size_t k : committed) loaded_now += first_committed.count(k) ? 0 : 1;
  EXPECT_EQ(loaded_now, 16 - first_committed.size())
      << "the resume loaded other segments than those the target did not hold";
  const TableDef want_def = source->OpenCatalog()->GetTable("fl_mark", "t");
  const TableDigest want = DigestTable(*source->OpenReader(), want_def);
  const TableDef got_def = target->OpenCatalog()->GetTable(target_schema, "t");
  const TableDigest got = DigestTable(*target->OpenReader(), got_def);
  EXPECT_EQ(got.rows, kRows);
  EXPECT_EQ(got.HashHex(), want.HashHex());
  EXPECT_EQ(second->stats()[0]->full_load_rows.load(), kRows);
  DropNamespace(dst(), "fl_mark_dst");
}

// A resume of a table whose earlier run (a Ferry that kept no segment marks) the task store
// says committed a segment, while the target holds no mark of it: the rows may be there and
// cannot be placed, so the table, empty before that run, is emptied and loaded whole rather
// than loaded on top.
TEST(FullLoadTask, SegmentsTheStoreRecordsWithoutMarksAreNotTrusted) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute(
      "DROP SCHEMA IF EXISTS fl_old CASCADE; CREATE SCHEMA fl_old;"
      "DROP SCHEMA IF EXISTS fl_old_dst CASCADE; CREATE SCHEMA fl_old_dst;"
      "CREATE TABLE fl_old.t (id integer, v text);"
      "INSERT INTO fl_old.t SELECT g, 'v' || g FROM generate_series(1, 20000) g;"
      "CREATE TABLE fl_old_dst.t (id integer, v text);"  // the old run's first segment
      "INSERT INTO fl_old_dst.t SELECT * FROM fl_old.t WHERE id <= 10000");
  auto source = Open(PostgresUri());
  auto target = Open(PostgresUri());
  std::vector<TablePlan> plans = PlanTables(source->OpenCatalog()->ListTables("fl_old"),
                                            Engine::kPostgres, *target, "fl_old_dst", {});
  ASSERT_EQ(plans.size(), 1u);
  FullLoadOptions options;
  options.prep_mode = TablePrepMode::kDoNothing;
  options.segment_marks_task = "fl-old#0000";
  InterruptedLoad earlier;
  earlier.began = true;
  earlier.started_empty = true;
  earlier.segments = {Segment{"id <= 10000", "", ""}, Segment{"id > 10000", "", ""}};
  earlier.segments_done = {{0, 10000}};
  options.interrupted = {earlier};
  FullLoad load(*source, *target, plans, options);
  load.Run();
  ASSERT_EQ(LoadFailures(load), "");
  const TableDigest want =
      DigestTable(*source->OpenReader(), source->OpenCatalog()->GetTable("fl_old", "t"));
  const TableDigest got =
      DigestTable(*target->OpenReader(), target->OpenCatalog()->GetTable("fl_old_dst", "t"));
  EXPECT_EQ(got.rows, 20000);
  EXPECT_EQ(got.HashHex(), want.HashHex());
  pg->Execute("DROP SCHEMA fl_old CASCADE; DROP SCHEMA fl_old_dst CASCADE");
}

TEST(FullLoadTask, ResumeAndNameClashesAreRefusedWithWhatToDo) {
  const fs::path dir = FreshDir("fl-refuse");
  const std::string source = MakeSqliteSource(dir, 10);
  const std::string target = "sqlite://" + (dir / "dst.db").string();
  const std::string data = (dir / "data").string();

  CliRun none = RunFerry({"migrate", "--source", source, "--target", target, "--data-dir", data,
                          "--task-name", "never-ran", "--resume", "--no-progress"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("--resume: there is no task 'never-ran' in"), std::string::npos)
      << none.err;

  {  // A CDC task of that name holds a slot on its source: a full load must not replace it.
    auto store = TaskStore::Open(data);
    TaskRecord cdc;
    cdc.name = "busy";
    cdc.migration_type = "full-load-and-cdc";
    cdc.slot = "ferry_busy_1a2b3c4d";
    cdc.status = "stopped";
    store->PutTask(cdc);
  }
  CliRun clash = RunFerry({"migrate", "--source", source, "--target", target, "--data-dir", data,
                           "--task-name", "busy", "--no-progress"});
  EXPECT_NE(clash.exit_code, 0);
  EXPECT_NE(clash.err.find("task 'busy' in " + (dir / "data" / "ferry.db").string() +
                           " is a full-load-and-cdc task with replication slot "
                           "ferry_busy_1a2b3c4d on its source: a full load of that name would "
                           "replace it. Give another --task-name, or delete that task first "
                           "(ferry delete-task --task-name busy --source URI)"),
            std::string::npos)
      << clash.err;
  CliRun wrong_type = RunFerry({"migrate", "--source", source, "--target", target, "--data-dir",
                                data, "--task-name", "busy", "--resume", "--no-progress"});
  EXPECT_NE(wrong_type.err.find("--resume: task 'busy' is a full-load-and-cdc task, not "
                                "full-load"),
            std::string::npos)
      << wrong_type.err;
  EXPECT_FALSE(fs::exists(dir / "dst.db") && Open(target)->OpenCatalog()->ListTables("main").size())
      << "a refused task touched the target";
}

}  // namespace
}  // namespace ferry::testing
