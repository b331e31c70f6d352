// Each dialect's string-literal escaper (Dialect::QuoteLiteral) against the real engines:
// SELECT <literal> must give back exactly the value, for quotes, backslashes, NUL (MySQL; the
// others refuse it), newlines and multi-byte UTF-8. PostgreSQL also with
// standard_conforming_strings off; MySQL under NO_BACKSLASH_ESCAPES must still read one whole
// literal (the value may differ there, the statement may not).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/nasty_strings.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

using namespace std::string_literals;

std::vector<std::string> Values() {
  std::vector<std::string> v = test_support::NastyStrings();
  const std::string pieces[] = {"'", "\\", "\\'", "'\\", "\n", "\xc3\xa9"};
  for (const auto& a : pieces) {
    for (const auto& b : pieces) v.push_back(a + b + "z");
  }
  return v;
}

// SELECTs every value's literal in one statement and compares each column.
void ExpectRoundTrip(SqlSession& session, const Dialect& dialect,
                     const std::vector<std::string>& values, const std::string& context) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < values.size(); ++i) {
    sql += (i ? ", " : "") + dialect.QuoteLiteral(values[i]);
  }
  const auto rows = session.Query(sql);
  ASSERT_EQ(rows.size(), 1u) << context;
  ASSERT_EQ(rows[0].size(), values.size()) << context;
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(rows[0][i].has_value()) << context << ": value " << i;
    EXPECT_EQ(*rows[0][i], values[i]) << context << ": " << dialect.QuoteLiteral(values[i]);
  }
}

TEST(LiteralRoundTrip, Postgres) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  auto session = pg->OpenSession();
  const Dialect& d = pg->dialect();
  ExpectRoundTrip(*session, d, Values(), "PostgreSQL");
  // E'' when a backslash is there: the same values whatever standard_conforming_strings says.
  session->Execute("SET standard_conforming_strings = off");
  ExpectRoundTrip(*session, d, Values(), "PostgreSQL, standard_conforming_strings off");
  EXPECT_THROW(d.QuoteLiteral("a\0b"s), Error);
}

TEST(LiteralRoundTrip, Mysql) {
  FERRY_REQUIRE_MYSQL();
  auto my = Open(MysqlUri());
  auto session = my->OpenSession();
  const Dialect& d = my->dialect();
  std::vector<std::string> values = Values();
  values.push_back("\0"s);
  values.push_back("a\0b'\0\\"s);
  ExpectRoundTrip(*session, d, values, "MariaDB");
  // NO_BACKSLASH_ESCAPES (not Ferry's sql_mode): backslashes read doubled, but every literal
  // still ends where it should: one column per value, the values without backslashes intact.
  session->Execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'");
  std::string sql = "SELECT ";
  for (size_t i = 0; i < values.size(); ++i) sql += (i ? ", " : "") + d.QuoteLiteral(values[i]);
  const auto rows = session->Query(sql);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].find('\\') != std::string::npos || values[i].find('\0') != std::string::npos) {
      continue;
    }
    EXPECT_EQ(rows[0][i].value_or("<NULL>"), values[i]);
  }
}

TEST(LiteralRoundTrip, Sqlite) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("ferry-it-literal-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto lite = Open("sqlite://" + (dir / "l.db").string());
    auto session = lite->OpenSession();
    ExpectRoundTrip(*session, lite->dialect(), Values(), "SQLite");
    EXPECT_THROW(lite->dialect().QuoteLiteral("a\0b"s), Error);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::testing
