// DMS parallel-load "ranges": each segment read by its own reader at once, from every source
// engine; together they must deliver every row exactly once, including rows whose boundary
// column is NULL (which DMS loses).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "mapping/table_mappings.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

std::string Mapping(const std::string& schema) {
  return R"({"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "t",
     "object-locator": {"schema-name": ")" + schema + R"(", "table-name": "seg"},
     "rule-action": "include"},
    {"rule-type": "table-settings", "rule-id": "2", "rule-name": "ranges",
     "object-locator": {"schema-name": ")" + schema + R"(", "table-name": "seg"},
     "parallel-load": {"type": "ranges", "columns": ["k", "g"],
                       "boundaries": [["100", "b"], ["500", "a"], ["900", "c"]]}}]})";
}

// 2,000 rows; k and g are NULL in some, so a plain range split would lose them.
const char* kRows =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
    "SELECT i, CASE WHEN i % 17 = 0 THEN NULL ELSE i % 1000 END, "
    "CASE WHEN i % 23 = 0 THEN NULL ELSE substr('abcd', 1 + i % 4, 1) END FROM n";

TEST(Segments, RangesFromEverySourceDeliverEveryRowOnce) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  const fs::path tmp = fs::temp_directory_path() / fmt::format("ferry-it-seg-{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);

  Open(PostgresUri())->OpenSession()->Execute(std::string(
      "DROP SCHEMA IF EXISTS it_seg CASCADE; CREATE SCHEMA it_seg;"
      "CREATE TABLE it_seg.seg (id int PRIMARY KEY, k int, g varchar(1));"
      "INSERT INTO it_seg.seg ") + kRows);
  Open(MysqlUri())->OpenSession()->Execute(std::string(
      "DROP DATABASE IF EXISTS it_seg; CREATE DATABASE it_seg;"
      "SET SESSION max_recursive_iterations = 100000;"
      "CREATE TABLE it_seg.seg (id int PRIMARY KEY, k int, g varchar(1));"
      "INSERT INTO it_seg.seg ") + kRows);
  const std::string lite_uri = "sqlite://" + (tmp / "src.db").string();
  Open(lite_uri)->OpenSession()->Execute(std::string(
      "CREATE TABLE seg (id INTEGER PRIMARY KEY, k INT, g VARCHAR(1));"
      "INSERT INTO seg ") + kRows);

  struct Source {
    std::string uri, schema;
  } sources[] = {{PostgresUri(), "it_seg"},
                 {WithDatabase(MysqlUri(), "it_seg"), "it_seg"},
                 {lite_uri, "main"}};
  for (const Source& s : sources) {
    SCOPED_TRACE(s.uri);
    auto source = Open(s.uri);
    TableDef def = source->OpenCatalog()->GetTable(s.schema, "seg");
    TableDigest want = DigestTable(*source->OpenReader(), def);
    ASSERT_EQ(want.rows, 2000);

    TableMappings mappings = ParseTableMappings(Mapping(s.schema), "seg.json").ValueOrThrow();
    auto mapped = ApplyTableMappings(mappings, {def}, "seg.json").ValueOrThrow();
    auto target = Open("sqlite://" + (tmp / "dst.db").string());
    std::vector<TablePlan> plans = PlanFromMappings(mapped, *source, *target, "");
    ASSERT_EQ(plans.size(), 1u);
    ASSERT_EQ(plans[0].segments.size(), 4u);
    FullLoadOptions options;
    options.prep_mode = TablePrepMode::kDropAndCreate;
    options.scan.batch_rows = 100;  // many batches from every segment, interleaved
    FullLoad load(*source, *target, plans, options);
    load.Run();
    ASSERT_EQ(LoadFailures(load), "");
    TableDef got_def = target->OpenCatalog()->GetTable("main", "seg");
    TableDigest got = DigestTable(*target->OpenReader(), got_def);
    EXPECT_EQ(got.rows, 2000);
    EXPECT_EQ(got.HashHex(), want.HashHex());
  }
  Open(PostgresUri())->OpenSession()->Execute("DROP SCHEMA it_seg CASCADE");
  Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE it_seg");
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace ferry::testing
