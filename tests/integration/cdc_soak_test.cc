// A randomised CDC soak (issue 10): a writer doing random DML and ALTER TABLE (ADD, DROP,
// RENAME, ALTER TYPE, alone or inside a transaction between its changes of the table;
// FERRY_SOAK_DDL=0 leaves them out) on several tables, the ferry binary killed with -9 and resumed at random
// moments, `ferry status` read concurrently the whole time, and at the end source = target by
// canonical hash, on each target engine. Short in CI (FERRY_SOAK_SECONDS, default 40 per
// target); run it longer by setting the variable. A failure prints its seed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "cdc_test_env.h"
#include "test_env.h"

namespace ferry {
namespace {

using testing::Seconds;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

int Occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class CdcSoak : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    source_ = testing::Open(testing::PostgresUri());
    admin_ = source_->OpenSession();
    name_ = fmt::format("soak-{}", EngineName(GetParam()));
    src_ = fmt::format("soak_{}_src", EngineName(GetParam()));
    dir_ = std::filesystem::temp_directory_path() / fmt::format("ferry-{}-{}", name_, ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    testing::DropSlot(*admin_, cdc::CaptureObjectName(name_, ""));
    admin_->Execute("DROP SCHEMA IF EXISTS " + src_ + " CASCADE; CREATE SCHEMA " + src_);
    for (int t = 0; t < 3; ++t) {
      admin_->Execute(fmt::format(
          "CREATE TABLE {}.t{} (id integer PRIMARY KEY, n integer, s text, d numeric(12,3))",
          src_, t));
      admin_->Execute(fmt::format("INSERT INTO {}.t{} SELECT g, g, 'row ' || g, g / 8.0 FROM "
                                  "generate_series(1, {}) g",
                                  src_, t, 20000 * (t + 1)));
    }
    switch (GetParam()) {
      case Engine::kPostgres:
        target_uri_ = testing::PostgresUri();
        target_schema_ = fmt::format("soak_{}_dst", EngineName(GetParam()));
        break;
      case Engine::kMysql: {
        // A database of its own (Ferry creates it), so the comparison sees only these tables.
        target_schema_ = "soak_mysql_dst";
        target_uri_ = testing::WithDatabase(testing::MysqlUri(), target_schema_);
        testing::Open(testing::MysqlUri())
            ->OpenSession()
            ->Execute("DROP DATABASE IF EXISTS " + target_schema_);
        break;
      }
      case Engine::kSqlite:
        target_uri_ = "sqlite://" + dir_.string() + ".db";
        target_schema_ = "main";
        break;
    }
    if (GetParam() == Engine::kPostgres) {
      admin_->Execute("DROP SCHEMA IF EXISTS " + target_schema_ + " CASCADE");
    }
  }
  void TearDown() override {
    if (ferry_.pid > 0) testing::KillFerry(ferry_);
    if (admin_) {
      testing::DropSlot(*admin_, cdc::CaptureObjectName(name_, ""));
      admin_->Execute("DROP SCHEMA IF EXISTS " + src_ + " CASCADE");
      if (GetParam() == Engine::kPostgres) {
        admin_->Execute("DROP SCHEMA IF EXISTS " + target_schema_ + " CASCADE");
      }
    }
    std::filesystem::remove_all(dir_);
    for (const char* suffix : {".db", ".db-wal", ".db-shm"}) {
      std::filesystem::remove(dir_.string() + suffix);
    }
  }
  std::vector<std::string> Args(bool resume) const {
    std::vector<std::string> a{"migrate", "--source", testing::PostgresUri(), "--target",
                               target_uri_, "--schema", src_, "--migration-type",
                               "full-load-and-cdc", "--data-dir", (dir_ / "data").string(),
                               "--task-name", name_, "--heartbeat", "1", "--no-progress",
                               "--target-table-prep-mode", "DROP_AND_CREATE"};
    if (GetParam() == Engine::kPostgres) {
      a.push_back("--target-schema");
      a.push_back(target_schema_);
    }
    if (resume) a.push_back("--resume");
    return a;
  }

  std::unique_ptr<SqlConnector> source_;
  std::unique_ptr<SqlSession> admin_;
  std::string name_, src_, target_uri_, target_schema_;
  std::filesystem::path dir_;
  testing::FerryProcess ferry_;
};

TEST_P(CdcSoak, RandomChangesKillsAndStatusConverge) {
  const int seconds = EnvInt("FERRY_SOAK_SECONDS", 40);
  const bool ddl = EnvInt("FERRY_SOAK_DDL", 1) != 0;
  const unsigned seed = static_cast<unsigned>(EnvInt("FERRY_SOAK_SEED", ::getpid()));
  SCOPED_TRACE(fmt::format("seed {} (FERRY_SOAK_SEED), {} s, DDL {}", seed, seconds, ddl));

  // The writer: random transactions of DML over the tables (and ALTERs, each followed by a
  // change of its table so the stream describes it).
  std::atomic<bool> writing{true};
  std::atomic<int64_t> txns{0};
  std::string writer_error;
  std::thread writer([&] {
    std::mt19937 rng(seed);
    auto s = source_->OpenSession();
    int next_id = 1000000, extra = 0;
    struct Extra {
      std::string name, type;
    };
    std::vector<std::vector<Extra>> extras(3);  // per table: the columns the soak added
    try {
      while (writing) {
        const int t = static_cast<int>(rng() % 3);
        const std::string table = fmt::format("{}.t{}", src_, t);
        std::string sql = "BEGIN;";
        const int ops = 1 + static_cast<int>(rng() % 5);
        for (int i = 0; i < ops; ++i) {
          const unsigned op = rng() % 10;
          const int id = 1 + static_cast<int>(rng() % 20000);
          if (op < 4) {
            sql += fmt::format(" INSERT INTO {} (id, n, s, d) VALUES ({}, {}, 'w{}', {}.5);",
                               table, next_id, id, next_id, id);
            ++next_id;
          } else if (op < 7) {
            sql += fmt::format(" UPDATE {} SET n = n + 1, s = s || '+' WHERE id = {};", table,
                               id);
          } else if (op < 9) {
            sql += fmt::format(" DELETE FROM {} WHERE id = {};", table, id);
          } else {
            // Bounded, so a long run never overflows numeric(12,3).
            sql += fmt::format(" UPDATE {} SET d = mod(d * 2, 100000) WHERE id BETWEEN {} AND {};",
                               table, id, id + 50);
          }
        }
        sql += " COMMIT";
        s->Execute(sql);
        ++txns;
        if (ddl && rng() % 150 == 0) {
          // ADD, DROP, RENAME or retype one of the columns the soak added to this table.
          std::vector<Extra>& ex = extras[static_cast<size_t>(t)];
          const unsigned k = rng() % 4;
          const size_t pick = ex.empty() ? 0 : rng() % ex.size();
          std::string alter;
          if (ex.empty() || k == 0) {
            ex.push_back({fmt::format("x{}", extra++), "integer"});
            alter = fmt::format("ALTER TABLE {} ADD COLUMN {} integer", table, ex.back().name);
          } else if (k == 1) {
            alter = fmt::format("ALTER TABLE {} DROP COLUMN {}", table, ex[pick].name);
            ex.erase(ex.begin() + static_cast<long>(pick));
          } else if (k == 2) {
            const std::string to = fmt::format("x{}", extra++);
            alter = fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", table, ex[pick].name, to);
            ex[pick].name = to;
          } else {
            const std::string to = ex[pick].type == "integer" ? "bigint" : "text";
            alter = fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}", table,
                                ex[pick].name, to, ex[pick].name, to);
            ex[pick].type = to;
          }
          // A change of the table after it, with a value in every added column, so the stream
          // describes the new columns.
          std::string names = "id, n", values = fmt::format("{}, 0", next_id++);
          for (const Extra& e : ex) {
            names += ", " + e.name;
            const int v = static_cast<int>(rng() % 1000);
            values += e.type == "text" ? fmt::format(", 't{}'", v) : fmt::format(", {}", v);
          }
          const std::string insert =
              fmt::format("INSERT INTO {} ({}) VALUES ({})", table, names, values);
          if (GetParam() != Engine::kMysql && rng() % 2 == 0) {
            // Inside a transaction, between its own changes of the table: the target is
            // altered inside the same target transaction (a MySQL target cannot: it suspends
            // the table instead, so that form is left out there).
            s->Execute(fmt::format("BEGIN; UPDATE {} SET n = n + 1 WHERE id = {}; {}; {}; COMMIT",
                                   table, 1 + rng() % 20000, alter, insert));
          } else {
            s->Execute(alter);
            s->Execute(insert);
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));
      }
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
  });
  // `ferry status` from another process, all along: it must always answer.
  std::atomic<bool> watching{true};
  std::atomic<int> status_runs{0};
  std::string status_error;
  std::thread watcher([&] {
    while (watching) {
      testing::CliRun st =
          testing::RunFerry({"status", "--data-dir", (dir_ / "data").string(), "--json"});
      // 0, or 1 before the task exists; never a crash or a store error.
      if (st.exit_code != 0 && st.err.find("has no task store") == std::string::npos &&
          st.err.find("does not exist") == std::string::npos && status_error.empty()) {
        status_error = fmt::format("exit {}: {}", st.exit_code, st.err);
      }
      ++status_runs;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });

  // Whatever ends the test (an assertion too), the threads stop first.
  struct Joiner {
    std::function<void()> stop;
    ~Joiner() { stop(); }
  } joiner{[&] {
    writing = false;
    watching = false;
    if (writer.joinable()) writer.join();
    if (watcher.joinable()) watcher.join();
  }};
  std::mt19937 rng(seed * 7 + 1);
  const auto start = testing::Clock::now();
  int kills = 0;
  bool stored = false;
  // What the runs said: ALTERs carried to the target (alone, inside a source transaction),
  // and the whole log of any run that suspended a table.
  int alters = 0, alters_in_txn = 0;
  std::string suspended_log;
  while (Seconds(start) < seconds) {
    ferry_ = testing::StartFerry(Args(stored));
    const int ms = 1000 + static_cast<int>(rng() % 6000);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    const bool was_running = testing::Running(ferry_);
    testing::CliRun run = testing::KillFerry(ferry_);
    ferry_ = {};
    ASSERT_TRUE(was_running) << "ferry ended on its own before the kill:\n" << run.err;
    ++kills;
    alters += Occurrences(run.err, "running on the target: ALTER");
    alters_in_txn += Occurrences(run.err, "running in the same target transaction");
    if (run.err.find("suspended") != std::string::npos) suspended_log += run.err;
    if (!stored) {
      // Resume once the task is in the store (the slot and the store exist).
      stored = std::filesystem::exists(dir_ / "data" / "ferry.db") &&
               !testing::TaskSlot(dir_ / "data", name_).empty();
    }
  }
  writing = false;
  if (writer.joinable()) writer.join();
  ASSERT_EQ(writer_error, "");
  // A last run catches up to the source's position now, then stops on its own.
  const std::string stop = *admin_->Query("SELECT pg_current_wal_lsn()::text")[0][0];
  std::vector<std::string> last = Args(stored);
  last.push_back("--cdc-stop-position");
  last.push_back(stop);
  ferry_ = testing::StartFerry(last);
  testing::CliRun run = testing::WaitFerry(ferry_);
  ferry_ = {};
  watching = false;
  if (watcher.joinable()) watcher.join();
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(status_error, "");
  auto target = testing::Open(target_uri_);
  const std::string diff = testing::DigestDiff(testing::UserTableDigests(*source_, src_),
                                               testing::UserTableDigests(*target, target_schema_));
  alters += Occurrences(run.err, "running on the target: ALTER");
  alters_in_txn += Occurrences(run.err, "running in the same target transaction");
  EXPECT_EQ(diff, "") << kills << " kill -9, " << txns << " transactions; the last run said:\n"
                      << run.out << run.err.substr(run.err.size() > 4000 ? run.err.size() - 4000
                                                                         : 0)
                      << (suspended_log.empty() ? "" : "\na run that suspended a table said:\n")
                      << suspended_log.substr(0, 20000);
  std::cout << fmt::format("[ soak     ] {}: {} s, {} kill -9, {} transactions, {} status reads, "
                           "{} target ALTERs ({} inside a source transaction's target "
                           "transaction), seed {}\n",
                           EngineName(GetParam()), seconds, kills, txns.load(),
                           status_runs.load(), alters + alters_in_txn, alters_in_txn, seed);
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcSoak,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
