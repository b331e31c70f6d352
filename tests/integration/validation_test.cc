// Row-level validation (validation/validator.h, `ferry validate`) on the real servers:
// PostgreSQL -> PostgreSQL, PostgreSQL -> MariaDB and MariaDB -> SQLite. Each copy, made by the
// full load, validates clean (doubles, float4, timestamps, numerics and Unicode text included);
// then one row is changed, one deleted and one added on the target, and validation must report
// exactly one RECORD_DIFF, one MISSING_TARGET and one MISSING_SOURCE, in its result and in
// awsdms_validation_failures_v1. A table without a key says "No primary key".
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "control/control_tables.h"
#include "test_env.h"
#include "validation/validator.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// 60 rows with values that must survive every pairing exactly.
const char* kPeopleRows =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
    "SELECT i, CONCAT('name ', i, ' h\xC3\xA9llo \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x9A\x80'), "
    "i / 10.0 + 0.1, CAST(i AS REAL) / 4, i * 1234.5678, "
    "CAST('2024-02-29 12:34:56.123456' AS TIMESTAMP) FROM n";

const char* kPgSchema =
    "CREATE TABLE validation_src.people (id int PRIMARY KEY, name varchar(100), "
    "score double precision, ratio real, amount numeric(14,4), at timestamp(6));"
    "CREATE TABLE validation_src.nokey (a int, b text);"
    "INSERT INTO validation_src.nokey VALUES (1, 'x'), (2, 'y');";

std::string TaskName(const char* what) {
  return fmt::format("it-validation-{}-{}", what, getpid());
}

struct Found {
  int record_diff = 0, missing_target = 0, missing_source = 0;
};

Found Count(const TableValidation& r) {
  Found f;
  for (const RowDifference& d : r.differences) {
    if (d.type == FailureType::kRecordDiff) ++f.record_diff;
    if (d.type == FailureType::kMissingTarget) ++f.missing_target;
    if (d.type == FailureType::kMissingSource) ++f.missing_source;
  }
  return f;
}

const TableValidation& ByTable(const std::vector<TableValidation>& results,
                               const std::string& table) {
  for (const TableValidation& r : results) {
    if (r.target_table == table) return r;
  }
  throw Error(ErrorKind::kNotFound, "no result for " + table);
}

// Validates the plans of `source_schema` -> `target_schema` (as the load planned them), checks
// the untouched copy is clean, changes the target with `modify`, and checks the three failures
// in the result and in the control table.
void CheckPairing(SqlConnector& source, const std::string& source_schema, SqlConnector& target,
                  const std::string& target_schema, const std::string& modify,
                  const std::string& people_table, const char* name) {
  std::vector<TableDef> defs = source.OpenCatalog()->ListTables(source_schema);
  std::vector<TablePlan> plans = PlanTables(defs, source.engine(), target, target_schema, {});
  ASSERT_EQ(plans.size(), 2u);

  ControlTablesSettings control_settings;
  control_settings.control_schema = target.engine() == Engine::kSqlite ? "" : "validation_ctl";
  ControlTables control(target, control_settings, TaskName(name));
  ValidationSettings settings;
  settings.partition_size = 7;  // many partitions even for 60 rows
  ValidatorOptions options;
  options.pass2_max_rows = 5;  // several pass-2 rounds, big partitions split further
  {
    Validator validator(source, target, settings, &control, options);
    std::vector<TableValidation> results = validator.Run(plans);
    const TableValidation& people = ByTable(results, people_table);
    EXPECT_EQ(people.state, kValidationValidated) << people.message;
    EXPECT_EQ(people.source_rows, 60);
    EXPECT_EQ(people.target_rows, 60);
    EXPECT_EQ(people.failed, 0);
    for (const RowDifference& d : people.differences) ADD_FAILURE() << d.key_json << d.details;
    EXPECT_EQ(ByTable(results, "nokey").state, kValidationNoPrimaryKey);
  }

  target.OpenSession()->Execute(modify);
  Validator validator(source, target, settings, &control, options);
  std::vector<std::unique_ptr<TableStats>> stats;
  std::vector<TableStats*> stat_ptrs;
  for (size_t i = 0; i < plans.size(); ++i) {
    stats.push_back(std::make_unique<TableStats>());
    stat_ptrs.push_back(stats.back().get());
  }
  std::vector<TableValidation> results = validator.Run(plans, stat_ptrs);
  const TableValidation& people = ByTable(results, people_table);
  EXPECT_EQ(people.state, kValidationMismatched);
  EXPECT_EQ(people.failed, 3);
  Found f = Count(people);
  EXPECT_EQ(f.record_diff, 1);
  EXPECT_EQ(f.missing_target, 1);
  EXPECT_EQ(f.missing_source, 1);
  for (const RowDifference& d : people.differences) {
    if (d.type == FailureType::kRecordDiff) {
      EXPECT_EQ(d.key_json, R"({"key":["2"]})");
      EXPECT_EQ(d.columns, std::vector<std::string>{"name"});
      EXPECT_NE(d.details.find("changed"), std::string::npos) << d.details;
    }
    if (d.type == FailureType::kMissingTarget) {
      EXPECT_EQ(d.key_json, R"({"key":["3"]})");
    }
    if (d.type == FailureType::kMissingSource) {
      EXPECT_EQ(d.key_json, R"({"key":["1000"]})");
    }
  }
  bool seen = false;
  for (const auto& st : stats) {
    MutexLock lock(st->mu);
    if (st->validation_state == kValidationMismatched) {
      seen = true;
      EXPECT_EQ(st->validation_failed_records, 3);
    }
  }
  EXPECT_TRUE(seen);

  auto rows = target.OpenSession()->Query(fmt::format(
      "SELECT {}, {}, {}, {} FROM {} WHERE {} = '{}' ORDER BY 1", control.Column("FAILURE_TYPE"),
      control.Column("KEY"), control.Column("KEY_TYPE"), control.Column("TABLE_NAME"),
      control.QualifiedName(kValidationFailuresTable), control.Column("TASK_NAME"),
      TaskName(name)));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(*rows[0][0], "MISSING_SOURCE");
  EXPECT_EQ(*rows[0][1], R"({"key":["1000"]})");
  EXPECT_EQ(*rows[1][0], "MISSING_TARGET");
  EXPECT_EQ(*rows[1][1], R"({"key":["3"]})");
  EXPECT_EQ(*rows[2][0], "RECORD_DIFF");
  EXPECT_EQ(*rows[2][1], R"({"key":["2"]})");
  EXPECT_EQ(*rows[2][2], "Row");
  EXPECT_EQ(*rows[2][3], people_table);

  // TableFailureMaxCount stops recording and says so.
  ValidationSettings limited = settings;
  limited.table_failure_max_count = 1;
  Validator small(source, target, limited, nullptr, options);
  TableValidation capped = ByTable(small.Run(plans), people_table);
  EXPECT_EQ(capped.state, kValidationMismatched);
  EXPECT_EQ(capped.differences.size(), 1u);
  EXPECT_NE(capped.message.find("TableFailureMaxCount"), std::string::npos) << capped.message;
}

class Validation : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() / fmt::format("ferry-it-validation-{}", ::getpid());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }

  void MakePgSource() {
    Open(PostgresUri())->OpenSession()->Execute(
        std::string("DROP SCHEMA IF EXISTS validation_src CASCADE; CREATE SCHEMA validation_src;") +
        kPgSchema + "INSERT INTO validation_src.people " +
        kPeopleRows + "; ANALYZE validation_src.people;");
  }
  fs::path tmp_;
};

TEST_F(Validation, PostgresToPostgres) {
  FERRY_REQUIRE_POSTGRES();
  MakePgSource();
  auto source = Open(PostgresUri());
  auto target = Open(PostgresUri());
  target->OpenSession()->Execute(
      "DROP SCHEMA IF EXISTS validation_dst CASCADE; DROP SCHEMA IF EXISTS validation_ctl CASCADE");
  auto load = RunFullLoad(*source, "validation_src", *target, "validation_dst");
  ASSERT_EQ(LoadFailures(*load), "");
  CheckPairing(*source, "validation_src", *target, "validation_dst",
               "UPDATE validation_dst.people SET name = 'changed' WHERE id = 2;"
               "DELETE FROM validation_dst.people WHERE id = 3;"
               "INSERT INTO validation_dst.people (id, name) VALUES (1000, 'extra')",
               "people", "pg-pg");

  // The CLI on the same pair: differences found -> exit 1, JSON on stdout.
  const CliRun r = RunFerry({"validate", "--source", PostgresUri(), "--target", PostgresUri(),
                             "--schema", "validation_src", "--target-schema", "validation_dst",
                             "--tables", "people", "--task-name", TaskName("cli"), "--json"});
  const std::string& out = r.out;
  EXPECT_EQ(r.exit_code, 1) << out;
  EXPECT_NE(out.find("\"ValidationState\": \"Mismatched records\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"ValidationFailedRecords\": 3"), std::string::npos) << out;
}

TEST_F(Validation, PostgresToMariadbAndMariadbToSqlite) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  MakePgSource();
  auto pg = Open(PostgresUri());
  Open(MysqlUri())->OpenSession()->Execute(
      "DROP DATABASE IF EXISTS validation_my; CREATE DATABASE validation_my;"
      "DROP DATABASE IF EXISTS validation_ctl");
  auto my = Open(WithDatabase(MysqlUri(), "validation_my"));
  auto load = RunFullLoad(*pg, "validation_src", *my, "validation_my");
  ASSERT_EQ(LoadFailures(*load), "");

  // MariaDB -> SQLite from the untouched MariaDB copy (a second MariaDB database).
  Open(MysqlUri())->OpenSession()->Execute(
      "DROP DATABASE IF EXISTS validation_my2; CREATE DATABASE validation_my2;");
  auto my2 = Open(WithDatabase(MysqlUri(), "validation_my2"));
  auto load2 = RunFullLoad(*pg, "validation_src", *my2, "validation_my2");
  ASSERT_EQ(LoadFailures(*load2), "");
  auto lite = Open("sqlite://" + (tmp_ / "dst.db").string());
  auto load3 = RunFullLoad(*my2, "validation_my2", *lite, "main");
  ASSERT_EQ(LoadFailures(*load3), "");

  {
    SCOPED_TRACE("PostgreSQL -> MariaDB");
    CheckPairing(*pg, "validation_src", *my, "validation_my",
                 "UPDATE validation_my.people SET name = 'changed' WHERE id = 2;"
                 "DELETE FROM validation_my.people WHERE id = 3;"
                 "INSERT INTO validation_my.people (id, name) VALUES (1000, 'extra')",
                 "people", "pg-my");
  }
  {
    SCOPED_TRACE("MariaDB -> SQLite");
    CheckPairing(*my2, "validation_my2", *lite, "main",
                 "UPDATE people SET name = 'changed' WHERE id = 2;"
                 "DELETE FROM people WHERE id = 3;"
                 "INSERT INTO people (id, name) VALUES (1000, 'extra')",
                 "people", "my-lite");
  }
}

fs::path DatasetsDir() {
  std::string env = EnvOr("FERRY_DATASETS_DIR");
  if (!env.empty()) return env;
  return fs::path(FERRY_SOURCE_DIR) / ".." / "shared" / "datasets";
}

// Pagila (partitioned payment, arrays, enums, numerics, timestamps with zones...) loaded
// into its own PostgreSQL database, copied to SQLite and to MariaDB, and validated clean.
TEST_F(Validation, PagilaValidatesClean) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  const fs::path dir = DatasetsDir() / "pagila";
  if (!fs::exists(dir)) GTEST_SKIP() << "dataset " << dir.string() << " is absent";
  EndpointUri u = ParseEndpointUri(PostgresUri()).ValueOrThrow();
  const std::string psql =
      fmt::format("PGPASSWORD='{}' psql -q -v ON_ERROR_STOP=1 -h {} -p {} -U {} -d ", u.password,
                  u.host, u.PortOrDefault(), u.user);
  const std::string log = (tmp_ / "psql.log").string();
  ASSERT_EQ(std::system((psql + "postgres -c 'DROP DATABASE IF EXISTS validation_pagila' -c "
                                "'CREATE DATABASE validation_pagila' > " + log + " 2>&1")
                            .c_str()),
            0);
  ASSERT_EQ(std::system((psql + "validation_pagila -f " + (dir / "pagila-schema.sql").string() +
                         " >> " + log + " 2>&1 && " + psql + "validation_pagila -f " +
                         (dir / "pagila-data.sql").string() + " >> " + log + " 2>&1")
                            .c_str()),
            0);
  auto pg = Open(WithDatabase(PostgresUri(), "validation_pagila"));
  Open(MysqlUri())->OpenSession()->Execute(
      "DROP DATABASE IF EXISTS validation_pagila; CREATE DATABASE validation_pagila");
  auto my = Open(WithDatabase(MysqlUri(), "validation_pagila"));
  auto lite = Open("sqlite://" + (tmp_ / "pagila.db").string());
  for (SqlConnector* target : {lite.get(), my.get()}) {
    SCOPED_TRACE(EngineName(target->engine()));
    const std::string target_schema = target->engine() == Engine::kSqlite ? "main" : "";
    auto load = RunFullLoad(*pg, "public", *target, target_schema);
    ASSERT_EQ(LoadFailures(*load), "");
    std::vector<TableDef> defs = pg->OpenCatalog()->ListTables("public");
    std::vector<TablePlan> plans = PlanTables(defs, pg->engine(), *target, target_schema, {});
    Validator validator(*pg, *target, ValidationSettings{}, nullptr);
    for (const TableValidation& r : validator.Run(plans)) {
      if (r.state == kValidationNoPrimaryKey) continue;
      EXPECT_EQ(r.state, kValidationValidated) << r.source_name << ": " << r.message;
      EXPECT_EQ(r.source_rows, r.target_rows) << r.source_name;
      for (size_t i = 0; i < r.differences.size() && i < 3; ++i) {
        ADD_FAILURE() << r.source_name << " " << FailureTypeName(r.differences[i].type) << " "
                      << r.differences[i].key_json << " " << r.differences[i].details;
      }
    }
  }
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// ValidationSettings.ValidationOnly (issue 10): `ferry migrate` compares and migrates nothing;
// with a CDC migration type it validates the source's changes and applies nothing either
// (cdc_validation_test.cc checks what it finds).
TEST(ValidationOnly, MigrateComparesAndWritesNothing) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  auto s = pg->OpenSession();
  s->Execute("DROP SCHEMA IF EXISTS vonly_src CASCADE; CREATE SCHEMA vonly_src");
  s->Execute("CREATE TABLE vonly_src.t (id integer PRIMARY KEY, v text)");
  s->Execute("INSERT INTO vonly_src.t SELECT g, 'v' || g FROM generate_series(1, 50) g");
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-vonly-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "t.db").string();
  ASSERT_EQ(RunFerry({"migrate", "--source", PostgresUri(), "--target", "sqlite://" + db,
                      "--schema", "vonly_src", "--no-progress"})
                .exit_code,
            0);
  auto target = Open("sqlite://" + db);
  target->OpenSession()->Execute("DELETE FROM t WHERE id = 7");
  const std::string settings = (dir / "settings.json").string();
  std::ofstream(settings) << R"({"ValidationSettings": {"EnableValidation": true,)"
                          << R"( "ValidationOnly": true}})";
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--target", "sqlite://" + db,
                       "--schema", "vonly_src", "--task-settings", settings,
                       "--target-table-prep-mode", "DROP_AND_CREATE", "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("MISSING_TARGET"), std::string::npos) << r.out;
  // Nothing was migrated: the deleted row is still missing, DROP_AND_CREATE did not run.
  EXPECT_EQ(*target->OpenSession()->Query("SELECT count(*) FROM t")[0][0], "49");
  s->Execute("INSERT INTO vonly_src.t VALUES (1000, 'new')");
  const std::string stop = *s->Query("SELECT pg_current_wal_lsn()::text")[0][0];
  r = RunFerry({"migrate", "--source", PostgresUri(), "--target", "sqlite://" + db, "--schema",
                "vonly_src", "--task-settings", settings, "--migration-type",
                "full-load-and-cdc", "--task-name", "vonly", "--cdc-stop-position", stop,
                "--data-dir",
                (dir / "data").string(), "--no-progress"});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
  EXPECT_NE(r.err.find("ValidationOnly: validating the source's changes on the target, applying "
                       "nothing"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(*target->OpenSession()->Query("SELECT count(*) FROM t")[0][0], "49");
  // The task's slot and publication go with it.
  CliRun del = RunFerry({"delete-task", "--source", PostgresUri(), "--task-name", "vonly",
                         "--data-dir", (dir / "data").string()});
  EXPECT_EQ(del.exit_code, 0) << del.out << del.err;
  s->Execute("DROP SCHEMA vonly_src CASCADE");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::testing
