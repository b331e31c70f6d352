// TLS to both servers, with the certificate scripts/servers.sh makes (FERRY_TEST_TLS_CA):
// libpq's ssl* parameters and the mariadb client's ssl-* parameters reach the connections, the
// sessions really are encrypted, and a certificate that cannot be verified is an error.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_env.h"

namespace ferry::testing {
namespace {

std::string TlsCa() {
  const std::string ca = EnvOr("FERRY_TEST_TLS_CA");
  return !ca.empty() && std::filesystem::exists(ca) ? ca : "";
}

#define FERRY_REQUIRE_TLS()                                                            \
  if (TlsCa().empty()) {                                                               \
    GTEST_SKIP() << "FERRY_TEST_TLS_CA not set (scripts/servers.sh env sets it)";      \
  }

// `uri` with `query` added to its parameters.
std::string With(const std::string& uri, const std::string& query) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + query;
}

TEST(Tls, PostgresVerifiesTheServerAndEncrypts) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_TLS();
  auto pg = Open(With(PostgresUri(), "sslmode=verify-full&sslrootcert=" + TlsCa()));
  pg->TestConnection();
  auto rows = pg->OpenSession()->Query(
      "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "true");
  // Without the CA file, verification cannot succeed: an error, not a plain connection.
  auto bad = Open(With(PostgresUri(), "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"));
  try {
    bad->TestConnection();
    ADD_FAILURE() << "connected without the CA";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
  }
}

TEST(Tls, MariadbVerifiesTheServerAndEncrypts) {
  FERRY_REQUIRE_MYSQL();
  FERRY_REQUIRE_TLS();
  for (const std::string& query : {"ssl-mode=verify_identity&ssl-ca=" + TlsCa(),
                                  "ssl-ca=" + TlsCa(), std::string("ssl-mode=required")}) {
    auto my = Open(With(MysqlUri(), query));
    auto rows = my->OpenSession()->Query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    ASSERT_EQ(rows.size(), 1u) << query;
    EXPECT_FALSE(rows[0][1].value_or("").empty()) << query << ": not encrypted";
  }
  auto plain = Open(MysqlUri());
  auto rows = plain->OpenSession()->Query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0][1].value_or("").empty()) << "no TLS unless asked";
  for (const auto& [query, expected] :
       std::vector<std::pair<std::string, std::string>>{
           {"ssl-mode=sometimes", "ssl-mode='sometimes': expected disabled, preferred, required, "
                                  "verify_ca or verify_identity"},
           {"ssl-mode=verify_ca", "ssl-mode=verify_ca needs ssl-ca"},
           {"ssl-mode=verify_ca&ssl-ca=/nonexistent/ca.pem", ""}}) {
    try {
      Open(With(MysqlUri(), query))->TestConnection();
      ADD_FAILURE() << query << " connected";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find(":ferry@"), std::string::npos) << e.what();
    }
  }
}

// A whole migration over TLS on both sides, as a user types it.
TEST(Tls, MigrationOverTlsBothWays) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  FERRY_REQUIRE_TLS();
  auto pg = Open(PostgresUri())->OpenSession();
  pg->Execute("DROP SCHEMA IF EXISTS it_tls CASCADE; CREATE SCHEMA it_tls;"
              "CREATE TABLE it_tls.t (id int PRIMARY KEY, v text);"
              "INSERT INTO it_tls.t VALUES (1, 'over tls'), (2, NULL)");
  CliRun r = RunFerry({"migrate", "--source",
                       With(PostgresUri(), "sslmode=verify-full&sslrootcert=" + TlsCa()),
                       "--schema", "it_tls", "--target",
                       With(WithDatabase(MysqlUri(), "it_tls"), "ssl-ca=" + TlsCa()),
                       "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto rows = Open(WithDatabase(MysqlUri(), "it_tls"))
                  ->OpenSession()
                  ->Query("SELECT v FROM t WHERE id = 1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "over tls");
  Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE it_tls");
  pg->Execute("DROP SCHEMA it_tls CASCADE");
}

}  // namespace
}  // namespace ferry::testing
