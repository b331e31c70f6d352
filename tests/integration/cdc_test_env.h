// Shared helpers for the change-data-capture integration tests (cdc_*_test.cc,
// batch_apply_test.cc): comparing a source schema with a target schema by canonical row hash,
// waiting for a replica to converge, cleaning up replication slots, and CdcFixture, a
// PostgreSQL source with one clean target (PostgreSQL, MariaDB or SQLite) for in-process
// CdcTask runs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "change/change.h"
#include "engine/cdc_task.h"
#include "task/task_store.h"
#include "test_env.h"

namespace ferry::testing {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

inline std::string ReadText(const std::filesystem::path& f) {
  std::ifstream in(f);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Number of spill files (*.spill) directly in `dir`; 0 when it does not exist.
inline int SpillFiles(const std::filesystem::path& dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    n += e.path().extension() == ".spill";
  }
  return n;
}

// Digest of every table in `schema` except Ferry's control tables (awsdms_*).
inline std::map<std::string, TableDigest> UserTableDigests(SqlConnector& c,
                                                           const std::string& schema) {
  std::map<std::string, TableDigest> all = DigestAll(c, schema);
  for (auto it = all.begin(); it != all.end();) {
    it = it->first.rfind("awsdms_", 0) == 0 ? all.erase(it) : std::next(it);
  }
  return all;
}

// One line per table whose rows differ between `source` and `target` (or that the target
// lacks); "" when both hold the same tables with the same rows.
inline std::string DigestDiff(const std::map<std::string, TableDigest>& source,
                              const std::map<std::string, TableDigest>& target) {
  std::string out;
  for (const auto& [name, d] : source) {
    auto it = target.find(name);
    if (it == target.end()) {
      out += name + ": missing on the target\n";
    } else if (it->second.rows != d.rows || it->second.hash != d.hash) {
      out += fmt::format("{}: source {} rows {}, target {} rows {}\n", name, d.rows, d.HashHex(),
                         it->second.rows, it->second.HashHex());
    }
  }
  if (source.size() != target.size()) out += "table count differs\n";
  return out;
}

// DigestDiff of the two schemas now; a read error (the target schema is not created yet, a
// server restarting) is returned as the difference.
inline std::string SchemaDiff(SqlConnector& source, const std::string& source_schema,
                              SqlConnector& target, const std::string& target_schema) {
  try {
    return DigestDiff(UserTableDigests(source, source_schema),
                      UserTableDigests(target, target_schema));
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Waits until the target schema equals the source schema, or `timeout`; returns the last
// difference ("" once equal).
inline std::string Converge(SqlConnector& source, const std::string& source_schema,
                            SqlConnector& target, const std::string& target_schema,
                            std::chrono::seconds timeout,
                            std::chrono::milliseconds poll = std::chrono::milliseconds(500)) {
  const auto until = Clock::now() + timeout;
  std::string diff;
  while (Clock::now() < until) {
    diff = SchemaDiff(source, source_schema, target, target_schema);
    if (diff.empty()) return diff;
    std::this_thread::sleep_for(poll);
  }
  return diff;
}

// Drops the replication slots and publications of a task: those named `prefix` (a version-1
// name) or `prefix` + "_<id>" (CaptureObjectName(task, id) for every id; pass
// CaptureObjectName(task, "")). A slot still held by a killed walsender goes inactive within a
// moment: waits up to 5 s for that, then leaves it.
inline void DropSlot(SqlSession& s, const std::string& prefix) {
  const std::string match = fmt::format(
      "(slot_name = '{0}' OR (left(slot_name, {1}) = '{0}_' AND length(slot_name) = {2}))",
      prefix, prefix.size() + 1, prefix.size() + 9);
  for (int i = 0; i < 50; ++i) {
    auto rows = s.Query("SELECT slot_name, active FROM pg_replication_slots WHERE " + match);
    bool busy = false;
    for (const auto& row : rows) {
      if (row[1].value_or("t") == "f") {
        s.Execute("SELECT pg_drop_replication_slot('" + *row[0] + "')");
      } else {
        busy = true;
      }
    }
    if (!busy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const auto& row : s.Query(fmt::format(
           "SELECT pubname FROM pg_publication WHERE pubname = '{0}' OR (left(pubname, {1}) = "
           "'{0}_' AND length(pubname) = {2})",
           prefix, prefix.size() + 1, prefix.size() + 9))) {
    s.Execute("DROP PUBLICATION IF EXISTS \"" + *row[0] + "\"");
  }
}

// A writer on the source while a task runs: change(session, round) for round 0, 1, ... on a
// session of its own, `pause` apart, until Stop() (or its destruction).
class SourceWriter {
 public:
  SourceWriter(SqlConnector& source, std::function<void(SqlSession&, int)> change,
               std::chrono::milliseconds pause)
      : thread_([this, &source, change = std::move(change), pause] {
          auto s = source.OpenSession();
          while (writing_) {
            change(*s, rounds_++);
            std::this_thread::sleep_for(pause);
          }
        }) {}
  SourceWriter(const SourceWriter&) = delete;
  SourceWriter& operator=(const SourceWriter&) = delete;
  ~SourceWriter() { Stop(); }
  // Waits for the round under way to end; returns how many ran.
  int Stop() {
    writing_ = false;
    if (thread_.joinable()) thread_.join();
    return rounds_;
  }

 private:
  std::atomic<bool> writing_{true};
  std::atomic<int> rounds_{0};
  std::thread thread_;  // last: starts once the fields above exist
};

// The slot task `task` recorded in the task store of `data_dir` ("" when none).
inline std::string TaskSlot(const std::filesystem::path& data_dir, const std::string& task) {
  std::unique_ptr<TaskStore> store = TaskStore::Open(data_dir, /*read_only=*/true);
  const std::optional<TaskRecord> rec = store->GetTask(task);
  return rec ? rec->slot : "";
}

// A PostgreSQL source (the test server) and one clean target for CdcTask runs in the test
// process. Test fixtures derive from it (next to ::testing::Test) and call SetUpCdc from SetUp
// after the FERRY_REQUIRE_* checks, and TearDownCdc from TearDown.
class CdcFixture {
 protected:
  // `name` names the task (hyphens), its data directory and slot; the target is
  // `target_schema` on the server (dropped first), or a fresh SQLite file ("main").
  // `source`: the PostgreSQL test server (default), or the MariaDB one (MysqlUri()).
  void SetUpCdc(Engine target, const std::string& name, const std::string& target_schema,
                Engine source = Engine::kPostgres) {
    source_engine_ = source;
    source_ = Open(source == Engine::kMysql ? MysqlUri() : PostgresUri());
    admin_ = source_->OpenSession();
    task_ = name;
    slot_ = cdc::CaptureObjectName(task_, "");  // the prefix of the task's own names
    data_dir_ = std::filesystem::temp_directory_path() / fmt::format("ferry-{}-{}", name, ::getpid());
    std::filesystem::remove_all(data_dir_);
    // One left by an earlier failed run would hold WAL.
    if (source_engine_ == Engine::kPostgres) DropSlot(*admin_, slot_);
    switch (target) {
      case Engine::kPostgres:
        target_ = Open(PostgresUri());
        target_schema_ = target_schema;
        target_->OpenSession()->Execute("DROP SCHEMA IF EXISTS " + target_schema + " CASCADE");
        break;
      case Engine::kMysql:
        target_ = Open(MysqlUri());
        target_schema_ = target_schema;
        target_->OpenSession()->Execute("DROP DATABASE IF EXISTS " + target_schema);
        break;
      case Engine::kSqlite:
        sqlite_file_ = data_dir_.string() + ".db";
        std::filesystem::remove(sqlite_file_);
        target_ = Open("sqlite://" + sqlite_file_);
        target_schema_ = "main";
        break;
    }
  }
  void TearDownCdc() {
    if (admin_ && source_engine_ == Engine::kPostgres) {
      try {
        DropSlot(*admin_, slot_);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cleanup: " << e.what();
      }
    }
    if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (!sqlite_file_.empty()) std::filesystem::remove(sqlite_file_ + suffix);
    }
  }
  // full-load-and-cdc with DROP_AND_CREATE, CommitTimeout 1 s and a 1 s heartbeat.
  CdcTaskOptions BaseOptions(bool resume = false) const {
    CdcTaskOptions o;
    o.task = task_;
    o.type = MigrationType::kFullLoadAndCdc;
    o.data_dir = data_dir_;
    o.resume = resume;
    o.full_load.prep_mode = TablePrepMode::kDropAndCreate;
    o.settings.change_processing_tuning.commit_timeout = 1;
    o.heartbeat = std::chrono::seconds(1);
    return o;
  }
  // Every table of `source_schema`, planned into the target.
  std::vector<TablePlan> PlansFor(const std::string& source_schema) {
    std::vector<TableDef> defs = source_->OpenCatalog()->ListTables(source_schema);
    return PlanTables(defs, source_engine_, *target_, target_schema_, {});
  }
  // Options to resume the task over the tables of `source_schema`: planned as PlansFor does,
  // with the task's recorded table shapes (CdcTaskOptions::replan), as `ferry migrate` does.
  CdcTaskOptions ResumeOptions(const std::string& source_schema) {
    CdcTaskOptions o = BaseOptions(true);
    o.replan = [this, source_schema](const std::vector<TableDef>& as_of) {
      return PlanTables(TablesAsOf(source_->OpenCatalog()->ListTables(source_schema), as_of),
                        source_engine_, *target_, target_schema_, {});
    };
    return o;
  }
  std::string ConvergeFrom(const std::string& source_schema, std::chrono::seconds timeout) {
    return Converge(*source_, source_schema, *target_, target_schema_, timeout);
  }
  // Runs `task` on a thread of its own until the target holds `source_schema` (or `timeout`),
  // then stops it; returns what differs ("" = the same), with the task's stop reason when it
  // failed.
  std::string RunUntilConverged(CdcTask& task, const std::string& source_schema,
                                std::chrono::seconds timeout) {
    std::thread runner([&] { task.Run(); });
    std::string diff = ConvergeFrom(source_schema, timeout);
    task.Stop();
    runner.join();
    if (task.failed()) diff += "task failed: " + task.stop_reason();
    return diff;
  }
  // Expects every table of `task` loaded and free of apply errors; the changes it applied and
  // received (inserts, updates, deletes).
  struct ChangeCounts {
    int64_t applied = 0, received = 0;
  };
  static ChangeCounts ExpectTablesCompleted(CdcTask& task) {
    ChangeCounts n;
    for (const auto& st : task.stats()) {
      MutexLock lock(st->mu);
      EXPECT_EQ(st->state, kStateCompleted) << st->SourceName() << ": " << st->error;
      EXPECT_EQ(st->cdc_apply_errors, 0) << st->SourceName();
      n.applied += st->applied_inserts + st->applied_updates + st->applied_deletes;
      n.received += st->cdc_inserts + st->cdc_updates + st->cdc_deletes;
    }
    return n;
  }

  std::unique_ptr<SqlConnector> source_, target_;
  std::unique_ptr<SqlSession> admin_;  // on the source
  std::filesystem::path data_dir_;
  std::string sqlite_file_, task_, slot_, target_schema_;
  Engine source_engine_ = Engine::kPostgres;
};

}  // namespace ferry::testing
