// The round-trip guarantee (issue 11): for every ordered pair of engines (A, B), an all-types
// table of A goes A -> B -> A with `ferry migrate`, and what comes back equals the original by
// `ferry hash`, row for row, except the rows holding a value B cannot hold, which B refused on
// the way out, each with a row error naming the row: the test knows exactly which rows those
// are and why, whether the source's reader or B's writer refused it. The data error policy is
// LOG_ERROR, so a refused row is skipped and the rest of the table loads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// Each engine's all-types table `alltypes` (id is the key). Rows 1-3 hold values every engine
// can hold (ordinary, NULLs, extremes); the rows after them hold one value some engine cannot.
void CreateAllTypes(Engine engine, SqlSession& s, const std::string& ns) {
  switch (engine) {
    case Engine::kPostgres:
      s.Execute("DROP SCHEMA IF EXISTS " + ns + " CASCADE; CREATE SCHEMA " + ns);
      s.Execute("CREATE TABLE " + ns + R"(.alltypes (
          id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint,
          n numeric(20,4), r4 real, r8 double precision, s varchar(20), c char(4), t text,
          bin bytea, d date, tm time(6), ts timestamp(6), j json, u uuid, tz timestamptz,
          nu numeric, iv interval, arr text[], ip inet, x xml))");
      s.Execute("INSERT INTO " + ns + R"(.alltypes VALUES
          (1, true, 12, 34, 56, 1234.5678, 1.5, 0.1, 'plain', 'ab', 'text é 😀', '\x00ff',
           '2024-02-29', '12:34:56.789', '2024-02-29 12:34:56.123456', '{"a": [1, 2]}',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29 12:34:56.5+02', 3.14159265358979,
           '1 year 2 mons 3 days 04:05:06.7', '{"a","b c",NULL}', '192.168.0.1/24', '<a>x</a>'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, false, -32768, -2147483648, -9223372036854775808, -9999999999999999.9999,
           -3.4028235e38, 1.7976931348623157e308, '', 'abcd', E'tab\there\nnl\\bs \x01', '\x',
           '0001-01-01', '23:59:59.999999', '9999-12-31 23:59:59.999999', '[]',
           '00000000-0000-0000-0000-000000000000', '0001-01-01 00:00:00+00',
           -123456789012345678901234567890.123456789, '-3 days', '{}', '::1', ''),
          (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (5, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0044-03-15 BC',
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))");
      break;
    case Engine::kMysql:
      s.Execute("CREATE TABLE " + ns + R"(.alltypes (
          id int PRIMARY KEY, b tinyint(1), i1 tinyint, i2 smallint, i3 mediumint unsigned,
          i4 int, i8 bigint, u8 bigint unsigned, n decimal(20,4), r4 float, r8 double,
          s varchar(20), c char(4), t longtext, bin longblob, vb varbinary(8), d date,
          tm time(6), dt datetime(6), y year, e enum('a','b'), j json))");
      s.Execute("INSERT INTO " + ns + R"(.alltypes VALUES
          (1, 1, 12, 34, 56, 78, 90, 12, 1234.5678, 1.5, 0.1, 'plain', 'ab',
           CONCAT('text ', X'C3A9', ' ', X'F09F9880'), X'00ff', X'01', '2024-02-29',
           '12:34:56.789', '2024-02-29 12:34:56.123456', 2024, 'a', '{"a": [1, 2]}'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, 0, -128, -32768, 16777215, -2147483648, -9223372036854775808,
           9223372036854775807, -9999999999999999.9999, -3.40282e38, 1.7976931348623157e308,
           '', 'abcd', 'tab\there\nnl\\bs', X'', X'', '1000-01-01', '23:59:59.999999',
           '9999-12-31 23:59:59.999999', 1901, 'b', '[]'),
          (4, NULL, NULL, NULL, NULL, NULL, NULL, 18446744073709551615, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, '-838:59:59', NULL, NULL, NULL, NULL),
          (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           CONCAT('a', CHAR(0), 'b'), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, '0000-00-00', NULL, '2024-00-15 10:00:00', NULL, NULL, NULL))");
      break;
    case Engine::kSqlite:
      s.Execute(R"(CREATE TABLE alltypes (
          id INTEGER PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, n NUMERIC(20,4),
          r8 DOUBLE, s VARCHAR(20), t TEXT, bin BLOB, d DATE, tm TIME, dt DATETIME))");
      s.Execute(R"(INSERT INTO alltypes VALUES
          (1, 1, 12, 34, 56, 1234.5678, 0.1, 'plain', 'text é 😀', X'00ff', '2024-02-29',
           '12:34:56.789', '2024-02-29 12:34:56.123456'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, 0, -32768, -2147483648, -9223372036854775808, -99999999.9999,
           1.7976931348623157e308, '', 'tab' || char(9) || 'nl' || char(10) || char(1), X'',
           '0001-01-01', '23:59:59.999999', '9999-12-31 23:59:59.999999'),
          (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'a' || char(0) || 'b', NULL, NULL, NULL,
           NULL),
          (5, NULL, NULL, 5000000000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (6, NULL, NULL, 'abc', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))");
      break;
  }
}

// The rows of A that B refuses, with a word of each refusal's message. What is not listed
// comes back exactly: SQLite keeps PostgreSQL's infinity and BC dates and MySQL's 2^64-1 and
// TIME beyond a day as text that Ferry reads back as it wrote them; MySQL text holds NUL.
std::map<int, std::string> ExpectedRefusals(Engine a, Engine b) {
  if (a == b) return {};
  switch (a) {
    case Engine::kPostgres:
      // infinity, NaN and BC dates: MySQL holds none; SQLite has no NaN (it stores NULL).
      if (b == Engine::kMysql) return {{4, "infinity"}, {5, "NaN"}, {6, "0001-01-01"}};
      return {{5, "NaN"}};
    case Engine::kMysql:
      // TIME beyond a day and NUL in text: PostgreSQL holds neither. Zero dates exist only in
      // MySQL: read for another engine under zero_dates=refuse, the reader refuses them.
      if (b == Engine::kPostgres) return {{5, "TIME"}, {6, "NUL"}, {7, "zero_dates=refuse"}};
      return {{7, "zero_dates=refuse"}};
    case Engine::kSqlite:
      // SQLite keeps any integer (or text) in an INT column; read for another engine as the
      // declared INT4, those values are refused by the reader, row by row.
      if (b == Engine::kPostgres) {
        return {{4, "NUL"}, {5, "INTEGER value 5000000000 is out of range"},
                {6, "TEXT value 'abc' is not an integer"}};
      }
      return {{5, "INTEGER value 5000000000 is out of range"},
              {6, "TEXT value 'abc' is not an integer"}};
  }
  return {};
}

class RoundTrip : public EnginePairTest {
 protected:
  void SetUp() override {
    PrepareDirectory("rt");
    if (IsSkipped()) return;
    const Engine a = src(), b = dst();
    base_ = fmt::format("it_rt_{}_{}", EngineTag(a), EngineTag(b));
    std::ofstream(tmp_ / "settings.json") << R"({
      "TargetMetadata": {"SupportLobs": true, "FullLobMode": true},
      "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR", "DataTruncationErrorPolicy": "LOG_ERROR",
                        "DataErrorEscalationCount": 0}})";
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    for (const char* side : {"_orig", "_mid", "_back"}) {
      for (Engine e : {src(), dst()}) DropNamespace(e, base_ + side);
    }
    EnginePairTest::TearDown();
  }

  // A fresh, empty namespace `ns` on `e`: its URI, and the schema that names it in `ferry`
  // arguments (PostgreSQL) or "" (MySQL: the URI's database; SQLite: main).
  std::pair<std::string, std::string> Fresh(Engine e, const std::string& ns) {
    DropNamespace(e, ns);
    if (e == Engine::kMysql) {
      Open(MysqlUri())->OpenSession()->Execute("CREATE DATABASE " + ns +
                                               " CHARACTER SET utf8mb4");
    }
    if (e == Engine::kSqlite) fs::remove(tmp_ / (ns + ".db"));
    return {UriFor(e, ns), e == Engine::kPostgres ? ns : ""};
  }

  // `ferry migrate` of `alltypes` from (uri, schema) to (uri, schema); returns the JSON
  // summary's refused rows: id -> message.
  std::map<int, std::string> Migrate(const std::pair<std::string, std::string>& from,
                                     const std::pair<std::string, std::string>& to) {
    std::vector<std::string> args{"migrate",        "--source",
                                  from.first,       "--target",
                                  to.first,         "--tables",
                                  "alltypes",       "--task-settings",
                                  (tmp_ / "settings.json").string(),
                                  "--target-table-prep-mode",
                                  "DROP_AND_CREATE", "--no-progress",
                                  "--json"};
    if (!from.second.empty()) args.insert(args.end(), {"--schema", from.second});
    if (!to.second.empty()) args.insert(args.end(), {"--target-schema", to.second});
    const CliRun run = RunFerry(args);
    EXPECT_EQ(run.exit_code, 0) << run.err << run.out;
    std::map<int, std::string> refused;
    nlohmann::json summary;
    try {
      summary = nlohmann::json::parse(run.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << run.out << run.err;
      return refused;
    }
    const std::regex key(R"(row skipped: column [^,]+, row \(id=(\d+)\): )");
    for (const auto& t : summary["TableStatistics"]) {
      EXPECT_EQ(t["TableState"], "Table completed") << t.dump(1) << run.err;
      if (!t.contains("Warnings")) continue;
      for (const auto& [text, n] : t["Warnings"].items()) {
        std::smatch m;
        if (std::regex_search(text, m, key)) refused[std::stoi(m[1])] = text;
      }
    }
    return refused;
  }

  // `ferry hash` of alltypes at (uri, schema).
  std::string Hash(const std::pair<std::string, std::string>& at) {
    std::vector<std::string> args{"hash", at.first, "--tables", "alltypes", "--json"};
    if (!at.second.empty()) args.insert(args.end(), {"--schema", at.second});
    const CliRun run = RunFerry(args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    try {
      const nlohmann::json out = nlohmann::json::parse(run.out);
      if (out.size() != 1) return "tables: " + out.dump();
      return fmt::format("{} rows, hash {}", out[0]["rows"].get<int64_t>(),
                         out[0]["hash"].get<std::string>());
    } catch (const std::exception& e) {
      return "not JSON: " + run.out + run.err;
    }
  }

  std::string SchemaOf(Engine e, const std::string& ns) {
    return e == Engine::kSqlite ? "main" : ns;
  }

  std::string base_;
};

TEST_P(RoundTrip, WhatTheOtherEngineHoldsComesBackExactlyAndTheRestIsRefusedByRow) {
  const Engine a = src(), b = dst();
  const auto orig = Fresh(a, base_ + "_orig");
  {
    auto c = Open(orig.first);
    CreateAllTypes(a, *c->OpenSession(), base_ + "_orig");
  }
  const auto mid = Fresh(b, base_ + "_mid");
  const auto back = Fresh(a, base_ + "_back");

  // A -> B: exactly the expected rows are refused, each by a row error that says why. A MySQL
  // source refuses zero dates rather than read them as NULL (its default, a documented change).
  auto source = orig;
  if (a == Engine::kMysql) source.first += "?zero_dates=refuse";
  const std::map<int, std::string> refused = Migrate(source, mid);
  const std::map<int, std::string> expected = ExpectedRefusals(a, b);
  std::set<int> refused_ids, expected_ids;
  for (const auto& [id, text] : refused) refused_ids.insert(id);
  for (const auto& [id, word] : expected) expected_ids.insert(id);
  EXPECT_EQ(refused_ids, expected_ids);
  for (const auto& [id, word] : expected) {
    auto it = refused.find(id);
    if (it == refused.end()) continue;
    EXPECT_NE(it->second.find(word), std::string::npos) << "row " << id << ": " << it->second;
  }

  // B -> A: nothing refused.
  EXPECT_EQ(Migrate(mid, back).size(), 0u);

  auto original = Open(orig.first);
  auto returned = Open(back.first);
  const std::string table = a == Engine::kSqlite ? "alltypes" : base_ + "_orig.alltypes";
  if (!refused_ids.empty()) {
    std::string ids;
    for (int id : refused_ids) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    original->OpenSession()->Execute("DELETE FROM " + table + " WHERE id IN (" + ids + ")");
  }
  if (a == Engine::kSqlite) {
    // SQLite through SQLite: every stored value and its storage class, as SQLite quotes them
    // (through another engine a decimal comes back as exact text, equal by value)...
    const std::string sql =
        "SELECT quote(id), quote(b), quote(i2), quote(i4), quote(i8), quote(n), quote(r8), "
        "quote(s), quote(t), quote(bin), quote(d), quote(tm), quote(dt) FROM alltypes "
        "ORDER BY id";
    if (b == Engine::kSqlite) {
      EXPECT_EQ(original->OpenSession()->Query(sql), returned->OpenSession()->Query(sql));
    }
    // ... then the values that fit their declared types, by the readers below (rows 5 and 6
    // hold values outside them, which only a SQLite target keeps).
    for (auto* side : {original.get(), returned.get()}) {
      side->OpenSession()->Execute("DELETE FROM alltypes WHERE id IN (5, 6)");
    }
  }

  if (a == Engine::kMysql && b == Engine::kMysql) {
    // MySQL through MySQL: zero dates as they are (the readers below take them for NULL).
    const std::string sql = "SELECT id, CAST(d AS CHAR), CAST(dt AS CHAR) FROM {}.alltypes "
                            "ORDER BY id";
    EXPECT_EQ(original->OpenSession()->Query(fmt::format(fmt::runtime(sql), base_ + "_orig")),
              returned->OpenSession()->Query(fmt::format(fmt::runtime(sql), base_ + "_back")));
  }

  // The original without the refused rows equals what came back, row for row...
  const TableDef t0 = original->OpenCatalog()->GetTable(SchemaOf(a, base_ + "_orig"), "alltypes");
  const TableDef t1 = returned->OpenCatalog()->GetTable(SchemaOf(a, base_ + "_back"), "alltypes");
  const TableDigest d0 = DigestTable(*original->OpenReader(), t0, /*keep_rows=*/true);
  const TableDigest d1 = DigestTable(*returned->OpenReader(), t1, /*keep_rows=*/true);
  EXPECT_EQ(d0.row_texts, d1.row_texts);

  // ... and by `ferry hash`.
  EXPECT_EQ(Hash(orig), Hash(back));
}

INSTANTIATE_TEST_SUITE_P(
    AllPairs, RoundTrip,
    ::testing::Combine(::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                       ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite)),
    [](const auto& info) {
      return std::string(EngineTag(std::get<0>(info.param))) + "_via_" + EngineTag(std::get<1>(info.param));
    });

}  // namespace
}  // namespace ferry::testing
