// CDC under size and load through the `ferry` binary (issue 4):
//  - a transaction of 2,000,000 row changes while the task streams, with MemoryLimitTotal 64:
//    peak RSS stays under the limit plus a fixed overhead, a spill file appears under
//    <data dir>/tasks/<task>/spill/ while the transaction is held and replayed and is gone once
//    it is applied, and the target equals the source;
//  - pgbench (its standard TPC-B-like script) and a second writer on an all-types table run
//    during the whole full load and for a while after; once they stop and Ferry catches up,
//    every table on the PostgreSQL and the MariaDB target equals the source by canonical hash.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "cdc_test_env.h"
#include "change/change.h"
#include "connectors/postgres/pg_position.h"
#include "task/task_store.h"

namespace ferry {
namespace {

using testing::Clock;

constexpr const char* kAllLive = "every table is in change processing";

using testing::DigestDiff;
using testing::DropSlot;
using testing::ReadText;
using testing::Seconds;
using testing::SpillFiles;
using testing::UserTableDigests;

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
  WaitWhileRunning(p, [] { return false; }, timeout);
  return testing::KillFerry(p);  // only kills when it still runs
}

// Runs `ferry migrate ... --resume --cdc-stop-position <past everything written so far>` and
// writes WAL past that position so the server reports it; returns the run.
testing::CliRun CatchUp(SqlSession& s, std::vector<std::string> args, double* seconds) {
  const std::string stop = *s.Query("SELECT pg_current_wal_lsn() + 8000000")[0][0];
  args.push_back("--resume");
  args.push_back("--cdc-stop-position");
  args.push_back(stop);
  const auto start = Clock::now();
  testing::FerryProcess p = testing::StartFerry(args);
  s.Execute("SELECT pg_logical_emit_message(false, 'ferry_test_padding', repeat('x', 9000000))");
  WaitWhileRunning(p, [] { return false; }, std::chrono::seconds(180));
  testing::CliRun run = testing::KillFerry(p);
  *seconds = Seconds(start);
  return run;
}

// --- A transaction of 2,000,000 row changes -------------------------------------------------

TEST(CdcLoad, TwoMillionRowTransactionSpillsWithBoundedMemory) {
  FERRY_REQUIRE_POSTGRES();
  const auto test_start = Clock::now();
  constexpr int64_t kLimitMb = 64;
  auto source = testing::Open(testing::PostgresUri());
  auto s = source->OpenSession();
  const std::string task = "crash-spill", slot = "ferry_crash_spill", schema = "load_spill_src";
  DropSlot(*s, slot);
  s->Execute("DROP SCHEMA IF EXISTS load_spill_src CASCADE; CREATE SCHEMA load_spill_src");
  s->Execute("CREATE TABLE load_spill_src.t (id integer PRIMARY KEY, v integer, s text)");
  s->Execute("INSERT INTO load_spill_src.t SELECT g, g, 'before' FROM generate_series(1, 1000) g");
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("ferry-crash-spill-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = dir.string() + ".db";
  std::filesystem::remove(db);
  const auto settings = dir / "settings.json";
  std::ofstream(settings) << fmt::format(
      R"({{"ChangeProcessingTuning": {{"MemoryLimitTotal": {}, "CommitTimeout": 1}}}})", kLimitMb);
  const std::vector<std::string> args{
      "migrate", "--source", testing::PostgresUri(), "--target", "sqlite://" + db, "--schema",
      schema, "--migration-type", "full-load-and-cdc", "--data-dir", dir.string(),
      "--task-name", task, "--task-settings", settings.string(), "--target-table-prep-mode",
      "DROP_AND_CREATE", "--heartbeat", "1", "--no-progress"};
  testing::FerryProcess p = testing::StartFerry(args);
  const std::filesystem::path spill_dir = dir / "tasks" / task / "spill";

  // Watches the process: its peak RSS and whether a spill file exists.
  std::atomic<bool> watching{true};
  std::atomic<int64_t> peak_kib{0};
  std::atomic<int> spill_seen{0};
  std::thread watcher([&] {
    while (watching) {
      peak_kib = std::max<int64_t>(peak_kib.load(), testing::PeakRssKib(p.pid));
      spill_seen = std::max(spill_seen.load(), SpillFiles(spill_dir));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto finish = [&] {
    watching = false;
    if (watcher.joinable()) watcher.join();
  };
  struct Joiner {  // also on an early return: no joinable thread may be destroyed
    std::function<void()> f;
    ~Joiner() { f(); }
  } joiner{finish};

  const bool live = WaitWhileRunning(
      p, [&] { return ReadText(p.err_file).find(kAllLive) != std::string::npos; },
      std::chrono::seconds(60));
  const int64_t baseline_kib = peak_kib.load();
  if (!live) {
    finish();
    testing::CliRun run = testing::KillFerry(p);
    FAIL() << "the task did not reach change processing:\n" << run.err;
  }

  // One transaction: 2,000,000 inserts of ~70-byte rows (about 200 MB of change records).
  const auto txn_start = Clock::now();
  s->Execute("BEGIN");
  s->Execute("INSERT INTO load_spill_src.t SELECT g, g, repeat('s', 40) || g "
             "FROM generate_series(1001, 2001000) g");
  auto rows = s->Query("SELECT pg_current_wal_lsn()");
  s->Execute("COMMIT");
  const std::optional<postgres::Lsn> before_commit = postgres::ParseLsn(*rows.at(0)[0]);
  ASSERT_TRUE(before_commit.has_value());
  const double txn_seconds = Seconds(txn_start);

  // Applied once the task store's applied position is past the commit.
  auto applied = [&] {
    try {
      auto store = TaskStore::Open(dir, /*read_only=*/true);
      std::optional<TaskRecord> r = store->GetTask(task);
      if (!r) return false;
      std::optional<postgres::Lsn> at = postgres::ParseLsn(r->applied_position);
      return at && *at > *before_commit;
    } catch (const Error&) {
      return false;
    }
  };
  const bool done = WaitWhileRunning(p, applied, std::chrono::seconds(240));
  const double apply_seconds = Seconds(txn_start);
  // The transaction's spill file is removed once it is applied.
  WaitWhileRunning(p, [&] { return SpillFiles(spill_dir) == 0; }, std::chrono::seconds(5));
  const int spill_after = SpillFiles(spill_dir);
  finish();
  testing::CliRun run = Interrupt(p, std::chrono::seconds(60));
  ASSERT_TRUE(done) << "the 2,000,000-row transaction was not applied:\n" << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;

  // Overhead: the process's own peak before the transaction (code, libpq and SQLite, the full
  // load's buffers; measured about 20-30 MB here), plus what the buffer's accounting leaves
  // out: the decoded batch being applied, the queue of committed transactions, allocator
  // slack of several threads. 64 MB covers it with room; a buffer that held the transaction
  // in memory would need about 200 MB more.
  const int64_t allowed_kib = (kLimitMb + 64) << 10;
  std::cout << fmt::format(
      "[ spill    ] peak RSS {} MB (before the transaction {} MB, allowed {} MB); transaction "
      "written in {:.1f} s, applied {:.1f} s after it began; {} spill file(s) seen\n",
      peak_kib.load() >> 10, baseline_kib >> 10, allowed_kib >> 10, txn_seconds, apply_seconds,
      spill_seen.load());
  EXPECT_GT(peak_kib.load(), 0);
  EXPECT_LT(peak_kib.load(), allowed_kib);
  EXPECT_GE(spill_seen.load(), 1) << "no spill file appeared in " << spill_dir;
  EXPECT_EQ(spill_after, 0) << "the spill file stays after the transaction was applied";

  auto target = testing::Open("sqlite://" + db);
  auto want = UserTableDigests(*source, schema);
  EXPECT_EQ(want["t"].rows, 2001000);
  EXPECT_EQ(DigestDiff(want, UserTableDigests(*target, "main")), "");
  std::cout << fmt::format("[ spill    ] total {:.1f} s\n", Seconds(test_start));

  DropSlot(*s, slot);
  s->Execute("DROP SCHEMA load_spill_src CASCADE");
  target.reset();
  std::filesystem::remove_all(dir);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
}

// --- pgbench and a second writer during the full load and after ------------------------------

bool HavePgbench() { return std::system("command -v pgbench > /dev/null 2>&1") == 0; }

class CdcPgbench : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    mysql_ = std::string(GetParam()) == "mariadb";
    if (mysql_) FERRY_REQUIRE_MYSQL();
    if (!HavePgbench()) GTEST_SKIP() << "pgbench is not installed";
    admin_ = testing::Open(testing::PostgresUri())->OpenSession();
    task_ = fmt::format("crash-pgb-{}", GetParam());
    slot_ = fmt::format("ferry_crash_pgb_{}", GetParam());
    // Slots of a database must go before the database.
    DropSlot(*admin_, slot_);
    admin_->Execute("DROP DATABASE IF EXISTS load_pgb WITH (FORCE)");
    admin_->Execute("CREATE DATABASE load_pgb");
    source_uri_ = testing::WithDatabase(testing::PostgresUri(), "load_pgb");
    ASSERT_EQ(Pgbench("-i -s 2 -q", dir_name() + ".init"), 0) << ReadText(dir_name() + ".init");
    source_ = testing::Open(source_uri_);
    auto s = source_->OpenSession();
    s->Execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
    s->Execute(R"(CREATE TABLE load_alltypes (
        id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer NOT NULL, i8 bigint,
        n numeric(20,4), r4 real, r8 double precision, s varchar(100), t text, bin bytea,
        d date, tm time(6), ts timestamp(6), tz timestamptz, u uuid, j jsonb))");
    s->Execute(R"(INSERT INTO load_alltypes
        SELECT g, g % 2 = 0, g % 1000, g, g::bigint * 1000003, g * 1.5, g / 7.0, g / 3.0,
               'row ' || g, repeat('t', g % 50), decode(md5(g::text), 'hex'),
               date '2000-01-01' + g, time '00:00:01' + g * interval '1 second',
               timestamp '2020-01-01' + g * interval '1 minute',
               timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour',
               md5(g::text)::uuid, jsonb_build_object('g', g)
        FROM generate_series(1, 20000) g)");
    if (mysql_) {
      target_uri_ = testing::MysqlUri();
      testing::Open(target_uri_)->OpenSession()->Execute("DROP DATABASE IF EXISTS load_pgb_dst");
    } else {
      target_uri_ = testing::PostgresUri();
      admin_->Execute("DROP SCHEMA IF EXISTS load_pgb_dst CASCADE");
    }
    std::filesystem::remove_all(dir_name());
  }
  void TearDown() override {
    if (!admin_) return;
    source_.reset();
    try {
      DropSlot(*admin_, slot_);
      admin_->Execute("DROP DATABASE IF EXISTS load_pgb WITH (FORCE)");
      if (!mysql_) admin_->Execute("DROP SCHEMA IF EXISTS load_pgb_dst CASCADE");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
    std::filesystem::remove_all(dir_name());
    std::filesystem::remove(dir_name() + ".init");
    std::filesystem::remove(dir_name() + ".run");
  }
  std::string dir_name() const {
    return (std::filesystem::temp_directory_path() /
            fmt::format("ferry-crash-pgb-{}-{}", ::getpid(), GetParam()))
        .string();
  }
  // pgbench with `options` against load_pgb; output to `log`. Returns its exit status.
  int Pgbench(const std::string& options, const std::string& log) const {
    return std::system(fmt::format("pgbench {} {} > {} 2>&1", options,
                                   testing::ShellQuote(source_uri_), log)
                           .c_str());
  }

  bool mysql_ = false;
  std::unique_ptr<SqlSession> admin_;
  std::unique_ptr<SqlConnector> source_;
  std::string task_, slot_, source_uri_, target_uri_;
};

TEST_P(CdcPgbench, PgbenchDuringLoadAndAfterThenEqual) {
  const auto test_start = Clock::now();
  const std::vector<std::string> args{
      "migrate", "--source", source_uri_, "--target", target_uri_, "--schema", "public",
      "--target-schema", "load_pgb_dst", "--migration-type", "full-load-and-cdc",
      "--data-dir", dir_name(), "--task-name", task_, "--target-table-prep-mode",
      "DROP_AND_CREATE", "--heartbeat", "1", "--no-progress"};

  // pgbench first, so the full load runs under it from its start; the writer alongside.
  std::atomic<int> pgbench_status{-1};
  std::thread bench([&] { pgbench_status = Pgbench("-c 2 -T 15", dir_name() + ".run"); });
  std::atomic<bool> writing{true};
  std::atomic<int64_t> writes{0};
  std::string writer_error;
  std::thread writer([&] {
    std::mt19937 rng(4);
    auto s = source_->OpenSession();
    int64_t next = 100000;
    while (writing) {
      try {
        const int64_t id = 1 + rng() % 20000;
        switch (rng() % 5) {
          case 0:
            s->Execute(fmt::format(
                "INSERT INTO load_alltypes (id, i4, s, t, n, tz, bin, j) VALUES ({}, {}, 'w', "
                "E'emoji \\U0001F600', 12345678901234.5678, now(), '\\x00', '[1]')",
                next++, id));
            break;
          case 1:
            s->Execute(fmt::format("UPDATE load_alltypes SET s = 'upd', r8 = r8 * 2, b = NOT b, "
                                   "tm = now()::time WHERE id % 500 = {}",
                                   id % 500));
            break;
          case 2:
            s->Execute(fmt::format("UPDATE load_alltypes SET id = {} WHERE id = {}", next++, id));
            break;
          case 3:
            s->Execute(fmt::format("DELETE FROM load_alltypes WHERE id = {}", id));
            break;
          default:
            s->Execute(fmt::format("UPDATE load_alltypes SET i8 = NULL, u = NULL, "
                                   "j = '{{\"x\": [1,2]}}' WHERE id = {}",
                                   id));
            break;
        }
        ++writes;
      } catch (const std::exception& e) {
        writer_error = e.what();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  testing::FerryProcess p = testing::StartFerry(args);
  const auto load_start = Clock::now();
  const bool live = WaitWhileRunning(
      p, [&] { return ReadText(p.err_file).find(kAllLive) != std::string::npos; },
      std::chrono::seconds(60));
  const double load_seconds = Seconds(load_start);
  const bool bench_running = pgbench_status.load() == -1;
  bench.join();
  writing = false;
  writer.join();
  const std::string bench_out = ReadText(dir_name() + ".run");
  // Changes after pgbench stopped arrive too; then Ctrl-C and a catch-up to a stop position.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  testing::CliRun first = Interrupt(p, std::chrono::seconds(60));
  ASSERT_TRUE(live) << "the task did not reach change processing:\n" << first.err;
  EXPECT_TRUE(bench_running) << "pgbench ended before the full load did";
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(pgbench_status.load(), 0) << bench_out;
  double catch_up_seconds = 0;
  testing::CliRun last = CatchUp(*admin_, args, &catch_up_seconds);
  ASSERT_EQ(last.exit_code, 0) << last.err;

  const size_t tps = bench_out.find("tps = ");
  std::cout << fmt::format(
      "[ pgbench  ] {}: full load done {:.1f} s after start under load; pgbench {}; writer {} "
      "statements{}; catch-up run {:.1f} s\n",
      GetParam(), load_seconds,
      tps == std::string::npos ? "?" : bench_out.substr(tps, bench_out.find('\n', tps) - tps),
      writes.load(), writer_error.empty() ? "" : " (last error: " + writer_error + ")",
      catch_up_seconds);
  auto target = testing::Open(target_uri_);
  const auto want = UserTableDigests(*source_, "public");
  EXPECT_EQ(want.size(), 5u);
  EXPECT_GT(want.at("pgbench_history").rows, 0);
  EXPECT_EQ(DigestDiff(want, UserTableDigests(*target, "load_pgb_dst")), "") << last.err;
  std::cout << fmt::format("[ pgbench  ] total {:.1f} s\n", Seconds(test_start));
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcPgbench, ::testing::Values("postgres", "mariadb"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace ferry
