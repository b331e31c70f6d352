// `ferry` as a user runs it: exit codes, the summary, --json, and the error messages for bad
// input (each message read, passwords never echoed).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "sqlite_api/sqlite_connection.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() / fmt::format("ferry-it-cli-{}", ::getpid());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }
  std::string Lite(const std::string& name) { return "sqlite://" + (tmp_ / name).string(); }
  fs::path tmp_;
};

TEST_F(Cli, MalformedUriIsRejectedBeforeAnythingHappens) {
  CliRun r =
      RunFerry({"migrate", "--source", "bogus://u:topsecret@h/db", "--target", Lite("t.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown scheme 'bogus'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("topsecret"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "t.db")) << "nothing may be created for a bad source";
}

TEST_F(Cli, UnreachableServerNamesHostAndPortNotPassword) {
  CliRun r = RunFerry({"catalog", "postgresql://ferry:hunter2pw@127.0.0.1:1/ferry"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2pw"), std::string::npos) << r.err;
  r = RunFerry({"catalog", "mysql://ferry:hunter2pw@127.0.0.1:1/ferry"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2pw"), std::string::npos) << r.err;
}

TEST_F(Cli, WrongPasswordIsNeverEchoed) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  EndpointUri pg = ParseEndpointUri(PostgresUri()).ValueOrThrow();
  EndpointUri my = ParseEndpointUri(MysqlUri()).ValueOrThrow();
  CliRun r = RunFerry({"catalog", fmt::format("postgresql://{}:Wr0ngPassw0rd@{}:{}/{}", pg.user,
                                              pg.host, pg.PortOrDefault(), pg.database)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("password authentication failed"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Wr0ngPassw0rd"), std::string::npos) << r.err;
  r = RunFerry({"catalog", fmt::format("mysql://{}:Wr0ngPassw0rd@{}:{}/{}", my.user, my.host,
                                       my.PortOrDefault(), my.database)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Wr0ngPassw0rd"), std::string::npos) << r.err;
}

TEST_F(Cli, MissingDatabaseFileAndTable) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  CliRun r = RunFerry({"catalog", WithDatabase(PostgresUri(), "no_such_db_xyz")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("database 'no_such_db_xyz' does not exist"), std::string::npos) << r.err;
  r = RunFerry({"catalog", WithDatabase(MysqlUri(), "no_such_db_xyz")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'no_such_db_xyz' not found"), std::string::npos) << r.err;
  r = RunFerry({"catalog", Lite("absent.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("absent.db' does not exist"), std::string::npos) << r.err;

  Open(Lite("src.db"))->OpenSession()->Execute("CREATE TABLE present (id INTEGER PRIMARY KEY)");
  r = RunFerry({"migrate", "--source", Lite("src.db"), "--target", Lite("dst.db"), "--tables",
                "absent_table"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("table 'absent_table' was selected but does not exist on the source"),
            std::string::npos)
      << r.err;
}

// A value the target cannot hold fails its table with a message naming table, column, row key
// and value; the other tables complete, the summary says so, and the exit code is 1.
TEST_F(Cli, UnconvertibleValueFailsOnlyItsTable) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(R"(
      DROP SCHEMA IF EXISTS it_cli_bc CASCADE; CREATE SCHEMA it_cli_bc;
      CREATE TABLE it_cli_bc.good (id int PRIMARY KEY, d date);
      INSERT INTO it_cli_bc.good VALUES (1, '2024-01-01'), (2, '0001-01-01'), (3, NULL);
      CREATE TABLE it_cli_bc.ancient (id int PRIMARY KEY, born date);
      INSERT INTO it_cli_bc.ancient VALUES (1, '2000-01-01'), (42, '0044-03-15 BC');)");
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute("DROP DATABASE IF EXISTS it_cli_bc; CREATE DATABASE it_cli_bc");

  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--schema", "it_cli_bc", "--target",
                       WithDatabase(MysqlUri(), "it_cli_bc"), "--target-table-prep-mode",
                       "DROP_AND_CREATE", "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("it_cli_bc.good"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Table completed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Table error"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of 2 tables completed"), std::string::npos) << r.out;
  // The message: table, column, key and the value itself.
  size_t at = r.out.find("error: it_cli_bc.ancient: column born, row (id=42)");
  EXPECT_NE(at, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0044-03-15 BC", at), std::string::npos) << r.out;
  auto rows = admin->Query("SELECT count(*) FROM it_cli_bc.good");
  EXPECT_EQ(rows[0][0].value_or(""), "3");
  pg->OpenSession()->Execute("DROP SCHEMA it_cli_bc CASCADE");
  admin->Execute("DROP DATABASE it_cli_bc");
}

// MySQL zero dates become NULL by policy, counted per column in the summary and in --json.
TEST_F(Cli, ZeroDatesAreCountedAndReported) {
  FERRY_REQUIRE_MYSQL();
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute(
      "DROP DATABASE IF EXISTS it_cli_zero; CREATE DATABASE it_cli_zero;"
      "SET SESSION sql_mode='';"
      "CREATE TABLE it_cli_zero.t (id int PRIMARY KEY, d date, ts datetime);"
      "INSERT INTO it_cli_zero.t VALUES (1, '0000-00-00', '0000-00-00 00:00:00'),"
      " (2, '2024-01-01', '2024-01-01 10:00:00'), (3, '0000-00-00', NULL)");
  CliRun r = RunFerry({"migrate", "--source", WithDatabase(MysqlUri(), "it_cli_zero"), "--target",
                       Lite("zero.db"), "--no-progress", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto json = nlohmann::json::parse(r.out);
  const auto& t = json["TableStatistics"][0];
  EXPECT_EQ(t["TableName"], "t");
  EXPECT_EQ(t["TableState"], "Table completed");
  EXPECT_EQ(t["FullLoadRows"], 3);
  int64_t d_warnings = 0, ts_warnings = 0;
  for (const auto& [what, n] : t["Warnings"].items()) {
    if (what.rfind("column d:", 0) == 0) d_warnings += n.template get<int64_t>();
    if (what.rfind("column ts:", 0) == 0) ts_warnings += n.template get<int64_t>();
  }
  EXPECT_EQ(d_warnings, 2) << t.dump();
  EXPECT_EQ(ts_warnings, 1) << t.dump();
  auto rows = Open(Lite("zero.db"))->OpenSession()->Query("SELECT count(*) FROM t WHERE d IS NULL");
  EXPECT_EQ(rows[0][0].value_or(""), "2");
  admin->Execute("DROP DATABASE it_cli_zero");
}

// Numbers in SQLite DATE/DATETIME/TIME columns have no certain reading: each reading is the
// documented one for the setting, and every value read so is counted per column.
TEST_F(Cli, SqliteDatetimeNumbersAreReadAsTheSettingSaysAndCounted) {
  FERRY_REQUIRE_POSTGRES();
  Open(Lite("n.db"))->OpenSession()->Execute(
      "CREATE TABLE s (id INTEGER PRIMARY KEY, t DATETIME, d DATE);"
      "INSERT INTO s VALUES (1, 0, '2024-01-01'), (2, 2024, 86400), (3, 2460000.5, 2460000.5),"
      " (4, '2024-05-06 07:08:09', NULL)");
  auto pg = Open(PostgresUri())->OpenSession();
  auto run = [&](const std::string& setting) {
    pg->Execute("DROP SCHEMA IF EXISTS it_cli_numbers CASCADE");
    return RunFerry({"migrate", "--source", Lite("n.db") + setting, "--target", PostgresUri(),
                     "--target-schema", "it_cli_numbers", "--no-progress", "--json"});
  };
  auto values = [&] {
    std::vector<std::string> out;
    for (const auto& row : pg->Query("SELECT t::text, d::text FROM it_cli_numbers.s ORDER BY id")) {
      out.push_back(row[0].value_or("NULL") + " | " + row[1].value_or("NULL"));
    }
    return out;
  };
  CliRun r = run("");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(values(), (std::vector<std::string>{"1970-01-01 00:00:00 | 2024-01-01",
                                                "1970-01-01 00:33:44 | 1970-01-02",
                                                "2023-02-25 00:00:00 | 2023-02-25",
                                                "2024-05-06 07:08:09 | NULL"}));
  auto warnings = nlohmann::json::parse(r.out)["TableStatistics"][0]["Warnings"];
  EXPECT_EQ(warnings["column t: INTEGER values read as Unix seconds (SQLite source "
                     "datetime_numbers=auto; auto, unixepoch, julianday or refuse choose the "
                     "reading)"],
            2)
      << warnings.dump();
  EXPECT_EQ(warnings["column t: REAL values read as Julian day numbers (SQLite source "
                     "datetime_numbers=auto; auto, unixepoch, julianday or refuse choose the "
                     "reading)"],
            1)
      << warnings.dump();
  EXPECT_EQ(warnings.size(), 4u) << warnings.dump();
  EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;

  r = run("?datetime_numbers=unixepoch");
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;  // 2460000.5 s has a time of day: not a DATE
  EXPECT_NE(r.err.find("column \"d\" (DATE declared 'DATE'): REAL value 2460000.5 has a time "
                       "of day, which a DATE cannot hold"),
            std::string::npos)
      << r.out << r.err;

  r = run("?datetime_numbers=refuse");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("INTEGER value 0 is a number, and the SQLite source's "
                       "datetime_numbers=refuse reads no number as a date or time"),
            std::string::npos)
      << r.out << r.err;

  r = RunFerry({"catalog", Lite("n.db") + "?datetime_numbers=seconds"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("SQLite URI parameter datetime_numbers='seconds': expected auto, "
                       "unixepoch, julianday or refuse"),
            std::string::npos)
      << r.err;
  pg->Execute("DROP SCHEMA IF EXISTS it_cli_numbers CASCADE");
}

// SQLite (and MySQL) writers commit a big table in chunks. A load that stops after some chunks
// leaves a table that started empty empty again, and says how many rows stay in a table that
// already had rows; FullLoadRows counts only what stays committed.
TEST_F(Cli, AFailedLoadLeavesNoCommittedChunksBehind) {
  Open(Lite("big.db"))->OpenSession()->Execute(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 120000)"
      " INSERT INTO t SELECT i, 'row ' || i FROM g");
  // The added column's expression fails on the last row (abs() of the smallest integer
  // overflows), and DataErrorPolicy STOP_TASK ends the table there, after two commits.
  std::ofstream(tmp_ / "boom.json") << R"({"rules": [
      {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
       "object-locator": {"schema-name": "%", "table-name": "%"}, "rule-action": "include"},
      {"rule-type": "transformation", "rule-id": "2", "rule-name": "2", "rule-target": "column",
       "object-locator": {"schema-name": "%", "table-name": "t"}, "rule-action": "add-column",
       "value": "boom", "expression": "CASE WHEN $id = 120000 THEN abs(-9223372036854775807 - 1) ELSE 0 END",
       "data-type": {"type": "int8"}}]})";
  std::ofstream(tmp_ / "stop.json") << R"({"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}})";
  auto run = [&](const std::string& target) {
    return RunFerry({"migrate", "--source", Lite("big.db"), "--target", Lite(target),
                     "--table-mappings", (tmp_ / "boom.json").string(), "--task-settings",
                     (tmp_ / "stop.json").string(), "--no-progress", "--json"});
  };
  CliRun r = run("empty.db");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("integer overflow"), std::string::npos) << r.err;
  {
    sqlite::Connection db((tmp_ / "empty.db").string(), sqlite::Connection::Mode::kReadOnly);
    EXPECT_EQ(db.QueryInt("SELECT count(*) FROM t", -1), 0) << "the committed chunks are gone";
  }
  auto rows_of = [](const std::string& out) -> int64_t {
    const auto json = nlohmann::json::parse(out, nullptr, false);
    if (json.is_discarded() || json["TableStatistics"].empty()) return -1;
    return json["TableStatistics"][0]["FullLoadRows"].get<int64_t>();
  };
  EXPECT_EQ(rows_of(r.out), 0) << r.out;
  // A table that had a row before the load keeps the chunks: the error says how many.
  Open(Lite("filled.db"))->OpenSession()->Execute(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, boom INTEGER);"
      "INSERT INTO t VALUES (0, 'before', 0)");
  r = run("filled.db");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("; 100000 row(s) of this load stay committed in target table main.t (it "
                       "had rows before the load, so they cannot be told apart): rerun with "
                       "--target-table-prep-mode TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(rows_of(r.out), 100000) << r.out;
  {
    sqlite::Connection db((tmp_ / "filled.db").string(), sqlite::Connection::Mode::kReadOnly);
    EXPECT_EQ(db.QueryInt("SELECT count(*) FROM t", -1), 100001);
  }
  if (MysqlUri().empty()) return;
  // MariaDB commits every 100,000 rows: the first chunk is emptied away again.
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute("DROP DATABASE IF EXISTS it_cli_chunks");
  r = RunFerry({"migrate", "--source", Lite("big.db"), "--target",
                WithDatabase(MysqlUri(), "it_cli_chunks"), "--table-mappings",
                (tmp_ / "boom.json").string(), "--task-settings", (tmp_ / "stop.json").string(),
                "--no-progress", "--json"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows_of(r.out), 0) << r.out;
  EXPECT_EQ(admin->Query("SELECT count(*) FROM it_cli_chunks.t")[0][0].value_or(""), "0");
  admin->Execute("DROP DATABASE it_cli_chunks");
  if (PostgresUri().empty()) return;
  // PostgreSQL loads a table in one transaction: FullLoadRows says 0, not the rows it sent.
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute("DROP SCHEMA IF EXISTS it_cli_chunks CASCADE");
  r = RunFerry({"migrate", "--source", Lite("big.db"), "--target", PostgresUri(),
                "--target-schema", "it_cli_chunks", "--table-mappings",
                (tmp_ / "boom.json").string(), "--task-settings", (tmp_ / "stop.json").string(),
                "--no-progress", "--json"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows_of(r.out), 0) << r.out;
  EXPECT_EQ(pg->Query("SELECT count(*) FROM it_cli_chunks.t")[0][0].value_or(""), "0");
  pg->Execute("DROP SCHEMA it_cli_chunks CASCADE");
}

// SQLite -> SQLite keeps every stored value exactly, storage class included, whatever the
// declared type says: a 64-bit integer in an INT column, 300 in a TINYINT, numbers and
// date-only text in DATETIME columns, text in an INT column, a NULL in a non-rowid primary key,
// a column without a type. `ferry validate` then finds both sides equal.
TEST_F(Cli, SqliteToSqliteKeepsEveryStoredValue) {
  Open(Lite("src.db"))->OpenSession()->Execute(
      "CREATE TABLE s (id INTEGER PRIMARY KEY, t DATETIME, n INT, b TINYINT, d DATE, r REAL,"
      " x);"
      "INSERT INTO s VALUES (1, 0, 5000000000, 300, '2017-08-08', 1, 1),"
      " (2, 2024, 'abc', 1.5, 2460000.5, 'not a number', 2.5),"
      " (3, 2460000.5, NULL, -1, x'00ff', -0.0, 'text'),"
      " (4, '2024-05-06T07:08:09Z', -9223372036854775808, 0, NULL, 1e308, x'');"
      "CREATE TABLE k (a TEXT PRIMARY KEY, v INT);"
      "INSERT INTO k VALUES (NULL, 1), ('x', 2.0), ('2', '3');"
      "CREATE TABLE i (id INT PRIMARY KEY, v);"  // INT PRIMARY KEY is not a rowid alias
      "INSERT INTO i VALUES ('seven', 7), (NULL, 8), (2.5, 9)");
  CliRun r = RunFerry({"migrate", "--source", Lite("src.db"), "--target", Lite("dst.db"),
                       "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto dump = [&](const std::string& db) {
    sqlite::Connection conn((tmp_ / db).string(), sqlite::Connection::Mode::kReadOnly);
    std::string out;
    for (const char* sql :
         {"SELECT group_concat(typeof(t) || ':' || quote(t) || ' ' || typeof(n) || ':' || "
          "quote(n) || ' ' || quote(b) || ' ' || quote(d) || ' ' || typeof(r) || ':' || "
          "quote(r) || ' ' || typeof(x) || ':' || quote(x), ' | ') FROM (SELECT * FROM s ORDER "
          "BY id)",
          "SELECT group_concat(quote(a) || '=' || typeof(v) || ':' || quote(v), ' | ') FROM "
          "(SELECT * FROM k ORDER BY a)",
          "SELECT group_concat(typeof(id) || ':' || quote(id) || '=' || quote(v), ' | ') FROM "
          "(SELECT * FROM i ORDER BY v)"}) {
      sqlite::Statement st(conn, sql);
      if (st.Step()) {
        const unsigned char* text = sqlite3_column_text(st.get(), 0);
        out += text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      out += "\n";
    }
    return out;
  };
  const std::string source = dump("src.db");
  EXPECT_NE(source.find("integer:5000000000"), std::string::npos) << source;
  EXPECT_EQ(dump("dst.db"), source);
  // The declared types are the source's own (a column without one has none).
  TableDef i = Open(Lite("dst.db"))->OpenCatalog()->GetTable("main", "i");
  EXPECT_EQ(i.columns[0].native_type, "INT");
  EXPECT_EQ(i.columns[1].native_type, "");
  r = RunFerry({"validate", "--source", Lite("src.db"), "--target", Lite("dst.db")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 of 3 tables validated"), std::string::npos) << r.out;
}

// A zero date into a NOT NULL column says where the NULL came from and which setting reads
// it otherwise; zero_dates= chooses NULL, a refusal or a date.
TEST_F(Cli, ZeroDatesInNotNullColumnsNameTheSetting) {
  FERRY_REQUIRE_MYSQL();
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute(
      "DROP DATABASE IF EXISTS it_cli_zero_nn; CREATE DATABASE it_cli_zero_nn;"
      "SET SESSION sql_mode='';"
      "CREATE TABLE it_cli_zero_nn.t (id int PRIMARY KEY, d date NOT NULL, ts datetime);"
      "INSERT INTO it_cli_zero_nn.t VALUES (1, '2024-01-01', NULL),"
      " (2, '0000-00-00', '0000-00-00 00:00:00')");
  const std::string source = WithDatabase(MysqlUri(), "it_cli_zero_nn");
  CliRun r = RunFerry({"migrate", "--source", source, "--target", Lite("nn.db"), "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("column `d` (date NOT NULL): zero date '0000-00-00': a zero date reads as "
                       "NULL (the MySQL source's zero_dates=null) and the column is NOT NULL: set "
                       "zero_dates to a date to read it as (e.g. zero_dates=0001-01-01) or to "
                       "refuse"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(id=2)"), std::string::npos) << r.err;
  r = RunFerry({"migrate", "--source", source + "?zero_dates=0001-01-01", "--target",
                Lite("replaced.db"), "--no-progress", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto rows = Open(Lite("replaced.db"))
                  ->OpenSession()
                  ->Query("SELECT d || ' ' || ts FROM t WHERE id = 2");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "0001-01-01 0001-01-01 00:00:00");
  const auto warnings = nlohmann::json::parse(r.out)["TableStatistics"][0]["Warnings"];
  EXPECT_EQ(warnings["column d: zero date '0000-00-00' read as 0001-01-01 (MySQL source "
                     "zero_dates=0001-01-01)"],
            1)
      << warnings.dump();
  r = RunFerry({"migrate", "--source", source + "?zero_dates=refuse", "--tables", "t",
                "--target", Lite("refused.db"), "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the MySQL source's zero_dates=refuse refuses zero dates"),
            std::string::npos)
      << r.err;
  // With DataErrorPolicy LOG_ERROR the refused row is left out, named, and the rest loads.
  std::ofstream(tmp_ / "log_error.json")
      << R"({"TargetMetadata": {"SupportLobs": true, "FullLobMode": true},
             "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR"}})";
  r = RunFerry({"migrate", "--source", source + "?zero_dates=refuse", "--tables", "t",
                "--target", Lite("skipped.db"), "--no-progress", "--json", "--task-settings",
                (tmp_ / "log_error.json").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto skipped = nlohmann::json::parse(r.out)["TableStatistics"][0];
  EXPECT_EQ(skipped["FullLoadRows"], 1) << skipped.dump();
  EXPECT_EQ(skipped["FullLoadErrorRows"], 1) << skipped.dump();
  EXPECT_NE(skipped["Warnings"].dump().find("row skipped: column d, row (id=2): MySQL table "),
            std::string::npos)
      << skipped.dump();
  EXPECT_EQ(Open(Lite("skipped.db"))->OpenSession()->Query("SELECT id FROM t")[0][0], "1");
  // MySQL to MySQL keeps zero dates as they are, whatever zero_dates says, and validates.
  admin->Execute("DROP DATABASE IF EXISTS it_cli_zero_nn_dst; CREATE DATABASE it_cli_zero_nn_dst");
  const std::string same = WithDatabase(MysqlUri(), "it_cli_zero_nn_dst");
  r = RunFerry({"migrate", "--source", source, "--target", same, "--no-progress", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out)["TableStatistics"][0].contains("Warnings")) << r.out;
  EXPECT_EQ(admin->Query("SELECT CAST(d AS CHAR), CAST(ts AS CHAR) FROM it_cli_zero_nn_dst.t "
                         "WHERE id = 2")[0],
            (std::vector<std::optional<std::string>>{"0000-00-00", "0000-00-00 00:00:00"}));
  r = RunFerry({"validate", "--source", source, "--target", same});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  admin->Execute("DROP DATABASE it_cli_zero_nn_dst");
  r = RunFerry({"catalog", source + "?zero_dates=never"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("zero_dates='never': expected null, refuse or a date YYYY-MM-DD"),
            std::string::npos)
      << r.err;
  admin->Execute("DROP DATABASE it_cli_zero_nn");
}

// A key the target table already holds (DO_NOTHING into a table with rows) fails the table on
// every target with the key, the constraint and where such a row comes from (issue 11, case 15).
TEST_F(Cli, ADuplicateKeyOnTheTargetNamesTheKeyAndThePrepModes) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  auto src = Open(Lite("dup_src.db"))->OpenSession();
  src->Execute("CREATE TABLE t (id integer PRIMARY KEY, v text); "
               "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  Open(Lite("dup_dst.db"))->OpenSession()->Execute(
      "CREATE TABLE t (id integer PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'x')");
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute("DROP SCHEMA IF EXISTS it_cli_dup CASCADE; CREATE SCHEMA it_cli_dup; "
              "CREATE TABLE it_cli_dup.t (id bigint PRIMARY KEY, v text); "
              "INSERT INTO it_cli_dup.t VALUES (1, 'x')");
  auto my = Open(MysqlUri())->OpenSession();
  my->Execute("DROP DATABASE IF EXISTS it_cli_dup; CREATE DATABASE it_cli_dup; "
              "CREATE TABLE it_cli_dup.t (id bigint PRIMARY KEY, v text); "
              "INSERT INTO it_cli_dup.t VALUES (1, 'x')");
  const std::string hint =
      "the target table already has a row with this key (--target-table-prep-mode DO_NOTHING "
      "loads into the rows there; TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE replaces them), or "
      "the source has two rows with it";
  struct Case {
    std::vector<std::string> target;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{PostgresUri(), "--target-schema", "it_cli_dup"},
       hint + "; the server said: duplicate key value violates unique constraint \"t_pkey\": "
              "Key (id)=(1) already exists."},
      {{WithDatabase(MysqlUri(), "it_cli_dup")},
       "Duplicate entry '1' for key 'PRIMARY': " + hint},
      {{Lite("dup_dst.db")},
       "column id, row (id=1): SQLite refused the row: UNIQUE constraint failed: t.id: " + hint},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"migrate", "--source", Lite("dup_src.db"), "--no-progress",
                                  "--target"};
    args.insert(args.end(), c.target.begin(), c.target.end());
    const CliRun r = RunFerry(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.target[0] << "\n" << r.out;
  }
  pg->Execute("DROP SCHEMA it_cli_dup CASCADE");
  my->Execute("DROP DATABASE it_cli_dup");
}

// `ferry hash` reports a table it cannot read (table, column, row key) and hashes the rest.
TEST_F(Cli, HashReportsAnUnreadableTableAndHashesTheRest) {
  Open(Lite("h.db"))->OpenSession()->Execute(
      "CREATE TABLE a (id INTEGER PRIMARY KEY); INSERT INTO a VALUES (1);"
      "CREATE TABLE b (id INTEGER PRIMARY KEY, n INT); INSERT INTO b VALUES (1, 1), (2, 'abc');"
      "CREATE TABLE c (id INTEGER PRIMARY KEY); INSERT INTO c VALUES (1), (2)");
  CliRun r = RunFerry({"hash", Lite("h.db")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("main.a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("main.c"), std::string::npos) << r.out << "the table after it is hashed";
  EXPECT_NE(r.out.find("ERROR"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("table main.b: column n, row (id=2): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TEXT value 'abc' is not an integer"), std::string::npos) << r.err;
  r = RunFerry({"hash", Lite("h.db"), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), 3u) << r.out;
  EXPECT_TRUE(json[1].contains("error")) << r.out;
  EXPECT_EQ(json[2]["rows"], 2) << r.out;
}

// A PostgreSQL target role needs only what the work needs: USAGE and CREATE on an existing
// schema (not CREATE on the database); a missing privilege is named with its GRANT.
TEST_F(Cli, PostgresTargetNeedsOnlyThePrivilegesTheWorkNeeds) {
  FERRY_REQUIRE_POSTGRES();
  auto admin = Open(PostgresUri())->OpenSession();
  admin->Execute(
      "DROP SCHEMA IF EXISTS it_priv CASCADE; DROP SCHEMA IF EXISTS it_priv_ro CASCADE;"
      "DROP ROLE IF EXISTS it_limited; CREATE ROLE it_limited LOGIN PASSWORD 'limited';"
      "CREATE SCHEMA it_priv; GRANT USAGE, CREATE ON SCHEMA it_priv TO it_limited;"
      "CREATE SCHEMA it_priv_ro; GRANT USAGE ON SCHEMA it_priv_ro TO it_limited");
  Open(Lite("p.db"))->OpenSession()->Execute(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x')");
  EndpointUri pg = ParseEndpointUri(PostgresUri()).ValueOrThrow();
  const std::string limited = fmt::format("postgresql://it_limited:limited@{}:{}/{}", pg.host,
                                          pg.PortOrDefault(), pg.database);
  CliRun r = RunFerry({"migrate", "--source", Lite("p.db"), "--target", limited,
                       "--target-schema", "it_priv", "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunFerry({"migrate", "--source", Lite("p.db"), "--target", limited, "--target-schema",
                "it_priv_missing", "--no-progress"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("target schema 'it_priv_missing' does not exist and PostgreSQL role "
                       "'it_limited' may not create it: GRANT CREATE ON DATABASE \"ferry\" TO "
                       "\"it_limited\""),
            std::string::npos)
      << r.out << r.err;
  r = RunFerry({"migrate", "--source", Lite("p.db"), "--target", limited, "--target-schema",
                "it_priv_ro", "--no-progress"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the role needs CREATE on the schema to create tables there (GRANT "
                       "CREATE ON SCHEMA \"it_priv_ro\" TO \"it_limited\"); the server said: "
                       "ERROR:  permission denied for schema it_priv_ro"),
            std::string::npos)
      << r.out << r.err;
  admin->Execute(
      "DROP SCHEMA it_priv CASCADE; DROP SCHEMA it_priv_ro CASCADE;"
      "DROP ROLE it_limited");
}

// PostgreSQL infinity reaches SQLite as text, and Ferry reads back what it wrote:
// PostgreSQL -> SQLite -> PostgreSQL is hash-identical.
TEST_F(Cli, PostgresInfinityRoundTripsThroughSqlite) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute("DROP SCHEMA IF EXISTS it_inf CASCADE; DROP SCHEMA IF EXISTS it_inf_back CASCADE;"
              "CREATE SCHEMA it_inf;"
              "CREATE TABLE it_inf.t (id int PRIMARY KEY, ts timestamp, d date, tz timestamptz);"
              "INSERT INTO it_inf.t VALUES (1, 'infinity', '-infinity', '-infinity'),"
              " (2, '2020-01-01 10:00', '2020-01-01', 'infinity')");
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--schema", "it_inf", "--target",
                       Lite("inf.db"), "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunFerry({"migrate", "--source", Lite("inf.db"), "--target", PostgresUri(),
                "--target-schema", "it_inf_back", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  CliRun there = RunFerry({"hash", PostgresUri(), "--schema", "it_inf", "--json"});
  CliRun back = RunFerry({"hash", PostgresUri(), "--schema", "it_inf_back", "--json"});
  ASSERT_EQ(there.exit_code, 0) << there.err;
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(nlohmann::json::parse(there.out)[0]["hash"], nlohmann::json::parse(back.out)[0]["hash"]);
  pg->Execute("DROP SCHEMA it_inf CASCADE; DROP SCHEMA it_inf_back CASCADE");
}

// A SQLite target whose directory takes no new files is refused up front (exit 2), not as
// one "unable to open database file" per table. /sys refuses even root.
TEST_F(Cli, ReadOnlySqliteTargetDirectoryIsRefusedUpFront) {
  Open(Lite("ro_src.db"))->OpenSession()->Execute("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  CliRun r = RunFerry({"migrate", "--source", Lite("ro_src.db"), "--target",
                       "sqlite:///sys/ferry-it.db", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot use target sqlite:///sys/ferry-it.db: SQLite database file "
                       "'/sys/ferry-it.db' cannot be written: its directory '/sys' takes no new "
                       "files"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("Table error"), std::string::npos) << r.out;
}

// A NULL for a NOT NULL target column is reported in Ferry's form (table, column, row key)
// before the server refuses the whole batch in its own words, and DataErrorPolicy applies to
// that row alone. define-primary-key makes a nullable source column the target's key.
TEST_F(Cli, NullIntoNotNullTargetColumnNamesTheRow) {
  FERRY_REQUIRE_POSTGRES();
  Open(Lite("nn_src.db"))->OpenSession()->Execute(
      "CREATE TABLE t (k TEXT, v TEXT);"
      "INSERT INTO t VALUES ('a', '1'), (NULL, '2'), ('c', '3')");
  std::ofstream(tmp_ / "nn.json") << R"({"rules": [
      {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
       "object-locator": {"schema-name": "main", "table-name": "t"}, "rule-action": "include"},
      {"rule-type": "transformation", "rule-id": "2", "rule-name": "2", "rule-target": "table",
       "object-locator": {"schema-name": "main", "table-name": "t"},
       "rule-action": "define-primary-key",
       "primary-key-def": {"name": "t_pk", "columns": ["k"]}}]})";
  std::ofstream(tmp_ / "skip.json") << R"({"ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR"}})";
  std::vector<std::string> targets = {PostgresUri()};
  if (!MysqlUri().empty()) targets.push_back(WithDatabase(MysqlUri(), "it_cli_nn"));
  for (const std::string& target : targets) {
    const bool mysql = target.rfind("mysql", 0) == 0;
    auto admin = Open(mysql ? MysqlUri() : PostgresUri())->OpenSession();
    admin->Execute(mysql ? "DROP DATABASE IF EXISTS it_cli_nn"
                         : "DROP SCHEMA IF EXISTS it_cli_nn CASCADE");
    std::vector<std::string> args = {"migrate", "--source", Lite("nn_src.db"), "--target", target,
                                     "--table-mappings", (tmp_ / "nn.json").string(),
                                     "--task-settings", (tmp_ / "skip.json").string(),
                                     "--no-progress"};
    if (!mysql) {
      args.push_back("--target-schema");
      args.push_back("it_cli_nn");
    }
    CliRun r = RunFerry(args);
    EXPECT_EQ(r.exit_code, 0) << target << r.out << r.err;
    EXPECT_NE(r.err.find("column \"k\" is NOT NULL on target table it_cli_nn.t and the value is "
                         "NULL"),
              std::string::npos)
        << target << r.err;
    EXPECT_NE(r.err.find("(k=NULL)"), std::string::npos) << target << r.err;
    EXPECT_EQ(admin->Query("SELECT count(*) FROM it_cli_nn.t")[0][0].value_or(""), "2")
        << target << ": the other rows arrive";
    admin->Execute(mysql ? "DROP DATABASE it_cli_nn" : "DROP SCHEMA it_cli_nn CASCADE");
  }
}

TEST_F(Cli, SummaryJsonAndHashAgree) {
  auto src = Open(Lite("a.db"))->OpenSession();
  src->Execute(
      "CREATE TABLE t1 (id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO t1 VALUES (1, 'a'), (2, NULL), (3, '');"
      "CREATE TABLE t2 (k VARCHAR(10) NOT NULL, n NUMERIC(10,2));"
      "CREATE UNIQUE INDEX t2_k ON t2 (k);"
      "INSERT INTO t2 VALUES ('x', 1.5), ('y', NULL)");
  CliRun r = RunFerry(
      {"migrate", "--source", Lite("a.db"), "--target", Lite("b.db"), "--json", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json["TableStatistics"].size(), 2u);
  for (const auto& t : json["TableStatistics"]) {
    EXPECT_EQ(t["TableState"], "Table completed");
    EXPECT_FALSE(t["FullLoadStartTime"].template get<std::string>().empty());
    EXPECT_FALSE(t["FullLoadEndTime"].template get<std::string>().empty());
  }
  CliRun a = RunFerry({"hash", Lite("a.db")});
  CliRun b = RunFerry({"hash", Lite("b.db")});
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
  // Without a primary key, the unique index came across.
  TableDef t2 = Open(Lite("b.db"))->OpenCatalog()->GetTable("main", "t2");
  ASSERT_EQ(t2.unique_indexes.size(), 1u);
  EXPECT_EQ(t2.unique_indexes[0].columns, std::vector<std::string>{"k"});
  EXPECT_FALSE(t2.columns[0].nullable);
  // Running again with DO_NOTHING onto the loaded table fails on the primary key, and says so.
  r = RunFerry({"migrate", "--source", Lite("a.db"), "--target", Lite("b.db"), "--tables", "t1",
                "--no-progress"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Table error"), std::string::npos) << r.out;
}

// A MySQL target database that does not exist yet is created, like a PostgreSQL schema.
TEST_F(Cli, MissingMysqlTargetDatabaseIsCreated) {
  FERRY_REQUIRE_MYSQL();
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute("DROP DATABASE IF EXISTS it_cli_newdb");
  Open(Lite("s.db"))->OpenSession()->Execute(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x')");
  CliRun r = RunFerry({"migrate", "--source", Lite("s.db"), "--target",
                       WithDatabase(MysqlUri(), "it_cli_newdb"), "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("target database 'it_cli_newdb' does not exist yet"), std::string::npos)
      << r.err;
  auto rows = admin->Query("SELECT v FROM it_cli_newdb.t");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "x");
  admin->Execute("DROP DATABASE it_cli_newdb");
}

// DMS task settings: a bad file stops everything before any connection, with file, JSON path
// and what was expected; a good one sets prep mode, target schema and parallelism.
TEST_F(Cli, TaskSettingsAreValidatedAndHonoured) {
  {
    std::ofstream(tmp_ / "bad.json") << R"({"FullLoadSettings": {"TargetTablePrepMode": "WIPE"}})";
  }
  CliRun r = RunFerry({"migrate", "--source", "postgresql://u:pw@127.0.0.1:1/x", "--target",
                       Lite("t.db"), "--task-settings", (tmp_ / "bad.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.json: FullLoadSettings.TargetTablePrepMode"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("DROP_AND_CREATE"), std::string::npos) << r.err;  // lists the choices
  EXPECT_EQ(r.err.find("127.0.0.1:1"), std::string::npos) << "connected before validating";
  {
    std::ofstream(tmp_ / "unknown.json") << R"({"FullLoadSettings": {"CommitRat": 5}})";
  }
  r = RunFerry({"settings", "--normalize", (tmp_ / "unknown.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("FullLoadSettings.CommitRat"), std::string::npos) << r.err;

  r = RunFerry({"settings", "--normalize"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto defaults = nlohmann::json::parse(r.out);
  EXPECT_EQ(defaults["FullLoadSettings"]["CommitRate"], 10000);
  EXPECT_EQ(defaults["FullLoadSettings"]["TargetTablePrepMode"], "DO_NOTHING");
  EXPECT_EQ(defaults["ErrorBehavior"]["DataErrorPolicy"], "LOG_ERROR");
  EXPECT_EQ(r.out, RunFerry({"settings"}).out) << "normalised output must be stable";
  // stderr says which keys are acted on and which are only accepted.
  EXPECT_NE(r.err.find("Honoured by Ferry ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ErrorBehavior.DataErrorPolicy"), std::string::npos) << r.err;
  const size_t not_acted = r.err.find("Accepted and checked, not acted on (");
  ASSERT_NE(not_acted, std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TTSettings.EnableTT", not_acted), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ErrorBehavior.EventErrorPolicy", not_acted), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("ErrorBehavior.DataErrorPolicy", not_acted), std::string::npos) << r.err;

  FERRY_REQUIRE_POSTGRES();
  Open(Lite("s.db"))->OpenSession()->Execute(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x')");
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute("DROP SCHEMA IF EXISTS it_cli_settings CASCADE");
  {
    std::ofstream(tmp_ / "good.json") << R"({
      "TargetMetadata": {"TargetSchema": "it_cli_settings"},
      "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE", "MaxFullLoadSubTasks": 3}})";
  }
  for (int run = 0; run < 2; ++run) {  // twice: DROP_AND_CREATE makes the rerun succeed
    r = RunFerry({"migrate", "--source", Lite("s.db"), "--target", PostgresUri(), "--task-settings",
                  (tmp_ / "good.json").string(), "--no-progress"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  EXPECT_NE(r.err.find("DROP_AND_CREATE, 3 at a time"), std::string::npos) << r.err;
  auto rows = pg->Query("SELECT v FROM it_cli_settings.t");
  ASSERT_EQ(rows.size(), 1u);
  pg->Execute("DROP SCHEMA it_cli_settings CASCADE");
}

// DMS table mappings end to end: selection with filters, exclusion by omission, schema
// rename, case conversion, column rename and removal; and a bad rule stops before anything.
TEST_F(Cli, TableMappingsSelectFilterAndRename) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute(R"(
      DROP SCHEMA IF EXISTS it_map_src CASCADE; DROP SCHEMA IF EXISTS it_map_dst CASCADE;
      CREATE SCHEMA it_map_src;
      CREATE TABLE it_map_src."Customers" (id int PRIMARY KEY, "Name" text, "Secret" text,
                                           "Country" char(2));
      INSERT INTO it_map_src."Customers" VALUES (1, 'Ada', 's1', 'DE'), (2, 'Bob', 's2', 'FR'),
                                                (3, 'Cy', 's3', 'DE'), (4, 'Di', 's4', NULL);
      CREATE TABLE it_map_src."Orders" (id int PRIMARY KEY, cust int, amount numeric(10,2));
      INSERT INTO it_map_src."Orders" VALUES (1, 1, 5), (2, 1, 10), (3, 3, 15.5), (4, 2, 20),
                                             (5, 2, 20.01);
      CREATE TABLE it_map_src.temp_x (id int PRIMARY KEY);)");
  {
    std::ofstream(tmp_ / "map.json") << R"({"rules": [
      {"rule-type": "selection", "rule-id": "1", "rule-name": "de-customers",
       "object-locator": {"schema-name": "it_map_src", "table-name": "Customers"},
       "rule-action": "include",
       "filters": [{"filter-type": "source", "column-name": "Country",
                    "filter-conditions": [{"filter-operator": "eq", "value": "DE"}]}]},
      {"rule-type": "selection", "rule-id": "2", "rule-name": "mid-orders",
       "object-locator": {"schema-name": "it_map_src", "table-name": "Ord%"},
       "rule-action": "include", "load-order": "2",
       "filters": [{"filter-type": "source", "column-name": "amount",
                    "filter-conditions": [{"filter-operator": "between",
                                           "start-value": "10", "end-value": "20"}]}]},
      {"rule-type": "transformation", "rule-id": "10", "rule-name": "schema",
       "rule-target": "schema", "object-locator": {"schema-name": "it_map_src"},
       "rule-action": "rename", "value": "it_map_dst"},
      {"rule-type": "transformation", "rule-id": "11", "rule-name": "lower-tables",
       "rule-target": "table", "object-locator": {"schema-name": "%", "table-name": "%"},
       "rule-action": "convert-lowercase"},
      {"rule-type": "transformation", "rule-id": "12", "rule-name": "lower-customer-cols",
       "rule-target": "column",
       "object-locator": {"schema-name": "%", "table-name": "Customers", "column-name": "%"},
       "rule-action": "convert-lowercase"},
      {"rule-type": "transformation", "rule-id": "13", "rule-name": "drop-secret",
       "rule-target": "column",
       "object-locator": {"schema-name": "%", "table-name": "Customers", "column-name": "Secret"},
       "rule-action": "remove-column"},
      {"rule-type": "transformation", "rule-id": "14", "rule-name": "amount-total",
       "rule-target": "column",
       "object-locator": {"schema-name": "%", "table-name": "Orders", "column-name": "amount"},
       "rule-action": "rename", "value": "total"}]})";
  }
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--target", PostgresUri(),
                       "--table-mappings", (tmp_ / "map.json").string(), "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("temp_x"), std::string::npos) << r.out;
  auto customers = pg->Query("SELECT id, name, country FROM it_map_dst.customers ORDER BY id");
  ASSERT_EQ(customers.size(), 2u);
  EXPECT_EQ(customers[0][1].value_or(""), "Ada");
  EXPECT_EQ(customers[1][1].value_or(""), "Cy");
  auto secret = pg->Query(
      "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'it_map_dst' "
      "AND lower(column_name) = 'secret'");
  EXPECT_EQ(secret[0][0].value_or(""), "0");
  auto orders = pg->Query("SELECT id, total FROM it_map_dst.orders ORDER BY id");
  ASSERT_EQ(orders.size(), 3u);
  EXPECT_EQ(orders[1][1].value_or(""), "15.50");
  auto pk = pg->Query(
      "SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = "
      "'it_map_dst' AND constraint_type = 'PRIMARY KEY'");
  EXPECT_EQ(pk[0][0].value_or(""), "2");

  // A rule naming a column the table does not have: the error names file and rule-id, and
  // nothing is created.
  pg->Execute("DROP SCHEMA it_map_dst CASCADE");
  {
    std::ofstream(tmp_ / "bad.json") << R"({"rules": [
      {"rule-type": "selection", "rule-id": "1", "rule-name": "all",
       "object-locator": {"schema-name": "it_map_src", "table-name": "%"},
       "rule-action": "include"},
      {"rule-type": "transformation", "rule-id": "7", "rule-name": "typo",
       "rule-target": "column",
       "object-locator": {"schema-name": "it_map_src", "table-name": "Customers",
                          "column-name": "Nmae"},
       "rule-action": "remove-column"}]})";
  }
  r = RunFerry({"migrate", "--source", PostgresUri(), "--target", PostgresUri(), "--target-schema",
                "it_map_dst", "--table-mappings", (tmp_ / "bad.json").string(), "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rule-id 7"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Nmae"), std::string::npos) << r.err;
  auto created = pg->Query(
      "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'it_map_dst'");
  EXPECT_EQ(created[0][0].value_or(""), "0");
  pg->Execute("DROP SCHEMA it_map_src CASCADE");
}

TEST_F(Cli, BadPrepModeIsExplained) {
  CliRun r = RunFerry({"migrate", "--source", Lite("a.db"), "--target", Lite("b.db"),
                       "--target-table-prep-mode", "WIPE"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("expected DO_NOTHING, DROP_AND_CREATE or TRUNCATE_BEFORE_LOAD"),
            std::string::npos)
      << r.err;
}

// Numbers out of range and inputs that are not JSON files are refused before anything
// happens, each with what was expected (issue 11, case 10; the old code accepted the numbers,
// said "internal error: basic_filebuf::underflow" for a directory and read /dev/zero until it
// ran out of memory).
TEST_F(Cli, FlagsOutOfRangeAndNonFilesAreRefused) {
  const std::vector<std::string> base{"migrate", "--source", Lite("a.db"), "--target",
                                      Lite("b.db")};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return RunFerry(a);
  };
  struct Case {
    std::vector<std::string> flags;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--parallel", "0"}, "--parallel 0: expected the number of tables loaded at once, 1 to 256"},
      {{"--parallel", "-3"}, "--parallel -3: expected"},
      {{"--batch-rows", "0"}, "--batch-rows 0: expected rows per batch, 1 to 10000000"},
      {{"--heartbeat", "-5"}, "--heartbeat -5: expected seconds between heartbeats, 0 (off) or more"},
      {{"--table-mappings", tmp_.string()}, "table mappings '" + tmp_.string() + "' is a directory"},
      {{"--task-settings", "/dev/zero"}, "'/dev/zero' is not a regular file"},
  };
  for (const Case& c : cases) {
    const CliRun r = with(c.flags);
    EXPECT_EQ(r.exit_code, 2) << c.flags[0] << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp_ / "b.db")) << "nothing may be created for bad flags";
  CliRun r = RunFerry({"settings", "/dev/zero"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("task settings '/dev/zero' is not a regular file"), std::string::npos)
      << r.err;
}

// Selection that matches nothing says which selection, and what the source has (issue 11,
// case 10: the old message said "the source has no user tables" for a source with tables).
TEST_F(Cli, NothingSelectedSaysWhyAndWhatExists) {
  {
    sqlite::Connection db((tmp_ / "a.db").string(), sqlite::Connection::Mode::kReadWrite);
    db.Exec("CREATE TABLE alpha (id integer PRIMARY KEY); CREATE TABLE beta (id integer)");
  }
  std::ofstream(tmp_ / "none.json") << R"({"rules": [
      {"rule-type": "selection", "rule-id": "1", "rule-name": "none",
       "object-locator": {"schema-name": "%", "table-name": "zzz%"},
       "rule-action": "include"}]})";
  CliRun r = RunFerry({"migrate", "--source", Lite("a.db"), "--target", Lite("b.db"),
                       "--table-mappings", (tmp_ / "none.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("matched none of the 2 table(s) in scope; it has 2 table(s): main.alpha, "
                       "main.beta"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("has no user tables"), std::string::npos) << r.err;
  if (PostgresUri().empty()) return;
  r = RunFerry({"migrate", "--source", PostgresUri(), "--target", Lite("b.db"), "--schema",
                "it_no_such_schema"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--schema 'it_no_such_schema' has no user tables; it has "),
            std::string::npos)
      << r.err;
}

// The table-mapping rules a refusal suggests (each at the end of a line), as a mappings
// document.
std::string MappingsFromSuggestions(const std::string& message) {
  nlohmann::json doc;
  for (size_t at = message.find("{\"rule-type\""); at != std::string::npos;
       at = message.find("{\"rule-type\"", at + 1)) {
    const size_t end = message.find('\n', at);
    doc["rules"].push_back(nlohmann::json::parse(
        message.substr(at, end == std::string::npos ? std::string::npos : end - at)));
  }
  return doc.dump();
}

// Source tables or columns the target would merge or cut (SQLite folds ASCII case, MySQL
// folds column names, PostgreSQL cuts at 63 bytes) are refused before anything is created,
// and the rules the message suggests make the same migration go through.
TEST_F(Cli, NamesTheTargetWouldMergeOrCutAreRefusedWithTheRuleThatFixesThem) {
  FERRY_REQUIRE_POSTGRES();
  std::unique_ptr<SqlConnector> pg = Open(PostgresUri());
  std::unique_ptr<SqlSession> sql = pg->OpenSession();
  sql->Execute(R"(DROP SCHEMA IF EXISTS it_names CASCADE; CREATE SCHEMA it_names;
      CREATE TABLE it_names."Dup" (id int PRIMARY KEY, v text);
      CREATE TABLE it_names.dup (id int PRIMARY KEY, w text);
      CREATE TABLE it_names.cols (id int PRIMARY KEY, "A" int, a int);
      INSERT INTO it_names."Dup" VALUES (1, 'upper'), (2, 'upper');
      INSERT INTO it_names.dup VALUES (1, 'lower');
      INSERT INTO it_names.cols VALUES (1, 10, 20);)");
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--schema", "it_names", "--target",
                       Lite("folded.db")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("source table it_names.Dup and source table it_names.dup would both be "
                       "target table main.Dup: on the target, SQLite treats table names that "
                       "differ only in ASCII letter case as one; rename it with a table-mapping "
                       "rule such as {\"rule-type\":\"transformation\",\"rule-id\":\"3\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("source column it_names.cols.A and source column it_names.cols.a would "
                       "both be target column 'A' of target table main.cols"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Table-mapping rules go in a --table-mappings file, beside a selection "
                       "rule such as {\"rule-type\":\"selection\",\"rule-id\":\"1\""),
            std::string::npos)
      << r.err;
  if (fs::exists(tmp_ / "folded.db")) {
    sqlite::Connection db((tmp_ / "folded.db").string(), sqlite::Connection::Mode::kReadOnly);
    EXPECT_EQ(db.QueryInt("SELECT count(*) FROM sqlite_schema"), 0) << "nothing was created";
  }
  // The suggested rules, added to a selection of the schema, make it go through with every row.
  std::ofstream(tmp_ / "fix.json") << MappingsFromSuggestions(r.err);
  r = RunFerry({"migrate", "--source", PostgresUri(), "--target", Lite("folded.db"),
                "--table-mappings", (tmp_ / "fix.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    sqlite::Connection db((tmp_ / "folded.db").string(), sqlite::Connection::Mode::kReadOnly);
    EXPECT_EQ(db.QueryInt("SELECT count(*) FROM \"Dup\" WHERE v = 'upper'"), 2);
    EXPECT_EQ(db.QueryInt("SELECT count(*) FROM dup_2 WHERE w = 'lower'"), 1);
    EXPECT_EQ(db.QueryInt("SELECT \"A\" * 100 + a_2 FROM cols"), 1020);
  }
  if (!MysqlUri().empty()) {
    // MySQL keeps table names apart (lower_case_table_names=0) but folds column names.
    r = RunFerry({"migrate", "--source", PostgresUri(), "--schema", "it_names", "--target",
                  WithDatabase(MysqlUri(), "it_names_my")});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("1 target name(s) would be changed or merged"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("target column 'A' of target table it_names_my.cols: on the target, "
                         "MySQL and MariaDB treat column names that differ only in letter case "
                         "as one"),
              std::string::npos)
        << r.err;
  }
  // A SQLite source with names longer than PostgreSQL keeps.
  const std::string long_a = std::string(63, 'n') + "_first";
  const std::string long_b = std::string(63, 'n') + "_second";
  const std::string long_col = std::string(64, 'c');
  {
    sqlite::Connection db((tmp_ / "long.db").string(), sqlite::Connection::Mode::kReadWrite);
    db.Exec(fmt::format("CREATE TABLE {} (id integer PRIMARY KEY); CREATE TABLE {} (id integer "
                        "PRIMARY KEY, {} text); INSERT INTO {} VALUES (1, 'kept');",
                        long_a, long_b, long_col, long_b));
  }
  sql->Execute("DROP SCHEMA IF EXISTS it_names_long CASCADE");
  r = RunFerry({"migrate", "--source", Lite("long.db"), "--target", PostgresUri(),
                "--target-schema", "it_names_long"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("source column main." + long_b + "." + long_col + " would be target "
                       "column '" + long_col + "', but the name is 64 bytes long; PostgreSQL "
                       "keeps only the first 63 bytes of a name"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("3 target name(s)"), std::string::npos) << r.err;
  EXPECT_TRUE(pg->OpenSession()
                  ->Query("SELECT 1 FROM pg_namespace WHERE nspname = 'it_names_long'")
                  .empty())
      << "nothing was created";
  std::ofstream(tmp_ / "long.json") << MappingsFromSuggestions(r.err);
  r = RunFerry({"migrate", "--source", Lite("long.db"), "--target", PostgresUri(),
                "--target-schema", "it_names_long", "--table-mappings",
                (tmp_ / "long.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = pg->OpenSession()->Query(
      fmt::format("SELECT {} FROM it_names_long.{}_2", std::string(63, 'c'),
                  std::string(61, 'n')));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "kept");
  sql->Execute("DROP SCHEMA it_names CASCADE; DROP SCHEMA it_names_long CASCADE");
}

// Passwords need not be in the URI (where ps shows them for a CDC task's whole life): a
// password file, PGPASSWORD and MYSQL_PWD work, and the URI's own password is blanked out of
// the process's argument list.
TEST_F(Cli, PasswordsFromFilesAndEnvironmentAndNeverInTheProcessList) {
  FERRY_REQUIRE_POSTGRES();
  EndpointUri pg = ParseEndpointUri(PostgresUri()).ValueOrThrow();
  ASSERT_FALSE(pg.password.empty());
  const std::string bare = fmt::format("postgresql://{}@{}:{}/{}", pg.user, pg.host,
                                       pg.PortOrDefault(), pg.database);
  std::ofstream(tmp_ / "pw") << pg.password << "\n";
  fs::permissions(tmp_ / "pw", fs::perms::owner_read | fs::perms::owner_write);
  CliRun r = RunFerry({"catalog", bare, "--password-file", (tmp_ / "pw").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("can be read by other users"), std::string::npos) << r.err;
  // A password in the URI and a file: refused, neither shown.
  r = RunFerry({"catalog", PostgresUri(), "--password-file", (tmp_ / "pw").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has a password and a password file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(":" + pg.password + "@"), std::string::npos) << r.err;
  std::ofstream(tmp_ / "empty_pw") << "\n";
  r = RunFerry({"catalog", bare, "--password-file", (tmp_ / "empty_pw").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is empty; its first line is the password"), std::string::npos) << r.err;
  // Without any, libpq's PGPASSWORD.
  ::setenv("PGPASSWORD", pg.password.c_str(), 1);
  r = RunFerry({"catalog", bare});
  ::unsetenv("PGPASSWORD");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (!MysqlUri().empty()) {
    EndpointUri my = ParseEndpointUri(MysqlUri()).ValueOrThrow();
    ::setenv("MYSQL_PWD", my.password.c_str(), 1);
    r = RunFerry({"catalog", fmt::format("mysql://{}@{}:{}/{}", my.user, my.host,
                                         my.PortOrDefault(), my.database)});
    ::unsetenv("MYSQL_PWD");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  // A long-running task: its URI password is gone from /proc/<pid>/cmdline.
  auto admin = Open(PostgresUri())->OpenSession();
  admin->Execute("DROP SCHEMA IF EXISTS it_cli_pw CASCADE; CREATE SCHEMA it_cli_pw;"
                 "CREATE TABLE it_cli_pw.t (id int PRIMARY KEY)");
  const std::string uri_arg = PostgresUri();
  FerryProcess p = StartFerry({"migrate", "--source", uri_arg, "--target", Lite("pw.db"),
                               "--schema", "it_cli_pw", "--migration-type", "cdc", "--data-dir",
                               (tmp_ / "state").string(), "--task-name", "pwtask",
                               "--no-progress"});
  std::string cmdline;
  for (int i = 0; i < 100 && Running(p); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(fmt::format("/proc/{}/cmdline", p.pid), std::ios::binary);
    cmdline.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (cmdline.find("it_cli_pw") != std::string::npos &&
        cmdline.find(":" + pg.password + "@") == std::string::npos) {
      break;
    }
  }
  EXPECT_NE(cmdline.find("it_cli_pw"), std::string::npos) << "read the running task's cmdline";
  EXPECT_EQ(cmdline.find(":" + pg.password + "@"), std::string::npos) << cmdline;
  EXPECT_NE(cmdline.find(":" + std::string(pg.password.size(), 'x') + "@"), std::string::npos)
      << cmdline;
  ::kill(p.pid, SIGINT);
  WaitFerry(p);
  r = RunFerry({"delete-task", "--task-name", "pwtask", "--data-dir", (tmp_ / "state").string(),
                "--source", PostgresUri()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  admin->Execute("DROP SCHEMA it_cli_pw CASCADE");
}

}  // namespace
}  // namespace ferry::testing
