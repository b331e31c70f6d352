// Selection rules with table-type view / all (issue 11, case 12): a view's rows are loaded into
// a target table on every pairing of the three engines, read back value by value; table-type
// view leaves the tables out, the default leaves the views out; a CDC task leaves views out and
// says so in its summary, as AWS DMS loads views only in full-load tasks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cdc_test_env.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// item (a table), cheap (a view with a computed column) and, on PostgreSQL, totals (a
// materialized view), in each engine's SQL.
void CreateSource(Engine engine, SqlSession& s, const std::string& ns) {
  const std::string q = engine == Engine::kSqlite ? "" : ns + ".";
  if (engine == Engine::kPostgres) {
    s.Execute("DROP SCHEMA IF EXISTS " + ns + " CASCADE; CREATE SCHEMA " + ns);
  }
  s.Execute("CREATE TABLE " + q + "item (id int PRIMARY KEY, name varchar(40), "
            "price numeric(8,2))");
  s.Execute("INSERT INTO " + q + "item VALUES (1, 'pen', 1.50), (2, 'desk', 120.00), "
            "(3, 'ink', NULL), (4, 'cup', 9.99), (5, NULL, 0.01)");
  s.Execute("CREATE VIEW " + q + "cheap AS SELECT id, name, price, upper(name) AS shout FROM " +
            q + "item WHERE price < 10");
  if (engine == Engine::kPostgres) {
    s.Execute("CREATE MATERIALIZED VIEW " + ns + ".totals AS SELECT count(*)::int AS n, "
              "sum(price)::numeric(10,2) AS total FROM " + ns + ".item");
  }
}

class Views : public EnginePairTest {
 protected:
  void SetUp() override {
    PrepareDirectory("views");
    if (IsSkipped()) return;
    src_ns_ = fmt::format("it_view_{}_{}_src", EngineTag(src()), EngineTag(dst()));
    dst_ns_ = fmt::format("it_view_{}_{}_dst", EngineTag(src()), EngineTag(dst()));
    if (src() == Engine::kMysql) {
      Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS " + src_ns_ +
                                               "; CREATE DATABASE " + src_ns_);
    }
    source_uri_ = UriFor(src(), src_ns_);
    source_ = Open(source_uri_);
    CreateSource(src(), *source_->OpenSession(), src_ns_);
    src_schema_ = src() == Engine::kSqlite ? "main" : src_ns_;
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    for (Engine e : {src(), dst()}) {
      DropNamespace(e, src_ns_);
      DropNamespace(e, dst_ns_);
    }
    EnginePairTest::TearDown();
  }

  // A fresh, empty target; its URI.
  std::string FreshTarget() {
    DropNamespace(dst(), dst_ns_);
    if (dst() == Engine::kMysql) {
      Open(MysqlUri())->OpenSession()->Execute("CREATE DATABASE " + dst_ns_);
    }
    if (dst() == Engine::kSqlite) fs::remove(tmp_ / (dst_ns_ + ".db"));
    return UriFor(dst(), dst_ns_);
  }
  std::string TargetSchema() const {
    return dst() == Engine::kPostgres ? dst_ns_ : "";
  }

  // `ferry migrate` with one selection rule of `table_type` over the source schema.
  CliRun Migrate(const std::string& target_uri, const std::string& table_type,
                 std::vector<std::string> extra = {}) {
    const fs::path mappings = tmp_ / "mappings.json";
    std::ofstream(mappings) << fmt::format(
        R"({{"rules": [{{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
            "object-locator": {{"schema-name": "{}", "table-name": "%"{}}},
            "rule-action": "include"}}]}})",
        src_schema_,
        table_type.empty() ? "" : fmt::format(R"(, "table-type": "{}")", table_type));
    std::vector<std::string> args{"migrate",           "--source",        source_uri_,
                                  "--target",          target_uri,        "--table-mappings",
                                  mappings.string(),   "--no-progress",   "--json"};
    if (!TargetSchema().empty()) {
      args.push_back("--target-schema");
      args.push_back(TargetSchema());
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return RunFerry(args);
  }

  // The target's tables, by name.
  std::set<std::string> TargetTables(SqlConnector& target) {
    std::set<std::string> out;
    for (const TableDef& t : target.OpenCatalog()->ListTables(TargetSchema())) {
      out.insert(t.name);
    }
    return out;
  }

  // The source view `name` and the target table it was loaded into hold the same rows.
  void ExpectSameRows(SqlConnector& target, const std::string& name, int64_t rows) {
    TableDef view;
    for (TableDef& v : source_->OpenCatalog()->ListViews(src_schema_)) {
      if (v.name == name) view = std::move(v);
    }
    ASSERT_EQ(view.name, name) << "no source view " << name;
    EXPECT_TRUE(view.is_view);
    const TableDef table = target.OpenCatalog()->GetTable(TargetSchema(), name);
    ASSERT_EQ(table.columns.size(), view.columns.size());
    const TableDigest a = DigestTable(*source_->OpenReader(), view, /*keep_rows=*/true);
    const TableDigest b = DigestTable(*target.OpenReader(), table, /*keep_rows=*/true);
    EXPECT_EQ(a.rows, rows) << name;
    EXPECT_EQ(b.rows, a.rows) << name;
    EXPECT_EQ(a.row_hashes, b.row_hashes) << name;
  }

  std::string src_ns_, dst_ns_, src_schema_, source_uri_;
  std::unique_ptr<SqlConnector> source_;
};

TEST_P(Views, ViewRowsLoadIntoTargetTablesAndTheDefaultLeavesViewsOut) {
  const bool pg_source = src() == Engine::kPostgres;

  // table-type all: the table and every view.
  std::string target_uri = FreshTarget();
  CliRun run = Migrate(target_uri, "all");
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  {
    auto target = Open(target_uri);
    std::set<std::string> want{"item", "cheap"};
    if (pg_source) want.insert("totals");
    EXPECT_EQ(TargetTables(*target), want) << run.err;
    ExpectSameRows(*target, "cheap", 3);
    if (pg_source) ExpectSameRows(*target, "totals", 1);
    // A view has no key: its target table gets none.
    EXPECT_TRUE(target->OpenCatalog()->GetTable(TargetSchema(), "cheap").primary_key.empty());
  }
  EXPECT_NE(run.out.find("\"cheap\""), std::string::npos) << run.out;

  // table-type view: the views only.
  target_uri = FreshTarget();
  run = Migrate(target_uri, "view");
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  {
    auto target = Open(target_uri);
    std::set<std::string> want{"cheap"};
    if (pg_source) want.insert("totals");
    EXPECT_EQ(TargetTables(*target), want) << run.err;
    ExpectSameRows(*target, "cheap", 3);
  }

  // The default (table): no views.
  target_uri = FreshTarget();
  run = Migrate(target_uri, "");
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  EXPECT_EQ(TargetTables(*Open(target_uri)), std::set<std::string>{"item"});

  // --tables names tables only; a view named there says what loads it.
  std::vector<std::string> args{"migrate",  "--source", source_uri_, "--target",
                                target_uri, "--tables", "cheap",     "--no-progress"};
  if (src() != Engine::kSqlite) args.insert(args.end(), {"--schema", src_ns_});
  run = RunFerry(args);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("'cheap' is a view (" + src_schema_ + ".cheap): --tables selects tables "
                         "only; a --table-mappings selection rule with \"table-type\": \"view\" "
                         "(or \"all\") loads views, in full-load tasks"),
            std::string::npos)
      << run.err;
}

INSTANTIATE_TEST_SUITE_P(
    AllPairs, Views,
    ::testing::Combine(::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                       ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite)),
    [](const auto& info) {
      return std::string(EngineTag(std::get<0>(info.param))) + "_to_" + EngineTag(std::get<1>(info.param));
    });

// A CDC task leaves the selected views out, loads and follows the tables, and says which views
// it left out and how to load them; a selection of views only is refused before anything starts.
TEST(ViewsCdc, ACdcTaskLeavesViewsOutAndSaysSo) {
  FERRY_REQUIRE_POSTGRES();
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-it-views-cdc-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto source = Open(PostgresUri());
  auto s = source->OpenSession();
  const std::string ns = "it_view_cdc_src";
  CreateSource(Engine::kPostgres, *s, ns);
  const std::string target_uri = "sqlite://" + (dir / "t.db").string();
  auto write_mappings = [&](const std::string& table_type) {
    std::ofstream(dir / "m.json") << fmt::format(
        R"({{"rules": [{{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
            "object-locator": {{"schema-name": "{}", "table-name": "%",
            "table-type": "{}"}}, "rule-action": "include"}}]}})",
        ns, table_type);
    return (dir / "m.json").string();
  };
  const std::string task = "views-cdc";
  std::vector<std::string> args{"migrate", "--source", PostgresUri(), "--target", target_uri,
                                "--migration-type", "full-load-and-cdc", "--data-dir",
                                (dir / "data").string(), "--task-name", task, "--no-progress"};

  // Views only: refused, nothing created.
  std::vector<std::string> only_views = args;
  only_views.insert(only_views.end(), {"--table-mappings", write_mappings("view")});
  CliRun run = RunFerry(only_views);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("the selection rules select only views (" + ns + ".cheap, " + ns +
                         ".totals); change data capture does not follow views (AWS DMS loads "
                         "views only in full-load tasks): load them with --migration-type "
                         "full-load"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(fs::exists(dir / "t.db"));

  // Tables and views: the table is loaded and followed, the views are named in the summary.
  s->Execute("INSERT INTO " + ns + ".item VALUES (6, 'lamp', 3.00)");
  const std::string stop = *s->Query("SELECT pg_current_wal_lsn()::text")[0][0];
  args.insert(args.end(), {"--table-mappings", write_mappings("all"), "--cdc-stop-position", stop});
  run = RunFerry(args);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("Views not loaded (change data capture does not follow views; load "
                         "them with --migration-type full-load): " + ns + ".cheap, " + ns +
                         ".totals"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.err.find("view " + ns + ".cheap is not part of this task"), std::string::npos)
      << run.err;
  auto target = Open(target_uri);
  std::set<std::string> names;
  for (const TableDef& t : target->OpenCatalog()->ListTables("")) names.insert(t.name);
  EXPECT_EQ(names.count("item"), 1u);
  EXPECT_EQ(names.count("cheap"), 0u);
  EXPECT_EQ(names.count("totals"), 0u);
  EXPECT_EQ(DigestTable(*target->OpenReader(), target->OpenCatalog()->GetTable("", "item")).rows,
            6);

  RunFerry({"delete-task", "--task-name", task, "--data-dir", (dir / "data").string(),
            "--source", PostgresUri()});
  DropSlot(*s, cdc::CaptureObjectName(task, ""));
  s->Execute("DROP SCHEMA IF EXISTS " + ns + " CASCADE");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::testing
