// The DMS control tables (control/control_tables.h) on every target engine: created when
// missing in the control schema, with DMS's column names, and written row by row.
#include "control/control_tables.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

void Exercise(SqlConnector& target, const std::string& control_schema) {
  ControlTablesSettings settings;
  settings.control_schema = control_schema;
  settings.status_table_enabled = true;
  settings.suspended_tables_table_enabled = true;
  settings.history_table_enabled = true;
  const std::string task = fmt::format("it-control-{}", getpid());
  ControlTables control(target, settings, task);
  control.EnsureEnabled();
  control.EnsureEnabled();  // idempotent
  control.RecordApplyException("s", "t", "INSERT INTO t VALUES ('it''s')", "duplicate key");
  TaskStatusRow status;
  status.task_status = "FULL LOAD";
  status.pending_changes = 5;
  control.UpdateStatus(status);
  status.task_status = "CHANGE PROCESSING";
  control.UpdateStatus(status);  // replaces the row
  control.RecordSuspendedTable("s", "t", "table error: it's broken");
  HistoryRow history;
  history.timeslot_type = "FULL LOAD";
  history.timeslot = WallClock::now();
  history.timeslot_duration = 5;
  history.timeslot_records = 1234;
  control.RecordHistory(history);
  // Concurrent writers share one session safely.
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      ValidationFailureRow row;
      row.table_owner = "s";
      row.table_name = "t";
      row.key = fmt::format(R"({{"key":["{}"]}})", i);
      row.failure_type = "RECORD_DIFF";
      row.details = "[[{\"c\":\"a\"}],[{\"c\":\"b\\u00e9\"}]]";
      control.RecordValidationFailure(row);
    });
  }
  for (auto& t : threads) t.join();

  auto session = target.OpenSession();
  auto one = [&](const char* table, const char* column) {
    auto rows = session->Query(fmt::format("SELECT {} FROM {} WHERE {} = '{}'",
                                           control.Column(column), control.QualifiedName(table),
                                           control.Column("TASK_NAME"), task));
    std::vector<std::string> out;
    out.reserve(rows.size());
    for (auto& r : rows) out.push_back(r[0].value_or("NULL"));
    return out;
  };
  EXPECT_EQ(one(kApplyExceptionsTable, "STATEMENT"),
            std::vector<std::string>{"INSERT INTO t VALUES ('it''s')"});
  EXPECT_EQ(one(kStatusTable, "TASK_STATUS"), std::vector<std::string>{"CHANGE PROCESSING"});
  EXPECT_EQ(one(kSuspendedTablesTable, "SUSPEND_REASON"),
            std::vector<std::string>{"table error: it's broken"});
  EXPECT_EQ(one(kHistoryTable, "TIMESLOT_RECORDS"), std::vector<std::string>{"1234"});
  EXPECT_EQ(one(kValidationFailuresTable, "FAILURE_TYPE").size(), 4u);
  control.ClearValidationFailures("s", "t");
  EXPECT_EQ(one(kValidationFailuresTable, "FAILURE_TYPE").size(), 0u);
}

TEST(ControlTables, DefaultSchemas) {
  EXPECT_EQ(ControlSchemaFor(Engine::kPostgres, ""), "public");
  EXPECT_EQ(ControlSchemaFor(Engine::kMysql, ""), "awsdms_control");
  EXPECT_EQ(ControlSchemaFor(Engine::kSqlite, "x"), "main");
  EXPECT_EQ(ControlSchemaFor(Engine::kPostgres, "dmslogs"), "dmslogs");
}

TEST(ControlTables, Postgres) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute("DROP SCHEMA IF EXISTS validation_ctl_pg CASCADE");
  Exercise(*pg, "validation_ctl_pg");
  // Lower-case column names on PostgreSQL, as DMS's unquoted names become there.
  auto cols = pg->OpenSession()->Query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = "
      "'validation_ctl_pg' AND table_name = 'awsdms_validation_failures_v1' ORDER BY "
      "ordinal_position");
  std::vector<std::string> names;
  names.reserve(cols.size());
  for (auto& r : cols) names.push_back(*r[0]);
  EXPECT_EQ(names, (std::vector<std::string>{"task_name", "table_owner", "table_name",
                                             "failure_time", "key_type", "key", "failure_type",
                                             "details"}));
}

TEST(ControlTables, Mariadb) {
  FERRY_REQUIRE_MYSQL();
  auto my = Open(MysqlUri());
  my->OpenSession()->Execute("DROP DATABASE IF EXISTS validation_ctl_my");
  Exercise(*my, "validation_ctl_my");
}

TEST(ControlTables, Sqlite) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-it-ctl-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto lite = Open("sqlite://" + (dir / "t.db").string());
  Exercise(*lite, "");
  fs::remove_all(dir);
}

// A full load's rows in the control tables carry the task's name (--task-name), as CDC's do:
// two tasks writing one target's control tables are told apart. (They said "ferry" whatever
// the name until the ReplicationTask took the name from the task definition.)
TEST(ControlTables, AFullLoadWritesItsTaskName) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-it-ctl-name-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string source = "sqlite://" + (dir / "src.db").string();
  const std::string target = "sqlite://" + (dir / "dst.db").string();
  Open(source)->OpenSession()->Execute(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  {
    std::ofstream settings(dir / "settings.json");
    settings << R"({"ControlTablesSettings": {"StatusTableEnabled": true,
                                              "HistoryTableEnabled": true}})";
  }
  CliRun r = RunFerry({"migrate", "--source", source, "--target", target, "--data-dir",
                       (dir / "data").string(), "--task-name", "nightly-copy", "--task-settings",
                       (dir / "settings.json").string(), "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  auto lite = Open(target);
  ControlTablesSettings settings;
  ControlTables control(*lite, settings, "nightly-copy");
  auto names = [&](const char* table) {
    std::vector<std::string> out;
    for (auto& row : lite->OpenSession()->Query(fmt::format(
             "SELECT {} FROM {}", control.Column("TASK_NAME"), control.QualifiedName(table)))) {
      out.push_back(row[0].value_or("NULL"));
    }
    return out;
  };
  EXPECT_EQ(names(kStatusTable), std::vector<std::string>{"nightly-copy"});
  EXPECT_EQ(names(kHistoryTable), std::vector<std::string>{"nightly-copy"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::testing
