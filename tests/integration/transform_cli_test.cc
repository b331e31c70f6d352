// `ferry migrate` with the DMS JSON a user brings: add-column expressions (the user guide's own
// examples), change-data-type, remove-column, LOB limits from the task settings, data error
// policies on converted values, validation after the load and the DMS control tables. Runs the
// binary against the real PostgreSQL server and reads the target back value by value.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

class TransformCli : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    dir_ = fs::temp_directory_path() / fmt::format("ferry-tx-{}", ::getpid());
    fs::create_directories(dir_);
    session_ = Open(PostgresUri())->OpenSession();
    session_->Execute(R"(
      DROP SCHEMA IF EXISTS tx_src CASCADE; DROP SCHEMA IF EXISTS tx_dst CASCADE;
      CREATE SCHEMA tx_src;
      CREATE TABLE tx_src.emp (
        id int PRIMARY KEY, first_name text NOT NULL, last_name varchar(20), salary numeric(10,2),
        code varchar(10), born date, secret text, body text);
      INSERT INTO tx_src.emp VALUES
        (1, 'Ada', 'Lovelace', 5000.50, '12', '1815-12-10', 's1', repeat('é', 40000)),
        (2, 'Alan', NULL, NULL, 'x7', '1912-06-23', 's2', 'short'),
        (3, 'Grace', 'Hopper', 123.00, '-3', NULL, NULL, NULL);)");
  }
  void TearDown() override {
    if (session_) session_->Execute("DROP SCHEMA IF EXISTS tx_src CASCADE; DROP SCHEMA IF EXISTS tx_dst CASCADE");
    fs::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::vector<std::vector<std::optional<std::string>>> Rows(const std::string& sql) {
    return session_->Query(sql);
  }

  fs::path dir_;
  std::unique_ptr<SqlSession> session_;
};

// Rules in the shape of the DMS user guide's examples ("Adding a column", "Using transformation
// rule expressions": $first_name||' '||$last_name, $AR_H_OPERATION, CASE).
constexpr const char* kMappings = R"json({"rules": [
  {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp"}, "rule-action": "include"},
  {"rule-type": "transformation", "rule-id": "2", "rule-name": "2", "rule-target": "schema",
   "object-locator": {"schema-name": "tx_src"}, "rule-action": "rename", "value": "tx_dst"},
  {"rule-type": "transformation", "rule-id": "3", "rule-name": "3", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp"},
   "rule-action": "add-column", "value": "full_name",
   "expression": "$first_name||' '||$last_name",
   "data-type": {"type": "string", "length": 50}},
  {"rule-type": "transformation", "rule-id": "4", "rule-name": "4", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp"},
   "rule-action": "add-column", "value": "operation", "expression": "$AR_H_OPERATION",
   "data-type": {"type": "string", "length": 10}},
  {"rule-type": "transformation", "rule-id": "5", "rule-name": "5", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp"},
   "rule-action": "add-column", "value": "band",
   "expression": "CASE WHEN $salary >= 1000 THEN 'high' WHEN $salary IS NULL THEN NULL ELSE 'low' END",
   "data-type": {"type": "string", "length": 4}},
  {"rule-type": "transformation", "rule-id": "6", "rule-name": "6", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp", "column-name": "code"},
   "rule-action": "change-data-type", "data-type": {"type": "int4"}},
  {"rule-type": "transformation", "rule-id": "7", "rule-name": "7", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp", "column-name": "salary"},
   "rule-action": "change-data-type", "data-type": {"type": "string", "length": 20}},
  {"rule-type": "transformation", "rule-id": "8", "rule-name": "8", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp", "column-name": "secret"},
   "rule-action": "remove-column"},
  {"rule-type": "transformation", "rule-id": "9", "rule-name": "9", "rule-target": "column",
   "object-locator": {"schema-name": "tx_src", "table-name": "emp"},
   "rule-action": "add-column", "value": "born_year", "expression": "strftime('%Y', $born)",
   "data-type": {"type": "int4"}}
]})json";

TEST_F(TransformCli, GuideExpressionsChangeDataTypeAndLobLimitArriveAsDmsWouldLoadThem) {
  // DMS defaults, but LobMaxSize 1 KB, and LOG_ERROR for data errors (the DMS default).
  const std::string settings = Write("settings.json", R"({
    "TargetMetadata": {"LimitedSizeLobMode": true, "LobMaxSize": 1},
    "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE"},
    "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR"},
    "ControlTablesSettings": {"ControlSchema": "tx_dst", "StatusTableEnabled": true,
                              "HistoryTableEnabled": true, "SuspendedTablesTableEnabled": true}})");
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--target", PostgresUri(),
                       "--table-mappings", Write("map.json", kMappings), "--task-settings",
                       settings, "--no-progress", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // Column order: source columns in order (secret removed), then the added ones.
  auto cols = Rows("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
                   "FROM information_schema.columns WHERE table_schema='tx_dst' AND table_name='emp'");
  EXPECT_EQ(cols[0][0].value_or(""),
            "id:integer,first_name:text,last_name:character varying,"
            "salary:character varying,code:integer,born:date,body:text,"
            "full_name:character varying,operation:character varying,band:character varying,"
            "born_year:integer");

  auto rows = Rows("SELECT id, first_name, last_name, salary, code, born::text, length(body), "
                   "octet_length(body), full_name, operation, band, born_year FROM tx_dst.emp ORDER BY id");
  // Row 2's code 'x7' is not an int4: a data error, LOG_ERROR drops that row and goes on.
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][3].value_or("NULL"), "5000.50");
  EXPECT_EQ(rows[0][4].value_or("NULL"), "12");
  // 40000 two-byte characters cut to 1 KB on a character boundary: 512 characters.
  EXPECT_EQ(rows[0][6].value_or("NULL"), "512");
  EXPECT_EQ(rows[0][7].value_or("NULL"), "1024");
  EXPECT_EQ(rows[0][8].value_or("NULL"), "Ada Lovelace");
  EXPECT_EQ(rows[0][9].value_or("NULL"), "INSERT");
  EXPECT_EQ(rows[0][10].value_or("NULL"), "high");
  EXPECT_EQ(rows[0][11].value_or("NULL"), "1815");
  EXPECT_EQ(rows[1][0].value_or(""), "3");
  EXPECT_EQ(rows[1][4].value_or("NULL"), "-3");
  EXPECT_EQ(rows[1][10].value_or("NULL"), "low");
  EXPECT_FALSE(rows[1][11].has_value());  // strftime of NULL

  // The summary counts the dropped row and the truncated LOB; the log names both.
  auto summary = nlohmann::json::parse(r.out);
  ASSERT_EQ(summary["TableStatistics"].size(), 1u) << r.out;
  const auto& t = summary["TableStatistics"][0];
  EXPECT_EQ(t["FullLoadRows"], 2);
  EXPECT_EQ(t["FullLoadErrorRows"], 1);
  EXPECT_NE(r.err.find("column code, row (id=2)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rule-id 6"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("LOB truncated"), std::string::npos) << r.err;

  // Control tables: apply exceptions always, status and history as enabled.
  EXPECT_EQ(Rows("SELECT count(*) FROM tx_dst.awsdms_apply_exceptions")[0][0].value_or(""), "0");
  EXPECT_EQ(Rows("SELECT task_status FROM tx_dst.awsdms_status")[0][0].value_or(""), "FULL LOAD");
  EXPECT_EQ(Rows("SELECT timeslot_records FROM tx_dst.awsdms_history")[0][0].value_or(""), "2");
}

TEST_F(TransformCli, ABadExpressionStopsBeforeAnythingIsTouched) {
  std::string bad = kMappings;
  bad.replace(bad.find("$first_name||' '||$last_name"), 28, "$first_nam || (");
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--target", PostgresUri(),
                       "--table-mappings", Write("bad.json", bad), "--no-progress"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("rule-id 3"), std::string::npos) << r.err;
  EXPECT_EQ(Rows("SELECT count(*) FROM information_schema.schemata WHERE schema_name='tx_dst'")[0][0]
                .value_or(""),
            "0");
}

TEST_F(TransformCli, EnableValidationComparesTheCopiedColumnsAfterTheLoad) {
  // change-data-type and expressions leave the other columns comparable; no LOB limit.
  const std::string settings = Write("settings.json", R"({
    "TargetMetadata": {"FullLobMode": true, "LimitedSizeLobMode": false},
    "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE"},
    "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR"},
    "ValidationSettings": {"EnableValidation": true, "PartitionSize": 2},
    "ControlTablesSettings": {"ControlSchema": "tx_dst"}})");
  session_->Execute("UPDATE tx_src.emp SET code = '7' WHERE id = 2");
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--target", PostgresUri(),
                       "--table-mappings", Write("map.json", kMappings), "--task-settings",
                       settings, "--no-progress", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["TableStatistics"][0]["ValidationState"], "Validated") << r.out;
  EXPECT_EQ(Rows("SELECT count(*) FROM tx_dst.awsdms_validation_failures_v1")[0][0].value_or(""),
            "0");
}

}  // namespace
}  // namespace ferry::testing
