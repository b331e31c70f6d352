// Every pairing of source and target engine (3 x 3) migrates the same all-types table, and
// the target must hold exactly the source's rows: compared value by value through the canonical
// row text, and by the engine-independent table hash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/full_load.h"
#include "engine/table_digest.h"
#include "task_model/plan.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// 256 bytes 00..ff as hex.
std::string AllBytesHex() {
  std::string hex;
  const char* digits = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  return hex;
}

// One engine's side of a pairing: where its database lives and how to fill the source table.
struct Side {
  Engine engine;
  std::string uri;  // endpoint URI for this side
};

const char* Tag(Engine e) {
  switch (e) {
    case Engine::kPostgres: return "pg";
    case Engine::kMysql: return "mysql";
    case Engine::kSqlite: return "sqlite";
  }
  return "?";
}

// The same logical rows in each engine's SQL.
void CreateSource(Engine engine, SqlSession& s, const std::string& ns) {
  const std::string hex = AllBytesHex();
  const int kBig = 17 * 1000 * 1000;
  switch (engine) {
    case Engine::kPostgres:
      s.Execute("DROP SCHEMA IF EXISTS " + ns + " CASCADE; CREATE SCHEMA " + ns);
      s.Execute("CREATE TABLE " + ns + R"(.alltypes (
          id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer NOT NULL, i8 bigint,
          n_small numeric(10,2), n_big numeric(38,10), r4 real, r8 double precision,
          s varchar(100), t text, bin bytea, d date, tm time(6), ts timestamp(6)))");
      s.Execute("INSERT INTO " + ns + R"(.alltypes VALUES
          (1, true, 12, 34, 56, 12345678.91, 1234567890123456789012345678.1234567890, 1.5,
           0.1, 'plain', 'text', '\x00ff', '2024-02-29', '12:34:56.789', '2024-02-29 12:34:56.123456'),
          (2, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, false, -32768, -2147483648, 9223372036854775807, -99999999.99,
           -9999999999999999999999999999.9999999999, 3.40282e38, 1.7976931348623157e308,
           '', E'tab\there\nnewline\\backslash \x01 \U0001F600 \u00e9', decode(')" + hex + R"(', 'hex'),
           '0001-01-01', '23:59:59.999999', '9999-12-31 23:59:59.999999'),
          (4, true, 32767, 2147483647, -9223372036854775808, 0.01, 0.0000000001, -0.25,
           -2.2250738585072014e-308, 'x y', '', '\x', '9999-12-31', '00:00:00', '0001-01-01 00:00:00'))");
      s.Execute("INSERT INTO " + ns + ".alltypes (id, i4, t, bin) VALUES (5, 5, repeat('x', " +
                std::to_string(kBig) + "), decode(repeat('00', " + std::to_string(kBig) +
                "), 'hex'))");
      break;
    case Engine::kMysql:
      s.Execute("DROP DATABASE IF EXISTS " + ns);
      s.Execute("CREATE DATABASE " + ns + " CHARACTER SET utf8mb4");
      s.Execute("CREATE TABLE " + ns + R"(.alltypes (
          id int PRIMARY KEY, b boolean, i2 smallint, i4 int NOT NULL, i8 bigint,
          n_small decimal(10,2), n_big decimal(38,10), r4 float, r8 double,
          s varchar(100), t longtext, bin longblob, d date, tm time(6), ts datetime(6)))");
      s.Execute("INSERT INTO " + ns + R"(.alltypes VALUES
          (1, true, 12, 34, 56, 12345678.91, 1234567890123456789012345678.1234567890, 1.5,
           0.1, 'plain', 'text', X'00ff', '2024-02-29', '12:34:56.789', '2024-02-29 12:34:56.123456'),
          (2, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, false, -32768, -2147483648, 9223372036854775807, -99999999.99,
           -9999999999999999999999999999.9999999999, 3.40282e38, 1.7976931348623157e308,
           '', CONCAT('tab\there\nnewline\\backslash ', CHAR(1), ' ', X'F09F9880', ' ', X'C3A9'),
           X')" + hex + R"(', '0001-01-01', '23:59:59.999999', '9999-12-31 23:59:59.999999'),
          (4, true, 32767, 2147483647, -9223372036854775808, 0.01, 0.0000000001, -0.25,
           -2.2250738585072014e-308, 'x y', '', X'', '9999-12-31', '00:00:00', '0001-01-01 00:00:00'))");
      s.Execute("INSERT INTO " + ns + ".alltypes (id, i4, t, bin) VALUES (5, 5, REPEAT('x', " +
                std::to_string(kBig) + "), REPEAT(X'00', " + std::to_string(kBig) + "))");
      break;
    case Engine::kSqlite:
      s.Execute(R"(CREATE TABLE alltypes (
          id INT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT NOT NULL, i8 BIGINT,
          n_small NUMERIC(10,2), n_big DECIMAL_TEXT(38,10), r4 FLOAT, r8 DOUBLE,
          s VARCHAR(100), t TEXT, bin BLOB, d DATE, tm TIME, ts DATETIME))");
      s.Execute(R"(INSERT INTO alltypes VALUES
          (1, 1, 12, 34, 56, 12345678.91, '1234567890123456789012345678.123456789', 1.5,
           0.1, 'plain', 'text', X'00ff', '2024-02-29', '12:34:56.789', '2024-02-29 12:34:56.123456'),
          (2, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, 0, -32768, -2147483648, 9223372036854775807, -99999999.99,
           '-9999999999999999999999999999.9999999999', 3.40282e38, 1.7976931348623157e308,
           '', 'tab' || char(9) || 'here' || char(10) || 'newline\backslash ' || char(1) || ' ' ||
           char(128512) || ' ' || char(233), X')" + hex + R"(', '0001-01-01', '23:59:59.999999',
           '9999-12-31 23:59:59.999999'),
          (4, 1, 32767, 2147483647, -9223372036854775808, 0.01, '0.0000000001', -0.25,
           -2.2250738585072014e-308, 'x y', '', X'', '9999-12-31', '00:00:00', '0001-01-01 00:00:00'))");
      s.Execute("INSERT INTO alltypes (id, i4, t, bin) VALUES (5, 5, printf('%.*c', " +
                std::to_string(kBig) + ", 'x'), zeroblob(" + std::to_string(kBig) + "))");
      break;
  }
}

class Pairing : public EnginePairTest {
 protected:
  void SetUp() override { PrepareDirectory("pair"); }
};

TEST_P(Pairing, AllTypesArriveIntact) {
  auto [src, dst] = GetParam();
  const std::string base = fmt::format("it_pair_{}_to_{}", Tag(src), Tag(dst));
  const std::string src_ns = base + "_src", dst_ns = base + "_dst";

  // Source namespace and data.
  if (src == Engine::kMysql) {
    Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS " + src_ns +
                                             "; CREATE DATABASE " + src_ns);
  }
  auto source = Open(UriFor(src, src_ns));
  CreateSource(src, *source->OpenSession(), src_ns);

  // Empty target namespace.
  if (dst == Engine::kMysql) {
    Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS " + dst_ns +
                                             "; CREATE DATABASE " + dst_ns);
  } else if (dst == Engine::kPostgres) {
    Open(PostgresUri())->OpenSession()->Execute("DROP SCHEMA IF EXISTS " + dst_ns + " CASCADE");
  }
  auto target = Open(UriFor(dst, dst_ns));

  std::string src_schema = src == Engine::kPostgres ? src_ns
                           : src == Engine::kMysql  ? src_ns
                                                    : "main";
  TableDef source_table = source->OpenCatalog()->GetTable(src_schema, "alltypes");
  std::vector<TablePlan> plans = PlanTables({source_table}, src, *target,
                                            dst == Engine::kPostgres ? dst_ns : "", {});
  ASSERT_EQ(plans.size(), 1u);
  FullLoadOptions options;
  options.prep_mode = TablePrepMode::kDropAndCreate;
  FullLoad load(*source, *target, plans, options);
  load.Run();
  {
    TableStats& st = *load.stats()[0];
    MutexLock lock(st.mu);
    ASSERT_EQ(st.state, kStateCompleted) << st.error;
    EXPECT_EQ(st.full_load_rows.load(), 5);
  }

  TableDef target_table =
      target->OpenCatalog()->GetTable(plans[0].target.schema, plans[0].target.name);
  EXPECT_EQ(target_table.primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(target_table.columns.size(), source_table.columns.size());
  EXPECT_FALSE(target_table.columns[target_table.ColumnIndex("i4")].nullable);

  TableDigest a = DigestTable(*source->OpenReader(), source_table, /*keep_rows=*/true);
  TableDigest b = DigestTable(*target->OpenReader(), target_table, /*keep_rows=*/true);
  EXPECT_EQ(a.rows, 5);
  EXPECT_EQ(b.rows, a.rows);
  ASSERT_EQ(a.row_texts.size(), b.row_texts.size());
  for (size_t i = 0; i < a.row_texts.size(); ++i) {
    EXPECT_EQ(a.row_texts[i], b.row_texts[i]) << "row " << i;
  }
  EXPECT_EQ(a.HashHex(), b.HashHex());

  // Clean up the servers' namespaces; SQLite files go with tmp_.
  if (src == Engine::kMysql) source->OpenSession()->Execute("DROP DATABASE " + src_ns);
  if (src == Engine::kPostgres) source->OpenSession()->Execute("DROP SCHEMA " + src_ns + " CASCADE");
  if (dst == Engine::kMysql) target->OpenSession()->Execute("DROP DATABASE " + dst_ns);
  if (dst == Engine::kPostgres) target->OpenSession()->Execute("DROP SCHEMA " + dst_ns + " CASCADE");
}

INSTANTIATE_TEST_SUITE_P(
    AllNine, Pairing,
    ::testing::Combine(::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                       ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite)),
    [](const auto& info) {
      return std::string(Tag(std::get<0>(info.param))) + "_to_" + Tag(std::get<1>(info.param));
    });

}  // namespace
}  // namespace ferry::testing
