// Engine-specific extremes, from each source engine to every target: the value arrives exactly
// where the target type can hold it, and otherwise its table ends in "Table error" with a
// message naming column and row key — never a silently changed value.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kExact = "";  // expectation: the table arrives value for value

struct Expectation {
  const char* table;
  const char* to_pg;      // kExact, or a fragment the table's error must contain
  const char* to_mysql;
  const char* to_sqlite;
};

class Extremes : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    FERRY_REQUIRE_MYSQL();
    tmp_ = fs::temp_directory_path() / fmt::format("ferry-it-extremes-{}", ::getpid());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // Migrates every table of `source_schema` to each target and checks `expectations`.
  void MigrateEverywhere(SqlConnector& source, const std::string& source_schema,
                         const std::string& tag, const std::vector<Expectation>& expectations) {
    auto pg = Open(PostgresUri());
    pg->OpenSession()->Execute("DROP SCHEMA IF EXISTS it_ext_" + tag + "_dst CASCADE");
    Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS it_ext_" + tag + "_dst");
    auto my = Open(WithDatabase(MysqlUri(), "it_ext_" + tag + "_dst"));
    auto lite = Open("sqlite://" + (tmp_ / (tag + "_dst.db")).string());
    struct Target {
      SqlConnector* c;
      std::string schema;
      Engine engine;
    } targets[] = {{pg.get(), "it_ext_" + tag + "_dst", Engine::kPostgres},
                   {my.get(), "it_ext_" + tag + "_dst", Engine::kMysql},
                   {lite.get(), "main", Engine::kSqlite}};
    auto source_digests = DigestAll(source, source_schema, true);
    for (const Target& t : targets) {
      SCOPED_TRACE(std::string("target ") + EngineName(t.engine));
      auto load =
          RunFullLoad(source, source_schema, *t.c, t.engine == Engine::kSqlite ? "" : t.schema);
      for (const Expectation& e : expectations) {
        const char* expected = t.engine == Engine::kPostgres ? e.to_pg
                               : t.engine == Engine::kMysql  ? e.to_mysql
                                                             : e.to_sqlite;
        const TableStats* st = nullptr;
        for (const auto& s : load->stats()) {
          if (s->source_table == e.table) st = s.get();
        }
        ASSERT_NE(st, nullptr) << e.table;
        std::string state, error;
        {
          MutexLock lock(const_cast<TableStats*>(st)->mu);
          state = st->state;
          error = st->error;
        }
        if (std::string(expected).empty()) {
          ASSERT_EQ(state, kStateCompleted) << e.table << ": " << error;
          TableDef def = t.c->OpenCatalog()->GetTable(t.schema, e.table);
          TableDigest got = DigestTable(*t.c->OpenReader(), def, true);
          const TableDigest& want = source_digests.at(e.table);
          EXPECT_EQ(got.row_texts, want.row_texts) << e.table;
        } else {
          EXPECT_EQ(state, kStateError) << e.table << " should not fit";
          EXPECT_NE(error.find(expected), std::string::npos)
              << e.table << ": expected '" << expected << "' in: " << error;
        }
      }
    }
    pg->OpenSession()->Execute("DROP SCHEMA IF EXISTS it_ext_" + tag + "_dst CASCADE");
    my->OpenSession()->Execute("DROP DATABASE IF EXISTS it_ext_" + tag + "_dst");
  }

  fs::path tmp_;
};

TEST_F(Extremes, FromPostgres) {
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(R"(
      DROP SCHEMA IF EXISTS it_ext_pg CASCADE; CREATE SCHEMA it_ext_pg;
      SET TIME ZONE 'Asia/Kolkata';
      CREATE TABLE it_ext_pg.infs (id int PRIMARY KEY, r4 real, r8 double precision);
      INSERT INTO it_ext_pg.infs VALUES (1, 'Infinity', '-Infinity'), (2, 1.5, 2.5);
      CREATE TABLE it_ext_pg.nans (id int PRIMARY KEY, r8 double precision);
      INSERT INTO it_ext_pg.nans VALUES (1, 'NaN');
      CREATE TABLE it_ext_pg.zoned (id int PRIMARY KEY, ts timestamptz(6));
      INSERT INTO it_ext_pg.zoned VALUES (1, '2024-01-01 10:00:00+05:30'),
                                         (2, '2024-07-01 23:59:59.999999-07');
      CREATE TABLE it_ext_pg.bignum (id int PRIMARY KEY, n numeric);
      INSERT INTO it_ext_pg.bignum VALUES
        (1, 123456789012345678901234567890123456789012345678901234567890.5);
      CREATE TABLE it_ext_pg.smallnum (id int PRIMARY KEY, n numeric);
      INSERT INTO it_ext_pg.smallnum VALUES (1, 0.000000000000000000000000000000000000001);
      CREATE TABLE it_ext_pg.wide (id int PRIMARY KEY, n numeric(40,2));
      INSERT INTO it_ext_pg.wide VALUES (1, 12345678901234567890123456789012345678.91);
      CREATE TABLE it_ext_pg.rich (id int PRIMARY KEY, u uuid, j jsonb, a int[], ip inet,
                                   iv interval, tags text[]);
      INSERT INTO it_ext_pg.rich VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '{"b": [1, 2], "a": "x"}', '{1,NULL,3}', '192.168.0.1/24', '1 day 02:03:04',
        '{"with space","with,comma",plain}');)");
  MigrateEverywhere(*pg, "it_ext_pg", "pg",
                    {
                        {"infs", kExact, "(id=1)", kExact},
                        {"nans", kExact, "(id=1)", "(id=1)"},
                        {"zoned", kExact, kExact, kExact},
                        {"bignum", kExact, "(id=1)", kExact},
                        {"smallnum", kExact, "(id=1)", kExact},
                        {"wide", kExact, kExact, kExact},
                        {"rich", kExact, kExact, kExact},
                    });
  // timestamptz arrives as UTC wall time on engines without zones.
  auto rows = Open(PostgresUri())->OpenSession()->Query(
      "SELECT (ts AT TIME ZONE 'UTC')::text FROM it_ext_pg.zoned ORDER BY id");
  EXPECT_EQ(rows[0][0].value_or(""), "2024-01-01 04:30:00");
  pg->OpenSession()->Execute("DROP SCHEMA it_ext_pg CASCADE");
}

TEST_F(Extremes, FromMysql) {
  Open(MysqlUri())->OpenSession()->Execute(
      "DROP DATABASE IF EXISTS it_ext_my; CREATE DATABASE it_ext_my");
  auto my = Open(WithDatabase(MysqlUri(), "it_ext_my"));
  my->OpenSession()->Execute(R"(
      CREATE TABLE unsigned_max (id int PRIMARY KEY, u bigint unsigned, u4 int unsigned,
                                 t1 tinyint unsigned);
      INSERT INTO unsigned_max VALUES (1, 18446744073709551615, 4294967295, 255), (2, 0, 0, 0);
      CREATE TABLE long_times (id int PRIMARY KEY, t time(6));
      INSERT INTO long_times VALUES (1, '838:59:59'), (2, '-838:59:59.000000'), (3, '25:00:00');
      CREATE TABLE day_times (id int PRIMARY KEY, t time(6));
      INSERT INTO day_times VALUES (1, '23:59:59.999999'), (2, '00:00:00');
      CREATE TABLE misc (id int PRIMARY KEY, b1 bit(1), b10 bit(10), e enum('small','large'),
                         s set('x','y','z'), j json, y year, ts timestamp(6) NULL);
      INSERT INTO misc VALUES (1, b'1', b'1010101010', 'large', 'x,z', '{"a": 1, "b": [1, 2]}',
                               2155, '2038-01-19 03:14:07.999999'),
                              (2, b'0', b'0', 'small', '', '[]', 1901, NULL);)");
  MigrateEverywhere(*my, "it_ext_my", "my",
                    {
                        {"unsigned_max", kExact, kExact, kExact},
                        {"long_times", "(id=", kExact, kExact},
                        {"day_times", kExact, kExact, kExact},
                        {"misc", kExact, kExact, kExact},
                    });
  my->OpenSession()->Execute("DROP DATABASE it_ext_my");
}

}  // namespace
}  // namespace ferry::testing
