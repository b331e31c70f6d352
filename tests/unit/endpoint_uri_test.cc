#include "endpoint/endpoint_uri.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(EndpointUri, Postgres) {
  auto u = ParseEndpointUri("postgresql://alice:s3cr%40t@db.example.com:5433/sales?schema=app&sslmode=require");
  ASSERT_TRUE(u.ok()) << u.error().what();
  EXPECT_EQ(u->engine, Engine::kPostgres);
  EXPECT_EQ(u->host, "db.example.com");
  EXPECT_EQ(u->port, 5433);
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "s3cr@t");
  EXPECT_EQ(u->database, "sales");
  EXPECT_EQ(u->Param("schema"), "app");
  EXPECT_EQ(u->Param("sslmode"), "require");
  EXPECT_EQ(u->Param("missing"), "");
  EXPECT_EQ(u->Describe().find("s3cr"), std::string::npos);
  EXPECT_NE(u->Describe().find("alice:***@db.example.com:5433/sales"), std::string::npos);
}

TEST(EndpointUri, SchemesAndDefaults) {
  EXPECT_EQ(ParseEndpointUri("postgres://h/db")->engine, Engine::kPostgres);
  EXPECT_EQ(ParseEndpointUri("postgres://h/db")->PortOrDefault(), 5432);
  EXPECT_EQ(ParseEndpointUri("mysql://u@h/db")->engine, Engine::kMysql);
  EXPECT_EQ(ParseEndpointUri("MariaDB://u@h/db")->engine, Engine::kMysql);
  EXPECT_EQ(ParseEndpointUri("mariadb://u@h/db")->PortOrDefault(), 3306);
  EXPECT_EQ(ParseEndpointUri("mysql://u@[::1]:3307/db")->host, "::1");
  EXPECT_EQ(ParseEndpointUri("mysql://u@[::1]:3307/db")->port, 3307);
}

// Passwords typed without percent-encoding: '/', '?', '@' and ':' belong to the password.
TEST(EndpointUri, UnencodedPasswordCharacters) {
  auto u = ParseEndpointUri("postgresql://u:pa/ss?w@rd:x@host:5433/db?sslmode=require");
  ASSERT_TRUE(u.ok()) << u.error().what();
  EXPECT_EQ(u->user, "u");
  EXPECT_EQ(u->password, "pa/ss?w@rd:x");
  EXPECT_EQ(u->host, "host");
  EXPECT_EQ(u->port, 5433);
  EXPECT_EQ(u->database, "db");
  EXPECT_EQ(u->Param("sslmode"), "require");
  // In an error, nothing of such a password shows either.
  auto bad = ParseEndpointUri("postgresql://u:pa/ss@host:99x/db");
  ASSERT_FALSE(bad.ok());
  std::string msg = bad.error().what();
  EXPECT_EQ(msg.find("pa/ss"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("ss@"), std::string::npos) << msg;
  EXPECT_NE(msg.find("u:***@host:99x/db"), std::string::npos) << msg;
}

TEST(EndpointUri, Sqlite) {
  auto abs = ParseEndpointUri("sqlite:///tmp/a%20b.db");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->engine, Engine::kSqlite);
  EXPECT_EQ(abs->database, "/tmp/a b.db");
  auto rel = ParseEndpointUri("sqlite:data/x.db");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->database, "data/x.db");
}

// Every malformed URI gets a message that says what is wrong and never shows the password.
TEST(EndpointUri, MalformedInputsExplainThemselves) {
  struct Case {
    const char* uri;
    const char* expected;
  } cases[] = {
      {"", "expected scheme://"},
      {"localhost:5432", "unknown scheme 'localhost'"},
      {"oracle://u:pw@h/db", "unknown scheme 'oracle'"},
      {"postgresql:/h/db", "expected '//'"},
      {"postgresql://u:pw@/db", "missing host"},
      {"postgresql://u:pw@h:99999/db", "out of range"},
      {"postgresql://u:pw@h:0/db", "out of range"},
      {"postgresql://u:pw@h:54x/db", "bad port '54x'"},
      {"postgresql://u:pw@h:5432", "missing database"},
      {"postgresql://u:pw@h/a/b", "contains '/'"},
      {"mysql://u:p%zzw@h/db", "percent-encoding in password"},
      {"mysql://u:pw@h/db?flag", "not key=value"},
      {"mysql://u:pw@[::1/db", "unterminated IPv6"},
      {"sqlite://relative.db", "three slashes"},
      {"sqlite:", "missing database file path"},
  };
  for (const Case& c : cases) {
    auto r = ParseEndpointUri(c.uri);
    ASSERT_FALSE(r.ok()) << c.uri;
    std::string msg = r.error().what();
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.uri << " -> " << msg;
    EXPECT_EQ(msg.find(":pw@"), std::string::npos) << "password leaked: " << msg;
    EXPECT_EQ(msg.find("p%zzw"), std::string::npos) << "password leaked: " << msg;
  }
}

// A typo in a parameter is refused, not ignored: ?sslmod=require would be a plain connection.
TEST(EndpointUri, UnknownParametersAreRefusedNamingTheOnesThatExist) {
  auto u = ParseEndpointUri("postgresql://u:secret@h/db?sslmod=require");
  ASSERT_FALSE(u.ok());
  const std::string msg = u.error().what();
  EXPECT_NE(msg.find("unknown parameter 'sslmod' for a postgresql endpoint (the parameters are: "
                     "application_name, connect_timeout, password, schema, sslcert, sslcrl, "
                     "sslkey, sslmode, sslrootcert)"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
  u = ParseEndpointUri("mysql://u@h/db?foo=bar");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(std::string(u.error().what())
                .find("unknown parameter 'foo' for a mysql endpoint (the parameters are: "
                      "password, schema, ssl-ca, ssl-cert, ssl-key, ssl-mode, zero_dates)"),
            std::string::npos)
      << u.error().what();
  EXPECT_FALSE(ParseEndpointUri("sqlite:///tmp/x.db?sslmode=require").ok());
  EXPECT_TRUE(ParseEndpointUri("sqlite:///tmp/x.db?datetime_numbers=refuse&schema=main").ok());
}

// ?password= is the password: never shown, and not given twice.
TEST(EndpointUri, PasswordParameterIsThePasswordAndIsMasked) {
  auto u = ParseEndpointUri("postgresql://u@h/db?password=p%26w&schema=app");
  ASSERT_TRUE(u.ok()) << u.error().what();
  EXPECT_EQ(u->password, "p&w");
  EXPECT_EQ(u->Param("password"), "");
  EXPECT_EQ(u->Describe(), "postgresql://u:***@h/db?schema=app");
  auto twice = ParseEndpointUri("postgresql://u:a@h/db?password=b");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(std::string(twice.error().what()).find("the password is given twice"),
            std::string::npos);
  EXPECT_EQ(std::string(twice.error().what()).find("=b"), std::string::npos)
      << twice.error().what();
}

// The spans ferry blanks out of its own argument list, so ps never shows a password.
TEST(EndpointUri, PasswordSpansCoverCredentialsAndParameters) {
  const std::string arg = "--source=postgresql://u:pa@ss@h/db?schema=x&password=zz&sslpassword=k";
  std::string blanked = arg;
  for (const auto& [at, n] : PasswordSpans(arg)) blanked.replace(at, n, std::string(n, 'x'));
  EXPECT_EQ(blanked, "--source=postgresql://u:xxxxx@h/db?schema=x&password=xx&sslpassword=x");
  EXPECT_TRUE(PasswordSpans("sqlite:///tmp/a.db").empty());
  EXPECT_TRUE(PasswordSpans("--tables=a,b").empty());
}

// Masking is by component: a password that is also a word elsewhere stays where it is a word.
TEST(EndpointUri, ScrubMasksThePasswordOnlyWhereItIsAPassword) {
  EXPECT_EQ(ScrubPassword("replication slot \"ferry_tw\" is active", "ferry"),
            "replication slot \"ferry_tw\" is active");
  EXPECT_EQ(ScrubPassword("could not connect: postgresql://app:ferry@h/db", "ferry"),
            "could not connect: postgresql://app:***@h/db");
  EXPECT_EQ(ScrubPassword("host=h password=ferry dbname=x", "ferry"),
            "host=h password=*** dbname=x");
  EXPECT_EQ(ScrubPassword("text", ""), "text");
}

}  // namespace
}  // namespace ferry
