// Each dialect's one string-literal escaper (Dialect::QuoteLiteral, connectors/dialect.h): the
// exact form per engine, and, through a small reader of each engine's literal syntax, that the
// literal ends exactly at its last byte and reads back as the value, for nasty inputs.
// tests/integration/literal_round_trip_test.cc asks the real servers the same.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "connectors/dialect.h"
#include "support/nasty_strings.h"

namespace ferry {
namespace {

using namespace std::string_literals;

const Dialect& Pg() { return DialectFor(Engine::kPostgres); }
const Dialect& My() { return DialectFor(Engine::kMysql); }
const Dialect& Lite() { return DialectFor(Engine::kSqlite); }

// The shared nasty strings, and one that is not UTF-8: a lead byte then 0x5C (what GBK reads
// as one character), which an escaper must not take for a multi-byte character.
std::vector<std::string> NastyValues() {
  std::vector<std::string> v = test_support::NastyStrings();
  v.push_back("\xe5\x5c");
  return v;
}

// Reads the literal at the start of `lit` as PostgreSQL does with standard_conforming_strings
// on ('...': only '' is special; E'...': backslash escapes too). Returns the value and sets
// `*end` to the index of the closing quote (npos when unterminated).
std::string ReadPg(const std::string& lit, size_t* end) {
  std::string out;
  *end = std::string::npos;
  size_t i = 0;
  const bool e = !lit.empty() && (lit[0] == 'E' || lit[0] == 'e');
  if (e) ++i;
  if (i >= lit.size() || lit[i] != '\'') return out;
  for (++i; i < lit.size(); ++i) {
    if (e && lit[i] == '\\' && i + 1 < lit.size()) {
      out.push_back(lit[++i]);  // the escaper only writes \\ (no \n, \x...)
    } else if (lit[i] == '\'') {
      if (i + 1 < lit.size() && lit[i + 1] == '\'') {
        out.push_back('\'');
        ++i;
      } else {
        *end = i;
        return out;
      }
    } else {
      out.push_back(lit[i]);
    }
  }
  return out;
}

// MySQL with its default sql_mode: backslash escapes (\0 is NUL) and '' inside '...'.
std::string ReadMysql(const std::string& lit, size_t* end) {
  std::string out;
  *end = std::string::npos;
  if (lit.empty() || lit[0] != '\'') return out;
  for (size_t i = 1; i < lit.size(); ++i) {
    if (lit[i] == '\\' && i + 1 < lit.size()) {
      const char n = lit[++i];
      out.push_back(n == '0' ? '\0' : n == 'n' ? '\n' : n);
    } else if (lit[i] == '\'') {
      if (i + 1 < lit.size() && lit[i + 1] == '\'') {
        out.push_back('\'');
        ++i;
      } else {
        *end = i;
        return out;
      }
    } else {
      out.push_back(lit[i]);
    }
  }
  return out;
}

// MySQL under NO_BACKSLASH_ESCAPES: only '' is special. Used for where the literal ends.
size_t MysqlNoBackslashEnd(const std::string& lit) {
  for (size_t i = 1; i < lit.size(); ++i) {
    if (lit[i] != '\'') continue;
    if (i + 1 < lit.size() && lit[i + 1] == '\'') {
      ++i;
    } else {
      return i;
    }
  }
  return std::string::npos;
}

// SQLite: only '' inside '...'.
std::string ReadSqlite(const std::string& lit, size_t* end) {
  std::string out;
  *end = std::string::npos;
  if (lit.empty() || lit[0] != '\'') return out;
  for (size_t i = 1; i < lit.size(); ++i) {
    if (lit[i] == '\'') {
      if (i + 1 < lit.size() && lit[i + 1] == '\'') {
        out.push_back('\'');
        ++i;
      } else {
        *end = i;
        return out;
      }
    } else {
      out.push_back(lit[i]);
    }
  }
  return out;
}

TEST(DialectLiteral, PostgresForms) {
  EXPECT_EQ(Pg().QuoteLiteral(""), "''");
  EXPECT_EQ(Pg().QuoteLiteral("O'Brien"), "'O''Brien'");
  // A backslash: E'' with it doubled reads the same whatever standard_conforming_strings says.
  EXPECT_EQ(Pg().QuoteLiteral("a\\b"), "E'a\\\\b'");
  EXPECT_EQ(Pg().QuoteLiteral("a\\'b"), "E'a\\\\''b'");
  EXPECT_EQ(Pg().QuoteLiteral("x\ny"), "'x\ny'");
  EXPECT_EQ(Pg().QuoteLiteral("caf\xc3\xa9"), "'caf\xc3\xa9'");
  // PostgreSQL text cannot hold NUL: refused, never cut or dropped silently.
  try {
    Pg().QuoteLiteral("a\0b"s);
    FAIL() << "no error for NUL";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
  }
}

TEST(DialectLiteral, MysqlForms) {
  EXPECT_EQ(My().QuoteLiteral(""), "''");
  // Quotes doubled, never \': under NO_BACKSLASH_ESCAPES \' would end the literal.
  EXPECT_EQ(My().QuoteLiteral("O'Brien"), "'O''Brien'");
  EXPECT_EQ(My().QuoteLiteral("a\\b"), "'a\\\\b'");
  EXPECT_EQ(My().QuoteLiteral("\\'; DROP TABLE t; --"), "'\\\\''; DROP TABLE t; --'");
  EXPECT_EQ(My().QuoteLiteral("a\0b"s), "'a\\0b'");  // MySQL strings hold NUL
  EXPECT_EQ(My().QuoteLiteral("x\ny"), "'x\ny'");
}

TEST(DialectLiteral, SqliteForms) {
  EXPECT_EQ(Lite().QuoteLiteral(""), "''");
  EXPECT_EQ(Lite().QuoteLiteral("O'Brien"), "'O''Brien'");
  EXPECT_EQ(Lite().QuoteLiteral("a\\'b"), "'a\\''b'");  // no backslash escapes in SQLite
  EXPECT_EQ(Lite().QuoteLiteral("x\ny"), "'x\ny'");
  // SQLite's tokenizer stops at NUL: refused.
  EXPECT_THROW(Lite().QuoteLiteral("a\0b"s), Error);
}

TEST(DialectLiteral, EveryEngineReadsBackExactlyWhatWasQuoted) {
  std::vector<std::string> values = NastyValues();
  // Every pair and triple of the dangerous pieces, to catch an escape that leans on what
  // follows it.
  const std::string pieces[] = {"'", "\\", "''", "\\'", "'\\", "a", "\\\\'", "\n", "\xc3\xa9"};
  for (const auto& a : pieces) {
    for (const auto& b : pieces) {
      for (const auto& c : pieces) values.push_back(std::string(a).append(b).append(c));
    }
  }
  for (const std::string& v : values) {
    size_t end = 0;
    std::string lit = Pg().QuoteLiteral(v);
    EXPECT_EQ(ReadPg(lit, &end), v) << lit;
    EXPECT_EQ(end, lit.size() - 1) << "PostgreSQL literal ends early: " << lit;

    lit = My().QuoteLiteral(v);
    EXPECT_EQ(ReadMysql(lit, &end), v) << lit;
    EXPECT_EQ(end, lit.size() - 1) << "MySQL literal ends early: " << lit;
    // Under NO_BACKSLASH_ESCAPES the value would read differently, but nothing gets out.
    EXPECT_EQ(MysqlNoBackslashEnd(lit), lit.size() - 1) << lit;

    lit = Lite().QuoteLiteral(v);
    EXPECT_EQ(ReadSqlite(lit, &end), v) << lit;
    EXPECT_EQ(end, lit.size() - 1) << "SQLite literal ends early: " << lit;
  }
  // NUL: MySQL only.
  size_t end = 0;
  const std::string nul = "\0a'\0\\\0"s;
  const std::string lit = My().QuoteLiteral(nul);
  EXPECT_EQ(lit.find('\0'), std::string::npos) << "a raw NUL in MySQL SQL text";
  EXPECT_EQ(ReadMysql(lit, &end), nul);
  EXPECT_EQ(end, lit.size() - 1);
}

}  // namespace
}  // namespace ferry
