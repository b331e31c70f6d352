// ErrorBehavior on the real servers: data-error policies on a column of values the MariaDB
// target rejects (PostgreSQL BC dates), STOP_TASK through the binary, escalation,
// CreatePkAfterFullLoad on every target, and recoverable errors (a killed source or target
// connection mid-load is retried and the table reloads).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "task_model/error_policy.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// 1,000 rows, ten of them (id % 100 = 42) with a BC date MariaDB cannot hold; plus a clean
// table of 500 rows.
void CreateBadSource() {
  Open(PostgresUri())->OpenSession()->Execute(R"(
      DROP SCHEMA IF EXISTS errors_it CASCADE; CREATE SCHEMA errors_it;
      CREATE TABLE errors_it.bad (id int PRIMARY KEY, born date);
      INSERT INTO errors_it.bad SELECT i, CASE WHEN i % 100 = 42 THEN '0044-03-15 BC'::date
          ELSE '2000-01-01'::date + i END FROM generate_series(1, 1000) i;
      CREATE TABLE errors_it.good (id int PRIMARY KEY, v text);
      INSERT INTO errors_it.good SELECT i, 'v' || i FROM generate_series(1, 500) i;)");
  Open(MysqlUri())->OpenSession()->Execute(
      "DROP DATABASE IF EXISTS errors_it; CREATE DATABASE errors_it");
}

std::unique_ptr<FullLoad> Load(
    SqlConnector& source, const std::string& schema, SqlConnector& target,
    const std::string& target_schema, FullLoadOptions options,
    const std::function<void(FullLoad&, std::atomic<bool>&)>& during = {}) {
  std::vector<TableDef> defs = source.OpenCatalog()->ListTables(schema);
  std::vector<TablePlan> plans = PlanTables(defs, source.engine(), target, target_schema, {});
  auto load = std::make_unique<FullLoad>(source, target, std::move(plans), std::move(options));
  std::atomic<bool> done{false};
  std::thread side;
  if (during) side = std::thread([&] { during(*load, done); });
  load->Run();
  done = true;
  if (side.joinable()) side.join();
  return load;
}

TableStats& Stats(FullLoad& load, const std::string& table) {
  for (const auto& st : load.stats()) {
    if (st->source_table == table) return *st;
  }
  throw std::runtime_error("no table " + table);
}

std::string StateOf(TableStats& st) {
  MutexLock lock(st.mu);
  return st.state + (st.error.empty() ? "" : ": " + st.error);
}

int64_t MyCount(const std::string& table) {
  auto rows = Open(MysqlUri())->OpenSession()->Query("SELECT count(*) FROM " + table);
  return std::stoll(rows[0][0].value_or("-1"));
}

FullLoadOptions WithPolicy(ErrorPolicy data, int64_t escalation_count = 0,
                           ErrorPolicy escalation = ErrorPolicy::kSuspendTable) {
  FullLoadOptions o;
  o.prep_mode = TablePrepMode::kDropAndCreate;
  o.parallel = 2;
  o.error_behavior = ErrorBehavior{};
  o.error_behavior.data_error_policy = data;
  o.error_behavior.data_error_escalation_count = escalation_count;
  o.error_behavior.data_error_escalation_policy = escalation;
  return o;
}

class ErrorBehaviorData : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PostgresUri().empty() || MysqlUri().empty()) {
      GTEST_SKIP() << "FERRY_TEST_PG_URI and FERRY_TEST_MYSQL_URI must be set (scripts/servers.sh)";
    }
    CreateBadSource();
    source_ = Open(PostgresUri());
    target_ = Open(WithDatabase(MysqlUri(), "errors_it"));
  }
  void TearDown() override {
    if (PostgresUri().empty() || MysqlUri().empty()) return;
    Open(PostgresUri())->OpenSession()->Execute("DROP SCHEMA IF EXISTS errors_it CASCADE");
    Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS errors_it");
  }
  std::unique_ptr<SqlConnector> source_, target_;
};

TEST_F(ErrorBehaviorData, LogErrorSkipsTheBadRowsAndLogsThem) {
  auto load = Load(*source_, "errors_it", *target_, "errors_it", WithPolicy(ErrorPolicy::kLogError));
  TableStats& bad = Stats(*load, "bad");
  EXPECT_EQ(StateOf(bad), kStateCompleted);
  EXPECT_EQ(bad.full_load_rows, 990);
  EXPECT_EQ(bad.full_load_error_rows, 10);
  EXPECT_EQ(MyCount("errors_it.bad"), 990);
  int skipped = 0;
  bool saw_42 = false;
  {
    MutexLock lock(bad.mu);
    for (const auto& [what, n] : bad.warnings) {
      if (what.rfind("row skipped: column born, row (id=", 0) == 0) skipped += static_cast<int>(n);
      if (what.find("row (id=42)") != std::string::npos &&
          what.find("0044-03-15 BC") != std::string::npos) {
        saw_42 = true;
      }
    }
  }
  EXPECT_EQ(skipped, 10);
  EXPECT_TRUE(saw_42);
  EXPECT_EQ(StateOf(Stats(*load, "good")), kStateCompleted);
  EXPECT_EQ(MyCount("errors_it.good"), 500);
}

TEST_F(ErrorBehaviorData, IgnoreRecordOnlyCounts) {
  auto load =
      Load(*source_, "errors_it", *target_, "errors_it", WithPolicy(ErrorPolicy::kIgnoreRecord));
  TableStats& bad = Stats(*load, "bad");
  EXPECT_EQ(StateOf(bad), kStateCompleted);
  EXPECT_EQ(bad.full_load_rows, 990);
  EXPECT_EQ(bad.full_load_error_rows, 10);
  EXPECT_EQ(MyCount("errors_it.bad"), 990);
  MutexLock lock(bad.mu);
  EXPECT_TRUE(bad.warnings.empty());
}

TEST_F(ErrorBehaviorData, SuspendTableFailsOnlyThatTable) {
  auto load =
      Load(*source_, "errors_it", *target_, "errors_it", WithPolicy(ErrorPolicy::kSuspendTable));
  TableStats& bad = Stats(*load, "bad");
  const std::string state = StateOf(bad);
  EXPECT_EQ(state.rfind(kStateError, 0), 0u) << state;
  EXPECT_NE(state.find("column born, row (id=42)"), std::string::npos) << state;
  EXPECT_EQ(bad.full_load_error_rows, 1);
  EXPECT_EQ(StateOf(Stats(*load, "good")), kStateCompleted);
  EXPECT_EQ(MyCount("errors_it.good"), 500);
}

TEST_F(ErrorBehaviorData, EscalationAfterTwoErrorsSuspendsTheTable) {
  auto load = Load(*source_, "errors_it", *target_, "errors_it",
                   WithPolicy(ErrorPolicy::kLogError, 2, ErrorPolicy::kSuspendTable));
  TableStats& bad = Stats(*load, "bad");
  const std::string state = StateOf(bad);
  EXPECT_EQ(state.rfind(kStateError, 0), 0u) << state;
  EXPECT_NE(state.find("row (id=142)"), std::string::npos) << state;  // the second bad row
  EXPECT_EQ(bad.full_load_error_rows, 2);
  EXPECT_EQ(load->error_policies().DataErrors("errors_it.bad"), 2);
  EXPECT_EQ(StateOf(Stats(*load, "good")), kStateCompleted);
}

TEST_F(ErrorBehaviorData, EscalationToStopTaskStopsTheTask) {
  FullLoadOptions o = WithPolicy(ErrorPolicy::kLogError, 2, ErrorPolicy::kStopTask);
  o.parallel = 1;  // "bad" (the larger) loads first; "good" never starts
  auto load = Load(*source_, "errors_it", *target_, "errors_it", o);
  EXPECT_EQ(StateOf(Stats(*load, "bad")).rfind(kStateError, 0), 0u);
  EXPECT_EQ(StateOf(Stats(*load, "good")), kStateBeforeLoad);
  EXPECT_NE(load->stop_reason().find("DataErrorEscalationPolicy STOP_TASK"), std::string::npos)
      << load->stop_reason();
}

TEST_F(ErrorBehaviorData, StopTaskThroughTheBinaryExitsOne) {
  const fs::path settings =
      fs::temp_directory_path() / fmt::format("ferry-errors-{}.json", ::getpid());
  std::ofstream(settings) << R"({"FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE",
      "MaxFullLoadSubTasks": 1}, "ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}})";
  CliRun r = RunFerry({"migrate", "--source", PostgresUri(), "--schema", "errors_it", "--target",
                       WithDatabase(MysqlUri(), "errors_it"), "--task-settings", settings.string(),
                       "--no-progress"});
  fs::remove(settings);
  r.out += r.err;  // the summary and the log read as one
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("Task stopped: table errors_it.bad: column born, row (id=42)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("DataErrorPolicy STOP_TASK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kStateBeforeLoad), std::string::npos) << r.out;  // "good" never started
}

// --- CreatePkAfterFullLoad -------------------------------------------------------------------

class ErrorBehaviorPk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PostgresUri().empty() || MysqlUri().empty()) {
      GTEST_SKIP() << "FERRY_TEST_PG_URI and FERRY_TEST_MYSQL_URI must be set (scripts/servers.sh)";
    }
    Open(PostgresUri())->OpenSession()->Execute(R"(
        DROP SCHEMA IF EXISTS errors_pk_src CASCADE; CREATE SCHEMA errors_pk_src;
        DROP SCHEMA IF EXISTS errors_pk CASCADE;
        CREATE TABLE errors_pk_src.pk (id int, k varchar(10), v text, PRIMARY KEY (id, k));
        INSERT INTO errors_pk_src.pk SELECT i, 'k' || (i % 3), 'v' || i
            FROM generate_series(1, 3000) i;)");
    Open(MysqlUri())->OpenSession()->Execute(
        "DROP DATABASE IF EXISTS errors_pk; CREATE DATABASE errors_pk");
    tmp_ = fs::temp_directory_path() / fmt::format("ferry-it-errors-{}", ::getpid());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    if (PostgresUri().empty() || MysqlUri().empty()) return;
    Open(PostgresUri())->OpenSession()->Execute(
        "DROP SCHEMA IF EXISTS errors_pk_src CASCADE; DROP SCHEMA IF EXISTS errors_pk CASCADE");
    Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS errors_pk");
    fs::remove_all(tmp_);
  }
  FullLoadOptions Options() {
    FullLoadOptions o;
    o.prep_mode = TablePrepMode::kDropAndCreate;
    o.create_pk_after_load = true;
    return o;
  }
  fs::path tmp_;
};

TEST_F(ErrorBehaviorPk, PostgresTargetGetsThePrimaryKeyAfterTheLoad) {
  auto source = Open(PostgresUri());
  auto target = Open(PostgresUri());
  auto load = Load(*source, "errors_pk_src", *target, "errors_pk", Options());
  ASSERT_EQ(LoadFailures(*load), "");
  auto rows = target->OpenSession()->Query(
      "SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_constraint c "
      "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
      "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (c.conkey) "
      "WHERE n.nspname = 'errors_pk' AND t.relname = 'pk' AND c.contype = 'p'");
  EXPECT_EQ(rows[0][0].value_or(""), "id,k");
  EXPECT_EQ(Stats(*load, "pk").full_load_rows, 3000);
}

TEST_F(ErrorBehaviorPk, MariadbTargetGetsThePrimaryKeyAfterTheLoad) {
  auto source = Open(PostgresUri());
  auto target = Open(WithDatabase(MysqlUri(), "errors_pk"));
  auto load = Load(*source, "errors_pk_src", *target, "errors_pk", Options());
  ASSERT_EQ(LoadFailures(*load), "");
  auto rows = Open(MysqlUri())->OpenSession()->Query(
      "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM "
      "information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = 'errors_pk' AND "
      "TABLE_NAME = 'pk' AND CONSTRAINT_NAME = 'PRIMARY'");
  EXPECT_EQ(rows[0][0].value_or(""), "id,k");
  EXPECT_EQ(MyCount("errors_pk.pk"), 3000);
}

TEST_F(ErrorBehaviorPk, SqliteTargetGetsAUniqueIndexInstead) {
  auto source = Open(PostgresUri());
  auto target = Open("sqlite://" + (tmp_ / "pk.db").string());
  auto load = Load(*source, "errors_pk_src", *target, "", Options());
  ASSERT_EQ(LoadFailures(*load), "");
  auto rows = target->OpenSession()->Query(
      "SELECT il.\"unique\", group_concat(ii.name, ',') FROM pragma_index_list('pk') il, "
      "pragma_index_info(il.name) ii WHERE il.name = 'pk_pkey'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "1");
  EXPECT_EQ(rows[0][1].value_or(""), "id,k");
}

TEST_F(ErrorBehaviorPk, DuplicateKeyFailsTheTableWithTheServerMessage) {
  Open(PostgresUri())->OpenSession()->Execute(
      "CREATE TABLE errors_pk_src.dup (id int, v text);"
      "INSERT INTO errors_pk_src.dup VALUES (1, 'a'), (2, 'b'), (1, 'c')");
  auto source = Open(PostgresUri());
  auto target = Open(PostgresUri());
  TableDef def = source->OpenCatalog()->GetTable("errors_pk_src", "dup");
  std::vector<TablePlan> plans = PlanTables({def}, source->engine(), *target, "errors_pk", {});
  ASSERT_EQ(plans.size(), 1u);
  plans[0].target.primary_key = {"id"};  // as define-primary-key would
  FullLoad load(*source, *target, plans, Options());
  load.Run();
  const std::string state = StateOf(*load.stats()[0]);
  EXPECT_EQ(state.rfind(kStateError, 0), 0u) << state;
  EXPECT_NE(state.find("primary key"), std::string::npos) << state;
  EXPECT_NE(state.find("duplicate"), std::string::npos) << state;
}

// --- Recoverable errors ----------------------------------------------------------------------

std::string WithParam(const std::string& uri, const std::string& param) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + param;
}

constexpr int64_t kBigRows = 300'000;

class ErrorBehaviorRecoverable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (PostgresUri().empty() || MysqlUri().empty()) return;
    Open(PostgresUri())->OpenSession()->Execute(fmt::format(R"(
        DROP SCHEMA IF EXISTS errors_rec CASCADE; CREATE SCHEMA errors_rec;
        CREATE TABLE errors_rec.big (id int PRIMARY KEY, pad text);
        INSERT INTO errors_rec.big SELECT i, repeat('x', 100) || i
            FROM generate_series(1, {}) i;)", kBigRows));
    Open(MysqlUri())->OpenSession()->Execute(fmt::format(
        "DROP DATABASE IF EXISTS errors_rec; CREATE DATABASE errors_rec;"
        "CREATE TABLE errors_rec.big (id int PRIMARY KEY, pad text);"
        "INSERT INTO errors_rec.big SELECT seq, CONCAT(REPEAT('x', 100), seq) "
        "FROM seq_1_to_{}", kBigRows));
  }
  static void TearDownTestSuite() {
    if (PostgresUri().empty() || MysqlUri().empty()) return;
    Open(PostgresUri())->OpenSession()->Execute(
        "DROP SCHEMA IF EXISTS errors_rec CASCADE; DROP SCHEMA IF EXISTS errors_rec_dst CASCADE");
    Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS errors_rec");
  }
  void SetUp() override {
    if (PostgresUri().empty() || MysqlUri().empty()) {
      GTEST_SKIP() << "FERRY_TEST_PG_URI and FERRY_TEST_MYSQL_URI must be set (scripts/servers.sh)";
    }
  }

  static FullLoadOptions Options(int64_t count) {
    FullLoadOptions o;
    o.prep_mode = TablePrepMode::kDropAndCreate;
    o.scan.batch_rows = 2000;
    o.error_behavior = ErrorBehavior{};
    o.error_behavior.recoverable_error_count = count;
    o.error_behavior.recoverable_error_interval = 1;
    // The retry interval is asked for and counted, not slept through (common/clock.h).
    o.error_policies = std::make_shared<ErrorPolicies>(o.error_behavior);
    o.error_policies->set_clock(&clock_);
    return o;
  }
  static inline InstantClock clock_;

  // Kills one of Ferry's connections once `progress` of the table has gone by.
  static std::function<void(FullLoad&, std::atomic<bool>&)> KillWhen(
      const std::function<bool(TableStats&)>& reached, const std::function<bool()>& kill,
      std::atomic<int>* kills) {
    return [=](FullLoad& load, std::atomic<bool>& done) {
      while (!done) {
        if (!load.stats().empty() && reached(*load.stats()[0]) && kill()) {
          ++*kills;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    };
  }

  static bool KillPg(const std::string& app) {
    auto rows = Open(PostgresUri())->OpenSession()->Query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
        app + "' AND pid <> pg_backend_pid()");
    return rows[0][0].value_or("0") != "0";
  }
  static bool KillMy(const std::string& db) {
    auto admin = Open(MysqlUri())->OpenSession();
    auto rows = admin->Query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND "
        "COMMAND = 'Query' AND (DB = '" + db + "' OR INFO LIKE '%" + db + "%')");
    bool killed = false;
    for (const auto& r : rows) {
      try {
        admin->Execute("KILL " + r[0].value_or("0"));
        killed = true;
      } catch (const Error&) {
        // Gone already.
      }
    }
    return killed;
  }

  void ExpectReloaded(FullLoad& load, SqlConnector& source, const std::string& schema,
                      SqlConnector& target, int kills) {
    TableStats& st = *load.stats()[0];
    ASSERT_EQ(kills, 1) << "the connection was not killed mid-load";
    EXPECT_EQ(StateOf(st), kStateCompleted);
    EXPECT_EQ(st.full_load_rows, kBigRows);
    {
      MutexLock lock(st.mu);
      EXPECT_GE(st.recoverable_retries, 1);
    }
    EXPECT_GE(load.error_policies().Retries(), 1);
    EXPECT_GE(clock_.waited_ms(), 1000) << "the retry did not wait its interval";
    TableDigest want = DigestTable(*source.OpenReader(),
                                   source.OpenCatalog()->GetTable(schema, "big"));
    TableDigest got = DigestTable(*target.OpenReader(),
                                  target.OpenCatalog()->GetTable("errors_rec_dst", "big"));
    EXPECT_EQ(got.rows, kBigRows);
    EXPECT_EQ(got.HashHex(), want.HashHex());
  }
};

TEST_F(ErrorBehaviorRecoverable, PgToPgTargetKilled) {
  auto source = Open(PostgresUri());
  auto target = Open(WithParam(PostgresUri(), "application_name=ferry_errors_tgt"));
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", Options(5),
                   KillWhen([](TableStats& st) { return st.full_load_rows >= 40000; },
                            [] { return KillPg("ferry_errors_tgt"); }, &kills));
  ExpectReloaded(*load, *source, "errors_rec", *target, kills);
}

TEST_F(ErrorBehaviorRecoverable, PgToPgSourceKilled) {
  auto source = Open(WithParam(PostgresUri(), "application_name=ferry_errors_src"));
  auto target = Open(PostgresUri());
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", Options(-1),
                   KillWhen([](TableStats& st) { return st.rows_read >= 40000; },
                            [] { return KillPg("ferry_errors_src"); }, &kills));
  ExpectReloaded(*load, *source, "errors_rec", *target, kills);
}

TEST_F(ErrorBehaviorRecoverable, MariadbToPgSourceKilled) {
  auto source = Open(WithDatabase(MysqlUri(), "errors_rec"));
  auto target = Open(PostgresUri());
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", Options(5),
                   KillWhen([](TableStats& st) { return st.rows_read >= 40000; },
                            [] { return KillMy("errors_rec"); }, &kills));
  ExpectReloaded(*load, *source, "errors_rec", *target, kills);
}

TEST_F(ErrorBehaviorRecoverable, MariadbToPgTargetKilled) {
  auto source = Open(WithDatabase(MysqlUri(), "errors_rec"));
  auto target = Open(WithParam(PostgresUri(), "application_name=ferry_errors_tgt"));
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", Options(5),
                   KillWhen([](TableStats& st) { return st.full_load_rows >= 40000; },
                            [] { return KillPg("ferry_errors_tgt"); }, &kills));
  ExpectReloaded(*load, *source, "errors_rec", *target, kills);
}

// DO_NOTHING into a table that already has rows of its own: the reload after a lost
// connection keeps them (it truncated them before), on a target whose load is one transaction.
TEST_F(ErrorBehaviorRecoverable, DoNothingReloadKeepsTheTargetsOwnRows) {
  auto source = Open(PostgresUri());
  auto target = Open(WithParam(PostgresUri(), "application_name=ferry_errors_tgt"));
  target->OpenSession()->Execute(
      "DROP SCHEMA IF EXISTS errors_rec_dst CASCADE; CREATE SCHEMA errors_rec_dst; "
      "CREATE TABLE errors_rec_dst.big (id int PRIMARY KEY, pad text); "
      "INSERT INTO errors_rec_dst.big VALUES (-1, 'mine'), (-2, 'mine too')");
  FullLoadOptions options = Options(5);
  options.prep_mode = TablePrepMode::kDoNothing;
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", options,
                   KillWhen([](TableStats& st) { return st.full_load_rows >= 40000; },
                            [] { return KillPg("ferry_errors_tgt"); }, &kills));
  ASSERT_EQ(kills, 1);
  EXPECT_EQ(StateOf(*load->stats()[0]), kStateCompleted);
  auto rows = target->OpenSession()->Query(
      "SELECT count(*), count(*) FILTER (WHERE id < 0) FROM errors_rec_dst.big");
  EXPECT_EQ(rows[0][0], std::to_string(kBigRows + 2));
  EXPECT_EQ(rows[0][1], "2");
}

// The same on a target that commits as it goes (MariaDB, every 100,000 rows): the committed
// chunk cannot be told from the table's own rows, so the table is not reloaded; it fails
// saying so, and the table's own rows stay.
TEST_F(ErrorBehaviorRecoverable, DoNothingIntoAMariadbTableWithRowsIsNotReloadedTwice) {
  auto source = Open(PostgresUri());
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute("DROP DATABASE IF EXISTS errors_rec_dst; CREATE DATABASE errors_rec_dst; "
                 "CREATE TABLE errors_rec_dst.big (id int PRIMARY KEY, pad text); "
                 "INSERT INTO errors_rec_dst.big VALUES (-1, 'mine'), (-2, 'mine too')");
  auto target = Open(WithDatabase(MysqlUri(), "errors_rec_dst"));
  FullLoadOptions options = Options(5);
  options.prep_mode = TablePrepMode::kDoNothing;
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", options,
                   KillWhen([](TableStats& st) { return st.full_load_rows >= 150000; },
                            [] { return KillMy("errors_rec_dst"); }, &kills));
  ASSERT_EQ(kills, 1);
  const std::string state = StateOf(*load->stats()[0]);
  EXPECT_EQ(state.rfind(kStateError, 0), 0u) << state;
  EXPECT_NE(state.find("not reloaded automatically (DO_NOTHING into a table with rows: a "
                       "reload would load the rows below twice); 100000 row(s) of this load "
                       "stay committed in target table errors_rec_dst.big"),
            std::string::npos)
      << state;
  auto rows = admin->Query("SELECT count(*), SUM(id < 0) FROM errors_rec_dst.big");
  EXPECT_EQ(rows[0][0], "100002");
  EXPECT_EQ(rows[0][1], "2");
  admin->Execute("DROP DATABASE errors_rec_dst");
}

TEST_F(ErrorBehaviorRecoverable, CountZeroFailsWithTheConnectionMessage) {
  auto source = Open(PostgresUri());
  auto target = Open(WithParam(PostgresUri(), "application_name=ferry_errors_tgt"));
  std::atomic<int> kills{0};
  auto load = Load(*source, "errors_rec", *target, "errors_rec_dst", Options(0),
                   KillWhen([](TableStats& st) { return st.full_load_rows >= 40000; },
                            [] { return KillPg("ferry_errors_tgt"); }, &kills));
  ASSERT_EQ(kills, 1);
  const std::string state = StateOf(*load->stats()[0]);
  EXPECT_EQ(state.rfind(kStateError, 0), 0u) << state;
  EXPECT_NE(state.find("terminat"), std::string::npos) << state;
  EXPECT_EQ(load->error_policies().Retries(), 0);
}

}  // namespace
}  // namespace ferry::testing
