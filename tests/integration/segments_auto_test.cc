// Segments Ferry chooses itself: one per source partition (DMS parallel-load partitions-auto and
// partitions-list) and automatic segments of a big table (PostgreSQL ctid page ranges, MySQL
// and SQLite integer primary-key ranges), all read in one snapshot. Each load is compared by
// hash with a single-stream read of the source.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/segmenting.h"
#include "mapping/table_mappings.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPgSchema = "segments_auto_pg";
constexpr const char* kMyDb = "segments_auto_my";

class CountSink : public BatchSink {
 public:
  bool Push(Batch&& batch) override {
    rows += static_cast<int64_t>(batch.rows());
    return true;
  }
  void Warning(int, std::string_view) override {}
  int64_t rows = 0;
};

std::string PartitionMapping(const std::string& schema, const std::string& parallel_load) {
  return R"({"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "t",
     "object-locator": {"schema-name": ")" + schema + R"(", "table-name": "pt"},
     "rule-action": "include"},
    {"rule-type": "table-settings", "rule-id": "7", "rule-name": "parts",
     "object-locator": {"schema-name": ")" + schema + R"(", "table-name": "pt"},
     "parallel-load": )" + parallel_load + "}]}";
}

class SegmentsAuto : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() / fmt::format("ferry-it-segments-auto-{}", ::getpid());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }

  std::string TargetUri(const std::string& name) const {
    return "sqlite://" + (tmp_ / (name + ".db")).string();
  }

  // Plans `def` of `source` through `mapping` (with partition segments resolved).
  std::vector<TablePlan> PlanWith(SqlConnector& source, const TableDef& def,
                                  const std::string& mapping, SqlConnector& target) {
    TableMappings mappings = ParseTableMappings(mapping, "parts.json").ValueOrThrow();
    auto mapped = ApplyTableMappings(mappings, {def}, "parts.json").ValueOrThrow();
    std::vector<TablePlan> plans = PlanFromMappings(mapped, source, target, "");
    ResolvePartitionSegments(mapped, mappings, source, &plans);
    return plans;
  }

  // Loads `plans` into `target` and returns the digest of the target table `name`.
  TableDigest LoadAndDigest(SqlConnector& source, SqlConnector& target,
                            std::vector<TablePlan> plans, const std::string& name,
                            FullLoadOptions options = {}) {
    options.prep_mode = TablePrepMode::kDropAndCreate;
    options.scan.batch_rows = 500;  // many batches from every segment, interleaved
    FullLoad load(source, target, std::move(plans), options);
    load.Run();
    EXPECT_EQ(LoadFailures(load), "");
    TableDef got = target.OpenCatalog()->GetTable("main", name);
    return DigestTable(*target.OpenReader(), got);
  }

  fs::path tmp_;
};

TEST_F(SegmentsAuto, PostgresPartitionsAutoAndList) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(fmt::format(
      "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};"
      "CREATE TABLE {0}.pt (id int, k int, v text) PARTITION BY RANGE (k);"
      "CREATE TABLE {0}.p_low PARTITION OF {0}.pt FOR VALUES FROM (0) TO (100);"
      "CREATE TABLE {0}.p_high PARTITION OF {0}.pt FOR VALUES FROM (100) TO (200) "
      "  PARTITION BY HASH (id);"
      "CREATE TABLE {0}.p_high_0 PARTITION OF {0}.p_high FOR VALUES WITH (MODULUS 2, REMAINDER 0);"
      "CREATE TABLE {0}.p_high_1 PARTITION OF {0}.p_high FOR VALUES WITH (MODULUS 2, REMAINDER 1);"
      "CREATE TABLE {0}.p_other PARTITION OF {0}.pt DEFAULT;"
      "INSERT INTO {0}.pt SELECT i, CASE WHEN i % 50 = 0 THEN NULL ELSE i % 300 END, 'v' || i "
      "  FROM generate_series(1, 6000) i;",
      kPgSchema));
  TableDef def = pg->OpenCatalog()->GetTable(kPgSchema, "pt");
  const TableDigest want = DigestTable(*pg->OpenReader(), def);
  ASSERT_EQ(want.rows, 6000);

  auto target = Open(TargetUri("pg_parts"));
  std::vector<TablePlan> plans =
      PlanWith(*pg, def, PartitionMapping(kPgSchema, R"({"type": "partitions-auto"})"), *target);
  ASSERT_EQ(plans.size(), 1u);
  ASSERT_EQ(plans[0].segments.size(), 4u);  // the leaves, not the sub-partitioned p_high
  EXPECT_EQ(plans[0].segments[0].partition, "p_high_0");
  EXPECT_EQ(plans[0].segments[0].partition_schema, kPgSchema);
  TableDigest got = LoadAndDigest(*pg, *target, plans, "pt");
  EXPECT_EQ(got.rows, 6000);
  EXPECT_EQ(got.HashHex(), want.HashHex());

  // partitions-list reads the partitions named, each alone.
  plans = PlanWith(
      *pg, def,
      PartitionMapping(kPgSchema, R"({"type": "partitions-list", "partitions": ["p_low", "p_other"]})"),
      *target);
  ASSERT_EQ(plans[0].segments.size(), 2u);
  auto counted = pg->OpenSession()->Query(fmt::format(
      "SELECT (SELECT count(*) FROM {0}.p_low) + (SELECT count(*) FROM {0}.p_other)", kPgSchema));
  got = LoadAndDigest(*pg, *target, plans, "pt");
  EXPECT_EQ(std::to_string(got.rows), counted[0][0].value_or("?"));

  // An unknown partition stops the plan with rule-id, table, name and what exists.
  try {
    PlanWith(*pg, def,
             PartitionMapping(kPgSchema, R"({"type": "partitions-list", "partitions": ["p_nope"]})"),
             *target);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rule-id 7"), std::string::npos) << m;
    EXPECT_NE(m.find("'p_nope'"), std::string::npos) << m;
    EXPECT_NE(m.find("segments_auto_pg.pt"), std::string::npos) << m;
    EXPECT_NE(m.find("p_high_1"), std::string::npos) << m;
  }
  pg->OpenSession()->Execute(fmt::format("DROP SCHEMA {} CASCADE", kPgSchema));
}

TEST_F(SegmentsAuto, MariadbPartitionsAutoAndList) {
  FERRY_REQUIRE_MYSQL();
  Open(MysqlUri())->OpenSession()->Execute(fmt::format(
      "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0};"
      "SET SESSION max_recursive_iterations = 100000;"
      "CREATE TABLE {0}.pt (id int, k int, v varchar(20)) PARTITION BY RANGE (k) "
      "  SUBPARTITION BY HASH (id) SUBPARTITIONS 2 "
      "  (PARTITION p_low VALUES LESS THAN (100), PARTITION p_high VALUES LESS THAN MAXVALUE);"
      "CREATE TABLE {0}.flat (id int, k int, v varchar(20)) PARTITION BY HASH (id) PARTITIONS 3;"
      "INSERT INTO {0}.pt WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
      "  WHERE i < 6000) SELECT i, CASE WHEN i % 50 = 0 THEN NULL ELSE i % 300 END, "
      "  CONCAT('v', i) FROM n;",
      kMyDb));
  auto my = Open(WithDatabase(MysqlUri(), kMyDb));
  TableDef def = my->OpenCatalog()->GetTable(kMyDb, "pt");
  const TableDigest want = DigestTable(*my->OpenReader(), def);
  ASSERT_EQ(want.rows, 6000);

  auto target = Open(TargetUri("my_parts"));
  std::vector<TablePlan> plans =
      PlanWith(*my, def, PartitionMapping(kMyDb, R"({"type": "partitions-auto"})"), *target);
  ASSERT_EQ(plans[0].segments.size(), 4u);  // subpartitions, as DMS's default reads them
  TableDigest got = LoadAndDigest(*my, *target, plans, "pt");
  EXPECT_EQ(got.rows, 6000);
  EXPECT_EQ(got.HashHex(), want.HashHex());

  // A listed partition stands for its subpartitions; MySQL names ignore case.
  plans = PlanWith(
      *my, def,
      PartitionMapping(kMyDb, R"({"type": "partitions-list", "partitions": ["P_LOW"]})"), *target);
  ASSERT_EQ(plans[0].segments.size(), 2u);
  auto counted = my->OpenSession()->Query(
      fmt::format("SELECT count(*) FROM {}.pt PARTITION (p_low)", kMyDb));
  got = LoadAndDigest(*my, *target, plans, "pt");
  EXPECT_EQ(std::to_string(got.rows), counted[0][0].value_or("?"));

  try {
    PlanWith(*my, def,
             PartitionMapping(kMyDb, R"({"type": "partitions-list", "partitions": ["p_nope"]})"),
             *target);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rule-id 7"), std::string::npos) << m;
    EXPECT_NE(m.find("'p_nope'"), std::string::npos) << m;
    EXPECT_NE(m.find("p_high"), std::string::npos) << m;
  }
  // Without subpartitions: three hash partitions, three segments.
  TableDef flat = my->OpenCatalog()->GetTable(kMyDb, "flat");
  EXPECT_EQ(my->OpenCatalog()->ListPartitions(flat, true).size(), 3u);
  my->OpenSession()->Execute(fmt::format("DROP DATABASE {}", kMyDb));
}

TEST_F(SegmentsAuto, SqlitePartitionsLoadAsOneStream) {
  auto lite = Open(TargetUri("lite_parts_src"));
  lite->OpenSession()->Execute("CREATE TABLE pt (id INTEGER PRIMARY KEY, v TEXT);"
                               "INSERT INTO pt VALUES (1, 'a'), (2, 'b');");
  TableDef def = lite->OpenCatalog()->GetTable("main", "pt");
  auto target = Open(TargetUri("lite_parts_dst"));
  std::vector<TablePlan> plans = PlanWith(
      *lite, def,
      PartitionMapping("main", R"({"type": "partitions-list", "partitions": ["x"]})"), *target);
  EXPECT_TRUE(plans[0].segments.empty());
  EXPECT_EQ(LoadAndDigest(*lite, *target, plans, "pt").rows, 2);
}

// Rows: 50,000, keys with gaps; a low threshold so the table splits.
FullLoadOptions AutoOptions(int segments) {
  FullLoadOptions options;
  options.auto_segments = segments;
  options.auto_segment_min_rows = 10000;
  return options;
}

TEST_F(SegmentsAuto, AutomaticSegmentsOnPostgresByCtid) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(fmt::format(
      "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};"
      "CREATE TABLE {0}.big (id int PRIMARY KEY, v text, d double precision);"
      "INSERT INTO {0}.big SELECT i * 3, md5(i::text), i / 7.0 FROM generate_series(1, 50000) i;"
      "DELETE FROM {0}.big WHERE id % 11 = 0;"  // holes in the pages
      "ANALYZE {0}.big;",
      kPgSchema));
  TableDef def = pg->OpenCatalog()->GetTable(kPgSchema, "big");
  const TableDigest want = DigestTable(*pg->OpenReader(), def);
  auto target = Open(TargetUri("pg_auto"));
  std::vector<TablePlan> plans = PlanTables({def}, Engine::kPostgres, *target, "", {});
  std::vector<Segment> segs =
      PlanAutoSegments(*pg, plans[0], AutoSegmentPolicy{3, 10000, int64_t{1} << 40});
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].predicate.rfind("ctid < '(", 0), 0u) << segs[0].predicate;
  EXPECT_EQ(segs[2].predicate.find(" AND "), std::string::npos) << segs[2].predicate;
  // Below the threshold: one stream.
  EXPECT_TRUE(PlanAutoSegments(*pg, plans[0], AutoSegmentPolicy{3, 1000000, int64_t{1} << 40})
                  .empty());
  TableDigest got = LoadAndDigest(*pg, *target, plans, "big", AutoOptions(3));
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_EQ(got.HashHex(), want.HashHex());
  pg->OpenSession()->Execute(fmt::format("DROP SCHEMA {} CASCADE", kPgSchema));
}

TEST_F(SegmentsAuto, AutomaticSegmentsOnMariadbByIntegerKey) {
  FERRY_REQUIRE_MYSQL();
  Open(MysqlUri())->OpenSession()->Execute(fmt::format(
      "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0};"
      "SET SESSION max_recursive_iterations = 100000;"
      "CREATE TABLE {0}.big (id bigint unsigned PRIMARY KEY, v varchar(40));"
      "INSERT INTO {0}.big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
      "  WHERE i < 50000) SELECT i * 3, MD5(i) FROM n;"
      "INSERT INTO {0}.big VALUES (18446744073709551615, 'max');"
      "ANALYZE TABLE {0}.big;",
      kMyDb));
  auto my = Open(WithDatabase(MysqlUri(), kMyDb));
  TableDef def = my->OpenCatalog()->GetTable(kMyDb, "big");
  const TableDigest want = DigestTable(*my->OpenReader(), def);
  ASSERT_EQ(want.rows, 50001);
  auto target = Open(TargetUri("my_auto"));
  std::vector<TablePlan> plans = PlanTables({def}, Engine::kMysql, *target, "", {});
  std::vector<Segment> segs =
      PlanAutoSegments(*my, plans[0], AutoSegmentPolicy{2, 10000, int64_t{1} << 40});
  ASSERT_EQ(segs.size(), 2u);
  TableDigest got = LoadAndDigest(*my, *target, plans, "big", AutoOptions(2));
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_EQ(got.HashHex(), want.HashHex());
  my->OpenSession()->Execute(fmt::format("DROP DATABASE {}", kMyDb));
}

TEST_F(SegmentsAuto, AutomaticSegmentsOnSqliteByIntegerKeyWithNullKeys) {
  auto lite = Open(TargetUri("lite_auto_src"));
  // BIGINT PRIMARY KEY is not a rowid alias: SQLite lets it hold NULLs (and text).
  lite->OpenSession()->Execute(
      "CREATE TABLE big (id BIGINT PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) "
      "INSERT INTO big SELECT i * 2 - 30000, 'v' || i FROM n;"
      "INSERT INTO big VALUES (NULL, 'null key 1'), (NULL, 'null key 2');");
  TableDef def = lite->OpenCatalog()->GetTable("main", "big");
  const TableDigest want = DigestTable(*lite->OpenReader(), def);
  ASSERT_EQ(want.rows, 50002);
  auto target = Open(TargetUri("lite_auto_dst"));
  std::vector<TablePlan> plans = PlanTables({def}, Engine::kSqlite, *target, "", {});
  std::vector<Segment> segs =
      PlanAutoSegments(*lite, plans[0], AutoSegmentPolicy{4, 10000, int64_t{1} << 40});
  ASSERT_EQ(segs.size(), 4u);
  // The target keeps the key, which cannot hold NULL there: load into a keyless copy.
  plans[0].target.primary_key.clear();
  TableDigest got = LoadAndDigest(*lite, *target, plans, "big", AutoOptions(4));
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_EQ(got.HashHex(), want.HashHex());
}

// Rows committed by another session after the snapshot was taken are in no segment.
TEST_F(SegmentsAuto, PostgresSegmentsReadOneSnapshot) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  auto session = pg->OpenSession();
  session->Execute(fmt::format(
      "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};"
      "CREATE TABLE {0}.snap (id int PRIMARY KEY, v text);"
      "INSERT INTO {0}.snap SELECT i, md5(i::text) FROM generate_series(1, 20000) i;",
      kPgSchema));
  TableDef def = pg->OpenCatalog()->GetTable(kPgSchema, "snap");
  std::unique_ptr<SourceSnapshot> snapshot = pg->OpenSnapshot(def);
  ASSERT_TRUE(snapshot);
  ASSERT_FALSE(snapshot->id().empty());
  auto r1 = pg->OpenReader();
  auto r2 = pg->OpenReader();
  r1->JoinSnapshot(*snapshot);
  r2->JoinSnapshot(*snapshot);
  snapshot->ReadersJoined();
  session->Execute(fmt::format(
      "INSERT INTO {0}.snap SELECT i, 'late' FROM generate_series(20001, 30000) i;"
      "DELETE FROM {0}.snap WHERE id <= 100;",
      kPgSchema));
  std::vector<Segment> segs = PageRangeSegments(pg->dialect(), {40});
  int64_t total = 0;
  TableReader* readers[] = {r1.get(), r2.get()};
  for (int i = 0; i < 2; ++i) {
    ScanOptions options;
    options.snapshot = snapshot->id();
    options.where = segs[i].predicate;
    CountSink sink;
    readers[i]->Scan(def, options, sink);
    total += sink.rows;
  }
  EXPECT_EQ(total, 20000);
  // Without the snapshot the changes are visible.
  CountSink now;
  pg->OpenReader()->Scan(def, ScanOptions{}, now);
  EXPECT_EQ(now.rows, 29900);
  snapshot.reset();
  session->Execute(fmt::format("DROP SCHEMA {} CASCADE", kPgSchema));
}

TEST_F(SegmentsAuto, MariadbSegmentsReadOneSnapshot) {
  FERRY_REQUIRE_MYSQL();
  Open(MysqlUri())->OpenSession()->Execute(fmt::format(
      "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0};"
      "SET SESSION max_recursive_iterations = 100000;"
      "CREATE TABLE {0}.snap (id int PRIMARY KEY, v varchar(40));"
      "INSERT INTO {0}.snap WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
      "  WHERE i < 20000) SELECT i, MD5(i) FROM n;",
      kMyDb));
  auto my = Open(WithDatabase(MysqlUri(), kMyDb));
  TableDef def = my->OpenCatalog()->GetTable(kMyDb, "snap");
  std::unique_ptr<SourceSnapshot> snapshot = my->OpenSnapshot(def);
  ASSERT_TRUE(snapshot) << "the test user needs LOCK TABLES";
  auto r1 = my->OpenReader();
  auto r2 = my->OpenReader();
  r1->JoinSnapshot(*snapshot);
  r2->JoinSnapshot(*snapshot);
  snapshot->ReadersJoined();
  auto session = my->OpenSession();
  session->Execute(fmt::format(
      "SET SESSION max_recursive_iterations = 100000;"
      "INSERT INTO {0}.snap WITH RECURSIVE n(i) AS (SELECT 20001 UNION ALL SELECT i + 1 FROM n "
      "  WHERE i < 30000) SELECT i, 'late' FROM n;"
      "DELETE FROM {0}.snap WHERE id <= 100;",
      kMyDb));
  std::vector<Segment> segs = KeySegments("`id`", SplitIntegerRange("1", "20000", 2));
  int64_t total = 0;
  TableReader* readers[] = {r1.get(), r2.get()};
  for (int i = 0; i < 2; ++i) {
    ScanOptions options;
    options.snapshot = snapshot->id();
    options.where = segs[i].predicate;
    CountSink sink;
    readers[i]->Scan(def, options, sink);
    total += sink.rows;
  }
  EXPECT_EQ(total, 20000);
  CountSink now;
  my->OpenReader()->Scan(def, ScanOptions{}, now);
  EXPECT_EQ(now.rows, 29900);
  my->OpenSession()->Execute(fmt::format("DROP DATABASE {}", kMyDb));
}

}  // namespace
}  // namespace ferry::testing
