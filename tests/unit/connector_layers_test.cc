// The two layers of the connector contract (connectors/connector.h): every endpoint is a
// Connector; a database is also a SqlConnector, reached through Connector::sql(), whose
// EngineTypes are its Dialect. No server is needed: nothing here connects.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connectors/connector.h"
#include "endpoint/endpoint_uri.h"

namespace ferry {
namespace {

class ConnectorLayers : public ::testing::TestWithParam<std::string> {};

TEST_P(ConnectorLayers, EveryDatabaseEngineIsASqlConnectorWhoseTypesAreItsDialect) {
  const EndpointUri uri = ParseEndpointUri(GetParam()).ValueOrThrow();
  std::unique_ptr<Connector> endpoint = OpenConnector(uri);
  ASSERT_NE(endpoint->sql(), nullptr) << GetParam();
  EXPECT_EQ(static_cast<const Connector*>(endpoint->sql()), endpoint.get());
  EXPECT_EQ(&RequireSql(*endpoint, "a test"), endpoint->sql());
  const Dialect& dialect = endpoint->sql()->dialect();
  EXPECT_EQ(&endpoint->types(), static_cast<const EngineTypes*>(&dialect));
  EXPECT_EQ(&dialect, &DialectFor(uri.engine));
  EXPECT_EQ(endpoint->types().DisplayName(), dialect.DisplayName());

  std::unique_ptr<SqlConnector> database = OpenSqlConnector(uri);
  EXPECT_EQ(database->engine(), uri.engine);
  EXPECT_EQ(&database->dialect(), &dialect);
}

INSTANTIATE_TEST_SUITE_P(Engines, ConnectorLayers,
                         ::testing::Values("postgresql://u@localhost/db", "mysql://u@localhost/db",
                                           "sqlite:///tmp/ferry-connector-layers.db"),
                         [](const auto& info) {
                           return std::string(info.param.substr(0, info.param.find(':')));
                         });

}  // namespace
}  // namespace ferry
