// Placeholder until the Postgres connector lands; replaced by the real implementation.
#include "connectors/postgres/postgres_connector.h"
namespace ferry::postgres {
std::unique_ptr<Connector> OpenPostgresConnector(const EndpointUri& uri) {
  throw Error(ErrorKind::kUnsupported, "postgres connector not built yet");
}
}  // namespace ferry::postgres
