// Shared helpers for integration tests against the real servers started by
// scripts/servers.sh. Tests call RequirePostgres()/RequireMysql() first: they skip with a
// message naming the variable when the server is not configured.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "connectors/connector.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::testing {

inline std::string EnvOr(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// The base URI of the test PostgreSQL server, e.g. postgresql://ferry:ferry@127.0.0.1:55432/ferry
inline std::string PostgresUri() { return EnvOr("FERRY_TEST_PG_URI"); }
inline std::string MysqlUri() { return EnvOr("FERRY_TEST_MYSQL_URI"); }

#define FERRY_REQUIRE_POSTGRES()                                                        \
  do {                                                                                  \
    if (::ferry::testing::PostgresUri().empty())                                        \
      GTEST_SKIP() << "FERRY_TEST_PG_URI is not set: start servers with "               \
                      "scripts/servers.sh start && eval \"$(scripts/servers.sh env)\""; \
  } while (0)
#define FERRY_REQUIRE_MYSQL()                                                           \
  do {                                                                                  \
    if (::ferry::testing::MysqlUri().empty())                                           \
      GTEST_SKIP() << "FERRY_TEST_MYSQL_URI is not set: start servers with "            \
                      "scripts/servers.sh start && eval \"$(scripts/servers.sh env)\""; \
  } while (0)

// The same server URI pointed at another database name.
inline std::string WithDatabase(const std::string& uri, const std::string& database) {
  size_t slash = uri.find('/', uri.find("://") + 3);
  size_t q = uri.find('?', slash);
  return uri.substr(0, slash + 1) + database + (q == std::string::npos ? "" : uri.substr(q));
}

inline std::unique_ptr<Connector> Open(const std::string& uri) {
  return OpenConnector(std::move(ParseEndpointUri(uri)).ValueOrThrow());
}

}  // namespace ferry::testing
